"""Independent reference oracle (plain Python, stdlib only) for SPEC §3, §4, §5, §7, §12 and §13: JSON in on stdin, trades, wallets, ranking, baseline metrics and per-caller robustness out on stdout.

It is written from /work/shared/SPEC.md alone, candle by candle, so that the Rust engine can be
cross-checked against it.  Every reading of the SPEC that was not forced by its text is listed in
README.md beside this file; the comments below point at those choices with "(choice)".

Usage:  python3 tools/oracle/oracle.py < input.json > output.json
"""

import itertools
import json
import math
import sys

REASONS_SKIP = ("no_entry", "max_positions", "same_token_open", "below_min_size")
STOP_PREFERENCE = ("stop_loss", "break_even", "trailing_stop")

DEFAULT_WALLET = {
    "initial_capital": 10000.0,
    "max_allocation_pct": 0.04,
    "max_risk_per_trade": 200.0,
    "max_concurrent_positions": 25,
    "min_executable_size": 10.0,
    "allow_same_token": False,
}

DEFAULT_BASELINE = {
    "tp": 2.0,
    "sl": 0.5,
    "fee_bps": 30.0,
    "slippage_bps": 50.0,
    "intrabar": "sl_first",
    "horizon_hours": 48.0,
}


class UsageError(Exception):
    """An impossible parameter (SPEC §8 / §3.2 'usage error')."""


# --------------------------------------------------------------------------------------------
# Indicator series (§3.7)
# --------------------------------------------------------------------------------------------

def parse_rule(text):
    parts = text.split(":")
    if len(parts) != 3:
        raise UsageError("bad indicator rule %r" % text)
    kind = parts[0]
    if kind == "ema_cross":
        f, s = int(parts[1]), int(parts[2])
        if not (1 <= f < s):
            raise UsageError("bad ema_cross %r" % text)
        return (kind, f, s)
    if kind == "rsi_below":
        n, lvl = int(parts[1]), float(parts[2])
        if not (n >= 1 and 0 < lvl < 100):
            raise UsageError("bad rsi_below %r" % text)
        return (kind, n, lvl)
    if kind == "tk_cross":
        t, k = int(parts[1]), int(parts[2])
        if not (1 <= t < k):
            raise UsageError("bad tk_cross %r" % text)
        return (kind, t, k)
    if kind == "vol_spike":
        w, z = int(parts[1]), float(parts[2])
        if not (w >= 2 and z > 0):
            raise UsageError("bad vol_spike %r" % text)
        return (kind, w, z)
    raise UsageError("unknown indicator %r" % text)


def ema_series(closes, n):
    """EMA(n): None before position n-1; seeded with the in-order sum / n."""
    out = [None] * len(closes)
    if len(closes) < n:
        return out
    acc = 0.0
    for j in range(n):
        acc = acc + closes[j]
    ema = acc / n
    out[n - 1] = ema
    k = 2.0 / (n + 1)
    for j in range(n, len(closes)):
        ema = ema + k * (closes[j] - ema)
        out[j] = ema
    return out


def rsi_series(closes, n):
    out = [None] * len(closes)
    if len(closes) < n + 1:
        return out
    gsum = 0.0
    lsum = 0.0
    for j in range(1, n + 1):
        ch = closes[j] - closes[j - 1]
        gsum = gsum + (ch if ch > 0 else 0.0)
        lsum = lsum + (-ch if -ch > 0 else 0.0)
    gain = gsum / n
    loss = lsum / n

    def rsi(g, l):
        if l == 0:
            return 100.0
        return 100.0 - 100.0 / (1.0 + g / l)

    out[n] = rsi(gain, loss)
    nm1 = float(n - 1)
    for j in range(n + 1, len(closes)):
        ch = closes[j] - closes[j - 1]
        gain = (gain * nm1 + (ch if ch > 0 else 0.0)) / n
        loss = (loss * nm1 + (-ch if -ch > 0 else 0.0)) / n
        out[j] = rsi(gain, loss)
    return out


def tk_line(highs, lows, n):
    out = [None] * len(highs)
    for j in range(n - 1, len(highs)):
        mx = highs[j - n + 1]
        mn = lows[j - n + 1]
        for q in range(j - n + 2, j + 1):
            if highs[q] > mx:
                mx = highs[q]
            if lows[q] < mn:
                mn = lows[q]
        out[j] = (mx + mn) / 2.0
    return out


def crosses_down(d):
    fires = [False] * len(d)
    for j in range(1, len(d)):
        a, b = d[j - 1], d[j]
        if a is not None and b is not None and a > 0 and b <= 0:
            fires[j] = True
    return fires


