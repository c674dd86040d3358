"""Unit tests of the reference oracle: the SPEC's published vectors and small hand-computed cases (stdlib unittest)."""

import json
import math
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import oracle  # noqa: E402
import gen  # noqa: E402

T0 = 1700000000  # a minute boundary (seconds)


def call(cid, candles, mint=None, alert_ms=None, caller="A", chain="solana"):
    return {"call_id": cid, "caller": caller, "chain": chain, "mint": mint or ("m_" + cid),
            "alert_ts_ms": T0 * 1000 if alert_ms is None else alert_ms, "candles": candles}


def bars(*ohlc, start=T0, step=60, vol=100.0):
    """Consecutive 1-minute candles from (open, high, low, close) tuples."""
    return [[start + i * step, o, h, l, c, vol] for i, (o, h, l, c) in enumerate(ohlc)]


def policy(**kw):
    p = {"tp": None, "sl": None, "trail": None, "trail_activation": None, "be_trigger": None,
         "ladder": None, "max_hold_hours": 48.0, "indicator": None}
    p.update(kw)
    return p


def doc(calls, policies, **opts):
    o = {"entry_price": "open", "intrabar": "sl_first", "cost_model": "fills",
         "fee_bps": 30.0, "slippage_bps": 10.0, "be_offset": 0.0,
         "wallet": dict(oracle.DEFAULT_WALLET)}
    wallet = opts.pop("wallet", {})
    o.update(opts)
    o["wallet"].update(wallet)
    return {"interval_s": 60, "options": o, "calls": calls, "policies": policies,
            "baseline": dict(oracle.DEFAULT_BASELINE)}


def run1(candles, pol, **opts):
    """The single trade of one call under one policy."""
    return oracle.run(doc([call("c1", candles)], [pol], **opts))["trades"][0][0]


# A path that reaches 2x inside the second candle and never goes below 0.95.
TO_2X = bars((1.0, 1.1, 0.95, 1.05), (1.05, 2.1, 1.0, 2.0), (2.0, 2.2, 1.9, 2.1))
# A path that falls through 0.85 inside the second candle.
TO_SL = bars((1.0, 1.1, 0.95, 1.0), (1.0, 1.02, 0.8, 0.82), (0.82, 0.9, 0.8, 0.85))


class PublishedVectors(unittest.TestCase):
    """The SPEC's published numbers (issue text)."""

    def test_v1_take_profit_size_400(self):
        out = oracle.run(doc([call("c1", TO_2X)], [policy(tp=2.0, sl=0.85)], cost_model="v1"))
        taken = out["wallets"][0]["taken"]
        self.assertEqual(len(taken), 1)
        self.assertEqual(taken[0]["size_usd"], 400.0)
        self.assertAlmostEqual(taken[0]["pnl_usd"], 396.8, places=9)
        self.assertAlmostEqual(out["wallets"][0]["metrics"]["final_capital"], 10396.8, places=9)
        self.assertEqual(out["trades"][0][0]["exit_reason"], "take_profit")

    def test_v1_stop_loss_085(self):
        out = oracle.run(doc([call("c1", TO_SL)], [policy(tp=2.0, sl=0.85)], cost_model="v1"))
        taken = out["wallets"][0]["taken"]
        self.assertEqual(taken[0]["size_usd"], 400.0)
        self.assertAlmostEqual(taken[0]["pnl_usd"], -63.2, places=9)
        self.assertAlmostEqual(out["wallets"][0]["metrics"]["final_capital"], 9936.8, places=9)
        self.assertEqual(out["trades"][0][0]["exit_reason"], "stop_loss")

    def test_v1_ten_calls_same_instant(self):
        calls = [call("c%02d" % k, TO_2X) for k in range(10)]
        out = oracle.run(doc(calls, [policy(tp=2.0, sl=0.85)], cost_model="v1"))
        w = out["wallets"][0]
        sizes = [t["size_usd"] for t in w["taken"]]
        self.assertEqual(len(sizes), 10)
        for k, sz in enumerate(sizes):
            self.assertAlmostEqual(sz, 400.0 * 0.96 ** k, places=9)
        self.assertEqual(round(w["metrics"]["final_capital"], 2), 13324.86)

    def test_fills_take_profit_2x(self):
        t = run1(TO_2X, policy(tp=2.0), cost_model="fills", fee_bps=30.0, slippage_bps=10.0)
        expected = (1 - 0.003) ** 2 * 2 * 0.999 / 1.001
        self.assertTrue(math.isclose(t["net_multiple"], expected, rel_tol=1e-15, abs_tol=0.0),
                        (t["net_multiple"], expected))
        self.assertEqual(t["gross_multiple"], 2.0)
        # The exact order of operations of §3.4 with size 1.
        tokens = 1.0 * (1.0 - 0.003) / (1.0 * (1.0 + 0.001))
        self.assertEqual(t["net_multiple"], (0.0 + tokens * 1.0 * 2.0 * (1.0 - 0.001) * (1.0 - 0.003)) / 1.0)


