//! Selected calls with their candles and coverage (SPEC §2.2), and the published dataset
//! folder of §2.3 read back: the manifest and the three Parquet files.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use parquet::file::reader::ChunkReader;
use quantbot_core::data::{Call, Candle};
use quantbot_core::optimize::CallWindow;
use quantbot_core::policy::{hours_to_ms, MAX_HOLD_HOURS};
use quantbot_core::select::group_matches;
use quantbot_core::store::{Series, Volumes};
use quantbot_core::window::{classify, duplicate_flags, Exclusion, WindowSpec};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::options::Selection;
use crate::parquet_read::{read_calls, read_candle_runs_in};
use crate::{data, hex, usage, Result};

/// The name of the published format, in `manifest.json`.
pub const FORMAT_NAME: &str = "quantbot-dataset";
/// Its version.
pub const FORMAT_VERSION: u32 = 1;

/// A token: `(chain, mint)`.
pub type Token = (String, String);

/// Selected calls with their candles and coverage.
#[derive(Debug)]
pub struct Dataset {
    /// `duckdb:PATH`, `data:DIR` or the lab's URL.
    pub source_label: String,
    pub manifest_sha256: Option<String>,
    pub interval_s: i64,
    pub horizon_hours: f64,
    pub min_coverage: f64,
    /// Every selected call, sorted by `(alert_ts_ms, call_id)`.
    pub calls: Vec<Call>,
    /// Candles per token, sorted by `ts`, held compact (about half the bytes of `Candle`s).
    pub tokens: BTreeMap<Token, Series>,
    /// Per call: its window inside its token's candles, or why it is excluded.
    pub status: Vec<CallStatus>,
}

impl Dataset {
    /// The candles of a call's token, compact; `None` when the token has none.
    pub fn token_series(&self, call: &Call) -> Option<&Series> {
        self.tokens.get(&(call.chain.clone(), call.mint.clone()))
    }

    /// The candles of a call's token, decoded (empty when the token has none).
    pub fn token_candles(&self, call: &Call) -> Vec<Candle> {
        self.token_series(call)
            .map_or_else(Vec::new, Series::to_vec)
    }

    /// The window `r` of a call's token (a range that classification found inside it).
    fn window_of(
        &self,
        call: &'_ Call,
        r: Range<usize>,
    ) -> Option<quantbot_core::store::Window<'_>> {
        self.token_series(call).map(|s| s.window(r))
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
                    candles: self.window_of(call, r)?,
                })
            })
            .collect()
    }

    /// Eligible count and excluded counts in [`Exclusion::ALL`] order.
    pub fn coverage(&self) -> (usize, [usize; 5]) {
        self.coverage_of(&Selection::all())
    }

    /// [`Dataset::coverage`] of the calls inside a selection.
    pub fn coverage_of(&self, sel: &Selection) -> (usize, [usize; 5]) {
        let mut ex = [0usize; 5];
        let mut ok = 0;
        for (call, st) in self.calls.iter().zip(&self.status) {
            if !selected(sel, call) {
                continue;
            }
            match st {
                Ok(_) => ok += 1,
                Err(e) => ex[*e as usize] += 1,
            }
        }
        (ok, ex)
    }

    /// Coverage as JSON: `{eligible, excluded: {reason: count}}` with every reason.
    pub fn coverage_json(&self) -> Value {
        self.coverage_json_of(&Selection::all())
    }

    pub fn window_spec(&self) -> WindowSpec {
        self.load_options().window_spec()
    }

    /// Interval, horizon and coverage threshold this dataset was loaded with.
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            interval_s: self.interval_s,
            horizon_hours: self.horizon_hours,
            min_coverage: self.min_coverage,
        }
    }

    /// Distinct callers of the selected calls, in byte order.
    pub fn callers(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self.calls.iter().map(|c| c.caller.as_str()).collect();
        set.into_iter().collect()
    }

    /// The eligible calls inside a selection, with their windows, in call order. An unknown
    /// caller group is a usage error. (A dataset loaded whole can be narrowed per run.)
    pub fn selected_windows(&self, sel: &Selection) -> Result<Vec<CallWindow<'_>>> {
        if let Some(groups) = &sel.groups {
            let callers: BTreeSet<String> = self.calls.iter().map(|c| c.caller.clone()).collect();
            check_groups(groups, &callers)?;
        }
        Ok(self
            .calls
            .iter()
            .zip(&self.status)
            .filter(|(call, _)| selected(sel, call))
            .filter_map(|(call, st)| {
                let r = st.as_ref().ok()?.clone();
                Some(CallWindow {
                    call,
                    candles: self.window_of(call, r)?,
                })
            })
            .collect())
    }

    /// Coverage of the calls inside a selection, as JSON (see [`Dataset::coverage_json`]).
    pub fn coverage_json_of(&self, sel: &Selection) -> Value {
        let (ok, ex) = self.coverage_of(sel);
        coverage_json(ok, &ex)
    }

    /// Candles held in memory.
    pub fn candle_count(&self) -> usize {
        self.tokens.values().map(Series::len).sum()
    }

    /// Bytes the candles take in memory, as held.
    pub fn candle_bytes(&self) -> usize {
        self.tokens.values().map(Series::bytes).sum()
    }
}

