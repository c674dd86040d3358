//! Loading calls and candles (SPEC §2.1) from a DuckDB file in either layout or from a
//! published dataset folder, then selecting calls and classifying their coverage (§2.2, §12)
//! with the engine's rules. Values from the command line go into SQL as bound parameters only.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use duckdb::{params, AccessMode, Config, Connection};

use quantbot_core::data::{Call, Candle};
use quantbot_core::store::{Series, Volumes};
use quantbot_format::dataset::{
    check_groups, classify_all, load_published, parse_manifest, selected, sort_calls,
    PublishedFiles,
};
pub use quantbot_format::dataset::{Dataset, LoadOptions, ManifestInfo, Token};

use crate::args::SourceLayout;
use crate::plan::{cli_error, Selection, Source};

/// Loads and classifies the selected calls, holding the candles' volumes as `volumes` says
/// (exits read prices only; only an indicator rule on volume reads them).
pub fn load(
    source: &Source,
    sel: &Selection,
    opts: LoadOptions,
    volumes: Volumes,
) -> anyhow::Result<Dataset> {
    match source {
        Source::DuckDb { path, layout } => load_duckdb(path, *layout, sel, opts, volumes),
        Source::Data { dir } => load_dataset(dir, sel, volumes),
    }
}

fn open_read_only(path: &Path) -> anyhow::Result<Connection> {
    if !path.is_file() {
        bail!(
            "{}: no such DuckDB file (create the demo data with `quantbot demo-data --out {}`)",
            path.display(),
            path.display()
        );
    }
    let cfg = Config::default()
        .access_mode(AccessMode::ReadOnly)
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Connection::open_with_flags(path, cfg)
        .map_err(|e| anyhow!("{}: cannot open as a DuckDB database: {e}", path.display()))
}

fn load_duckdb(
    path: &Path,
    layout: SourceLayout,
    sel: &Selection,
    opts: LoadOptions,
    volumes: Volumes,
) -> anyhow::Result<Dataset> {
    let conn = open_read_only(path)?;
    let where_ = |what: &str| format!("{}: {what}", path.display());
    let (calls_sql, callers_sql, candles_sql, layout_name) = match layout {
        SourceLayout::Lab => (
            "SELECT CAST(call_id AS VARCHAR), CAST(caller AS VARCHAR), CAST(chain AS VARCHAR), \
             CAST(mint AS VARCHAR), CAST(alert_ts_ms AS BIGINT), CAST(price_at_alert AS DOUBLE) \
             FROM calls WHERE alert_ts_ms >= ? AND alert_ts_ms < ?",
            "SELECT DISTINCT CAST(caller AS VARCHAR) FROM calls WHERE caller IS NOT NULL",
            "SELECT CAST(chain AS VARCHAR), CAST(mint AS VARCHAR), CAST(ts AS BIGINT), \
             CAST(open AS DOUBLE), CAST(high AS DOUBLE), CAST(low AS DOUBLE), \
             CAST(close AS DOUBLE), CAST(volume AS DOUBLE) \
             FROM candles WHERE interval_s = ? AND ts >= ?",
            "lab (tables calls and candles)",
        ),
        SourceLayout::Quantbot => (
            "SELECT CAST(alert_id AS VARCHAR), \
             CAST(COALESCE(caller_name_norm, caller_raw_name) AS VARCHAR), \
             CAST(chain AS VARCHAR), CAST(mint AS VARCHAR), CAST(alert_ts_ms AS BIGINT), \
             CAST(NULL AS DOUBLE) \
             FROM canon.alerts_std WHERE alert_ts_ms >= ? AND alert_ts_ms < ?",
            "SELECT DISTINCT CAST(COALESCE(caller_name_norm, caller_raw_name) AS VARCHAR) \
             FROM canon.alerts_std WHERE COALESCE(caller_name_norm, caller_raw_name) IS NOT NULL",
            "SELECT CAST(NULL AS VARCHAR), CAST(mint AS VARCHAR), CAST(\"timestamp\" AS BIGINT), \
             CAST(open AS DOUBLE), CAST(high AS DOUBLE), CAST(low AS DOUBLE), \
             CAST(close AS DOUBLE), CAST(volume AS DOUBLE) \
             FROM ohlcv_candles_d WHERE interval_seconds = ? AND \"timestamp\" >= ?",
            "quantbot (view canon.alerts_std and table ohlcv_candles_d)",
        ),
    };
    let ctx = |e: duckdb::Error| anyhow!("{}: {e} (layout --source {layout_name})", path.display());

    if let Some(groups) = &sel.groups {
        let mut stmt = conn.prepare(callers_sql).map_err(ctx)?;
        let callers: BTreeSet<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(ctx)?
            .collect::<Result<_, _>>()
            .map_err(ctx)?;
        check_groups(groups, &callers).map_err(cli_error)?;
    }

    let mut stmt = conn.prepare(calls_sql).map_err(ctx)?;
    let rows = stmt
        .query_map(params![sel.from_ms, sel.to_ms], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<f64>>(5)?,
            ))
        })
        .map_err(ctx)?;
    let mut calls = Vec::new();
    for (k, row) in rows.enumerate() {
        let (id, caller, chain, mint, ts, px) = row.map_err(ctx)?;
        let need = |v: Option<String>, col: &str| {
            v.ok_or_else(|| anyhow!(where_(&format!("calls row {k}: column {col} is NULL"))))
        };
        let call = Call {
            call_id: need(id, "call_id")?,
            caller: need(caller, "caller")?,
            chain: need(chain, "chain")?,
            mint: need(mint, "mint")?,
            alert_ts_ms: ts.ok_or_else(|| {
                anyhow!(where_(&format!(
                    "calls row {k}: column alert_ts_ms is NULL"
                )))
            })?,
            price_at_alert: px,
        };
        if selected(sel, &call) {
            calls.push(call);
        }
    }
    sort_calls(&mut calls);

    // Candles of the selected tokens from the earliest alert on (no upper bound, so a late
    // first candle is seen as late_start, not as no_candles).
    let mut tokens: BTreeMap<Token, Vec<Candle>> = BTreeMap::new();
    if let Some(first) = calls.first() {
        let by_mint = layout == SourceLayout::Quantbot;
        let wanted: BTreeSet<Token> = calls
            .iter()
            .map(|c| (c.chain.clone(), c.mint.clone()))
            .collect();
        let mints: BTreeMap<&str, Vec<&str>> =
            wanted.iter().fold(BTreeMap::new(), |mut m, (ch, mi)| {
                m.entry(mi.as_str())
                    .or_insert_with(Vec::new)
                    .push(ch.as_str());
                m
            });
        let min_ts = first.alert_ts_ms.div_euclid(1000);
        let mut stmt = conn.prepare(candles_sql).map_err(ctx)?;
        let batches = stmt
            .query_arrow(params![opts.interval_s, min_ts])
            .map_err(ctx)?;
        for batch in batches {
            add_candle_batch(&batch, by_mint, &wanted, &mints, &mut tokens)
                .with_context(|| where_("reading candles"))?;
        }
        for v in tokens.values_mut() {
            v.sort_by_key(|c| c.ts);
        }
    }
    let canonical = path.display().to_string();
    let tokens = tokens
        .into_iter()
        .map(|(token, candles)| {
            let series = Series::with(&candles, volumes);
            (token, series)
        })
        .collect();
    Ok(classify_all(
        format!("duckdb:{canonical}"),
        None,
        opts,
        calls,
        tokens,
        Vec::new(),
    ))
}