class ExitRules(unittest.TestCase):
    def test_take_profit_record(self):
        t = run1(TO_2X, policy(tp=2.0, sl=0.9))
        self.assertEqual(t["entry_ts_ms"], T0 * 1000)
        self.assertEqual(t["entry_px"], 1.0)
        self.assertEqual(t["exit_ts_ms"], (T0 + 120) * 1000)
        self.assertEqual(t["candles_held"], 1)
        self.assertEqual(t["fills"], 1)
        self.assertEqual(t["peak_multiple"], 2.1)
        self.assertEqual(t["mae"], 0.95 - 1.0)
        self.assertFalse(t["ambiguous"])

    def test_gap_through_stop_fills_at_open(self):
        path = bars((1.0, 1.05, 0.95, 1.0), (0.8, 0.85, 0.7, 0.75))
        t = run1(path, policy(sl=0.9))
        self.assertEqual(t["exit_reason"], "stop_loss")
        self.assertEqual(t["exit_ts_ms"], (T0 + 60) * 1000)
        self.assertEqual(t["gross_multiple"], 0.8)
        self.assertEqual(t["mae"], 0.7 - 1.0)  # the exit candle is included

    def test_ambiguous_sl_first_and_tp_first(self):
        path = bars((1.0, 1.05, 0.95, 1.0), (1.0, 2.5, 0.5, 1.0))
        a = run1(path, policy(tp=2.0, sl=0.9), intrabar="sl_first")
        self.assertTrue(a["ambiguous"])
        self.assertEqual(a["exit_reason"], "stop_loss")
        self.assertEqual(a["gross_multiple"], 0.9)
        b = run1(path, policy(tp=2.0, sl=0.9), intrabar="tp_first")
        self.assertTrue(b["ambiguous"])
        self.assertEqual(b["exit_reason"], "take_profit")
        self.assertEqual(b["gross_multiple"], 2.0)
        self.assertEqual(b["fills"], 1)

    def test_tp_first_ladder_then_stop(self):
        path = bars((1.0, 1.05, 0.95, 1.0), (1.0, 2.5, 0.5, 1.0))
        t = run1(path, policy(ladder=[[2.0, 0.5], [3.0, 0.3]], sl=0.9), intrabar="tp_first")
        self.assertEqual(t["fills"], 2)
        self.assertEqual(t["exit_reason"], "stop_loss")
        self.assertEqual(t["gross_multiple"], 0.5 * 2.0 + 0.5 * 0.9)

    def test_gap_up_fill_stands_when_rest_stops_inside(self):
        # Level 1.5 fills at the open 1.6; the remainder stops inside at 0.9; level 3 untouched.
        path = bars((1.0, 1.05, 0.95, 1.0), (1.6, 1.7, 0.5, 0.6))
        t = run1(path, policy(ladder=[[1.5, 0.5], [3.0, 0.5]], sl=0.9))
        self.assertFalse(t["ambiguous"])
        self.assertEqual(t["fills"], 2)
        self.assertEqual(t["exit_reason"], "stop_loss")
        self.assertEqual(t["gross_multiple"], 0.0 + 1.0 * 0.5 * 1.6 + 1.0 * 0.5 * 0.9)

    def test_ladder_remainder_by_successive_subtraction(self):
        path = bars((1.0, 2.1, 0.95, 2.0), (2.0, 3.1, 1.9, 3.0), (3.0, 3.05, 2.9, 2.95))
        t = run1(path, policy(ladder=[[2.0, 0.5], [3.0, 0.3]], max_hold_hours=48.0))
        self.assertEqual(t["fills"], 3)
        self.assertEqual(t["exit_reason"], "end_of_data")
        rem = (1.0 - 0.5) - 0.3
        self.assertNotEqual(rem, 1.0 - (0.5 + 0.3))
        self.assertEqual(t["gross_multiple"], ((0.0 + 1.0 * 0.5 * 2.0) + 1.0 * 0.3 * 3.0) + 1.0 * rem * 2.95)

    def test_complete_ladder_closes_with_take_profit(self):
        path = bars((1.0, 2.1, 0.95, 2.0), (2.0, 3.1, 1.9, 3.0), (3.0, 3.05, 2.9, 2.95))
        t = run1(path, policy(ladder=[[2.0, 0.5], [3.0, 0.5]]))
        self.assertEqual(t["exit_reason"], "take_profit")
        self.assertEqual(t["fills"], 2)
        self.assertEqual(t["candles_held"], 1)

    def test_time_exit_vs_end_of_data(self):
        path = bars(*[(1.0, 1.01, 0.99, 1.0)] * 61)
        t = run1(path, policy(sl=0.5, max_hold_hours=1.0))
        self.assertEqual(t["exit_reason"], "time_exit")
        self.assertEqual(t["candles_held"], 59)
        self.assertEqual(t["exit_ts_ms"], (T0 + 3600) * 1000)
        path2 = path[:59] + path[60:]  # the candle ending at Tmax is missing
        t2 = run1(path2, policy(sl=0.5, max_hold_hours=1.0))
        self.assertEqual(t2["exit_reason"], "end_of_data")
        self.assertEqual(t2["candles_held"], 58)

    def test_fractional_hold(self):
        path = bars(*[(1.0, 1.01, 0.99, 1.0)] * 200)
        t = run1(path, policy(max_hold_hours=2.5))
        self.assertEqual(t["exit_reason"], "time_exit")
        self.assertEqual(t["exit_ts_ms"], T0 * 1000 + 9000000)
        self.assertEqual(t["candles_held"], 149)

    def test_close_entry_checks_from_next_candle(self):
        # The entry candle's own low 0.5 is not checked; the second candle's is.
        path = bars((1.0, 1.2, 0.5, 1.0), (1.0, 1.05, 0.95, 1.0), (1.0, 1.01, 0.85, 0.9))
        t = run1(path, policy(sl=0.9), entry_price="close")
        self.assertEqual(t["entry_ts_ms"], (T0 + 60) * 1000)
        self.assertEqual(t["exit_reason"], "stop_loss")
        self.assertEqual(t["candles_held"], 2)
        self.assertEqual(t["peak_multiple"], 1.05)
        self.assertEqual(t["mae"], 0.85 - 1.0)

    def test_close_entry_without_later_candle(self):
        path = bars((1.0, 1.2, 0.5, 1.0))
        t = run1(path, policy(sl=0.9), entry_price="close")
        self.assertEqual(t["exit_reason"], "end_of_data")
        self.assertEqual(t["exit_ts_ms"], t["entry_ts_ms"])
        self.assertEqual(t["gross_multiple"], 1.0)
        self.assertEqual(t["peak_multiple"], 1.0)
        self.assertEqual(t["mae"], 0.0)
        self.assertEqual(t["candles_held"], 0)
        self.assertEqual(t["fills"], 1)

    def test_trailing_with_activation_takes_effect_next_candle(self):
        path = bars((1.0, 1.4, 0.95, 1.3), (1.3, 2.0, 1.5, 1.9), (1.9, 1.95, 1.5, 1.55))
        t = run1(path, policy(trail=0.2, trail_activation=1.5))
        self.assertEqual(t["exit_reason"], "trailing_stop")
        self.assertEqual(t["candles_held"], 2)
        self.assertEqual(t["gross_multiple"], 1.0 * 1.0 * (2.0 * (1.0 - 0.2)))

    def test_break_even(self):
        path = bars((1.0, 1.35, 0.95, 1.2), (1.2, 1.25, 0.98, 1.0))
        t = run1(path, policy(sl=0.9, be_trigger=1.3), be_offset=0.0)
        self.assertEqual(t["exit_reason"], "break_even")
        self.assertEqual(t["gross_multiple"], 1.0)

    def test_equal_stops_prefer_stop_loss(self):
        # Trail 0.1 active from entry: 1.0 x 0.9 equals sl 0.9.
        path = bars((1.0, 1.0, 0.95, 1.0), (1.0, 1.0, 0.85, 0.9))
        t = run1(path, policy(sl=0.9, trail=0.1))
        self.assertEqual(t["exit_reason"], "stop_loss")

    def test_indicator_exit_at_close(self):
        # ema_cross:1:2 -- EMA(1) is the close; fires when the close falls below EMA(2).
        path = bars((1.0, 1.1, 0.95, 1.0), (1.0, 1.3, 0.99, 1.2), (1.2, 1.25, 1.0, 1.05))
        t = run1(path, policy(indicator="ema_cross:1:2"))
        self.assertEqual(t["exit_reason"], "indicator_exit")
        self.assertEqual(t["exit_ts_ms"], (T0 + 180) * 1000)
        self.assertEqual(t["gross_multiple"], 1.05)