def rule_fires(rule, window):
    """Boolean per window position (position 0 = entry candle e)."""
    closes = [c[4] for c in window]
    kind = rule[0]
    if kind == "ema_cross":
        ef = ema_series(closes, rule[1])
        es = ema_series(closes, rule[2])
        d = [None if (a is None or b is None) else a - b for a, b in zip(ef, es)]
        return crosses_down(d)
    if kind == "rsi_below":
        r = rsi_series(closes, rule[1])
        lvl = rule[2]
        d = [None if x is None else x - lvl for x in r]
        return crosses_down(d)
    if kind == "tk_cross":
        highs = [c[2] for c in window]
        lows = [c[3] for c in window]
        lt = tk_line(highs, lows, rule[1])
        lk = tk_line(highs, lows, rule[2])
        d = [None if (a is None or b is None) else a - b for a, b in zip(lt, lk)]
        return crosses_down(d)
    if kind == "vol_spike":
        w, zthr = rule[1], rule[2]
        vols = [c[5] for c in window]
        fires = [False] * len(window)
        for j in range(w - 1, len(window)):
            acc = 0.0
            for q in range(j - w + 1, j + 1):
                acc = acc + vols[q]
            mean = acc / w
            sq = 0.0
            for q in range(j - w + 1, j + 1):
                dv = vols[q] - mean
                sq = sq + dv * dv
            std = math.sqrt(sq / w)
            z = 0.0 if std == 0 else (vols[j] - mean) / std
            fires[j] = z >= zthr
        return fires
    raise UsageError("unknown indicator %r" % (kind,))


# --------------------------------------------------------------------------------------------
# One call under one policy (§3)
# --------------------------------------------------------------------------------------------

def entry_index(candles, alert_ts_ms):
    for i, c in enumerate(candles):
        if c[0] * 1000 >= alert_ts_ms:
            return i
    return None


def window_of(candles, alert_ts_ms, horizon_hours):
    """The call's window: entry candle e and later candles opening before ts[e] + horizon."""
    e = entry_index(candles, alert_ts_ms)
    if e is None:
        return None
    ts_e_ms = candles[e][0] * 1000
    end = ts_e_ms + horizon_hours * 3600000.0
    return [c for c in candles[e:] if c[0] * 1000 < end]


def validate_policy(p, horizon_hours):
    tp, sl, trail = p.get("tp"), p.get("sl"), p.get("trail")
    act, bet, ladder = p.get("trail_activation"), p.get("be_trigger"), p.get("ladder")
    hold = p.get("max_hold_hours")
    if hold is None:
        hold = 48.0
    if tp is not None and not tp > 1:
        raise UsageError("tp must be > 1")
    if sl is not None and not (0 < sl < 1):
        raise UsageError("sl must be in (0, 1)")
    if trail is not None and not (0 < trail < 1):
        raise UsageError("trail must be in (0, 1)")
    if act is not None and not act >= 1:
        raise UsageError("trail_activation must be >= 1")
    if bet is not None and not bet > 1:
        raise UsageError("be_trigger must be > 1")
    if ladder is not None:
        if tp is not None:
            raise UsageError("ladder together with tp")
        prev = None
        for m, f in ladder:
            if not m > 1 or not (0 < f <= 1):
                raise UsageError("bad ladder level")
            if prev is not None and not m > prev:
                raise UsageError("ladder multiples must be strictly increasing")
            prev = m
        total = 0.0
        for _, f in ladder:
            total = total + f
        if total > 1.0 + 1e-12:
            raise UsageError("ladder fractions sum above 1")
    if not (0 < hold <= horizon_hours):
        raise UsageError("max_hold must be in (0, horizon]")