/// Interval, horizon and coverage threshold of a load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadOptions {
    pub interval_s: i64,
    pub horizon_hours: f64,
    pub min_coverage: f64,
}

impl LoadOptions {
    /// The windows of the calls (no entry delay: that is a policy's business).
    pub fn window_spec(&self) -> WindowSpec {
        WindowSpec {
            interval_s: self.interval_s,
            horizon_ms: hours_to_ms(self.horizon_hours),
            entry_delay_candles: 0,
        }
    }
}

/// A call's window inside its token's candles, or why it is excluded.
pub type CallStatus = std::result::Result<Range<usize>, Exclusion>;

/// Classifies the calls `ks` of one token on that token's candles (sorted by `ts`; empty when
/// it has none): the engine's rules, then `duplicate_call` for a call flagged in `dups` that
/// would otherwise be eligible. A call needs only its own token's candles, so a loader can
/// classify token by token and let each token's decoded candles go before the next.
pub fn classify_token(
    calls: &[Call],
    ks: &[usize],
    candles: &[Candle],
    opts: &LoadOptions,
    dups: &[bool],
    status: &mut [CallStatus],
) {
    let spec = opts.window_spec();
    for &k in ks {
        status[k] = classify(&calls[k], candles, &spec, opts.min_coverage).and_then(|w| {
            if dups[k] {
                Err(Exclusion::DuplicateCall)
            } else {
                Ok(w)
            }
        });
    }
}

/// Checks that every caller-group entry matches some caller (an unknown group is a usage
/// error).
pub fn check_groups(groups: &[String], callers: &BTreeSet<String>) -> Result<()> {
    for g in groups {
        if !callers.iter().any(|c| group_matches(g, c)) {
            return Err(usage(format!(
                "--caller-groups: {g:?} matches no caller in the data"
            )));
        }
    }
    Ok(())
}

/// Coverage as JSON: `{eligible, excluded: {reason: count}}` with every reason.
pub fn coverage_json(eligible: usize, excluded: &[usize; 5]) -> Value {
    let mut by = Map::new();
    for e in Exclusion::ALL {
        by.insert(e.as_str().into(), json!(excluded[e as usize]));
    }
    json!({"eligible": eligible, "excluded": by})
}

/// Whether a call is in the selection.
pub fn selected(sel: &Selection, call: &Call) -> bool {
    call.alert_ts_ms >= sel.from_ms
        && call.alert_ts_ms < sel.to_ms
        && sel.chain.as_ref().is_none_or(|c| &call.chain == c)
        && sel
            .groups
            .as_ref()
            .is_none_or(|gs| gs.iter().any(|g| group_matches(g, &call.caller)))
        && sel
            .only_callers
            .as_ref()
            .is_none_or(|only| only.contains(&call.caller))
}

/// Sorts calls by `(alert_ts_ms, call_id)` (bytes).
pub fn sort_calls(calls: &mut [Call]) {
    calls.sort_by(|a, b| {
        a.alert_ts_ms
            .cmp(&b.alert_ts_ms)
            .then_with(|| a.call_id.as_bytes().cmp(b.call_id.as_bytes()))
    });
}