class Indicators(unittest.TestCase):
    def test_ema_seed_and_recursion(self):
        e = oracle.ema_series([1.0, 2.0, 3.0, 4.0], 3)
        self.assertEqual(e[:2], [None, None])
        self.assertEqual(e[2], 2.0)
        self.assertEqual(e[3], 2.0 + 0.5 * (4.0 - 2.0))

    def test_rsi(self):
        r = oracle.rsi_series([1.0, 2.0, 1.5, 1.5], 2)
        self.assertEqual(r[2], 100.0 - 100.0 / (1.0 + (1.0 / 2) / (0.5 / 2)))
        gain = ((1.0 / 2) * 1.0 + 0.0) / 2
        loss = ((0.5 / 2) * 1.0 + 0.0) / 2
        self.assertEqual(r[3], 100.0 - 100.0 / (1.0 + gain / loss))

    def test_vol_spike_zero_std(self):
        w = bars(*[(1.0, 1.0, 1.0, 1.0)] * 5, vol=0.0)
        self.assertEqual(oracle.rule_fires(("vol_spike", 2, 1.0), w), [False] * 5)


class Wallet(unittest.TestCase):
    def test_same_token_and_closing_before_entry(self):
        first = call("a", TO_2X, mint="X")
        second = call("b", TO_2X, mint="X")
        # Enters at the open of the third candle, after "a" exited inside the second.
        third = call("c", TO_2X[2:], mint="X", alert_ms=(T0 + 120) * 1000)
        out = oracle.run(doc([first, second, third], [policy(tp=2.0, sl=0.85)]))
        w = out["wallets"][0]
        self.assertEqual([t["call_id"] for t in w["taken"]], ["a", "c"])
        self.assertEqual(w["metrics"]["skipped"],
                         {"no_entry": 0, "max_positions": 0, "same_token_open": 1, "below_min_size": 0})

    def test_max_positions_and_min_size_and_no_entry(self):
        calls = [call("c%d" % k, TO_2X) for k in range(3)]
        calls.append(call("late", TO_2X, alert_ms=(T0 + 10000) * 1000))
        out = oracle.run(doc(calls, [policy(tp=2.0)], wallet={"max_concurrent_positions": 2}))
        sk = out["wallets"][0]["metrics"]["skipped"]
        self.assertEqual(sk, {"no_entry": 1, "max_positions": 1, "same_token_open": 0, "below_min_size": 0})
        self.assertIsNone(out["trades"][0][3])
        # No stop: risk 1, size = min(400, 200, cash) = 200.
        self.assertEqual(out["wallets"][0]["taken"][0]["size_usd"], 200.0)
        out2 = oracle.run(doc(calls[:1], [policy(tp=2.0)], wallet={"min_executable_size": 250.0}))
        self.assertEqual(out2["wallets"][0]["metrics"]["skipped"]["below_min_size"], 1)
        m = out2["wallets"][0]["metrics"]
        self.assertEqual(m["final_capital"], 10000.0)
        self.assertIsNone(m["win_rate"])
        self.assertEqual(m["max_drawdown"], 0.0)

    def test_drawdown_and_ratios(self):
        calls = [call("w", TO_2X), call("l", TO_SL)]
        out = oracle.run(doc(calls, [policy(tp=2.0, sl=0.85)], cost_model="v1"))
        m = out["wallets"][0]["metrics"]
        taken = out["wallets"][0]["taken"]
        # "l" stops at 120 s; "w" takes profit at 120 s too: closes in (exit, entry order) order.
        self.assertEqual([t["call_id"] for t in taken], ["l", "w"])
        size_l = taken[0]["size_usd"]
        self.assertEqual(size_l, 400.0)
        self.assertEqual(taken[1]["size_usd"], 0.04 * 9600.0)
        eq1 = (10000.0 - 400.0 - 384.0 + size_l + taken[0]["pnl_usd"]) + 384.0
        self.assertAlmostEqual(m["max_drawdown"], (10000.0 - eq1) / 10000.0, places=15)
        self.assertEqual(m["win_rate"], 0.5)
        self.assertEqual(m["stop_out_rate"], 0.5)
        self.assertAlmostEqual(m["profit_factor"], taken[1]["pnl_usd"] / -taken[0]["pnl_usd"], places=12)
        self.assertEqual(m["mean_hold_hours"], 120000 / 3600000.0)

    def test_ranking(self):
        out = oracle.run(doc([call("c1", TO_2X)], [policy(tp=2.0, sl=0.9), policy(tp=1.5, sl=0.9),
                                                  policy(tp=2.0, sl=0.9)]))
        self.assertEqual(out["ranking"], [0, 2, 1])