def simulate(call, policy, policy_index, *, interval_s, entry_price, intrabar, cost_model,
             fee_bps, slippage_bps, be_offset, horizon_hours, rule_cache=None):
    """Return the §3.5 trade dict, or None for no_entry."""
    window = window_of(call["candles"], call["alert_ts_ms"], horizon_hours)
    if not window:
        return None
    ts_e = window[0][0]
    if entry_price == "open":
        p0 = window[0][1]
        first = 0
        entry_ts_ms = ts_e * 1000
    elif entry_price == "close":
        p0 = window[0][4]
        first = 1
        entry_ts_ms = (ts_e + interval_s) * 1000
    else:
        raise UsageError("entry_price must be open or close")
    if not (isinstance(p0, (int, float)) and math.isfinite(p0) and p0 > 0):
        return None
    p0 = float(p0)

    tp = policy.get("tp")
    sl = policy.get("sl")
    trail = policy.get("trail")
    act = policy.get("trail_activation")
    if act is None:
        act = 1.0
    be_trigger = policy.get("be_trigger")
    ladder = policy.get("ladder")
    hold_h = policy.get("max_hold_hours")
    if hold_h is None:
        hold_h = 48.0  # §3.3 default
    indicator = policy.get("indicator")

    # Tmax in f64 (choice): ts[e] x 1000 + max_hold_hours x 3,600,000.
    tmax = ts_e * 1000 + hold_h * 3600000.0
    last = None  # index (in window) of the last traded candle
    for i in range(first, len(window)):
        if window[i][0] * 1000 < tmax:
            last = i
        else:
            break

    # Take-profit levels, computed once as f64 products P0 x multiple (§12).
    if ladder is not None:
        levels = [(p0 * float(m), float(f)) for m, f in ladder]
        total = 0.0
        for _, f in ladder:
            total = total + f
        complete = abs(total - 1.0) <= 1e-12
    elif tp is not None:
        levels = [(p0 * tp, 1.0)]
        complete = True
    else:
        levels = []
        complete = False
    pending = list(range(len(levels)))

    sl_level = p0 * sl if sl is not None else None
    be_arm = p0 * be_trigger if be_trigger is not None else None
    be_level = p0 * (1.0 + be_offset)
    tr_arm = p0 * act
    one_m_trail = (1.0 - trail) if trail is not None else None

    fires = None
    if indicator is not None:
        key = (id(call), indicator)
        if rule_cache is not None and key in rule_cache:
            fires = rule_cache[key]
        else:
            fires = rule_fires(parse_rule(indicator), window)
            if rule_cache is not None:
                rule_cache[key] = fires

    rem = 1.0          # remaining fraction of the original size (successive subtraction, choice)
    peak = p0          # highest high since entry, for trailing / break-even (takes effect next candle)
    hi = p0            # for peak_multiple
    lo = p0            # for mae
    fills = []         # (price X, fraction phi, ts_ms)
    ambiguous = False
    reason = None
    exit_pos = None
    interval_ms = interval_s * 1000

    def fill_level(k, price, t_ms):
        nonlocal rem
        frac = levels[k][1]
        fills.append((price, frac, t_ms))
        rem = rem - frac
        pending.remove(k)

    def ladder_done():
        return complete and not pending

    if last is None:
        # Only possible with --entry-price close: no candle after e opens before Tmax.  The
        # last candle opening before Tmax is e itself; the remainder exits at its close (choice).
        c = window[0]
        t_end = (c[0] + interval_s) * 1000
        fills.append((c[4], rem, t_end))
        reason = "time_exit" if t_end == tmax else "end_of_data"
        exit_pos = 0
    else:
        for i in range(first, last + 1):
            ts, o, h, l, cl = window[i][0], window[i][1], window[i][2], window[i][3], window[i][4]
            t_open = ts * 1000
            t_in = ts * 1000 + interval_ms

            # Stop in force for this candle, from the peak through the previous candle.
            stops = []
            if sl_level is not None:
                stops.append((sl_level, "stop_loss"))
            if be_arm is not None and peak >= be_arm:
                stops.append((be_level, "break_even"))
            if one_m_trail is not None and peak >= tr_arm:
                stops.append((peak * one_m_trail, "trailing_stop"))
            s_lvl = None
            s_reason = None
            for lvl, why in stops:  # in preference order; only a strictly higher level replaces
                if s_lvl is None or lvl > s_lvl:
                    s_lvl, s_reason = lvl, why

            # The candle is checked: it counts for peak_multiple and mae.
            if h > hi:
                hi = h
            if l < lo:
                lo = l

            closed = False
            # 1. Gap at the open: pending levels at or below the open fill at the open first.
            for k in list(pending):
                if o >= levels[k][0]:
                    fill_level(k, o, t_open)
            if ladder_done():
                reason, closed = "take_profit", True
            elif s_lvl is not None and o <= s_lvl:
                fills.append((o, rem, t_open))
                reason, closed = s_reason, True

            # 2. Inside the candle.
            if not closed:
                stop_hit = s_lvl is not None and l <= s_lvl
                touched = [k for k in pending if h >= levels[k][0]]
                if stop_hit and touched:
                    ambiguous = True
                    if intrabar == "tp_first":
                        for k in touched:
                            fill_level(k, levels[k][0], t_in)
                        if ladder_done():
                            reason, closed = "take_profit", True
                        else:
                            fills.append((s_lvl, rem, t_in))
                            reason, closed = s_reason, True
                    else:
                        fills.append((s_lvl, rem, t_in))
                        reason, closed = s_reason, True
                elif stop_hit:
                    fills.append((s_lvl, rem, t_in))
                    reason, closed = s_reason, True
                elif touched:
                    for k in touched:
                        fill_level(k, levels[k][0], t_in)
                    if ladder_done():
                        reason, closed = "take_profit", True

            # Indicator, after the §3.2 steps, wins over the time limit on the last candle.
            if not closed and fires is not None and fires[i]:
                fills.append((cl, rem, t_in))
                reason, closed = "indicator_exit", True

            # 3. Time: the last traded candle.
            if not closed and i == last:
                fills.append((cl, rem, t_in))
                reason = "time_exit" if t_in == tmax else "end_of_data"
                closed = True

            if closed:
                exit_pos = i
                break
            if h > peak:
                peak = h

    # Costs (§3.4), for an entry of size 1 USD (choice): the multiple does not depend on size.
    f = fee_bps / 10000.0
    s = slippage_bps / 10000.0
    size = 1.0
    tokens = size * (1.0 - f) / (p0 * (1.0 + s))
    tokens_g = size * (1.0 - 0.0) / (p0 * (1.0 + 0.0))
    net_sum = 0.0
    gross_sum = 0.0
    for x, phi, _ in fills:
        net_sum = net_sum + tokens * phi * x * (1.0 - s) * (1.0 - f)
        gross_sum = gross_sum + tokens_g * phi * x * (1.0 - 0.0) * (1.0 - 0.0)
    gross = gross_sum / size
    if cost_model == "fills":
        net = net_sum / size
    elif cost_model == "v1":
        pnl = v1_pnl(size, gross, fee_bps, slippage_bps)
        net = 1.0 + pnl / size
    else:
        raise UsageError("cost_model must be fills or v1")

    return {
        "call_id": call["call_id"],
        "caller": call["caller"],
        "policy_index": policy_index,
        "entry_ts_ms": entry_ts_ms,
        "entry_px": p0,
        "exit_ts_ms": fills[-1][2],
        "exit_reason": reason,
        "gross_multiple": gross,
        "net_multiple": net,
        "peak_multiple": hi / p0,
        "mae": lo / p0 - 1.0,
        "ambiguous": ambiguous,
        "fills": len(fills),
        "candles_held": exit_pos,
    }


