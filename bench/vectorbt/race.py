#!/usr/bin/env python3
"""Race the Quantbot engine against vectorbt on a tp × sl grid in the semantics both share.

Usage (from anywhere):  python3 bench/vectorbt/race.py [--dump DIR]

The script creates its own virtual environment with vectorbt under
$HOME/.cache/quantbot/venv-vectorbt (never in the repository) and re-runs itself there. It then
runs `cargo run --release -p quantbot-bench -- race-dump DIR`, which writes the calls' candles,
the engine's trades and the engine's time (see bench/src/race.rs); `--dump DIR` reuses a dump.

Shared semantics and the vectorbt settings that give them:
- entry at the entry candle's open: a flat bar (open = high = low = close = the entry candle's
  open) is put before each call's candles and the entry signal is on it, so vectorbt buys at
  that bar's close (its default order price) = the entry candle's open. vectorbt checks stops
  from the bar after the entry bar, so its checks start at the entry candle, as the engine's do.
- fixed stop loss and take profit: `sl_stop = 1 − sl`, `tp_stop = tp − 1`, `sl_trail=False`,
  `stop_entry_price="price"`; vectorbt's levels `entry × (1 − sl_stop)` and
  `entry × (1 + tp_stop)` are then the very products the engine computes (`P0 × sl`, `P0 × tp`;
  the Rust side checks that the fractions round-trip exactly).
- gaps: `stop_exit_price="stoplimit"` (the default) fills at the level, or at the open when the
  bar opens through it; the engine does the same (SPEC §3.2).
- stop first in an ambiguous candle: vectorbt tests the stop loss before the take profit and
  takes the first hit, which is the engine's default `--intrabar sl-first`.
- no fees: `fees=0`, `slippage=0` (engine: `fee_bps 0`, `slippage_bps 0`).
- no time stop inside the data: the engine's time stop is the whole 48 h window and exits at the
  last candle's close; vectorbt leaves such a position open and values it at the last close.

Every trade is compared: the exit candle and the exit price (as exit price / entry price, which
is the engine's gross multiple for a single fill, bit for bit).
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

VENV = Path.home() / ".cache" / "quantbot" / "venv-vectorbt"
VECTORBT = "vectorbt==1.2.0"
REPO = Path(__file__).resolve().parents[2]


def ensure_venv() -> None:
    """Re-runs this script inside the vectorbt virtual environment, creating it if needed."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not python.exists():
        print(f"creating {VENV} with {VECTORBT} (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", VECTORBT], check=True)
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


def dump(args: list) -> Path:
    if "--dump" in args:
        return Path(args[args.index("--dump") + 1])
    out = Path.home() / ".cache" / "quantbot" / "race-dump"
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "quantbot-bench", "--", "race-dump", str(out)]
    subprocess.run(cmd, cwd=REPO, check=True)
    return out


def main() -> None:
    ensure_venv()
    import numpy as np
    import vectorbt as vbt

    d = dump(sys.argv[1:])
    meta = json.loads((d / "meta.json").read_text())
    n, m = meta["calls"], meta["candles"]
    tp_stop = np.array(meta["tp_stop"])
    sl_stop = np.array(meta["sl_stop"])
    ohlc = np.fromfile(d / "ohlc.f64", dtype="<f8").reshape(4, n, m)
    exit_pos = np.fromfile(d / "exit_pos.i32", dtype="<i4").reshape(n, len(tp_stop), len(sl_stop))
    gross = np.fromfile(d / "gross.f64", dtype="<f8").reshape(n, len(tp_stop), len(sl_stop))

    # Rows are bars (the flat entry bar, then the call's candles), columns are calls.
    entry_px = ohlc[0, :, 0]
    bars = [np.vstack([entry_px[None, :], ohlc[f].T]) for f in range(4)]
    rows = m + 1
    entries = np.zeros((rows, 1), dtype=bool)
    entries[0, 0] = True

    def run(o, h, l, c, tp, sl):
        pf = vbt.Portfolio.from_signals(
            close=c,
            entries=entries,
            exits=False,
            open=o,
            high=h,
            low=l,
            sl_stop=sl,
            sl_trail=False,
            tp_stop=tp,
            stop_entry_price="price",
            stop_exit_price="stoplimit",
            fees=0.0,
            slippage=0.0,
        )
        # Order records hold each fill's own price (trade records average them).
        return pf.orders.values

    # Numba compiles on the first call for each set of argument types: warm up on two columns
    # with the same types as the timed runs, outside the timing.
    t = time.perf_counter()
    run(*(b[:, :2] for b in bars), tp_stop[None, :2], sl_stop[0])
    warmup = time.perf_counter() - t

    # One vectorbt run per stop-loss value over calls × every take-profit value (columns
    # tiled: tp-major, calls fastest), so memory stays modest. The tiling is timed too.
    k = len(tp_stop)
    t = time.perf_counter()
    tiled = [np.tile(b, (1, k)) for b in bars]
    tp_row = np.repeat(tp_stop, n)[None, :]
    records = [run(*tiled, tp_row, sl) for sl in sl_stop]
    seconds = time.perf_counter() - t

    agree = 0
    total = n * k * len(sl_stop)
    shown = 0
    last_close = ohlc[3, :, m - 1]
    for j, rec in enumerate(records):
        rec = rec[np.lexsort((rec["idx"], rec["col"]))]
        cols = rec["col"]
        first = np.searchsorted(cols, np.arange(n * k), side="left")
        count = np.searchsorted(cols, np.arange(n * k), side="right") - first
        assert count.min() >= 1 and count.max() <= 2, "an entry and at most one exit per column"
        for col in range(n * k):
            i, call = divmod(col, n)
            buy = rec[first[col]]
            assert buy["idx"] == 0 and buy["price"] == entry_px[call], (buy, entry_px[call])
            if count[col] == 2:
                sell = rec[first[col] + 1]
                vbt_pos, vbt_px = int(sell["idx"]) - 1, sell["price"]
            else:
                # Still open at the end of the data: valued at the last close.
                vbt_pos, vbt_px = m - 1, last_close[call]
            vbt_gross = vbt_px / entry_px[call]
            ok = vbt_pos == exit_pos[call, i, j] and vbt_gross == gross[call, i, j]
            agree += ok
            if not ok and shown < 10:
                shown += 1
                print(
                    f"disagree: call {call} tp_stop {tp_stop[i]} sl_stop {sl_stop[j]}: "
                    f"vectorbt exit candle {vbt_pos} price/entry {vbt_gross!r}, "
                    f"engine {exit_pos[call, i, j]} {gross[call, i, j]!r}"
                )

    engine = meta["engine_seconds"]
    print(f"vectorbt {vbt.__version__} (numba JIT warm-up {warmup:.1f} s, not counted)")
    print(
        f"grid: {n} calls × {k} tp × {len(sl_stop)} sl = {total} trades, {m} one-minute candles per call"
    )
    print(f"vectorbt: {seconds:.3f} s ({total / seconds:.3e} trades/s, 1 thread)")
    print(f"engine:   {engine:.4f} s ({total / engine:.3e} trades/s, 1 thread, best of 7)")
    print(f"engine is {seconds / engine:.0f}x faster")
    share = "100 %" if agree == total else f"{100.0 * agree / total:.4f} %, {total - agree} disagree"
    print(f"trade agreement: {agree} of {total} ({share}): exit candle and exit price")
    sys.exit(0 if agree == total else 1)


if __name__ == "__main__":
    main()