class Baseline(unittest.TestCase):
    def test_metrics(self):
        path = bars((1.0, 1.0, 0.9, 0.95), (0.95, 1.2, 0.8, 1.1), (1.1, 2.5, 1.0, 2.4),
                    (2.4, 2.4, 1.5, 1.6))
        out = oracle.run(doc([call("c1", path)], [policy(tp=2.0)]))
        b = out["baseline"][0]
        self.assertEqual(set(b), set(oracle.BASELINE_KEYS))
        self.assertEqual(b["status"], "ok")
        self.assertEqual(b["ath_mult"], 2.5)
        self.assertEqual(b["time_to_ath_s"], 120)
        self.assertEqual(b["time_to_2x_s"], 120)
        self.assertIsNone(b["time_to_3x_s"])
        self.assertEqual(b["dd_initial"], 0.9 - 1.0)
        self.assertEqual(b["dd_overall"], 0.8 - 1.0)
        self.assertEqual(b["dd_pre2x"], 0.8 - 1.0)
        self.assertEqual(b["dd_after_2x"], 1.5 / 2.0 - 1.0)
        self.assertEqual(b["dd_after_ath"], 1.5 / 2.5 - 1.0)
        self.assertEqual(b["ret_end"], 1.6 - 1.0)
        self.assertEqual(b["tp_sl_exit_reason"], "take_profit")
        tokens = 1.0 * (1.0 - 0.003) / (1.0 * (1.0 + 0.005))
        self.assertEqual(b["tp_sl_ret"], (0.0 + tokens * 1.0 * 2.0 * (1.0 - 0.005) * (1.0 - 0.003)) / 1.0 - 1.0)

    def test_missing(self):
        out = oracle.run(doc([call("c1", bars((1.0, 1.0, 1.0, 1.0)))], [policy(tp=2.0)]))
        self.assertEqual(out["baseline"][0]["status"], "missing")
        self.assertIsNone(out["baseline"][0]["ath_mult"])


