"""Random test-input generator for the oracle: memecoin-like 1-minute windows (gaps, pumps, rugs, flat and wide candles, missing bars, exact level touches) and random policy sets, or (--robust) SPEC §13 search cases.

Usage:  python3 tools/oracle/gen.py SEED N_CALLS N_POLICIES [--candles 300] [--entry-price open|close]
            [--intrabar sl_first|tp_first] [--cost-model fills|v1] > input.json
        python3 tools/oracle/gen.py SEED --robust [--big] [same options] > input.json   (a SPEC §13 search case)

The output is the oracle's input document (see README.md).  The same arguments always give the
same document.  Every window is valid (§8): prices finite and > 0, high >= max(open, close),
low <= min(open, close), timestamps strictly increasing on the 60 s grid.
"""

import argparse
import itertools
import json
import math
import random
import sys

INTERVAL = 60
HORIZON_MIN = 48 * 60
HOLDS = [0.5, 1.0, 2.5, 6.0, 48.0]
TPS = [1.5, 2.0, 3.0, 5.0]
SLS = [0.5, 0.7, 0.8, 0.85, 0.9, 0.95]
TRAILS = [0.1, 0.2, 0.3, 0.5]
ACTIVATIONS = [1.0, 1.2, 1.5, 2.0, 3.0]
BE_TRIGGERS = [1.1, 1.3, 1.5, 2.0]
LADDERS = [
    [[2.0, 0.5], [3.0, 0.3]],
    [[1.5, 0.5], [2.0, 0.3], [4.0, 0.2]],
    [[1.2, 0.1], [1.5, 0.2], [2.0, 0.3], [3.0, 0.4]],
    [[2.0, 0.25], [2.5, 0.25], [5.0, 0.5]],
    [[1.3, 0.33], [1.7, 0.33], [2.2, 0.34]],
    [[3.0, 0.6]],
]
INDICATORS = ["ema_cross:3:8", "ema_cross:9:21", "rsi_below:6:40", "rsi_below:14:70",
              "tk_cross:3:9", "vol_spike:5:2", "vol_spike:10:2.5"]


def rnd_policy(rng):
    p = {"tp": None, "sl": None, "trail": None, "trail_activation": None, "be_trigger": None,
         "ladder": None, "max_hold_hours": 48.0, "indicator": None}
    if rng.random() < 0.3:
        p["ladder"] = rng.choice(LADDERS)
    elif rng.random() < 0.85:
        p["tp"] = rng.choice(TPS)
    if rng.random() < 0.75:
        p["sl"] = rng.choice(SLS)
    if rng.random() < 0.35:
        p["trail"] = rng.choice(TRAILS)
        if rng.random() < 0.7:
            p["trail_activation"] = rng.choice(ACTIVATIONS)
    if rng.random() < 0.3:
        p["be_trigger"] = rng.choice(BE_TRIGGERS)
    p["max_hold_hours"] = rng.choice(HOLDS)
    if rng.random() < 0.2:
        p["indicator"] = rng.choice(INDICATORS)
    return p


def sig(x, digits):
    """Round to `digits` significant digits (creates exact ties between prices)."""
    if x <= 0:
        return x
    return float("%.*g" % (digits, x))


def token_minutes(rng, entries, span_end, target):
    """The minute offsets (from the token's first minute) where the token has a candle."""
    dense = {}
    for n, em in enumerate(entries):
        if n == 0 and target >= 250:
            length = rng.choice([40, 90, 150, 200])
        else:
            length = rng.choice([20, 40, 60])
        miss = rng.choice([0.0, 0.03, 0.1])
        for m in range(em, min(em + length, span_end)):
            dense[m] = miss
    sparse_p = max(0.0, (target - 150) / float(HORIZON_MIN))
    present = set()
    for m in range(span_end):
        if m in dense:
            if rng.random() >= dense[m]:
                present.add(m)
        elif rng.random() < sparse_p:
            present.add(m)
    # Anchors: candles ending exactly at the deadline of each hold, so time_exit happens.
    for em in entries:
        present.add(em)
        for h in HOLDS:
            m = em + int(h * 60) - 1
            if m < span_end and rng.random() < 0.7:
                present.add(m)
    return sorted(present)


