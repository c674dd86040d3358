//! The raw command line (clap): flags as typed, with their defaults and help. Only what can be
//! checked without opening a file is checked here; `plan.rs` turns these into validated plans.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::option_flags::OptionFlags;

#[derive(Debug, Parser)]
#[command(
    name = "quantbot",
    version,
    about = "Backtest Telegram crypto callers: which caller to follow, with which exits.",
    long_about = "Backtest Telegram crypto callers: per caller, is the caller worth following and \
                  with which exits (take profit, stop loss, trailing stop, break-even, time stop, \
                  laddered exits, indicator triggers), under finite capital, fees and slippage.\n\n\
                  Exit codes: 0 success, 2 usage error (bad flag or value), 1 any other failure."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Turn a DuckDB of calls and candles into a published dataset (Parquet + manifest).
    Export(ExportArgs),
    /// Run backtests on the same engine as the browser lab.
    #[command(subcommand)]
    Backtest(Backtest),
    /// Write the embedded demo DuckDB (about 12 callers, 3,000 calls, 1-minute candles).
    DemoData(DemoArgs),
    /// The run registry: a DuckDB catalogue of result bundles.
    #[command(subcommand)]
    Runs(Runs),
    /// Assemble a static site (the built lab, datasets, result bundles, the registry's runs and
    /// a start page) that any static host serves under any path; no file over --max-file.
    /// `cargo xtask publish` builds the lab and runs this.
    Publish(PublishArgs),
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The built lab (Trunk's dist folder, built with relative URLs), copied to SITE/lab/.
    #[arg(long, value_name = "DIR")]
    pub lab: PathBuf,
    /// The site folder to write.
    #[arg(long, value_name = "SITE")]
    pub out: PathBuf,
    /// Dataset folders written by `quantbot export`, each published as SITE/data/NAME/.
    #[arg(long, value_name = "DIR", num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// A run registry (DuckDB file) whose runs are listed in SITE/runs.json and on the start
    /// page.
    #[arg(long, value_name = "REGISTRY")]
    pub runs: Option<PathBuf>,
    /// Result bundles (`backtest --out-dir` folders), each published as SITE/runs/NAME/.
    #[arg(long, value_name = "DIR", num_args = 1..)]
    pub bundles: Vec<PathBuf>,
    /// Largest file of the site: a dataset's larger candles.parquet is cut into parts, any
    /// other larger file refused. Bytes, or a number with KiB, MiB or GiB.
    #[arg(long, value_name = "SIZE", default_value = "25MiB")]
    pub max_file: String,
    /// Replace an existing non-empty SITE.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum Runs {
    /// Find result bundles under folders and record them (importing twice changes nothing).
    Import(RunsImportArgs),
    /// List the recorded runs, sorted by path.
    List(RunsListArgs),
}

