//! `quantbot export` (SPEC §2.3, §12): the published dataset — eligible calls, the candles of
//! their windows (each token once), the excluded calls with reasons, and a manifest with the
//! SHA-256 of every file. Byte-for-byte deterministic; written atomically.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use quantbot_core::data::Candle;
use quantbot_core::store::Volumes;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::args::{ExportArgs, SourceLayout};
use crate::bundle::write_folder_atomically;
use crate::parquet_io::{calls_columns, col, write_parquet, Col};
use crate::plan::{
    check_out_dir, interval_name, parse_interval, selection, usage, Selection, Source,
};
use crate::source::{load, Dataset, LoadOptions, Token};
use quantbot_format::dataset::{FORMAT_NAME, FORMAT_VERSION};
use quantbot_format::hex;

pub fn run(a: &ExportArgs) -> anyhow::Result<()> {
    let interval_s = parse_interval(&a.interval)?;
    if !(a.horizon_hours.is_finite() && a.horizon_hours > 0.0) {
        return Err(usage(format!(
            "--horizon-hours: {} must be positive",
            a.horizon_hours
        )));
    }
    if !(a.min_coverage.is_finite() && (0.0..=1.0).contains(&a.min_coverage)) {
        return Err(usage(format!(
            "--min-coverage: {} must be in [0, 1]",
            a.min_coverage
        )));
    }
    let sel = selection(
        Some(&a.from),
        Some(&a.to),
        a.chain.as_deref(),
        a.caller_groups.as_deref(),
    )?;
    check_out_dir(&a.out, a.force)?;
    let source = Source::DuckDb {
        path: a.duckdb.clone(),
        layout: a.source,
    };
    let ds = load(
        &source,
        &sel,
        LoadOptions {
            interval_s,
            horizon_hours: a.horizon_hours,
            min_coverage: a.min_coverage,
        },
        // The published dataset carries every column.
        Volumes::Keep,
    )?;
    let (ok, _) = ds.coverage();
    if ok == 0 {
        anyhow::bail!(
            "no eligible call in the selection: {}",
            serde_json::to_string(&ds.coverage_json())?
        );
    }
    write_folder_atomically(&a.out, a.force, |dir| write_dataset(dir, &ds, a, &sel))?;
    let (ok, ex) = ds.coverage();
    eprintln!(
        "exported {ok} eligible calls to {} ({} excluded)",
        a.out.display(),
        ex.iter().sum::<usize>()
    );
    Ok(())
}

fn file_entry(dir: &Path, name: &str, rows: usize) -> anyhow::Result<Value> {
    let bytes = std::fs::read(dir.join(name)).with_context(|| format!("reading back {name}"))?;
    Ok(json!({"sha256": hex(&Sha256::digest(&bytes)), "bytes": bytes.len(), "rows": rows}))
}

fn write_dataset(dir: &Path, ds: &Dataset, a: &ExportArgs, sel: &Selection) -> anyhow::Result<()> {
    // Eligible calls (already sorted by alert time, call id) and the union of their windows.
    let mut eligible = Vec::new();
    let mut excluded = Vec::new();
    let mut union: BTreeMap<Token, BTreeMap<i64, Candle>> = BTreeMap::new();
    for (call, st) in ds.calls.iter().zip(&ds.status) {
        match st {
            Ok(r) => {
                eligible.push(call);
                let all = ds.token_candles(call);
                let w = &all[r.clone()];
                let token = union
                    .entry((call.chain.clone(), call.mint.clone()))
                    .or_default();
                for c in w {
                    token.insert(c.ts, *c);
                }
            }
            Err(e) => excluded.push((call, e.as_str().to_string())),
        }
    }
    let calls_rows = write_parquet(
        &dir.join("calls.parquet"),
        calls_columns(&eligible, None),
        &["price_at_alert"],
    )?;
    let (ex_calls, reasons): (Vec<_>, Vec<_>) = excluded.into_iter().unzip();
    let excluded_rows = write_parquet(
        &dir.join("excluded.parquet"),
        calls_columns(&ex_calls, Some(reasons)),
        &["price_at_alert"],
    )?;
    let mut chain = Vec::new();
    let mut mint = Vec::new();
    let mut cols: [Vec<Option<f64>>; 5] = Default::default();
    let mut ts = Vec::new();
    for ((ch, mi), candles) in &union {
        for c in candles.values() {
            chain.push(Some(ch.clone()));
            mint.push(Some(mi.clone()));
            ts.push(Some(c.ts));
            for (k, v) in [c.open, c.high, c.low, c.close, c.volume]
                .into_iter()
                .enumerate()
            {
                cols[k].push(Some(v));
            }
        }
    }
    let [open, high, low, close, volume] = cols;
    let candle_rows = write_parquet(
        &dir.join("candles.parquet"),
        vec![
            col(Col::Str("chain", chain)),
            col(Col::Str("mint", mint)),
            col(Col::I64("ts", ts)),
            col(Col::F64("open", open)),
            col(Col::F64("high", high)),
            col(Col::F64("low", low)),
            col(Col::F64("close", close)),
            col(Col::F64("volume", volume)),
        ],
        &[],
    )?;

    let callers: Vec<&str> = {
        let mut v: Vec<&str> = eligible.iter().map(|c| c.caller.as_str()).collect();
        v.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        v.dedup();
        v
    };
    let first = eligible.iter().map(|c| c.alert_ts_ms).min();
    let last = eligible.iter().map(|c| c.alert_ts_ms).max();
    // Keys in a fixed order (serde_json keeps insertion order here); no wall-clock time, so the
    // same input and options give the same bytes.
    let manifest = json!({
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "engine_version": quantbot_core::VERSION,
        "interval": interval_name(ds.interval_s),
        "interval_s": ds.interval_s,
        "horizon_hours": ds.horizon_hours,
        "selection": {
            "source": match a.source { SourceLayout::Lab => "lab", SourceLayout::Quantbot => "quantbot" },
            "from": sel.from,
            "to": sel.to,
            "chain": sel.chain,
            "caller_groups": sel.groups,
            "min_coverage": ds.min_coverage,
        },
        "rows": {"calls": calls_rows, "candles": candle_rows, "excluded": excluded_rows},
        "callers": callers,
        "time_range": {"first_alert_ts_ms": first, "last_alert_ts_ms": last},
        "coverage": ds.coverage_json(),
        "files": {
            "calls.parquet": file_entry(dir, "calls.parquet", calls_rows)?,
            "candles.parquet": file_entry(dir, "candles.parquet", candle_rows)?,
            "excluded.parquet": file_entry(dir, "excluded.parquet", excluded_rows)?,
        },
    });
    let mut text = serde_json::to_string_pretty(&manifest)?;
    text.push('\n');
    std::fs::write(dir.join("manifest.json"), text).context("writing manifest.json")?;
    Ok(())
}