def first_passage(win, pol, entry_price, intrabar, be_offset):
    """(reason, exit_ts_ms, ambiguous, candles_held, exit price) from prefix maxima of the highs."""
    if not win:
        return None
    close_entry = entry_price == "close"
    p0 = win[0][4] if close_entry else win[0][1]
    start = 1 if close_entry else 0
    tmax = win[0][0] * 1000 + pol["max_hold_hours"] * 3600000.0
    idx = [i for i in range(start, len(win)) if win[i][0] * 1000 < tmax]
    if not idx:
        end = (win[0][0] + 60) * 1000
        return ("time_exit" if end == tmax else "end_of_data", end, False, 0, win[0][4])
    # peak_before[i]: the highest high of the checked candles before i, starting from P0.
    peak_before = {}
    run = p0
    for i in idx:
        peak_before[i] = run
        run = max(run, win[i][2])
    tp = p0 * pol["tp"] if pol["tp"] is not None else math.inf
    act = pol["trail_activation"] if pol["trail_activation"] is not None else 1.0
    for i in idx:
        ts, o, h, lo, c = win[i][:5]
        pk = peak_before[i]
        cands = [(-math.inf, "none")]
        if pol["sl"] is not None:
            cands.append((p0 * pol["sl"], "stop_loss"))
        if pol["be_trigger"] is not None and pk >= p0 * pol["be_trigger"]:
            cands.append((p0 * (1.0 + be_offset), "break_even"))
        if pol["trail"] is not None and pk >= p0 * act:
            cands.append((pk * (1.0 - pol["trail"]), "trailing_stop"))
        best = max(c_[0] for c_ in cands)
        why = next(r for lv, r in cands if lv == best)
        if o >= tp:
            return ("take_profit", ts * 1000, False, i, o)
        if o <= best:
            return (why, ts * 1000, False, i, o)
        hit_s, hit_t = lo <= best, h >= tp
        if hit_s and hit_t:
            if intrabar == "tp_first":
                return ("take_profit", (ts + 60) * 1000, True, i, tp)
            return (why, (ts + 60) * 1000, True, i, best)
        if hit_s:
            return (why, (ts + 60) * 1000, False, i, best)
        if hit_t:
            return ("take_profit", (ts + 60) * 1000, False, i, tp)
    last = idx[-1]
    end = (win[last][0] + 60) * 1000
    return ("time_exit" if end == tmax else "end_of_data", end, False, last, win[last][4])


