//! A lab-layout DuckDB N times as large as another (issue 21's loading benchmark): every call
//! and every candle of IN repeated N times, copy k on mints renamed `MINT-k` (and call ids
//! `ID-k`), so each copy has the same calls, windows and coverage as the original. The candles
//! are stored sorted by (chain, mint, ts), as a table written token by token in key order is,
//! or with `shuffled` in no useful order (each row placed by a hash of its mint and time).
//!
//! ```sh
//! cargo run -p quantbot-cli --profile test --example scale_duckdb -- IN.duckdb OUT.duckdb 2
//! cargo run -p quantbot-cli --profile test --example scale_duckdb -- IN.duckdb OUT.duckdb 1 shuffled
//! cargo run -p quantbot-cli --profile test --example scale_duckdb -- IN.duckdb OUT.duckdb 34 callers
//! ```
//!
//! With `callers`, copy k's callers are renamed `caller #k` too, so that the callers keep the
//! input's sizes (the 100,000-call scale run of BENCHMARKS.md).

use anyhow::{bail, Context};
use duckdb::{params, Connection};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: scale_duckdb IN.duckdb OUT.duckdb N [shuffled] [callers]";
    let [input, output, copies, options @ ..] = args.as_slice() else {
        bail!(usage);
    };
    let mut order = "1, 2, 4";
    // Each copy's callers renamed too (`caller #k`), so callers keep the input's sizes.
    let mut caller = "caller";
    for o in options {
        match o.as_str() {
            "shuffled" => order = "hash(mint, k, ts)",
            "callers" => caller = "caller || ' #' || k",
            _ => bail!(usage),
        }
    }
    let copies: i64 = copies.parse().context("N: a whole number of copies")?;
    if copies < 1 {
        bail!("N: at least 1 copy");
    }
    if std::path::Path::new(output).exists() {
        bail!("{output} exists");
    }
    let conn = Connection::open(output).with_context(|| format!("creating {output}"))?;
    // ATTACH takes no bound parameter: the path is this tool's own argument, quoted.
    conn.execute_batch(&format!(
        "ATTACH '{}' AS src (READ_ONLY)",
        input.replace('\'', "''")
    ))?;
    conn.execute_batch(include_str!("../src/demo_schema.sql"))?;
    // The caller expression is one of this tool's two constants.
    conn.execute(
        &format!(
            "INSERT INTO calls SELECT call_id || '-' || k, {caller}, chain, mint || '-' || k,
                    alert_ts_ms, price_at_alert
             FROM src.calls, range(?) AS r(k)"
        ),
        params![copies],
    )?;
    // The order is one of this tool's two constants.
    conn.execute(
        &format!(
            "INSERT INTO candles SELECT chain, mint || '-' || k, interval_s, ts, open, high, low,
                    close, volume
             FROM src.candles, range(?) AS r(k) ORDER BY {order}"
        ),
        params![copies],
    )?;
    conn.execute_batch("DETACH src; CHECKPOINT")?;
    let count = |table: &str| -> duckdb::Result<i64> {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
    };
    eprintln!(
        "wrote {output}: {} calls, {} candles",
        count("calls")?,
        count("candles")?
    );
    Ok(())
}