def price_path(rng, n, p_start, digits):
    """n valid candles [o, h, l, c, v] of a memecoin-like path."""
    out = []
    p = p_start
    pump = 0
    dead = rng.random() < 0.1
    for _ in range(n):
        o = p
        r = rng.random()
        if rng.random() < 0.08:
            o = p * math.exp(rng.gauss(0.0, 0.25))           # gap at the open
        elif rng.random() < 0.004:
            o = p * rng.uniform(0.02, 0.3)                   # rug through the open
        if dead or r < 0.05:                                 # flat candle
            c = o
            h, lo = o, o
            v = 0.0 if rng.random() < 0.5 else rng.uniform(1, 10)
            out.append([o, h, lo, c, v])
            p = c
            continue
        if pump == 0 and rng.random() < 0.02:
            pump = rng.randint(2, 12)
        drift = 0.0
        if pump > 0:
            drift = rng.uniform(0.05, 0.35)
            pump -= 1
        if rng.random() < 0.008:                              # rug
            c = o * rng.uniform(0.01, 0.3)
        else:
            c = o * math.exp(drift + rng.gauss(-0.002, 0.04))
        if rng.random() < 0.04:                              # wide-range (ambiguous) candle
            h = max(o, c) * rng.uniform(1.3, 4.0)
            lo = min(o, c) * rng.uniform(0.2, 0.8)
        else:
            h = max(o, c) * (1.0 + abs(rng.gauss(0.0, 0.03)))
            lo = min(o, c) * (1.0 - min(0.9, abs(rng.gauss(0.0, 0.03))))
        v = rng.lognormvariate(5.0, 1.0) * (20.0 if rng.random() < 0.03 else 1.0)
        out.append([o, h, lo, c, v])
        p = c
    if digits:
        for k in out:
            o, c = sig(k[0], digits), sig(k[3], digits)
            k[0], k[3] = o, c
            k[1] = max(sig(k[1], digits), o, c)
            k[2] = min(sig(k[2], digits), o, c)
            if k[2] <= 0:
                k[2] = min(o, c)
    for k in out:
        if not (k[2] > 0 and math.isfinite(k[1])):
            raise AssertionError("invalid generated candle")
    return out


def touch(rng, candle, level):
    """Make one candle's high, low or open equal `level` exactly, keeping it valid."""
    _, o, h, lo, c, _ = candle
    if rng.random() < 0.25:
        candle[1] = level                                    # the open sits on the level
        candle[2] = max(h, level, c)
        candle[3] = min(lo, level, c)
    elif level >= max(o, c):
        candle[2] = level
    elif level <= min(o, c):
        candle[3] = level