/// Sorts one token's rows by time where they are not (a stable sort: rows with equal times keep
/// their order, as if all the token's rows had been read first and then sorted).
pub fn sort_by_time(rows: &mut [Candle]) {
    if !rows.is_sorted_by_key(|c| c.ts) {
        rows.sort_by_key(|c| c.ts);
    }
}

/// A [`Dataset`] built as a loader reads candles, token by token: each run of a token's rows
/// is compacted into its [`Series`] at once, and the token's calls are classified on the
/// decoded rows while they are at hand (no token is decoded again to classify it). Only the
/// run's rows are ever held decoded.
///
/// Rows may come in any order. A token whose rows come in several runs is decoded, extended,
/// sorted by time and compacted again (and its calls classified again), which gives what
/// reading all its rows first would have: a rare slow path, whose work
/// [`DatasetBuilder::merged_rows`] counts so that a loader can ask for sorted rows instead.
#[derive(Debug)]
pub struct DatasetBuilder {
    opts: LoadOptions,
    volumes: Volumes,
    calls: Vec<Call>,
    dups: Vec<bool>,
    /// The calls of each token: chain → mint → positions in `calls`.
    by_token: BTreeMap<String, BTreeMap<String, Vec<usize>>>,
    status: Vec<CallStatus>,
    tokens: BTreeMap<Token, Series>,
    rows_added: usize,
    merged_rows: usize,
}

impl DatasetBuilder {
    /// A builder for `calls` (sorted by `(alert_ts_ms, call_id)`), every one of them without
    /// candles until its token's rows come.
    pub fn new(opts: LoadOptions, volumes: Volumes, calls: Vec<Call>) -> DatasetBuilder {
        let dups = duplicate_flags(&calls);
        let mut by_token: BTreeMap<String, BTreeMap<String, Vec<usize>>> = BTreeMap::new();
        for (k, c) in calls.iter().enumerate() {
            by_token
                .entry(c.chain.clone())
                .or_default()
                .entry(c.mint.clone())
                .or_default()
                .push(k);
        }
        let mut status: Vec<CallStatus> = vec![Err(Exclusion::NoCandles); calls.len()];
        for ks in by_token.values().flat_map(BTreeMap::values) {
            classify_token(&calls, ks, &[], &opts, &dups, &mut status);
        }
        DatasetBuilder {
            opts,
            volumes,
            calls,
            dups,
            by_token,
            status,
            tokens: BTreeMap::new(),
            rows_added: 0,
            merged_rows: 0,
        }
    }

    /// Whether some call is on this token (rows of other tokens are not needed).
    pub fn wants(&self, chain: &str, mint: &str) -> bool {
        self.by_token
            .get(chain)
            .is_some_and(|mints| mints.contains_key(mint))
    }

    /// Adds one run of a token's rows, in any time order; `rows` is left empty (its buffer
    /// kept for the next run). Rows of a token no call is on are dropped.
    pub fn add_run(&mut self, chain: &str, mint: &str, rows: &mut Vec<Candle>) {
        let Some(ks) = self.by_token.get(chain).and_then(|m| m.get(mint)) else {
            rows.clear();
            return;
        };
        self.rows_added += rows.len();
        let key = (chain.to_string(), mint.to_string());
        let mut merged = self.tokens.get(&key).map(Series::to_vec);
        if let Some(all) = &mut merged {
            self.merged_rows += all.len();
            all.append(rows);
        }
        let all = merged.as_mut().unwrap_or(rows);
        sort_by_time(all);
        classify_token(
            &self.calls,
            ks,
            all,
            &self.opts,
            &self.dups,
            &mut self.status,
        );
        self.tokens.insert(key, Series::with(all, self.volumes));
        rows.clear();
    }

    /// Rows added so far.
    pub fn rows_added(&self) -> usize {
        self.rows_added
    }

    /// Rows decoded again because their token came back.
    pub fn merged_rows(&self) -> usize {
        self.merged_rows
    }

    /// The calls back, for a loader that starts over.
    pub fn into_calls(self) -> Vec<Call> {
        self.calls
    }

