//! `quantbot export` (SPEC §2.3, §12): the published dataset — eligible calls, the candles of
//! their windows (each token once), the excluded calls with reasons, and a manifest with the
//! SHA-256 of every file. Byte-for-byte deterministic; written atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{ControlFlow, Range};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use quantbot_core::data::{Call, Candle};
use quantbot_core::window::{duplicate_flags, Exclusion};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::args::{ExportArgs, SourceLayout};
use crate::bundle::write_folder_atomically;
use crate::parquet_io::{
    calls_columns, parse_part_size, write_parquet, CandleFilesWritten, CandleWriter,
};
use crate::plan::{
    check_out_dir, check_out_spares_input, interval_name, parse_interval, selection, usage,
    Selection,
};
use crate::source::{
    chains_of_mint, sort_by_time, Dataset, DuckSource, LoadOptions, RowOrder, Token,
};
use crate::timings::{Stage, Timings};
use quantbot_format::dataset::{
    classify_token, valid_horizon, CallStatus, FORMAT_NAME, FORMAT_VERSION, HORIZON_RULE,
};
use quantbot_format::hex;
use quantbot_format::parts::{part_number, WHOLE};

pub fn run(a: &ExportArgs) -> anyhow::Result<()> {
    let interval_s = parse_interval(&a.interval)?;
    // At most what a manifest may say, so that the dataset written can be read.
    if !valid_horizon(a.horizon_hours) {
        return Err(usage(format!(
            "--horizon-hours: {} {HORIZON_RULE}",
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
    let part_bytes =
        parse_part_size(&a.part_size).map_err(|e| usage(format!("--part-size: {e}")))?;
    check_out_spares_input("--out", &a.out, &a.duckdb)?;
    check_out_dir(&a.out, a.force)?;
    let opts = LoadOptions {
        interval_s,
        horizon_hours: a.horizon_hours,
        min_coverage: a.min_coverage,
    };
    let mut t = Timings::new(a.timings);
    // Where DuckDB spills a sort that does not fit its memory (only when the table is not
    // stored token by token in key order; see `write_candles`). DuckDB removes its files.
    let spill = std::env::temp_dir().join(format!("quantbot-export-{}", std::process::id()));
    let src = DuckSource::open(&a.duckdb, a.source, Some(&spill))?;
    let calls = t.time(Stage::Load, || src.calls(&sel))?;
    let mut done = None;
    write_folder_atomically(&a.out, a.force, |dir| {
        let (status, candle_files) = write_candles(dir, &src, &calls, opts, part_bytes, &mut t)?;
        let ds = Dataset {
            source_label: format!("duckdb:{}", a.duckdb.display()),
            manifest_sha256: None,
            interval_s,
            horizon_hours: a.horizon_hours,
            min_coverage: a.min_coverage,
            calls,
            // The candles went to candles.parquet token by token; none are held.
            tokens: BTreeMap::new(),
            status,
        };
        let (ok, _) = ds.coverage();
        if ok == 0 {
            anyhow::bail!(
                "no eligible call in the selection: {}",
                serde_json::to_string(&ds.coverage_json())?
            );
        }
        t.time(Stage::Write, || {
            write_dataset(dir, &ds, a, &sel, &candle_files)
        })?;
        done = Some(ds.coverage());
        Ok(())
    })?;
    if let Some((ok, ex)) = done {
        eprintln!(
            "exported {ok} eligible calls to {} ({} excluded)",
            a.out.display(),
            ex.iter().sum::<usize>()
        );
    }
    t.report();
    Ok(())
}

/// Writes the candles (`candles.parquet`, or its parts when they exceed `part_bytes`: see
/// [`CandleWriter`]) token by token and classifies the calls on the way: each token's
/// rows are read from DuckDB, its calls classified on them, the union of its eligible windows
/// appended to the file, and the rows let go before the next token's. Memory does not grow with
/// the number of tokens or candles.
///
/// The file is sorted by (chain, mint), so tokens must come in that order, each once. A table
/// written token by token in key order (the demo data, a table sorted on insert) is read as
/// stored, with no sort. Should a token come out of order or come back, the file is begun
/// again from rows sorted by DuckDB (which sorts in bounded memory, spilling to disk). The
/// quantbot layout has no chain column: it is read once per chain of the selected calls.
fn write_candles(
    dir: &Path,
    src: &DuckSource<'_>,
    calls: &[Call],
    opts: LoadOptions,
    part_bytes: u64,
    t: &mut Timings,
) -> anyhow::Result<(Vec<CallStatus>, CandleFilesWritten)> {
    let dups = duplicate_flags(calls);
    let mut by_token: BTreeMap<Token, Vec<usize>> = BTreeMap::new();
    for (k, c) in calls.iter().enumerate() {
        by_token
            .entry((c.chain.clone(), c.mint.clone()))
            .or_default()
            .push(k);
    }
    let wanted: BTreeSet<Token> = by_token.keys().cloned().collect();
    let mints = chains_of_mint(&wanted);
    // The quantbot layout is read once per chain, in key order (None: the lab layout, once);
    // without a call, not at all.
    let passes: Vec<Option<&str>> = match src.layout {
        _ if calls.is_empty() => Vec::new(),
        SourceLayout::Lab => vec![None],
        SourceLayout::Quantbot => wanted
            .iter()
            .map(|(ch, _)| Some(ch.as_str()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    let min_ts = calls.first().map_or(0, |c| c.alert_ts_ms.div_euclid(1000));
    for order in [RowOrder::Table, RowOrder::Sorted] {
        // A pass begun again starts from no candle file (the first may have left parts).
        remove_candle_files(dir)?;
        // A token without candles is classified on none (no_candles); the others are
        // classified again as their rows come.
        let mut status: Vec<CallStatus> = vec![Err(Exclusion::NoCandles); calls.len()];
        for ks in by_token.values() {
            classify_token(calls, ks, &[], &opts, &dups, &mut status);
        }
        let mut last: Option<Token> = None;
        let mut out_of_order = false;
        // The Parquet file is encoded on a second thread, fed each token's union of windows
        // through a short queue while this one reads and classifies the next tokens.
        let (send, receive) = mpsc::sync_channel::<(String, String, Vec<Candle>)>(8);
        let read = std::thread::scope(|scope| {
            // Returns the files written and the time spent writing (not waiting for rows).
            let writer = scope.spawn(
                move || -> anyhow::Result<(Vec<(String, usize)>, Duration)> {
                    let start = Instant::now();
                    let mut out = CandleWriter::create(dir, part_bytes)?;
                    let mut busy = start.elapsed();
                    for (chain, mint, rows) in receive {
                        let t0 = Instant::now();
                        out.push(&chain, &mint, &rows)?;
                        busy += t0.elapsed();
                    }
                    let t0 = Instant::now();
                    let rows = out.finish()?;
                    Ok((rows, busy + t0.elapsed()))
                },
            );
            let mut read = || -> anyhow::Result<()> {
                for &pass in &passes {
                    let stream_start = Instant::now();
                    let mut prepare = Duration::ZERO;
                    let flow = src.candle_runs(
                        opts.interval_s,
                        min_ts,
                        order,
                        true,
                        None,
                        |ch, mi| {
                            let ch = pass.unwrap_or(ch);
                            mints.get(mi).is_some_and(|chains| chains.contains(&ch))
                        },
                        |ch, mi, rows| {
                            let ch = pass.unwrap_or(ch);
                            if last
                                .as_ref()
                                .is_some_and(|(c0, m0)| (c0.as_str(), m0.as_str()) >= (ch, mi))
                            {
                                out_of_order = true;
                                return Ok(ControlFlow::Break(()));
                            }
                            let key = last.insert((ch.to_string(), mi.to_string()));
                            let t0 = Instant::now();
                            sort_by_time(rows);
                            let ks = &by_token[key];
                            classify_token(calls, ks, rows, &opts, &dups, &mut status);
                            let union: Vec<Candle> =
                                union_of_windows(ks.iter().map(|&k| &status[k]))
                                    .into_iter()
                                    .flat_map(|r| rows[r].iter().copied())
                                    .collect();
                            prepare += t0.elapsed();
                            if union.is_empty() {
                                return Ok(ControlFlow::Continue(()));
                            }
                            if send.send((key.0.clone(), key.1.clone(), union)).is_err() {
                                // The writer failed: its error is reported when it is joined.
                                return Ok(ControlFlow::Break(()));
                            }
                            Ok(ControlFlow::Continue(()))
                        },
                    )?;
                    t.add(Stage::Prepare, prepare);
                    t.add(Stage::Load, stream_start.elapsed() - prepare);
                    if flow.is_break() {
                        break;
                    }
                }
                Ok(())
            };
            let read = read();
            drop(send);
            let written = writer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            read.and(written)
        });
        let (files, writing) = read?;
        // The writing ran beside the reading: its time overlaps theirs.
        t.add(Stage::Write, writing);
        if !out_of_order {
            return Ok((status, files));
        }
        if order == RowOrder::Sorted {
            // DuckDB sorted the rows: a token out of order here is a bug, not bad data.
            anyhow::bail!(
                "{}: the candles came out of order even sorted",
                src.path.display()
            );
        }
    }
    unreachable!("the sorted pass either finishes or fails")
}

/// The union of the eligible windows among `status`, as sorted disjoint ranges of positions.
/// (A window never splits candles of equal time, and an eligible one holds distinct times, so
/// the union by position is the union by time: each token's candles are stored once.)
fn union_of_windows<'a>(status: impl Iterator<Item = &'a CallStatus>) -> Vec<Range<usize>> {
    let mut ranges: Vec<Range<usize>> = status.filter_map(|s| s.as_ref().ok().cloned()).collect();
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// Removes the candle files of a pass begun again (`candles.parquet` and its parts).
fn remove_candle_files(dir: &Path) -> anyhow::Result<()> {
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name == WHOLE || part_number(&name).is_some() {
            std::fs::remove_file(e.path())
                .with_context(|| format!("removing {}", e.path().display()))?;
        }
    }
    Ok(())
}

/// A file's manifest entry: its SHA-256, read back in pieces (candles.parquet is the size of
/// the data set), its size and its rows.
fn file_entry(dir: &Path, name: &str, rows: usize) -> anyhow::Result<Value> {
    let mut file =
        std::fs::File::open(dir.join(name)).with_context(|| format!("reading back {name}"))?;
    let mut hash = Sha256::new();
    let bytes =
        std::io::copy(&mut file, &mut hash).with_context(|| format!("reading back {name}"))?;
    Ok(json!({"sha256": hex(&hash.finalize()), "bytes": bytes, "rows": rows}))
}

fn write_dataset(
    dir: &Path,
    ds: &Dataset,
    a: &ExportArgs,
    sel: &Selection,
    candle_files: &[(String, usize)],
) -> anyhow::Result<()> {
    let candle_rows: usize = candle_files.iter().map(|(_, rows)| rows).sum();
    // Eligible calls (already sorted by alert time, call id); candles.parquet is written.
    let mut eligible = Vec::new();
    let mut excluded = Vec::new();
    for (call, st) in ds.calls.iter().zip(&ds.status) {
        match st {
            Ok(_) => eligible.push(call),
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
            "excluded.parquet": file_entry(dir, "excluded.parquet", excluded_rows)?,
        },
    });
    let mut manifest = manifest;
    for (name, rows) in candle_files {
        manifest["files"][name] = file_entry(dir, name, *rows)?;
    }
    if candle_files.len() > 1 {
        let names: Vec<&str> = candle_files.iter().map(|(n, _)| n.as_str()).collect();
        manifest["parts"] = json!({ WHOLE: names });
    }
    let mut text = serde_json::to_string_pretty(&manifest)?;
    text.push('\n');
    std::fs::write(dir.join("manifest.json"), text).context("writing manifest.json")?;
    Ok(())
}
