//! Loading calls and candles (SPEC §2.1) from a DuckDB file in either layout or from a
//! published dataset folder, then selecting calls and classifying their coverage (§2.2, §12)
//! with the engine's rules. Values from the command line go into SQL as bound parameters only.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use duckdb::{params, AccessMode, Config, Connection};
use sha2::{Digest, Sha256};

use quantbot_core::data::{Call, Candle};
use quantbot_core::optimize::CallWindow;
use quantbot_core::policy::hours_to_ms;
use quantbot_core::select::group_matches;
use quantbot_core::window::{classify, duplicate_flags, Exclusion, WindowSpec};

use crate::args::SourceLayout;
use crate::parquet_io::{read_calls, read_candles};
use crate::plan::{usage, Selection, Source};

/// A token: `(chain, mint)`.
pub type Token = (String, String);

/// Selected calls with their candles and coverage.
#[derive(Debug)]
pub struct Dataset {
    /// `duckdb:PATH` or `data:DIR`.
    pub source_label: String,
    pub manifest_sha256: Option<String>,
    pub interval_s: i64,
    pub horizon_hours: f64,
    pub min_coverage: f64,
    /// Every selected call, sorted by `(alert_ts_ms, call_id)`.
    pub calls: Vec<Call>,
    /// Candles per token, sorted by `ts`.
    pub tokens: BTreeMap<Token, Vec<Candle>>,
    /// Per call: its window inside its token's candles, or why it is excluded.
    pub status: Vec<Result<Range<usize>, Exclusion>>,
}

impl Dataset {
    pub fn token_candles(&self, call: &Call) -> &[Candle] {
        self.tokens
            .get(&(call.chain.clone(), call.mint.clone()))
            .map_or(&[][..], Vec::as_slice)
    }

    /// The eligible calls with their windows, in call order.
    pub fn eligible(&self) -> Vec<CallWindow<'_>> {
        self.calls
            .iter()
            .zip(&self.status)
            .filter_map(|(call, st)| {
                let r = st.as_ref().ok()?.clone();
                Some(CallWindow {
                    call,
                    candles: &self.token_candles(call)[r],
                })
            })
            .collect()
    }

    /// Eligible count and excluded counts in [`Exclusion::ALL`] order.
    pub fn coverage(&self) -> (usize, [usize; 5]) {
        let mut ex = [0usize; 5];
        let mut ok = 0;
        for st in &self.status {
            match st {
                Ok(_) => ok += 1,
                Err(e) => ex[*e as usize] += 1,
            }
        }
        (ok, ex)
    }

    pub fn window_spec(&self) -> WindowSpec {
        WindowSpec {
            interval_s: self.interval_s,
            horizon_ms: hours_to_ms(self.horizon_hours),
            entry_delay_candles: 0,
        }
    }
}

/// Options of the load that are not the selection.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Interval with a DuckDB source (a dataset folder has its own).
    pub interval_s: i64,
    /// Horizon with a DuckDB source (a dataset folder has its own).
    pub horizon_hours: f64,
    pub min_coverage: f64,
}