#[derive(Debug, Args)]
pub struct RunsImportArgs {
    /// Folders (searched recursively) or bundle folders.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// The registry DuckDB file (created on first use).
    #[arg(long, value_name = "PATH", default_value = "data/runs.duckdb")]
    pub registry: PathBuf,
    /// Report what would be imported; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct RunsListArgs {
    /// The registry DuckDB file.
    #[arg(long, value_name = "PATH", default_value = "data/runs.duckdb")]
    pub registry: PathBuf,
    /// Output on stdout (json is for scripts and the lab's start page).
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum Backtest {
    /// Grid search of exit policies per caller, then the kept callers in one wallet.
    #[command(name = "v1-baseline")]
    V1Baseline(Box<V1Args>),
    /// Per-alert metrics (ATH multiple, drawdowns, time to 2x/3x/4x) and one simple TP/SL trade.
    Baseline(Box<BaselineArgs>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceLayout {
    /// Tables `calls` and `candles` (SPEC §2.1).
    Lab,
    /// The original quantbot: view `canon.alerts_std` and table `ohlcv_candles_d`.
    Quantbot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Where the calls and candles come from.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// DuckDB file with the calls and candles [default: data/alerts.duckdb when --data is not given].
    #[arg(long, value_name = "PATH", conflicts_with = "data")]
    pub duckdb: Option<PathBuf>,
    /// A dataset folder written by `quantbot export` (calls.parquet, candles.parquet, manifest.json).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Table layout of the DuckDB file.
    #[arg(long, value_enum, default_value = "lab")]
    pub source: SourceLayout,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// DuckDB file to read.
    #[arg(long, value_name = "PATH")]
    pub duckdb: PathBuf,
    /// Table layout of the DuckDB file.
    #[arg(long, value_enum, default_value = "lab")]
    pub source: SourceLayout,
    /// First day of alerts (UTC), YYYY-MM-DD or a full timestamp.
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// Last day of alerts (UTC), inclusive as a date; a full timestamp is an exclusive end.
    #[arg(long, value_name = "DATE")]
    pub to: String,
    /// Candle interval: 1m, 5m, 15m or 1h.
    #[arg(long, default_value = "1m")]
    pub interval: String,
    /// Length of each call's window after its entry candle, in hours.
    #[arg(long, allow_negative_numbers = true, default_value_t = 48.0)]
    pub horizon_hours: f64,
    /// Only calls on this chain (for example solana).
    #[arg(long)]
    pub chain: Option<String>,
    /// Callers to keep: a JSON array ('["Brook","Alpha"]'), a comma list, or @file.json (an
    /// array, or an object mapping group names to caller names). An entry matches a caller by
    /// equal name or whole-word prefix, case-insensitively.
    #[arg(long, value_name = "GROUPS")]
    pub caller_groups: Option<String>,
    /// Share of the window's candles that must exist for a call to be eligible.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.8)]
    pub min_coverage: f64,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace an existing non-empty output folder.
    #[arg(long)]
    pub force: bool,
    /// Largest candle file: past it the candles are written in parts (candles-00000.parquet,
    /// …, listed in the manifest) of at most this size each. Bytes, or a number with KiB, MiB
    /// or GiB; at least 256KiB. The default is the per-file limit of Cloudflare Pages.
    #[arg(long, value_name = "SIZE", default_value = "25MiB")]
    pub part_size: String,
    /// At the end, print on stderr where the wall time went: seconds spent loading (reading
    /// calls and candles), preparing (classifying calls, the union of their windows) and
    /// writing (the Parquet files and the manifest).
    #[arg(long)]
    pub timings: bool,
}

#[derive(Debug, Args)]
pub struct V1Args {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Candle interval with --duckdb: 1m, 5m, 15m or 1h (a --data folder has its own).
    #[arg(long, default_value = "1m")]
    pub interval: String,
    /// Every option that changes results, generated from the one option table
    /// (`quantbot_format::options::OPTIONS`).
    #[command(flatten)]
    pub options: OptionFlags,

    /// Worker threads, at most 1024 [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Memory for candles, in MB: past it the callers are run in parts, each loaded and
    /// searched in turn (the same results, more reading). A caller is never split.
    #[arg(long, value_name = "MB", default_value_t = crate::parts::DEFAULT_BUDGET_MB as f64, allow_negative_numbers = true)]
    pub memory_budget: f64,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Where a backtest's results go: stdout's format, the result bundle, the run registry.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Also write the run's result bundle into this folder (v1-baseline: results.json,
    /// grid.parquet, trades.parquet, index.html and lab.json, what the lab shows the run from;
    /// baseline: alerts.csv, alerts.parquet and
    /// summary.json).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Replace an existing non-empty --out-dir.
    #[arg(long)]
    pub force: bool,
    /// Record the written --out-dir bundle in this run registry (DuckDB file).
    #[arg(long, value_name = "PATH", requires = "out_dir")]
    pub registry: Option<PathBuf>,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// At the end, print on stderr where the wall time went: seconds spent loading (reading,
    /// compacting and classifying), preparing (the per-call precomputation), searching and
    /// writing.
    #[arg(long)]
    pub timings: bool,
}

#[derive(Debug, Args)]
pub struct BaselineArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Only calls on this chain.
    #[arg(long)]
    pub chain: Option<String>,
    /// First day of alerts (UTC) [default: every call].
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last day of alerts (UTC), inclusive as a date; a full timestamp is an exclusive end.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Candle interval in seconds (with --duckdb).
    #[arg(long, allow_negative_numbers = true, default_value_t = 60)]
    pub interval_seconds: i64,
    /// Window length after the entry candle, hours.
    #[arg(long, allow_negative_numbers = true, default_value_t = 48.0)]
    pub horizon_hours: f64,
    /// Take profit of the simple TP/SL trade, multiple of the entry.
    #[arg(long, allow_negative_numbers = true, default_value_t = 2.0)]
    pub tp_mult: f64,
    /// Stop loss of the simple TP/SL trade, multiple of the entry.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.5)]
    pub sl_mult: f64,
    /// Fee per side, basis points.
    #[arg(long, allow_negative_numbers = true, default_value_t = 30.0)]
    pub fee_bps: f64,
    /// Adverse slippage on every fill, basis points.
    #[arg(long, allow_negative_numbers = true, default_value_t = 50.0)]
    pub slippage_bps: f64,
    /// Which wins when a candle touches both the stop and the take profit.
    #[arg(long, value_enum, default_value = "sl_first")]
    pub intrabar_order: IntrabarOrderArg,
    /// Live terminal dashboard (progress, running medians, latest alerts, then the results).
    #[arg(long)]
    pub tui: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IntrabarOrderArg {
    #[value(name = "sl_first", alias = "sl-first")]
    SlFirst,
    #[value(name = "tp_first", alias = "tp-first")]
    TpFirst,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the DuckDB file (replaced if it exists).
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Seed of the generator; the same seed writes the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}