def v1_pnl(size, gross, fee_bps, slippage_bps):
    """The original quantbot's PnL: fills at level prices, round-trip cost subtracted."""
    return size * (gross - 1.0) - size * 2.0 * (fee_bps + slippage_bps) / 10000.0


# --------------------------------------------------------------------------------------------
# Wallet (§4) and metrics (§5)
# --------------------------------------------------------------------------------------------

def run_wallet(calls, trades, policy, wcfg, cost_model, fee_bps, slippage_bps):
    initial = float(wcfg["initial_capital"])
    alloc = wcfg["max_allocation_pct"]
    max_risk = wcfg["max_risk_per_trade"]
    max_pos = wcfg["max_concurrent_positions"]
    min_size = wcfg["min_executable_size"]
    allow_same = wcfg["allow_same_token"]

    skipped = {r: 0 for r in REASONS_SKIP}
    order = []
    for idx, t in enumerate(trades):
        if t is None:
            skipped["no_entry"] += 1
        else:
            order.append((t["entry_ts_ms"], calls[idx]["call_id"].encode("utf-8"), idx))
    order.sort()

    # Stop in force at entry (§12): highest of sl and 1 - trail when trail_activation <= 1.
    stop_mults = []
    if policy.get("sl") is not None:
        stop_mults.append(policy["sl"])
    act = policy.get("trail_activation")
    if policy.get("trail") is not None and (act is None or act <= 1):
        stop_mults.append(1.0 - policy["trail"])
    risk = 1.0 - max(stop_mults) if stop_mults else 1.0
    risk_cap = max_risk / risk

    cash = initial
    open_pos = []  # dicts with exit, seq, size, credit
    taken = []
    run_peak = initial
    max_dd = 0.0

    def record_equity():
        nonlocal run_peak, max_dd
        at_cost = 0.0
        for p in sorted(open_pos, key=lambda q: q["seq"]):
            at_cost = at_cost + p["size"]
        equity = cash + at_cost
        if equity > run_peak:
            run_peak = equity
        dd = (run_peak - equity) / run_peak
        if dd > max_dd:
            max_dd = dd

    def close_until(limit):
        nonlocal cash, open_pos
        due = [p for p in open_pos if limit is None or p["exit"] <= limit]
        due.sort(key=lambda q: (q["exit"], q["seq"]))
        for p in due:
            open_pos.remove(p)
            cash = cash + p["credit"]
            record_equity()

    for seq, (entry_ts, _, idx) in enumerate(order):
        t = trades[idx]
        call = calls[idx]
        close_until(entry_ts)
        if len(open_pos) >= max_pos:
            skipped["max_positions"] += 1
            continue
        token = (call["chain"], call["mint"])
        if not allow_same and any(p["token"] == token for p in open_pos):
            skipped["same_token_open"] += 1
            continue
        size = min(alloc * cash, risk_cap, cash)
        if size < min_size:
            skipped["below_min_size"] += 1
            continue
        m = t["net_multiple"]
        if cost_model == "v1":
            pnl = v1_pnl(size, t["gross_multiple"], fee_bps, slippage_bps)
            credit = size + pnl
        else:
            credit = size * m
            pnl = credit - size
        cash = cash - size
        open_pos.append({"exit": t["exit_ts_ms"], "seq": seq, "size": size, "credit": credit,
                         "token": token})
        taken.append({"call_id": call["call_id"], "size_usd": size, "pnl_usd": pnl,
                      "net_multiple": m, "_trade": t})
    close_until(None)

    metrics = wallet_metrics(initial, cash, taken, skipped, max_dd)
    for tk in taken:
        del tk["_trade"]
    return {"metrics": metrics, "taken": taken}


def mean(xs):
    acc = 0.0
    for x in xs:
        acc = acc + x
    return acc / len(xs)