    /// The dataset, with the reasons already known (`known`, excluded rows of a dataset
    /// folder) taking precedence.
    pub fn finish(
        self,
        source_label: String,
        manifest_sha256: Option<String>,
        known: Vec<(usize, Exclusion)>,
    ) -> Dataset {
        let mut status = self.status;
        for (k, why) in known {
            status[k] = Err(why);
        }
        Dataset {
            source_label,
            manifest_sha256,
            interval_s: self.opts.interval_s,
            horizon_hours: self.opts.horizon_hours,
            min_coverage: self.opts.min_coverage,
            calls: self.calls,
            tokens: self.tokens,
            status,
        }
    }
}

/// What the loader needs from `manifest.json`, and the manifest as shown to users.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestInfo {
    pub interval_s: i64,
    pub horizon_hours: f64,
    pub min_coverage: f64,
    /// SHA-256 of the manifest's bytes: identifies the data in results and share links.
    pub sha256: String,
    /// The whole manifest.
    pub json: Value,
}

impl ManifestInfo {
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            interval_s: self.interval_s,
            horizon_hours: self.horizon_hours,
            min_coverage: self.min_coverage,
        }
    }
}

/// Whether a window horizon in hours is one a dataset may have: at least a millisecond (the
/// unit of its deadlines; a shorter one reads as 0) and at most [`MAX_HOLD_HOURS`]. NaN is not.
pub fn valid_horizon(hours: f64) -> bool {
    hours <= MAX_HOLD_HOURS && hours_to_ms(hours) > 0
}

/// What [`valid_horizon`] asks, for messages.
pub const HORIZON_RULE: &str = "must be at least a millisecond and at most 10000 hours";

/// Parses `manifest.json` (`name` is how errors call it).
pub fn parse_manifest(name: &str, bytes: &[u8]) -> Result<ManifestInfo> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| data(format!("{name}: not valid JSON: {e}")))?;
    if v["format"] != FORMAT_NAME {
        return Err(data(format!("{name}: format is not {FORMAT_NAME}")));
    }
    let num = |key: &str| {
        v[key]
            .as_f64()
            .ok_or_else(|| data(format!("{name}: missing number {key}")))
    };
    let interval = num("interval_s")?;
    if ![60.0, 300.0, 900.0, 3600.0].contains(&interval) {
        return Err(data(format!(
            "{name}: interval_s {interval} is not one of 60, 300, 900, 3600"
        )));
    }
    let horizon_hours = num("horizon_hours")?;
    if !valid_horizon(horizon_hours) {
        return Err(data(format!(
            "{name}: horizon_hours {horizon_hours} {HORIZON_RULE}"
        )));
    }
    let min_coverage = v["selection"]["min_coverage"].as_f64().unwrap_or(0.8);
    if !(0.0..=1.0).contains(&min_coverage) {
        return Err(data(format!(
            "{name}: selection.min_coverage {min_coverage} is not in [0, 1]"
        )));
    }
    // A dataset in parts must list them in order, each with its size and hash.
    crate::parts::candle_files(name, &v)?;
    Ok(ManifestInfo {
        interval_s: interval as i64,
        horizon_hours,
        min_coverage,
        sha256: hex(&Sha256::digest(bytes)),
        json: v,
    })
}

/// The files of a published dataset, each with the name errors use.
#[derive(Debug)]
pub struct PublishedFiles<R> {
    pub calls: (String, R),
    /// `excluded.parquet`; absent when a user brings only calls and candles.
    pub excluded: Option<(String, R)>,
    /// The candles: `candles.parquet`, or its parts in order (see `crate::parts`; checked
    /// against the manifest by `parts::pick_candle_files` before they come here).
    pub candles: Vec<(String, R)>,
}