fn add_candle_batch(
    b: &RecordBatch,
    by_mint: bool,
    wanted: &BTreeSet<Token>,
    mints: &BTreeMap<&str, Vec<&str>>,
    tokens: &mut BTreeMap<Token, Vec<Candle>>,
) -> anyhow::Result<()> {
    let s = |i: usize| {
        b.column(i)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| anyhow!("column {i} is {}, expected text", b.column(i).data_type()))
    };
    let i64c = |i: usize| {
        b.column(i)
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| anyhow!("column {i} is {}, expected BIGINT", b.column(i).data_type()))
    };
    let f64c = |i: usize| {
        b.column(i)
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| anyhow!("column {i} is {}, expected DOUBLE", b.column(i).data_type()))
    };
    let mint = s(1)?;
    let ts = i64c(2)?;
    let (o, h, l, c, v) = (f64c(3)?, f64c(4)?, f64c(5)?, f64c(6)?, f64c(7)?);
    // NULL prices are invalid (SPEC §12): they read as NaN, which validation rejects.
    let val = |a: &Float64Array, i: usize| if a.is_null(i) { f64::NAN } else { a.value(i) };
    let chain = if by_mint { None } else { Some(s(0)?) };
    for i in 0..b.num_rows() {
        if mint.is_null(i) || ts.is_null(i) {
            continue;
        }
        let m = mint.value(i);
        let candle = Candle {
            ts: ts.value(i),
            open: val(o, i),
            high: val(h, i),
            low: val(l, i),
            close: val(c, i),
            volume: val(v, i),
        };
        match chain {
            Some(ch) => {
                if ch.is_null(i) {
                    continue;
                }
                let key = (ch.value(i).to_string(), m.to_string());
                if wanted.contains(&key) {
                    tokens.entry(key).or_default().push(candle);
                }
            }
            // The quantbot layout has no chain column: a mint's candles serve its calls on
            // every chain.
            None => {
                if let Some(chains) = mints.get(m) {
                    for ch in chains {
                        tokens
                            .entry((ch.to_string(), m.to_string()))
                            .or_default()
                            .push(candle);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Reads `DIR/manifest.json`.
pub fn read_manifest(dir: &Path) -> anyhow::Result<ManifestInfo> {
    let path = dir.join("manifest.json");
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "{}: not a dataset folder (no readable manifest.json)",
            dir.display()
        )
    })?;
    parse_manifest(&path.display().to_string(), &bytes).map_err(cli_error)
}

fn load_dataset(dir: &Path, sel: &Selection, volumes: Volumes) -> anyhow::Result<Dataset> {
    let m = read_manifest(dir)?;
    let open = |name: &str| -> anyhow::Result<(String, File)> {
        let path = dir.join(name);
        let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        Ok((path.display().to_string(), file))
    };
    let files = PublishedFiles {
        calls: open("calls.parquet")?,
        excluded: Some(open("excluded.parquet")?),
        candles: open("candles.parquet")?,
    };
    load_published(
        format!("data:{}", dir.display()),
        Some(&m),
        m.load_options(),
        files,
        sel,
        volumes,
    )
    .map_err(cli_error)
}