/// Loads and classifies the selected calls.
pub fn load(source: &Source, sel: &Selection, opts: LoadOptions) -> anyhow::Result<Dataset> {
    match source {
        Source::DuckDb { path, layout } => load_duckdb(path, *layout, sel, opts),
        Source::Data { dir } => load_dataset(dir, sel),
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

/// Checks that every caller-group entry matches some caller (an unknown group is a usage error).
fn check_groups(groups: &[String], callers: &BTreeSet<String>) -> anyhow::Result<()> {
    for g in groups {
        if !callers.iter().any(|c| group_matches(g, c)) {
            return Err(usage(format!(
                "--caller-groups: {g:?} matches no caller in the data"
            )));
        }
    }
    Ok(())
}

fn selected(sel: &Selection, call: &Call) -> bool {
    call.alert_ts_ms >= sel.from_ms
        && call.alert_ts_ms < sel.to_ms
        && sel.chain.as_ref().is_none_or(|c| &call.chain == c)
        && sel
            .groups
            .as_ref()
            .is_none_or(|gs| gs.iter().any(|g| group_matches(g, &call.caller)))
}

fn sort_calls(calls: &mut [Call]) {
    calls.sort_by(|a, b| {
        a.alert_ts_ms
            .cmp(&b.alert_ts_ms)
            .then_with(|| a.call_id.as_bytes().cmp(b.call_id.as_bytes()))
    });
}

fn load_duckdb(
    path: &Path,
    layout: SourceLayout,
    sel: &Selection,
    opts: LoadOptions,
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
        check_groups(groups, &callers)?;
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

/// Classifies selected calls: the engine's rules for calls with candles, plus the reasons
/// already known (`known`, for excluded rows of a dataset folder).
fn classify_all(
    source_label: String,
    manifest_sha256: Option<String>,
    opts: LoadOptions,
    calls: Vec<Call>,
    tokens: BTreeMap<Token, Vec<Candle>>,
    known: Vec<(usize, Exclusion)>,
) -> Dataset {
    let spec = WindowSpec {
        interval_s: opts.interval_s,
        horizon_ms: hours_to_ms(opts.horizon_hours),
        entry_delay_candles: 0,
    };
    let dups = duplicate_flags(&calls);
    let known: BTreeMap<usize, Exclusion> = known.into_iter().collect();
    let status = calls
        .iter()
        .enumerate()
        .map(|(k, call)| {
            if let Some(&why) = known.get(&k) {
                return Err(why);
            }
            let candles = tokens
                .get(&(call.chain.clone(), call.mint.clone()))
                .map_or(&[][..], Vec::as_slice);
            let w = classify(call, candles, &spec, opts.min_coverage)?;
            if dups[k] {
                Err(Exclusion::DuplicateCall)
            } else {
                Ok(w)
            }
        })
        .collect();
    Dataset {
        source_label,
        manifest_sha256,
        interval_s: opts.interval_s,
        horizon_hours: opts.horizon_hours,
        min_coverage: opts.min_coverage,
        calls,
        tokens,
        status,
    }
}

fn reason_of(text: &str) -> Option<Exclusion> {
    Exclusion::ALL.into_iter().find(|e| e.as_str() == text)
}

/// The manifest of a dataset folder, as the loader needs it.
#[derive(Debug, Clone)]
pub struct ManifestInfo {
    pub interval_s: i64,
    pub horizon_hours: f64,
    pub min_coverage: f64,
    pub sha256: String,
}

pub fn read_manifest(dir: &Path) -> anyhow::Result<ManifestInfo> {
    let path = dir.join("manifest.json");
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "{}: not a dataset folder (no readable manifest.json)",
            dir.display()
        )
    })?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow!("{}: not valid JSON: {e}", path.display()))?;
    if v["format"] != "quantbot-dataset" {
        bail!("{}: format is not quantbot-dataset", path.display());
    }
    let num = |key: &str| {
        v[key]
            .as_f64()
            .ok_or_else(|| anyhow!("{}: missing number {key}", path.display()))
    };
    Ok(ManifestInfo {
        interval_s: num("interval_s")? as i64,
        horizon_hours: num("horizon_hours")?,
        min_coverage: v["selection"]["min_coverage"].as_f64().unwrap_or(0.8),
        sha256: hex(&Sha256::digest(&bytes)),
    })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn load_dataset(dir: &Path, sel: &Selection) -> anyhow::Result<Dataset> {
    let m = read_manifest(dir)?;
    let file = |name: &str| -> PathBuf { dir.join(name) };
    let eligible = read_calls(&file("calls.parquet"), false)?;
    let excluded = read_calls(&file("excluded.parquet"), true)?;
    if let Some(groups) = &sel.groups {
        let callers: BTreeSet<String> = eligible
            .iter()
            .chain(&excluded)
            .map(|(c, _)| c.caller.clone())
            .collect();
        check_groups(groups, &callers)?;
    }
    let mut rows: Vec<(Call, Option<Exclusion>)> = Vec::new();
    for (call, _) in eligible {
        if selected(sel, &call) {
            rows.push((call, None));
        }
    }
    for (call, reason) in excluded {
        let text = reason.unwrap_or_default();
        let why = reason_of(&text).ok_or_else(|| {
            anyhow!(
                "{}: unknown reason {text:?} for call {}",
                file("excluded.parquet").display(),
                call.call_id
            )
        })?;
        if selected(sel, &call) {
            rows.push((call, Some(why)));
        }
    }
    rows.sort_by(|a, b| {
        a.0.alert_ts_ms
            .cmp(&b.0.alert_ts_ms)
            .then_with(|| a.0.call_id.as_bytes().cmp(b.0.call_id.as_bytes()))
    });
    let wanted: BTreeSet<Token> = rows
        .iter()
        .filter(|(_, why)| why.is_none())
        .map(|(c, _)| (c.chain.clone(), c.mint.clone()))
        .collect();
    let mut tokens: BTreeMap<Token, Vec<Candle>> = BTreeMap::new();
    for (chain, mint, candle) in read_candles(&file("candles.parquet"))? {
        let key = (chain, mint);
        if wanted.contains(&key) {
            tokens.entry(key).or_default().push(candle);
        }
    }
    for v in tokens.values_mut() {
        v.sort_by_key(|c| c.ts);
    }
    let known = rows
        .iter()
        .enumerate()
        .filter_map(|(k, (_, why))| why.map(|w| (k, w)))
        .collect();
    let calls = rows.into_iter().map(|(c, _)| c).collect();
    let opts = LoadOptions {
        interval_s: m.interval_s,
        horizon_hours: m.horizon_hours,
        min_coverage: m.min_coverage,
    };
    Ok(classify_all(
        format!("data:{}", dir.display()),
        Some(m.sha256),
        opts,
        calls,
        tokens,
        known,
    ))
}