def wallet_metrics(initial, final, taken, skipped, max_dd):
    n = len(taken)
    rets = [tk["net_multiple"] - 1.0 for tk in taken]
    out = {
        "final_capital": final,
        "total_return": final / initial - 1.0,
        "trades": n,
        "skipped": dict(skipped),
        "win_rate": None,
        "mean_return": None,
        "median_return": None,
        "profit_factor": None,
        "sharpe": None,
        "max_drawdown": max_dd,
        "stop_out_rate": None,
        "mean_hold_hours": None,
        "capture": None,
        "ambiguous_trades": sum(1 for tk in taken if tk["_trade"]["ambiguous"]),
    }
    if n == 0:
        return out
    out["win_rate"] = sum(1 for tk in taken if tk["net_multiple"] > 1.0) / n
    mu = mean(rets)
    out["mean_return"] = mu
    srt = sorted(rets)
    if n % 2 == 1:
        out["median_return"] = srt[n // 2]
    else:
        out["median_return"] = (srt[n // 2 - 1] + srt[n // 2]) / 2.0
    win = 0.0
    loss = 0.0
    has_loss = False
    for tk in taken:
        if tk["pnl_usd"] > 0:
            win = win + tk["pnl_usd"]
        elif tk["pnl_usd"] < 0:
            loss = loss + tk["pnl_usd"]
            has_loss = True
    out["profit_factor"] = win / abs(loss) if has_loss else None
    if n >= 2 and any(r != rets[0] for r in rets):
        sq = 0.0
        for r in rets:
            d = r - mu
            sq = sq + d * d
        sd = math.sqrt(sq / (n - 1))
        out["sharpe"] = mu / sd if sd > 0 else None
    out["stop_out_rate"] = sum(1 for tk in taken if tk["_trade"]["exit_reason"] == "stop_loss") / n
    out["mean_hold_hours"] = mean([(tk["_trade"]["exit_ts_ms"] - tk["_trade"]["entry_ts_ms"]) / 3600000.0
                                   for tk in taken])
    caps = [(tk["net_multiple"] - 1.0) / (tk["_trade"]["peak_multiple"] - 1.0)
            for tk in taken if tk["_trade"]["peak_multiple"] > 1.0]
    out["capture"] = mean(caps) if caps else None
    return out


OBJECTIVES = ("final_capital", "mean_return", "median_return", "sharpe", "profit_factor",
              "win_rate", "capture")


def feasible(m, constraints):
    """Every constraint met, inclusively; a constraint on a missing value is not met (§5, §12)."""
    c = constraints or {}

    def at_most(limit, v):
        return limit is None or (v is not None and v <= limit)

    def at_least(limit, v):
        return limit is None or (v is not None and v >= limit)

    return (at_most(c.get("max_drawdown"), m["max_drawdown"])
            and at_least(c.get("min_win_rate"), m["win_rate"])
            and at_least(c.get("min_trades"), m["trades"])
            and at_most(c.get("max_stop_out_rate"), m["stop_out_rate"])
            and at_least(c.get("min_profit_factor"), m["profit_factor"]))


def rank(wallets, objective="final_capital", constraints=None):
    """Policy indices best first (§5): feasible first; objective higher first, a missing value
    last; lower max_drawdown; more trades; lower index.  Default: final_capital, no constraints."""
    if objective not in OBJECTIVES:
        raise UsageError("unknown objective %r" % objective)

    def key(i):
        m = wallets[i]["metrics"]
        v = m[objective]
        missing = v is None
        return (not feasible(m, constraints), missing, -(v if v is not None else 0.0),
                m["max_drawdown"], -m["trades"], i)
    return sorted(range(len(wallets)), key=key)


# --------------------------------------------------------------------------------------------
# Baseline (§7, §10.2, §12)
# --------------------------------------------------------------------------------------------

BASELINE_KEYS = ("status", "entry_ts_ms", "entry_px", "ath_mult", "time_to_ath_s", "time_to_2x_s",
                 "time_to_3x_s", "time_to_4x_s", "dd_initial", "dd_overall", "dd_pre2x",
                 "dd_after_2x", "dd_after_3x", "dd_after_4x", "dd_after_ath", "peak_pnl_pct",
                 "ret_end", "tp_sl_exit_reason", "tp_sl_ret")


def candles_valid(window, interval_s):
    prev = None
    for c in window:
        ts, o, h, l, cl = c[0], c[1], c[2], c[3], c[4]
        # The project's reading where the SPEC gives no range (ARCHITECTURE.md, "Readings"):
        # a time beyond ±2^42 s is invalid (Python's integers would not overflow; i64 would).
        if abs(ts) > 2 ** 42:
            return False
        for x in (o, h, l, cl):
            if x is None or not math.isfinite(x) or x <= 0:
                return False
        if h < max(o, cl) or l > min(o, cl):
            return False
        if prev is not None and (ts <= prev or (ts - prev) % interval_s != 0):
            return False
        prev = ts
    return True


def baseline_row(call, cfg, interval_s):
    row = {k: None for k in BASELINE_KEYS}
    horizon = cfg["horizon_hours"]
    window = window_of(call["candles"], call["alert_ts_ms"], horizon)
    if not window or len(window) < 2:
        row["status"] = "missing"
        if window:
            row["entry_ts_ms"] = window[0][0] * 1000
            p = window[0][1]
            row["entry_px"] = float(p) if (p is not None and math.isfinite(p)) else None
        return row
    p0 = window[0][1]
    row["entry_ts_ms"] = window[0][0] * 1000
    if p0 is None or not math.isfinite(p0) or p0 <= 0:
        row["status"] = "bad_entry"
        row["entry_px"] = float(p0) if (p0 is not None and math.isfinite(p0)) else None
        return row
    p0 = float(p0)
    row["entry_px"] = p0
    if not candles_valid(window, interval_s):
        row["status"] = "invalid_candles"
        return row
    row["status"] = "ok"
    ts_e = window[0][0]
    n = len(window)
    highs = [c[2] for c in window]
    lows = [c[3] for c in window]

    max_high = max(highs)
    ath_idx = highs.index(max_high)          # first candle whose high equals the maximum
    row["ath_mult"] = max_high / p0
    row["time_to_ath_s"] = window[ath_idx][0] - ts_e
    row["peak_pnl_pct"] = (row["ath_mult"] - 1.0) * 100.0
    min_low = min(lows)
    row["dd_overall"] = min_low / p0 - 1.0

    # dd_initial: lowest low from e up to, not including, the first candle after e with high > P0.
    first_up = None
    for j in range(1, n):
        if highs[j] > p0:
            first_up = j
            break
    if first_up is None:
        row["dd_initial"] = row["dd_overall"]
    else:
        row["dd_initial"] = min(lows[:first_up]) / p0 - 1.0

    for k, name in ((2.0, "2x"), (3.0, "3x"), (4.0, "4x")):
        lvl = k * p0
        hit = None
        for j in range(n):
            if highs[j] >= lvl:
                hit = j
                break
        if hit is None:
            continue
        row["time_to_%s_s" % name] = window[hit][0] - ts_e
        if k == 2.0:
            row["dd_pre2x"] = min(lows[:hit + 1]) / p0 - 1.0
        if hit < n - 1:
            row["dd_after_%s" % name] = min(lows[hit + 1:]) / lvl - 1.0
    if ath_idx < n - 1:
        row["dd_after_ath"] = min(lows[ath_idx + 1:]) / max_high - 1.0
    row["ret_end"] = window[-1][4] / p0 - 1.0

    trade = simulate(call, {"tp": cfg["tp"], "sl": cfg["sl"], "max_hold_hours": horizon}, 0,
                     interval_s=interval_s, entry_price="open", intrabar=cfg["intrabar"],
                     cost_model="fills", fee_bps=cfg["fee_bps"], slippage_bps=cfg["slippage_bps"],
                     be_offset=0.0, horizon_hours=horizon)
    if trade is not None:
        row["tp_sl_exit_reason"] = trade["exit_reason"]
        row["tp_sl_ret"] = trade["net_multiple"] - 1.0
    return row


# --------------------------------------------------------------------------------------------
# Robustness per caller (§13): deflated Sharpe, PBO by CSCV, walk-forward, verdict
# --------------------------------------------------------------------------------------------

EULER_GAMMA = 0.5772156649015329   # §13.1 "γ = 0.5772156649015329"
E_CONST = 2.718281828459045        # §13.1 "e = 2.718281828459045"
SQRT_2 = 1.4142135623730951        # std::f64::consts::SQRT_2 (§13.1)


def norm_cdf(x):
    """Φ(x) = 0.5 × erfc(−x / √2) (§13.1)."""
    return 0.5 * math.erfc(-x / SQRT_2)


# Wichura (1988), Algorithm AS241 PPND16, the double-precision version: the coefficients as
# published in Applied Statistics 37(3), 477-484.
_A = (3.3871328727963666080e0, 1.3314166789178437745e+2, 1.9715909503065514427e+3,
      1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
      3.3430575583588128105e+4, 2.5090809287301226727e+3)
_B = (1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3,
      2.1213794301586595867e+4, 3.9307895800092710610e+4, 2.8729085735721942674e+4,
      5.2264952788528545610e+3)
_C = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
      3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
      2.27238449892691845833e-2, 7.74545014278341407640e-4)
_D = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
      1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
      1.05075007164441684324e-9)
_E = (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
      2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
      2.71155556874348757815e-5, 2.01033439929228813265e-7)
_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
      7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
      2.04426310338993978564e-15)