class CandleTimes(unittest.TestCase):
    def test_times_beyond_2_42_seconds_are_invalid(self):
        ok = [[2 ** 42 - 60, 1.0, 1.0, 1.0, 1.0], [2 ** 42, 1.0, 1.0, 1.0, 1.0]]
        self.assertTrue(oracle.candles_valid(ok, 60))
        self.assertFalse(oracle.candles_valid(ok + [[2 ** 42 + 60, 1.0, 1.0, 1.0, 1.0]], 60))
        self.assertFalse(oracle.candles_valid([[-(2 ** 63), 1.0, 1.0, 1.0, 1.0]], 60))


class Generated(unittest.TestCase):
    def test_generator_roundtrip(self):
        for seed in range(3):
            d = gen.generate(seed, 12, 6)
            for c in d["calls"]:
                self.assertTrue(oracle.candles_valid(c["candles"], 60))
            out = oracle.run(json.loads(json.dumps(d)))
            self.assertEqual(len(out["trades"]), 6)
            self.assertEqual(sorted(out["ranking"]), list(range(6)))
            for p, trades in enumerate(out["trades"]):
                for t in trades:
                    if t is None:
                        continue
                    self.assertTrue(t["exit_ts_ms"] >= t["entry_ts_ms"])
                    self.assertTrue(t["peak_multiple"] >= 1.0 and t["mae"] <= 0.0)
            for w in out["wallets"]:
                total = sum(w["metrics"]["skipped"].values()) + w["metrics"]["trades"]
                self.assertEqual(total, 12)

    def test_cash_is_conserved(self):
        for seed in range(10):
            out = oracle.run(gen.generate(100 + seed, 25, 5))
            for w in out["wallets"]:
                pnl = sum(t["pnl_usd"] for t in w["taken"])
                self.assertAlmostEqual(w["metrics"]["final_capital"], 10000.0 + pnl, places=6)

    def test_against_first_passage_evaluator(self):
        """A second, differently written evaluator for single-level policies (no ladder, no rule)."""
        checked = 0
        for seed in range(25):
            d = gen.generate(200 + seed, 20, 10)
            opts = d["options"]
            calls = [oracle.normalize_call(c) for c in d["calls"]]
            for pi, pol in enumerate(d["policies"]):
                if pol["ladder"] is not None or pol["indicator"] is not None:
                    continue
                for c in calls:
                    t = oracle.simulate(c, pol, pi, interval_s=60, entry_price=opts["entry_price"],
                                        intrabar=opts["intrabar"], cost_model="fills", fee_bps=0.0,
                                        slippage_bps=0.0, be_offset=opts["be_offset"], horizon_hours=48.0)
                    f = first_passage(c["candles"], pol, opts["entry_price"], opts["intrabar"],
                                      opts["be_offset"])
                    if t is None:
                        self.assertIsNone(f)
                        continue
                    checked += 1
                    self.assertEqual((t["exit_reason"], t["exit_ts_ms"], t["ambiguous"], t["candles_held"]),
                                     f[:4], (seed, pi, c["call_id"]))
                    self.assertEqual(t["gross_multiple"], (0.0 + (1.0 / t["entry_px"]) * 1.0 * f[4]))
        self.assertGreater(checked, 500)

    def test_cli(self):
        d = gen.generate(7, 5, 3)
        res = subprocess.run([sys.executable, os.path.join(HERE, "oracle.py")],
                             input=json.dumps(d), capture_output=True, text=True, check=True)
        self.assertEqual(json.loads(res.stdout), json.loads(json.dumps(oracle.run(d))))