/// Reads a published dataset and selects calls. `manifest` gives interval, horizon and
/// coverage threshold; without one (a user's own two files) `fallback` does. With
/// [`Volumes::Drop`] each token's volumes go as soon as its candles are read (for a run that
/// reads prices only).
pub fn load_published<R: ChunkReader + 'static>(
    source_label: String,
    manifest: Option<&ManifestInfo>,
    fallback: LoadOptions,
    files: PublishedFiles<R>,
    sel: &Selection,
    volumes: Volumes,
) -> Result<Dataset> {
    let opts = manifest.map_or(fallback, ManifestInfo::load_options);
    let PublishedFiles {
        calls,
        excluded,
        candles,
    } = files;
    let selected = read_published_calls(calls, excluded, sel)?;
    let wanted = selected.wanted_tokens();
    let mut builder = DatasetBuilder::new(opts, volumes, selected.calls);
    read_candle_runs_in(
        candles.into_iter().map(Ok),
        |ch, mi| wanted.get(ch).is_some_and(|m| m.contains(mi)),
        |ch, mi, run| builder.add_run(ch, mi, run),
    )?;
    Ok(builder.finish(
        source_label,
        manifest.map(|m| m.sha256.clone()),
        selected.known,
    ))
}

/// The selected calls of a published dataset, before its candles are read.
#[derive(Debug)]
pub struct PublishedCalls {
    /// Eligible and excluded rows inside the selection, sorted by `(alert_ts_ms, call_id)`.
    pub calls: Vec<Call>,
    /// The excluded rows (positions in `calls`) with their reasons.
    pub known: Vec<(usize, Exclusion)>,
}

impl PublishedCalls {
    /// The tokens whose candles are needed, chain → mints: those of eligible rows (an excluded
    /// row keeps its reason).
    pub fn wanted_tokens(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut excluded = vec![false; self.calls.len()];
        for (k, _) in &self.known {
            excluded[*k] = true;
        }
        let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (c, _) in self.calls.iter().zip(&excluded).filter(|(_, ex)| !**ex) {
            if !wanted.get(&c.chain).is_some_and(|m| m.contains(&c.mint)) {
                wanted
                    .entry(c.chain.clone())
                    .or_default()
                    .insert(c.mint.clone());
            }
        }
        wanted
    }
}