def _horner(coef, r):
    """((((((c7 r + c6) r + c5) r + c4) r + c3) r + c2) r + c1) r + c0, as AS241 writes it."""
    acc = coef[7]
    for k in range(6, -1, -1):
        acc = acc * r + coef[k]
    return acc


def norm_ppf(p):
    """Φ⁻¹(p) for 0 < p < 1: AS241 PPND16 with log and sqrt (§13.1)."""
    if not 0.0 < p < 1.0:
        raise ValueError("norm_ppf needs 0 < p < 1, got %r" % (p,))
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        return q * _horner(_A, r) / _horner(_B, r)
    r = p if q < 0.0 else 1.0 - p
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r = r - 1.6
        x = _horner(_C, r) / _horner(_D, r)
    else:
        r = r - 5.0
        x = _horner(_E, r) / _horner(_F, r)
    return -x if q < 0.0 else x


def blocks(n, b):
    """§13: n calls in b consecutive blocks; block k holds floor(n/b) + (1 if k < n mod b)."""
    q, rest = divmod(n, b)
    out = []
    start = 0
    for k in range(b):
        size = q + (1 if k < rest else 0)
        out.append((start, start + size))
        start += size
    return out


def deflated_sharpe(sharpes, best_sharpe, returns):
    """§13.1: (trials N, sr0, dsr) from every policy's sharpe (policy-index order, None for
    null), the best policy's sharpe and its wallet's returns M − 1 in entry order."""
    vals = [x for x in sharpes if x is not None]
    n_trials = len(vals)
    if n_trials < 2:
        return n_trials, None, None
    acc = 0.0
    for x in vals:
        acc = acc + x
    mu_s = acc / n_trials
    sq = 0.0
    for x in vals:
        d = x - mu_s
        sq = sq + d * d
    var = sq / (n_trials - 1)
    z1 = norm_ppf(1.0 - 1.0 / n_trials)
    z2 = norm_ppf(1.0 - 1.0 / (n_trials * E_CONST))
    sr0 = math.sqrt(var) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)

    t = len(returns)
    if t < 2 or best_sharpe is None:
        return n_trials, sr0, None
    acc = 0.0
    for r in returns:
        acc = acc + r
    mu = acc / t
    s2 = s3 = s4 = 0.0
    for r in returns:
        d = r - mu
        s2 = s2 + d * d
        s3 = s3 + d * d * d
        s4 = s4 + d * d * d * d
    m2, m3, m4 = s2 / t, s3 / t, s4 / t
    if m2 == 0.0:
        return n_trials, sr0, None
    skew = m3 / (m2 * math.sqrt(m2))
    kurt = m4 / (m2 * m2)
    sr = best_sharpe
    radicand = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * (sr * sr)
    if not radicand > 0.0:
        return n_trials, sr0, None
    dsr = norm_cdf((sr - sr0) * math.sqrt(t - 1.0) / math.sqrt(radicand))
    return n_trials, sr0, dsr


