//! Validated plans: the raw flags of `args.rs` turned into the engine's validated types,
//! through the options shared with the lab (`quantbot_format::options`). Every error here is a
//! usage error (exit code 2) and names the flag.

use std::fmt;
use std::path::{Path, PathBuf};

use quantbot_core::grid::Grid;
use quantbot_core::optimize::SearchOptions;
pub use quantbot_format::options::{interval_name, Selection, V1Options};

use crate::args::{SourceArgs, SourceLayout, V1Args};

/// A usage error (exit code 2) about no flag in particular; errors about a flag come from the
/// option table's parsers and carry it (`quantbot_format::Error::Usage`).
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(quantbot_format::Error::Usage {
        flag: None,
        message: msg.into(),
    })
}

/// A usage error about `flag`: the message is `flag: detail`.
pub fn usage_at(flag: &'static str, detail: impl fmt::Display) -> anyhow::Error {
    anyhow::Error::new(quantbot_format::Error::Usage {
        flag: Some(flag),
        message: format!("{flag}: {detail}"),
    })
}

/// Whether an error is a usage error (exit code 2).
pub fn is_usage(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<quantbot_format::Error>(),
        Some(quantbot_format::Error::Usage { .. })
    )
}

/// A shared-format error as the CLI reports it: usage (exit 2) or failure (exit 1).
pub fn cli_error(e: quantbot_format::Error) -> anyhow::Error {
    match e {
        quantbot_format::Error::Usage { .. } => anyhow::Error::new(e),
        quantbot_format::Error::Data(m) => anyhow::anyhow!(m),
    }
}

/// Seconds of an `--interval` value.
pub fn parse_interval(text: &str) -> anyhow::Result<i64> {
    quantbot_format::options::parse_interval(text).map_err(cli_error)
}

fn read_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))
}

/// The selection of calls; `--caller-groups @file.json` is read here.
pub fn selection(
    from: Option<&str>,
    to: Option<&str>,
    chain: Option<&str>,
    groups: Option<&str>,
) -> anyhow::Result<Selection> {
    Selection::new(from, to, chain, groups, &read_file).map_err(cli_error)
}

/// Where the data comes from, checked.
#[derive(Debug, Clone)]
pub enum Source {
    DuckDb { path: PathBuf, layout: SourceLayout },
    Data { dir: PathBuf },
}

impl Source {
    /// The folder or file the data is read from.
    pub fn path(&self) -> &Path {
        match self {
            Source::DuckDb { path, .. } => path,
            Source::Data { dir } => dir,
        }
    }

    pub fn from_args(a: &SourceArgs) -> Source {
        match (&a.data, &a.duckdb) {
            (Some(dir), _) => Source::Data { dir: dir.clone() },
            (None, Some(p)) => Source::DuckDb {
                path: p.clone(),
                layout: a.source,
            },
            (None, None) => Source::DuckDb {
                path: PathBuf::from("data/alerts.duckdb"),
                layout: a.source,
            },
        }
    }
}

/// The options of a `backtest v1-baseline` command line: the defaults with every given flag
/// read over them, by the same parsers as the lab's form.
pub fn v1_options(a: &V1Args) -> anyhow::Result<V1Options> {
    a.options.options().map_err(cli_error)
}

/// The grid of `backtest v1-baseline`, validated against the horizon.
pub fn grid(a: &V1Args, horizon_hours: f64) -> anyhow::Result<Grid> {
    v1_options(a)?.grid(horizon_hours).map_err(cli_error)
}

/// The most worker threads `--threads` takes.
pub const MAX_THREADS: usize = 1024;

/// Run options of `backtest v1-baseline`.
pub fn search_options(a: &V1Args, interval_s: i64) -> anyhow::Result<SearchOptions> {
    match a.threads {
        Some(0) => return Err(usage_at("--threads", "must be at least 1")),
        // Each is an operating-system thread, started before any work: a typo such as 100000
        // would spend minutes starting them and starve the machine.
        Some(n) if n > MAX_THREADS => {
            return Err(usage_at(
                "--threads",
                format!("{n} is more than {MAX_THREADS}"),
            ))
        }
        _ => {}
    }
    if !(a.memory_budget.is_finite() && a.memory_budget > 0.0) {
        return Err(usage_at(
            "--memory-budget",
            format!("must be a positive number of MB, got {}", a.memory_budget),
        ));
    }
    v1_options(a)?.search_options(interval_s).map_err(cli_error)
}

/// The calls `backtest v1-baseline` selects; `--caller-groups @file.json` is read here.
pub fn v1_selection(a: &V1Args) -> anyhow::Result<Selection> {
    v1_options(a)?.selection(&read_file).map_err(cli_error)
}

/// Fails (exit 1) when writing the output folder `out` (given as `flag`) would replace `input`,
/// the folder or file the run reads: `out` is it or holds it. `--force` replaces an earlier
/// output, never the data the run stands on.
pub fn check_out_spares_input(flag: &str, out: &Path, input: &Path) -> anyhow::Result<()> {
    let (Ok(out_c), Ok(input_c)) = (out.canonicalize(), input.canonicalize()) else {
        // An output that does not exist yet holds nothing; a missing input is reported later.
        return Ok(());
    };
    if input_c.starts_with(&out_c) {
        anyhow::bail!(
            "{flag} {} holds the input {}: writing it would replace the data; choose another folder",
            out.display(),
            input.display()
        );
    }
    Ok(())
}

/// Fails (exit 1) when `dir` exists and is not empty, unless `force`, or cannot be created
/// because a file stands where one of its parent folders should be.
pub fn check_out_dir(dir: &Path, force: bool) -> anyhow::Result<()> {
    // A file where a folder of the path should be, found before any work: say which (the
    // system's "File exists" would name neither the output nor the culprit).
    if let Some(file) = dir.ancestors().skip(1).find(|a| a.is_file()) {
        anyhow::bail!(
            "cannot create {}: {} is a file, not a folder",
            dir.display(),
            file.display()
        );
    }
    if force {
        return Ok(());
    }
    if let Ok(mut entries) = std::fs::read_dir(dir) {
        if entries.next().is_some() {
            anyhow::bail!(
                "{} exists and is not empty; give --force to replace it",
                dir.display()
            );
        }
    } else if dir.exists() {
        anyhow::bail!("{} exists and is not a folder", dir.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_groups_files() {
        assert_eq!(parse_interval("5m").unwrap(), 300);
        let err = parse_interval("2m").unwrap_err();
        assert!(is_usage(&err), "{err}");
        assert!(!is_usage(&anyhow::anyhow!("a failure")));
        let err = selection(None, None, None, Some("@/nonexistent.json")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent.json"), "{err}");
    }
}
