//! The bodies of the fuzz targets, shared by `cargo fuzz` (`fuzz/fuzz_targets/*.rs`) and the
//! replay of their saved corpora that every test run does (`lab-model/tests/fuzz_corpus.rs`).
//! Each takes any bytes and must return without panicking: what the lab and the CLI read from
//! a user (a dataset's Parquet files and manifest, a share link, the options form) goes through
//! the same functions.

use bytes::Bytes;
use quantbot_core::grid::{Grid, GridSpec};
use quantbot_core::optimize::{search, Prepared, SearchOptions};
use quantbot_core::policy::ExecConfig;
use quantbot_core::store::Volumes;
use quantbot_core::wallet::WalletConfig;
use quantbot_format::dataset::{
    load_published, parse_manifest, Dataset, LoadOptions, PublishedFiles,
};
use quantbot_format::options::{parse_caller_groups, parse_interval, Selection};
use quantbot_lab_model::form::Form;
use quantbot_lab_model::share::ShareLink;

/// Splits `data` in two at the place its first two bytes name (the rest of the input).
fn split(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (head, rest) = data.split_at_checked(2)?;
    let at = usize::from(u16::from_le_bytes([head[0], head[1]])) % (rest.len() + 1);
    Some(rest.split_at(at))
}

/// The load options a dataset without a manifest is read with.
const FALLBACK: LoadOptions = LoadOptions {
    interval_s: 60,
    horizon_hours: 48.0,
    min_coverage: 0.8,
};

/// The dataset of [`dataset`]'s input, or `None` when the input is too short to split.
pub fn load_dataset(data: &[u8]) -> Option<quantbot_format::Result<Dataset>> {
    let (calls, candles) = split(data)?;
    let files = PublishedFiles {
        calls: ("calls.parquet".to_string(), Bytes::copy_from_slice(calls)),
        excluded: None,
        candles: vec![(
            "candles.parquet".to_string(),
            Bytes::copy_from_slice(candles),
        )],
    };
    Some(load_published(
        "fuzz".into(),
        None,
        FALLBACK,
        files,
        &Selection::all(),
        Volumes::Keep,
    ))
}

/// A published dataset from bytes: `calls.parquet` and `candles.parquet` (split as [`split`]
/// says), read as the lab reads them; when they load, a search of the default grid on its
/// eligible calls (at most 64 of them).
pub fn dataset(data: &[u8]) {
    let Some(Ok(ds)) = load_dataset(data) else {
        return;
    };
    let windows: Vec<_> = ds.eligible().into_iter().take(64).collect();
    let grid = Grid::new(GridSpec::default(), FALLBACK.horizon_hours).expect("the default grid");
    let exec = ExecConfig::defaults(FALLBACK.interval_s).expect("the default options");
    let opts = SearchOptions::new(exec, WalletConfig::default());
    let prepared = Prepared::new(windows, &grid, &opts.exec);
    let _ = search(&prepared, &grid, &opts);
}

/// A share link: parsed, written back and parsed again to the same link, and its options read
/// as the lab reads them before a run.
pub fn share_link(data: &[u8]) {
    let query = String::from_utf8_lossy(data);
    let link = ShareLink::parse(&query);
    let again = ShareLink::parse(&link.to_query());
    assert_eq!(again, link, "a link survives being written and read back");
    let _ = link.form.options(48.0, 60);
    let _ = link.warning("0.1.0", Some("00"));
}

/// The options form and the parsers behind it: each line of the input goes to one field in
/// turn, then the form is read; the same text through the interval, caller-group and manifest
/// parsers.
pub fn options(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut form = Form::default();
    let flags: Vec<&'static str> = form.fields().map(|(spec, _)| spec.flag).collect();
    for (flag, line) in flags.iter().cycle().zip(text.lines()) {
        form.set(flag, line);
    }
    let _ = form.options(48.0, 60);
    let _ = parse_interval(&text);
    let _ = parse_caller_groups(&text, &|_| Err("no files".to_string()));
    let _ = parse_manifest("manifest.json", data);
}