def _set_perf(row, spans):
    """§13.2 perf: one running sum over the calls of the given blocks (ascending, time order),
    then one division by their count."""
    acc = 0.0
    count = 0
    for a, b in spans:
        for c in range(a, b):
            acc = acc + row[c]
            count += 1
    return acc / count


def pbo_cscv(x):
    """§13.2: x[p][c] = M − 1 of call c (time order) under policy p, 0.0 without a trade.
    The probability of backtest overfitting over the 70 splits of 8 blocks, or None."""
    n_pol = len(x)
    n = len(x[0]) if x else 0
    if n < 16 or n_pol < 2:
        return None
    spans = blocks(n, 8)
    overfit = 0
    for chosen in itertools.combinations(range(8), 4):     # lexicographic order
        rest = [b for b in range(8) if b not in chosen]
        ins = [_set_perf(row, [spans[b] for b in chosen]) for row in x]
        oos = [_set_perf(row, [spans[b] for b in rest]) for row in x]
        star = 0
        for p in range(1, n_pol):
            if ins[p] > ins[star]:                        # ties keep the lower index
                star = p
        o = oos[star]
        below = sum(1 for p in range(n_pol) if oos[p] < o)
        equal = sum(1 for p in range(n_pol) if p != star and oos[p] == o)
        rho = 1.0 + below + equal / 2.0
        omega = rho / (n_pol + 1)
        if omega <= 0.5:
            overfit += 1
    return overfit / 70.0


def verdict(dsr, pbo, best_feasible, best_total_return, folds, walk_forward):
    """§13.4, tested in order: overfit, edge, inconclusive."""
    if pbo is not None and pbo > 0.5:
        return "overfit"
    if (dsr is not None and dsr >= 0.95 and pbo is not None and pbo <= 0.2 and best_feasible
            and best_total_return > 0.0
            and (folds == 0 or (walk_forward is not None
                                and walk_forward["compounded_oos_return"] > 0.0))):
        return "edge"
    return "inconclusive"


def in_sample_count(n, fraction):
    """§6/§12: the first ceil((1.0 − f) × n) calls, computed in f64; all of them without holdout."""
    if fraction > 0.0:
        return int(math.ceil((1.0 - fraction) * n))
    return n