/// Reads the calls of a published dataset (`calls.parquet` and, when given,
/// `excluded.parquet`) and selects them. An unknown caller group is a usage error.
pub fn read_published_calls<R: ChunkReader + 'static>(
    calls: (String, R),
    excluded: Option<(String, R)>,
    sel: &Selection,
) -> Result<PublishedCalls> {
    let eligible = read_calls(&calls.0, calls.1, false)?;
    let excluded = match excluded {
        Some((name, r)) => {
            let rows = read_calls(&name, r, true)?;
            let mut out = Vec::with_capacity(rows.len());
            for (call, reason) in rows {
                let text = reason.unwrap_or_default();
                let why = Exclusion::ALL
                    .into_iter()
                    .find(|e| e.as_str() == text)
                    .ok_or_else(|| {
                        data(format!(
                            "{name}: unknown reason {text:?} for call {}",
                            call.call_id
                        ))
                    })?;
                out.push((call, why));
            }
            out
        }
        None => Vec::new(),
    };
    if eligible.is_empty() && excluded.is_empty() {
        return Err(data(format!("{}: the dataset has no call", calls.0)));
    }
    if let Some(groups) = &sel.groups {
        let callers: BTreeSet<String> = eligible
            .iter()
            .map(|(c, _)| &c.caller)
            .chain(excluded.iter().map(|(c, _)| &c.caller))
            .cloned()
            .collect();
        check_groups(groups, &callers)?;
    }
    let mut rows: Vec<(Call, Option<Exclusion>)> = Vec::new();
    for (call, _) in eligible {
        if selected(sel, &call) {
            rows.push((call, None));
        }
    }
    for (call, why) in excluded {
        if selected(sel, &call) {
            rows.push((call, Some(why)));
        }
    }
    rows.sort_by(|a, b| {
        a.0.alert_ts_ms
            .cmp(&b.0.alert_ts_ms)
            .then_with(|| a.0.call_id.as_bytes().cmp(b.0.call_id.as_bytes()))
    });
    let known = rows
        .iter()
        .enumerate()
        .filter_map(|(k, (_, why))| why.map(|w| (k, w)))
        .collect();
    let calls = rows.into_iter().map(|(c, _)| c).collect();
    Ok(PublishedCalls { calls, known })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_746_057_600; // 2025-05-01 00:00 UTC

    fn call(id: &str, mint: &str, alert_s: i64) -> Call {
        Call {
            call_id: id.into(),
            caller: "Brook".into(),
            chain: "solana".into(),
            mint: mint.into(),
            alert_ts_ms: alert_s * 1000,
            price_at_alert: None,
        }
    }

    /// A valid candle at `ts` (the price a function of the time, so rows can be told apart).
    fn candle(ts: i64) -> Candle {
        let p = 1.0 + (ts - T0) as f64 / 1e6;
        Candle {
            ts,
            open: p,
            high: p * 1.01,
            low: p * 0.99,
            close: p,
            volume: (ts % 7) as f64,
        }
    }

    /// The dataset built from runs of `(mint, times)` handed over in that order.
    fn build(runs: &[(&str, Vec<i64>)]) -> (Dataset, usize) {
        let opts = LoadOptions {
            interval_s: 60,
            horizon_hours: 2.0,
            min_coverage: 0.8,
        };
        let mut calls = vec![
            call("a1", "a", T0 + 30),
            call("a2", "a", T0 + 30), // a duplicate of a1
            call("b1", "b", T0 + 3600),
            call("c1", "c", T0), // a token without candles
        ];
        sort_calls(&mut calls);
        let mut b = DatasetBuilder::new(opts, Volumes::Keep, calls);
        for (mint, times) in runs {
            let mut rows: Vec<Candle> = times.iter().map(|&t| candle(t)).collect();
            b.add_run("solana", mint, &mut rows);
            assert!(rows.is_empty());
        }
        let merged = b.merged_rows();
        (b.finish("test".into(), None, Vec::new()), merged)
    }

    #[test]
    fn horizons_run_from_a_millisecond_to_the_longest_time_stop() {
        for (hours, ok) in [
            (48.0, true),
            (MAX_HOLD_HOURS, true),
            (1.0 / 3_600_000.0, true),
            (1e-9, false),
            (0.0, false),
            (-1.0, false),
            (MAX_HOLD_HOURS + 0.5, false),
            (f64::NAN, false),
            (f64::INFINITY, false),
        ] {
            assert_eq!(valid_horizon(hours), ok, "{hours}");
        }
        assert!(HORIZON_RULE.contains(&format!("at most {MAX_HOLD_HOURS} hours")));
    }

    #[test]
    fn any_row_order_builds_the_same_dataset() {
        let times = |from: i64| (0..150).map(move |i| from + 60 + i * 60);
        let (a, b): (Vec<i64>, Vec<i64>) = (times(T0).collect(), times(T0 + 3600).collect());
        let (sorted, merged) = build(&[("a", a.clone()), ("b", b.clone())]);
        assert_eq!(merged, 0);
        // In call order: c1, a1, a2, b1.
        let status: Vec<Option<Exclusion>> =
            sorted.status.iter().map(|s| s.clone().err()).collect();
        assert_eq!(
            status,
            [
                Some(Exclusion::NoCandles),
                None,
                Some(Exclusion::DuplicateCall),
                None
            ]
        );
        let rev = |v: &[i64]| v.iter().rev().copied().collect::<Vec<_>>();
        let (odd, even): (Vec<i64>, Vec<i64>) = a.iter().partition(|t| (*t / 60) % 2 == 1);
        let orders: [Vec<(&str, Vec<i64>)>; 3] = [
            // Another token order, times reversed.
            vec![("b", rev(&b)), ("a", rev(&a))],
            // Token a in two runs around b's, a token no call is on among them.
            vec![("a", even), ("x", b.clone()), ("b", b.clone()), ("a", odd)],
            // Every row a run of its own, interleaved.
            a.iter()
                .zip(&b)
                .flat_map(|(&ta, &tb)| [("b", vec![tb]), ("a", vec![ta])])
                .collect(),
        ];
        for (k, runs) in orders.iter().enumerate() {
            let (got, merged) = build(runs);
            assert_eq!(got.tokens, sorted.tokens, "order {k}");
            assert_eq!(got.status, sorted.status, "order {k}");
            assert_eq!(merged > 0, k > 0, "order {k}: {merged} rows merged");
        }
    }
}
