#!/usr/bin/env python3
"""Race the Quantbot engine against vectorbt on a tp × sl grid in the semantics both share.

Usage (from anywhere):  python3 bench/vectorbt/race.py [--dump DIR] [--cli]

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

`--cli` races the whole `quantbot` process instead of the engine alone, on 3,000 calls × a grid
shaped like `backtest v1-baseline`'s default (6 tp × 5 sl = 30 policies): the dump's calls and
candles are written to a DuckDB file in the lab layout (with the `duckdb` package, installed in
the same virtual environment), and `quantbot backtest v1-baseline --duckdb` (no fees or
slippage, that grid), `quantbot export` and `backtest v1-baseline --data` on the export are each
timed as whole processes (best of 3; peak RSS from /usr/bin/time), the binary being the one
`cargo xtask quantbot` builds. vectorbt's trades are still compared with the engine's.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

VENV = Path.home() / ".cache" / "quantbot" / "venv-vectorbt"
VECTORBT = "vectorbt==1.2.0"
# The DuckDB release the `duckdb` crate (=1.20000.1) bundles, so the file it writes is one the
# command line reads.
DUCKDB = "duckdb==2.0.0"
REPO = Path(__file__).resolve().parents[2]


def ensure_venv() -> None:
    """Re-runs this script inside the vectorbt virtual environment, creating it if needed."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        if "--cli" in sys.argv:
            try:
                import duckdb  # noqa: F401
            except ImportError:
                subprocess.run([str(python), "-m", "pip", "install", "-q", DUCKDB], check=True)
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
    cli = "--cli" in args
    out = Path.home() / ".cache" / "quantbot" / ("race-cli-dump" if cli else "race-dump")
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "quantbot-bench", "--", "race-dump", str(out)]
    subprocess.run(cmd + (["--cli"] if cli else []), cwd=REPO, check=True)
    return out


def write_duckdb(d: Path, ohlc, calls) -> Path:
    """The dump's calls and candles as a DuckDB file in the lab layout (SPEC §2.1)."""
    import duckdb
    import numpy as np
    import pandas as pd

    db = d / "race.duckdb"
    if db.exists() and db.stat().st_mtime >= (d / "ohlc.f64").stat().st_mtime:
        return db
    db.unlink(missing_ok=True)
    n, m = ohlc.shape[1], ohlc.shape[2]
    start_s = np.array([int(c[4]) // 1000 for c in calls], dtype=np.int64)
    candles_df = pd.DataFrame(
        {
            "chain": np.repeat(np.array([c[2] for c in calls], dtype=object), m),
            "mint": np.repeat(np.array([c[3] for c in calls], dtype=object), m),
            "interval_s": np.full(n * m, 60, dtype=np.int32),
            "ts": (start_s[:, None] + 60 * np.arange(m, dtype=np.int64)[None, :]).ravel(),
            "open": ohlc[0].ravel(),
            "high": ohlc[1].ravel(),
            "low": ohlc[2].ravel(),
            "close": ohlc[3].ravel(),
            "volume": np.ones(n * m),
        }
    )
    calls_df = pd.DataFrame(
        {
            "call_id": [c[0] for c in calls],
            "caller": [c[1] for c in calls],
            "chain": [c[2] for c in calls],
            "mint": [c[3] for c in calls],
            "alert_ts_ms": np.array([int(c[4]) for c in calls], dtype=np.int64),
            "price_at_alert": np.full(n, np.nan),
        }
    )
    tmp = d / "race.duckdb.tmp"
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    con.execute((REPO / "prep-cli" / "src" / "demo_schema.sql").read_text())
    con.execute("INSERT INTO calls SELECT call_id, caller, chain, mint, alert_ts_ms, NULL FROM calls_df")
    con.execute("INSERT INTO candles SELECT * FROM candles_df")
    con.execute("CHECKPOINT")
    con.close()
    tmp.rename(db)
    return db


def timed(cmd: list, runs: int = 3) -> tuple:
    """Best wall time of `runs` whole-process runs of `cmd`, and the largest peak RSS (MB)."""
    best, peak = float("inf"), 0.0
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(
            ["/usr/bin/time", "-f", "%M", *cmd],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        seconds = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
        best = min(best, seconds)
        peak = max(peak, int(r.stderr.strip().splitlines()[-1]) / 1024)
    return best, peak


def cli_race(d: Path, ohlc, tp_stop, sl_stop) -> list:
    """Times the `quantbot` command line end to end on the race's data: rows (what, s, MB)."""
    calls = [line.split("\t") for line in (d / "calls.tsv").read_text().splitlines()]
    db = write_duckdb(d, ohlc, calls)
    subprocess.run(["cargo", "xtask", "quantbot", "--version"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "quantbot" / "target"))
    quantbot = str(target / "debug" / "quantbot")
    grid = [
        "--tp-mults", "[" + ", ".join(repr(1.0 + float(f)) for f in tp_stop) + "]",
        "--sl-mults", "[" + ", ".join(repr(1.0 - float(f)) for f in sl_stop) + "]",
        "--taker-fee-bps", "0", "--slippage-bps", "0", "--interval", "1m",
        "--from", "2025-05-01", "--to", "2025-06-01",
    ]
    export = d / "race-export"
    rows = [
        ("backtest v1-baseline --duckdb", *timed([quantbot, "backtest", "v1-baseline", "--duckdb", str(db), *grid, "--format", "json"])),
        ("export", *timed([quantbot, "export", "--duckdb", str(db), "--interval", "1m", "--from", "2025-05-01",
                           "--to", "2025-06-01", "--out", str(export), "--force"])),
        ("backtest v1-baseline --data", *timed([quantbot, "backtest", "v1-baseline", "--data", str(export), *grid, "--format", "json"])),
    ]
    return rows


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

    cli_rows = cli_race(d, ohlc, tp_stop, sl_stop) if "--cli" in sys.argv else []

    engine = meta["engine_seconds"]
    print(f"vectorbt {vbt.__version__} (numba JIT warm-up {warmup:.1f} s, not counted)")
    print(
        f"grid: {n} calls × {k} tp × {len(sl_stop)} sl = {total} trades, {m} one-minute candles per call"
    )
    print(f"vectorbt: {seconds:.3f} s ({total / seconds:.3e} trades/s, 1 thread)")
    print(f"engine:   {engine:.4f} s ({total / engine:.3e} trades/s, 1 thread, best of 7)")
    print(f"engine is {seconds / engine:.0f}x faster")
    for what, secs, mb in cli_rows:
        print(f"quantbot {what}: {secs:.3f} s whole process (best of 3), peak RSS {mb:.0f} MB: "
              f"vectorbt's trades alone take {seconds / secs:.1f}x as long")
    share = "100 %" if agree == total else f"{100.0 * agree / total:.4f} %, {total - agree} disagree"
    print(f"trade agreement: {agree} of {total} ({share}): exit candle and exit price")
    sys.exit(0 if agree == total else 1)


if __name__ == "__main__":
    main()
