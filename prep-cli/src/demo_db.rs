//! `quantbot demo-data` (SPEC §11): writes the demo data set that `quantbot_demo::generate`
//! returns as a DuckDB file in the lab layout (§2.1), through a temporary file renamed into place.

use std::path::Path;

use anyhow::{anyhow, Context};
use duckdb::{params, Connection};

use quantbot_demo::{generate, DEMO_INTERVAL_S};

pub const SCHEMA: &str = include_str!("demo_schema.sql");

pub fn write_demo(out: &Path, seed: u64) -> anyhow::Result<(usize, usize)> {
    let data = generate(seed);
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let tmp = out.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let result = (|| -> anyhow::Result<(usize, usize)> {
        let conn = Connection::open(&tmp)
            .map_err(|e| anyhow!("{}: cannot create a DuckDB file: {e}", tmp.display()))?;
        conn.execute_batch(SCHEMA)?;
        {
            let mut app = conn.appender("calls")?;
            for c in &data.calls {
                app.append_row(params![
                    c.call_id,
                    c.caller,
                    c.chain,
                    c.mint,
                    c.alert_ts_ms,
                    c.price_at_alert
                ])?;
            }
            app.flush()?;
        }
        let mut n = 0;
        {
            let mut app = conn.appender("candles")?;
            for (chain, mint, candles) in &data.tokens {
                for k in candles {
                    app.append_row(params![
                        chain,
                        mint,
                        DEMO_INTERVAL_S as i32,
                        k.ts,
                        k.open,
                        k.high,
                        k.low,
                        k.close,
                        k.volume
                    ])?;
                    n += 1;
                }
            }
            app.flush()?;
        }
        conn.execute_batch("CHECKPOINT")?;
        Ok((data.calls.len(), n))
    })();
    match result {
        Ok(counts) => {
            std::fs::rename(&tmp, out)
                .with_context(|| format!("cannot move the demo data to {}", out.display()))?;
            let _ = std::fs::remove_file(tmp.with_extension("wal"));
            Ok(counts)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e.context(format!("writing the demo data to {}", out.display())))
        }
    }
}