def generate(seed, n_calls, n_policies, candles=300, entry_price=None, intrabar=None,
             cost_model=None, policies=None):
    """One input document; `policies` (a list) replaces the random policy draws."""
    rng = random.Random(seed)
    base = 1700000000 - 1700000000 % 60 + rng.randint(0, 1000) * 3600
    callers = ["Alpha", "Brook", "Cobra", "Delta", "Echo"]

    # Tokens and the calls that share them.
    calls_spec = []
    tokens = []
    used = set()
    while len(calls_spec) < n_calls:
        tid = len(tokens)
        chain = "solana" if rng.random() < 0.85 else "base"
        # Sometimes the same mint text on another chain: a different token (§12).
        mint = "mint%03d" % (tid if rng.random() < 0.9 or tid == 0 else rng.randrange(tid))
        if (chain, mint) in used:
            mint = "mint%03d" % tid
        used.add((chain, mint))
        start_min = rng.randint(0, 3 * 24 * 60)
        k = 1 if rng.random() < 0.6 else rng.randint(2, 4)
        offsets = []
        for j in range(k):
            if j > 0 and rng.random() < 0.5:
                offsets.append(offsets[-1])                   # the same alert instant
            else:
                offsets.append(0 if j == 0 else offsets[-1] + rng.randint(1, 240))
        tokens.append({"chain": chain, "mint": mint, "start": start_min, "offsets": offsets})
        for off in offsets:
            if len(calls_spec) < n_calls:
                calls_spec.append((tid, off))

    opts = {
        "entry_price": entry_price or rng.choice(["open", "open", "close"]),
        "intrabar": intrabar or rng.choice(["sl_first", "tp_first"]),
        "cost_model": cost_model or rng.choice(["fills", "v1"]),
        "fee_bps": rng.choice([30.0, 30.0, 0.0, 25.0]),
        "slippage_bps": rng.choice([10.0, 10.0, 0.0, 50.0]),
        "be_offset": rng.choice([0.0, 0.0, 0.01, 0.05]),
        "wallet": {"initial_capital": 10000.0, "max_allocation_pct": 0.04,
                   "max_risk_per_trade": 200.0, "max_concurrent_positions": 25,
                   "min_executable_size": 10.0, "allow_same_token": False},
    }
    w = opts["wallet"]
    r = rng.random()
    if r < 0.2:
        w["max_concurrent_positions"] = rng.choice([1, 2, 3])
    elif r < 0.35:
        w["allow_same_token"] = True
    elif r < 0.45:
        w["min_executable_size"] = rng.choice([150.0, 390.0])
    elif r < 0.55:
        w["max_allocation_pct"] = 0.3
        w["max_risk_per_trade"] = rng.choice([50.0, 1e9])

    if policies is None:
        policies = [rnd_policy(rng) for _ in range(n_policies)]
    multiples = sorted({m for p in policies for m in
                        [p["tp"], p["sl"], p["be_trigger"], p["trail_activation"]] if m is not None}
                       | {m for p in policies if p["ladder"] for m, _ in p["ladder"]}
                       | {2.0, 3.0, 4.0, 0.5})

    # Candle series per token, covering every window of its calls.
    series = {}
    for tid, tok in enumerate(tokens):
        span = tok["offsets"][-1] + HORIZON_MIN + 5
        mins = token_minutes(rng, sorted(set(tok["offsets"])), span, candles)
        if rng.random() < 0.2:                                # the token's data stops early
            cut = rng.randint(1, span)
            mins = [m for m in mins if m < cut or m in tok["offsets"]]
        digits = rng.choice([0, 4, 6])
        p_start = rng.choice([1.0, 0.001234, 3.7e-6, 42.0, rng.uniform(1e-5, 1.0)])
        path = price_path(rng, len(mins), p_start, digits)
        series[tid] = [[(tok["start"] + m) * 60 + base] + k for m, k in zip(mins, path)]

    calls = []
    alerts = {}
    seen = set()
    for n, (tid, off) in enumerate(calls_spec):
        tok = tokens[tid]
        ser = series[tid]
        entry_ts = (tok["start"] + off) * 60 + base
        alert_ms = entry_ts * 1000 - (0 if rng.random() < 0.2 else rng.randint(1, 59999))
        if (tid, off) in alerts and rng.random() < 0.8:
            alert_ms = alerts[(tid, off)]                     # the same alert instant
        alerts.setdefault((tid, off), alert_ms)
        if rng.random() < 0.03:
            alert_ms = (ser[-1][0] + 60) * 1000 + rng.randint(0, 10 ** 6)   # no entry candle
        e = next((i for i, k in enumerate(ser) if k[0] * 1000 >= alert_ms), None)
        window = []
        if e is not None:
            end = ser[e][0] + HORIZON_MIN * 60
            window = [k for k in ser[e:] if k[0] < end]
        # No two calls with the same caller, mint and alert time: §2.2 would drop one as a
        # duplicate_call, and a harness going through the export must see the same calls.
        caller = rng.choice(callers)
        while (caller, tok["mint"], alert_ms) in seen:
            caller = rng.choice(callers + ["Caller%d" % n])
        seen.add((caller, tok["mint"], alert_ms))
        calls.append({"call_id": "c%04d_%d" % (rng.randint(0, 9999), n),
                      "caller": caller, "chain": tok["chain"], "mint": tok["mint"],
                      "alert_ts_ms": alert_ms, "candles": window})

    # Exact touches of the policies' levels: P0 x multiple as the engine computes it.
    for c in calls:
        win = c["candles"]
        if len(win) < 3 or rng.random() < 0.3:
            continue
        p0 = win[0][1] if opts["entry_price"] == "open" else win[0][4]
        for _ in range(rng.randint(1, 4)):
            j = rng.randrange(1, min(len(win), 60))
            touch(rng, win[j], p0 * rng.choice(multiples))
    # A token's candles are the same list objects in every window cut from it, so a touch
    # changes the token's series for all its calls alike.

    rng.shuffle(calls)
    baseline = {"tp": 2.0, "sl": 0.5, "fee_bps": 30.0, "slippage_bps": 50.0,
                "intrabar": "sl_first", "horizon_hours": 48.0}
    r = rng.random()
    if r < 0.2:
        baseline["intrabar"] = "tp_first"
    elif r < 0.3:
        baseline.update({"tp": 3.0, "sl": 0.8, "horizon_hours": 24.0})
    return {"interval_s": INTERVAL, "options": opts, "calls": calls, "policies": policies,
            "baseline": baseline}