def search_callers(calls, all_trades, policies, wcfg, cost_model, fee_bps, slippage_bps, opts):
    """Per caller (byte order): the §5 best on the in-sample calls and its §13 robustness."""
    objective = opts.get("objective", "final_capital")
    constraints = opts.get("constraints") or {}
    k_folds = int(opts.get("folds", 0))
    if k_folds < 0:
        raise UsageError("folds must be >= 0")
    fraction = float(opts.get("holdout_fraction", 0.0))
    if not 0.0 <= fraction < 1.0:
        raise UsageError("holdout fraction must be in [0, 1)")
    mode = opts.get("mode", "both")
    if mode not in ("per-caller", "grouped", "both"):
        raise UsageError("unknown mode %r" % mode)

    by_caller = {}
    for i, c in enumerate(calls):
        by_caller.setdefault(c["caller"], []).append(i)

    def wallet(idx, p):
        return run_wallet([calls[i] for i in idx], [all_trades[p][i] for i in idx], policies[p],
                          wcfg, cost_model, fee_bps, slippage_bps)

    def choose(wallets):
        top = rank(wallets, objective, constraints)[0]
        return top, feasible(wallets[top]["metrics"], constraints)

    out = []
    for name in sorted(by_caller, key=lambda s: s.encode("utf-8")):
        idx = sorted(by_caller[name],
                     key=lambda i: (calls[i]["alert_ts_ms"], calls[i]["call_id"].encode("utf-8")))
        n = in_sample_count(len(idx), fraction)
        ins = idx[:n]
        wallets = [wallet(ins, p) for p in range(len(policies))]
        best, best_ok = choose(wallets)
        best_m = wallets[best]["metrics"]
        row = {"caller": name, "calls": len(idx), "in_sample_calls": n, "best": best,
               "feasible": best_ok, "metrics": best_m,
               "sharpes": [w["metrics"]["sharpe"] for w in wallets], "robustness": None}
        if fraction > 0.0:
            row["out_of_sample"] = wallet(idx[n:], best)["metrics"]
        if mode != "grouped":
            returns = [t["net_multiple"] - 1.0 for t in wallets[best]["taken"]]
            trials, sr0, dsr = deflated_sharpe([w["metrics"]["sharpe"] for w in wallets],
                                               best_m["sharpe"], returns)
            x = [[(all_trades[p][i]["net_multiple"] - 1.0) if all_trades[p][i] is not None else 0.0
                  for i in ins] for p in range(len(policies))]
            pbo = pbo_cscv(x)
            wf = None
            if k_folds > 0 and n >= 2 * (k_folds + 1):
                spans = blocks(n, k_folds + 1)
                folds = []
                prod = 1.0
                for j in range(1, k_folds + 1):
                    train = ins[:spans[j - 1][1]]
                    test = ins[spans[j][0]:spans[j][1]]
                    tw = [wallet(train, p) for p in range(len(policies))]
                    chosen, _ = choose(tw)
                    oos = wallet(test, chosen)["metrics"]
                    folds.append({"fold": j, "best": chosen, "in_sample": tw[chosen]["metrics"],
                                  "out_of_sample": oos})
                    prod = prod * (1.0 + oos["total_return"])
                changes = sum(1 for j in range(1, len(folds))
                              if folds[j]["best"] != folds[j - 1]["best"])
                wf = {"folds": folds, "compounded_oos_return": prod - 1.0,
                      "policy_changes": changes}
            row["robustness"] = {
                "trials": trials, "sr0": sr0, "dsr": dsr, "pbo": pbo, "walk_forward": wf,
                "verdict": verdict(dsr, pbo, best_ok, best_m["total_return"], k_folds, wf),
            }
        out.append(row)
    return out


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

def norm_intrabar(x):
    x = (x or "sl_first").replace("-", "_")
    if x not in ("sl_first", "tp_first"):
        raise UsageError("intrabar must be sl_first or tp_first")
    return x


def normalize_call(c):
    """Timestamps as integers, prices and volumes as f64, as the engine holds them."""
    c = dict(c)
    c["candles"] = [[int(k[0]), float(k[1]), float(k[2]), float(k[3]), float(k[4]), float(k[5])]
                    for k in c["candles"]]
    c["alert_ts_ms"] = int(c["alert_ts_ms"])
    return c


def run(doc):
    interval_s = int(doc.get("interval_s", 60))
    opts = doc.get("options", {}) or {}
    entry_price = opts.get("entry_price", "open")
    intrabar = norm_intrabar(opts.get("intrabar"))
    cost_model = opts.get("cost_model", "fills")
    fee_bps = float(opts.get("fee_bps", 30.0))
    slippage_bps = float(opts.get("slippage_bps", 10.0))
    be_offset = float(opts.get("be_offset", 0.0))
    horizon_hours = float(opts.get("horizon_hours", 48.0))
    if fee_bps < 0 or slippage_bps < 0 or be_offset < 0:
        raise UsageError("negative fee, slippage or be_offset")
    wcfg = dict(DEFAULT_WALLET)
    wcfg.update(opts.get("wallet", {}) or {})
    calls = [normalize_call(c) for c in doc.get("calls", [])]
    policies = doc.get("policies", [])
    for p in policies:
        validate_policy(p, horizon_hours)

    all_trades = []
    wallets = []
    rule_cache = {}
    for pi, pol in enumerate(policies):
        trades = [simulate(c, pol, pi, interval_s=interval_s, entry_price=entry_price,
                           intrabar=intrabar, cost_model=cost_model, fee_bps=fee_bps,
                           slippage_bps=slippage_bps, be_offset=be_offset,
                           horizon_hours=horizon_hours, rule_cache=rule_cache)
                  for c in calls]
        all_trades.append(trades)
        wallets.append(run_wallet(calls, trades, pol, wcfg, cost_model, fee_bps, slippage_bps))

    bcfg = dict(DEFAULT_BASELINE)
    bcfg.update(doc.get("baseline", {}) or {})
    bcfg["intrabar"] = norm_intrabar(bcfg.get("intrabar"))
    bcfg["horizon_hours"] = float(bcfg["horizon_hours"])
    baseline = [baseline_row(c, bcfg, interval_s) for c in calls]

    out = {"trades": all_trades, "wallets": wallets, "ranking": rank(wallets),
           "baseline": baseline}
    if doc.get("search") is not None:
        out["per_caller"] = search_callers(calls, all_trades, policies, wcfg, cost_model, fee_bps,
                                           slippage_bps, doc["search"])
    return out


def main():
    try:
        doc = json.load(sys.stdin)
        out = run(doc)
    except UsageError as err:
        print("usage error: %s" % err, file=sys.stderr)
        return 2
    json.dump(out, sys.stdout, allow_nan=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