class Robustness(unittest.TestCase):
    """§13: Φ and Φ⁻¹, blocks, the deflated Sharpe, PBO by CSCV, the verdict, and the search."""

    def test_normal_quantile_is_as241(self):
        # CPython's NormalDist.inv_cdf is also Wichura's AS241: the same numbers, bit for bit.
        from statistics import NormalDist
        nd = NormalDist()
        ps = [0.5, 0.975, 0.025, 0.9, 1e-12, 1.0 - 1e-12, 0.075, 0.925, 0.5 + 0.425, 1e-300]
        ps += [1.0 - 1.0 / n for n in range(2, 60)] + [1.0 - 1.0 / (n * oracle.E_CONST)
                                                      for n in range(1, 60)]
        for p in ps:
            self.assertEqual(oracle.norm_ppf(p), nd.inv_cdf(p), p)
        for p in (0.25, 0.125, 0.0625, 2.0 ** -20):              # 1 − p exact: symmetric
            self.assertEqual(oracle.norm_ppf(1.0 - p), -oracle.norm_ppf(p))
        self.assertAlmostEqual(oracle.norm_ppf(0.975), 1.959963984540054, places=15)
        with self.assertRaises(ValueError):
            oracle.norm_ppf(1.0)

    def test_normal_cdf(self):
        self.assertEqual(oracle.norm_cdf(0.0), 0.5)
        self.assertAlmostEqual(oracle.norm_cdf(1.959963984540054), 0.975, places=15)
        self.assertAlmostEqual(oracle.norm_cdf(-1.0), 0.15865525393145707, places=16)

    def test_blocks(self):
        self.assertEqual(oracle.blocks(10, 3), [(0, 4), (4, 7), (7, 10)])
        self.assertEqual(oracle.blocks(16, 8), [(2 * k, 2 * k + 2) for k in range(8)])
        self.assertEqual(oracle.blocks(3, 5), [(0, 1), (1, 2), (2, 3), (3, 3), (3, 3)])

    def test_deflated_sharpe_nulls(self):
        self.assertEqual(oracle.deflated_sharpe([None, None], None, []), (0, None, None))
        self.assertEqual(oracle.deflated_sharpe([None, 1.0], 1.0, [0.1, 0.3]), (1, None, None))
        # N = 2: sr0 exists; the best has fewer than 2 trades, no sharpe, or no spread: dsr null.
        n, sr0, dsr = oracle.deflated_sharpe([0.5, 1.0], None, [0.2])
        self.assertEqual((n, dsr), (2, None))
        self.assertIsNotNone(sr0)
        self.assertIsNone(oracle.deflated_sharpe([0.5, 1.0], 1.0, [0.2, 0.2])[2])

    def test_deflated_sharpe_by_hand(self):
        sharpes = [0.2, None, 0.5, 0.8]
        returns = [0.5, -0.2, 0.1, 0.3, -0.1]
        sr = 0.8
        n, sr0, dsr = oracle.deflated_sharpe(sharpes, sr, returns)
        self.assertEqual(n, 3)
        var = ((0.2 - 0.5) ** 2 + 0.0 + (0.8 - 0.5) ** 2) / 2
        z = oracle.norm_ppf
        want_sr0 = math.sqrt(var) * ((1 - 0.5772156649015329) * z(1 - 1 / 3)
                                     + 0.5772156649015329 * z(1 - 1 / (3 * math.e)))
        self.assertAlmostEqual(sr0, want_sr0, places=14)
        mu = sum(returns) / 5
        m2 = sum((r - mu) ** 2 for r in returns) / 5
        m3 = sum((r - mu) ** 3 for r in returns) / 5
        m4 = sum((r - mu) ** 4 for r in returns) / 5
        skew, kurt = m3 / m2 ** 1.5, m4 / m2 ** 2
        want = 0.5 * math.erfc(-((sr - want_sr0) * math.sqrt(4)
                                 / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr ** 2))
                               / math.sqrt(2))
        self.assertAlmostEqual(dsr, want, places=13)

    def test_pbo_nulls_and_extremes(self):
        self.assertIsNone(oracle.pbo_cscv([[0.1] * 15, [0.2] * 15]))
        self.assertIsNone(oracle.pbo_cscv([[0.1] * 40]))
        # Every policy the same: every set is overfit (ω = 0.5 exactly).
        self.assertEqual(oracle.pbo_cscv([[0.1, -0.2] * 10] * 3), 1.0)
        # One policy better on every call: chosen in sample and best out of sample, never overfit.
        row = [0.1, -0.2, 0.3, 0.0] * 5
        self.assertEqual(oracle.pbo_cscv([row, [r + 1.0 for r in row]]), 0.0)
        self.assertEqual(14 / 70.0, 0.2)

    def test_pbo_against_exact_arithmetic(self):
        """Small-integer returns (exact sums) against a Fraction-based count over bit masks."""
        from fractions import Fraction
        import random
        for seed in range(40):
            rng = random.Random(seed)
            n, n_pol = rng.randint(16, 41), rng.randint(2, 7)
            x = [[float(rng.randint(-3, 3)) for _ in range(n)] for _ in range(n_pol)]
            if seed % 5 == 0:
                x[1] = list(x[0])                               # exact ties
            spans = oracle.blocks(n, 8)
            overfit = 0
            for mask in range(256):
                if bin(mask).count("1") != 4:
                    continue
                ins = [c for b in range(8) if mask >> b & 1 for c in range(*spans[b])]
                oos = [c for b in range(8) if not mask >> b & 1 for c in range(*spans[b])]
                perf_in = [Fraction(int(sum(r[c] for c in ins)), len(ins)) for r in x]
                perf_out = [Fraction(int(sum(r[c] for c in oos)), len(oos)) for r in x]
                star = min(range(n_pol), key=lambda p: (-perf_in[p], p))
                o = perf_out[star]
                rho = Fraction(1) + sum(1 for v in perf_out if v < o) + Fraction(
                    sum(1 for p in range(n_pol) if p != star and perf_out[p] == o), 2)
                overfit += rho / (n_pol + 1) <= Fraction(1, 2)
            self.assertEqual(oracle.pbo_cscv(x), overfit / 70.0, seed)

    def test_verdict(self):
        v = oracle.verdict
        wf_up = {"compounded_oos_return": 0.1}
        wf_down = {"compounded_oos_return": -0.1}
        self.assertEqual(v(0.99, 0.6, True, 0.5, 0, None), "overfit")
        self.assertEqual(v(0.95, 0.2, True, 0.5, 0, None), "edge")
        self.assertEqual(v(0.95, 0.2, True, 0.5, 4, wf_up), "edge")
        self.assertEqual(v(0.95, 0.2, True, 0.5, 4, wf_down), "inconclusive")
        self.assertEqual(v(0.95, 0.2, True, 0.5, 4, None), "inconclusive")
        self.assertEqual(v(0.95, 0.2, False, 0.5, 0, None), "inconclusive")
        self.assertEqual(v(0.95, 0.2, True, 0.0, 0, None), "inconclusive")
        self.assertEqual(v(0.94, 0.0, True, 0.5, 0, None), "inconclusive")
        self.assertEqual(v(None, 0.0, True, 0.5, 0, None), "inconclusive")
        self.assertEqual(v(0.99, None, True, 0.5, 0, None), "inconclusive")
        self.assertEqual(v(None, 0.5, True, 0.5, 0, None), "inconclusive")

    def test_in_sample_count(self):
        self.assertEqual(oracle.in_sample_count(10, 0.3), 7)
        self.assertEqual(oracle.in_sample_count(11, 0.3), 8)
        self.assertEqual(oracle.in_sample_count(11, 0.0), 11)

    def test_search_on_generated_cases(self):
        for seed in range(4):
            d = json.loads(json.dumps(gen.generate_robust(seed)))
            self.assertTrue(10 <= len(d["policies"]) <= 40)
            self.assertTrue(all(c["candles"] for c in d["calls"]))
            out = oracle.run(d)
            k = d["search"]["folds"]
            names = [r["caller"] for r in out["per_caller"]]
            self.assertEqual(names, sorted(names, key=lambda s: s.encode("utf-8")))
            for r in out["per_caller"]:
                rb = r["robustness"]
                if d["search"]["mode"] == "grouped":
                    self.assertIsNone(rb)
                    continue
                n = r["in_sample_calls"]
                self.assertEqual(rb["trials"], sum(1 for x in r["sharpes"] if x is not None))
                self.assertEqual(rb["sr0"] is None, rb["trials"] < 2)
                self.assertEqual(rb["pbo"] is None, n < 16)
                if rb["pbo"] is not None:
                    self.assertEqual(rb["pbo"], round(rb["pbo"] * 70) / 70.0)
                wf = rb["walk_forward"]
                self.assertEqual(wf is None, k == 0 or n < 2 * (k + 1))
                if wf is not None:
                    self.assertEqual([f["fold"] for f in wf["folds"]], list(range(1, k + 1)))
                    self.assertLessEqual(wf["policy_changes"], k - 1)


if __name__ == "__main__":
    unittest.main()