GRID_DIMENSIONS = ("tp", "sl", "trail", "trail_activation", "be_trigger", "ladder", "max_hold",
                   "indicator")
OBJECTIVES = ["final_capital", "final_capital", "mean_return", "median_return", "sharpe",
              "profit_factor", "win_rate", "capture"]
CALLERS = ["Alpha", "Brook", "Brook \U0001f480", "Cobra", "Delta", "Echo", "brook", "\u017beta"]


def _some(rng, values, lo, hi, off=0.0):
    """lo..hi distinct values in ascending order, with null ("off") first with probability off."""
    out = sorted(rng.sample(values, rng.randint(lo, min(hi, len(values)))))
    return ([None] + out) if rng.random() < off else out


def rnd_grid(rng, smallest=10):
    """A §12 grid (dimension -> value list) of `smallest` to 40 policies."""
    while True:
        g = {}
        if rng.random() < 0.25:
            g["tp"] = [None]
            g["ladder"] = rng.sample(LADDERS, rng.randint(1, 3))
            if rng.random() < 0.3:
                g["ladder"].insert(0, None)
        else:
            g["tp"] = _some(rng, TPS, 1, 4, off=0.15)
            g["ladder"] = [None]
        g["sl"] = _some(rng, SLS, 1, 4, off=0.2)
        g["trail"] = [None] if rng.random() < 0.6 else _some(rng, TRAILS, 1, 2, off=0.5)
        if g["trail"] != [None] and rng.random() < 0.6:
            g["trail_activation"] = _some(rng, ACTIVATIONS, 1, 2, off=0.3)
        else:
            g["trail_activation"] = [None]
        g["be_trigger"] = [None] if rng.random() < 0.7 else _some(rng, BE_TRIGGERS, 1, 2, off=0.5)
        g["max_hold"] = _some(rng, HOLDS, 1, 2)
        g["indicator"] = [None] if rng.random() < 0.75 else [None, rng.choice(INDICATORS)]
        size = 1
        for d in GRID_DIMENSIONS:
            size *= len(g[d])
        if smallest <= size <= 40:
            return g


def grid_policies(g):
    """The grid's policies in policy-index order: row-major, the last dimension fastest (§12)."""
    out = []
    for point in itertools.product(*(g[d] for d in GRID_DIMENSIONS)):
        p = dict(zip(GRID_DIMENSIONS, point))
        p["max_hold_hours"] = p.pop("max_hold")
        out.append(p)
    return out


def rnd_search(rng):
    """The §6/§13 options of a search: objective, constraints, folds, holdout, mode."""
    constraints = {}
    if rng.random() < 0.6:
        for _ in range(rng.randint(1, 2)):
            name, values = rng.choice([("max_drawdown", [0.002, 0.005, 0.02, 0.1]),
                                       ("min_win_rate", [0.3, 0.5, 0.6]),
                                       ("min_trades", [3, 8, 15, 25]),
                                       ("max_stop_out_rate", [0.2, 0.4]),
                                       ("min_profit_factor", [1.0, 1.5])])
            constraints[name] = rng.choice(values)
    return {"objective": rng.choice(OBJECTIVES), "constraints": constraints,
            "folds": rng.choice([0, 2, 4]),
            "holdout_fraction": 0.3 if rng.random() < 0.35 else 0.0,
            "mode": rng.choice(["both", "both", "both", "per-caller", "per-caller", "grouped"])}


def generate_robust(seed, candles=120, entry_price=None, intrabar=None, cost_model=None,
                    big=False):
    """A search case for SPEC §13: several callers (most with 16 or more calls, some with fewer
    than 16 or fewer than 2 × (K + 1)), a grid of 10 to 40 policies and random search options.
    Every call has an entry candle (the search sees eligible calls only).  `big`: the first
    caller has 300 to 400 calls and the grid 30 to 40 policies (more trades than the engine
    evaluates in one block, so its blocks are merged)."""
    rng = random.Random(seed ^ 0x5EED13)
    grid = rnd_grid(rng, smallest=30 if big else 10)
    search = rnd_search(rng)
    names = rng.sample(CALLERS, rng.randint(4, 6))
    sizes = []
    for k in range(len(names)):
        r = rng.random()
        if k == 0 and big:
            sizes.append(rng.randint(300, 400))
        elif k < 2 or r < 0.45:
            sizes.append(rng.randint(16, 48))
        elif r < 0.7:
            sizes.append(rng.randint(6, 15))
        else:
            sizes.append(rng.choice([1, 1, 2, 3, 5]))
    total = sum(sizes)
    doc = generate(seed, total + total // 8 + 4, 0, candles=candles, entry_price=entry_price,
                   intrabar=intrabar, cost_model=cost_model, policies=grid_policies(grid))
    calls = [c for c in doc["calls"] if c["candles"]][:total]
    owners = [n for n, k in zip(names, sizes) for _ in range(k)][:len(calls)]
    rng.shuffle(owners)
    # No two calls of one caller with the same mint and alert time (§2.2 duplicate_call): a
    # call whose owner already has that (mint, alert) trades owners with a later call.
    seen = set()
    for i, c in enumerate(calls):
        spot = (c["mint"], c["alert_ts_ms"])
        if (owners[i],) + spot in seen:
            for j in range(i + 1, len(calls)):
                if (owners[j],) + spot not in seen:
                    owners[i], owners[j] = owners[j], owners[i]
                    break
        seen.add((owners[i],) + spot)
        c["caller"] = owners[i]
    doc["calls"] = calls
    doc["grid"] = grid
    doc["search"] = search
    return doc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seed", type=int)
    ap.add_argument("n_calls", type=int, nargs="?")
    ap.add_argument("n_policies", type=int, nargs="?")
    ap.add_argument("--big", action="store_true",
                    help="with --robust: one caller with 300 to 400 calls, 30 to 40 policies")
    ap.add_argument("--robust", action="store_true",
                    help="a SPEC §13 search case (callers, grid, search options); "
                         "N_CALLS and N_POLICIES are not given")
    ap.add_argument("--candles", type=int,
                    help="rough number of candles in a 48 h window (default 300, 120 with --robust)")
    ap.add_argument("--entry-price", choices=["open", "close"])
    ap.add_argument("--intrabar", choices=["sl_first", "tp_first"])
    ap.add_argument("--cost-model", choices=["fills", "v1"])
    a = ap.parse_args(argv)
    if a.robust:
        if a.n_calls is not None:
            ap.error("--robust takes no N_CALLS or N_POLICIES")
        doc = generate_robust(a.seed, candles=a.candles or 120, big=a.big,
                              entry_price=a.entry_price, intrabar=a.intrabar,
                              cost_model=a.cost_model)
        json.dump(doc, sys.stdout)
        sys.stdout.write("\n")
        return
    if a.n_calls is None or a.n_policies is None:
        ap.error("N_CALLS and N_POLICIES are required")
    doc = generate(a.seed, a.n_calls, a.n_policies, candles=a.candles or 300,
                   entry_price=a.entry_price, intrabar=a.intrabar, cost_model=a.cost_model)
    json.dump(doc, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
