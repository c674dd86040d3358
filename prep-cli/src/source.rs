//! Loading calls and candles (SPEC §2.1) from a DuckDB file in either layout or from a
//! published dataset folder, then selecting calls and classifying their coverage (§2.2, §12)
//! with the engine's rules. Values from the command line go into SQL as bound parameters only.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use duckdb::{params, AccessMode, Config, Connection};

use quantbot_core::data::{Call, Candle};
use quantbot_core::store::Volumes;
pub use quantbot_format::dataset::sort_by_time;
use quantbot_format::dataset::{
    check_groups, parse_manifest, read_published_calls, selected, sort_calls, DatasetBuilder,
};
pub use quantbot_format::dataset::{Dataset, LoadOptions, ManifestInfo, Token};
use quantbot_format::hex;
use quantbot_format::parquet_read::{read_candle_runs_in, Floats, RunKeys};
use quantbot_format::parts;
use sha2::{Digest, Sha256};

use crate::args::SourceLayout;
use crate::plan::{cli_error, Selection, Source};
use crate::timings::{Stage, Timings};

/// Loads and classifies the selected calls, holding the candles' volumes as `volumes` says
/// (exits read prices only; only an indicator rule on volume reads them).
pub fn load(
    source: &Source,
    sel: &Selection,
    opts: LoadOptions,
    volumes: Volumes,
    t: &mut Timings,
) -> anyhow::Result<Dataset> {
    match source {
        Source::DuckDb { path, layout } => load_duckdb(path, *layout, sel, opts, volumes, t),
        Source::Data { dir } => t.time(Stage::Load, || load_dataset(dir, sel, volumes)),
    }
}

/// DuckDB's memory limit for reading a file. DuckDB keeps every block it has read cached up to
/// its limit (by default 80 % of the machine's memory), so a scan of the whole candle table
/// would hold the file's blocks long after they were decoded; a scan needs only a few blocks
/// at a time. (Measured on the demo data: 550 MB peak with the default, 243 MB with this.)
const DUCKDB_MEMORY_LIMIT: &str = "32MB";

/// DuckDB's memory limit while it sorts the candles (the slow path of rows in no useful
/// order): with 32 MB it refuses to sort the demo data at all; what does not fit spills.
const DUCKDB_SORT_SETTINGS: &str = "SET memory_limit = '256MB'";

/// Opens a DuckDB file read-only, for one scan at a time: one DuckDB thread (the stream is
/// decoded on the thread that fetches it, and the compaction runs beside it; a second DuckDB
/// thread did not help: 1.62 s against 1.68 s on the demo data, fastest of 3, and 10 MB more)
/// and a small memory limit. With `spill`, a sort that does not fit goes to that folder.
fn open_read_only(path: &Path, spill: Option<&Path>) -> anyhow::Result<Connection> {
    if path.is_dir() {
        bail!("{}: is a folder, not a DuckDB file", path.display());
    }
    if !path.is_file() {
        bail!(
            "{}: no such DuckDB file (create the demo data with `quantbot demo-data --out {}`)",
            path.display(),
            path.display()
        );
    }
    check_duckdb_header(path)?;
    let cfg = || -> duckdb::Result<Config> {
        let cfg = Config::default()
            .access_mode(AccessMode::ReadOnly)?
            .threads(1)?
            .max_memory(DUCKDB_MEMORY_LIMIT)?
            // DuckDB's default, said out loud: rows come in table order, and the sorted slow
            // path's chunks in sorted order (without it, on two threads, they did not).
            .with("preserve_insertion_order", "true")?
            // A file is data, never a reason to fetch code: no extension is installed or
            // loaded behind the user's back (DuckDB would otherwise download one to read, say,
            // a SQLite file or a view over an https URL).
            .with("autoinstall_known_extensions", "false")?
            .with("autoload_known_extensions", "false")?;
        match spill {
            Some(dir) => cfg.with("temp_directory", dir.to_string_lossy()),
            None => Ok(cfg),
        }
    };
    let cfg = cfg().map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Connection::open_with_flags(path, cfg)
        .map_err(|e| anyhow!("{}: cannot open as a DuckDB database: {e}", path.display()))
}

/// Fails with one line naming the file when it does not start with DuckDB's header (the magic
/// `DUCK` at byte 8), before DuckDB opens it: DuckDB's own message quotes the absolute path,
/// and for some files (SQLite's) it first tries to download an extension to read them.
pub fn check_duckdb_header(path: &Path) -> anyhow::Result<()> {
    use std::io::Read;
    let mut head = [0u8; 12];
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(anyhow!("cannot read {}: {e}", path.display())),
        }
    }
    if got < head.len() || &head[8..12] != b"DUCK" {
        bail!(
            "{}: not a DuckDB database file (it does not start with DuckDB's header)",
            path.display()
        );
    }
    Ok(())
}

/// A DuckDB file opened for reading in one of the two layouts (SPEC §2.1).
pub struct DuckSource<'a> {
    pub path: &'a Path,
    pub layout: SourceLayout,
    pub conn: Connection,
}

/// The SQL of a layout: calls in a time range, the distinct callers, and candles of one
/// interval from a first time on, always as `chain, mint, ts, open, high, low, close, volume`.
struct LayoutSql {
    calls: &'static str,
    callers: &'static str,
    /// `{volume}` stands for the volume column: `CAST(volume AS DOUBLE)` when volumes are
    /// read, else a NULL that DuckDB does not scan a column for ([`volume_sql`]).
    candles: &'static str,
    /// Appended to `candles` for a part of the callers (`--memory-budget`): only the mints
    /// some call of the part's callers names (bound as one text, the names joined by
    /// [`PART_SEPARATOR`]), so that DuckDB drops the other tokens' rows itself.
    part: &'static str,
    name: &'static str,
}

/// The separator of the callers' names bound to [`LayoutSql::part`] (the ASCII unit
/// separator; a part whose names hold it is read without the filter).
const PART_SEPARATOR: char = '\u{1f}';

fn layout_sql(layout: SourceLayout) -> LayoutSql {
    match layout {
        SourceLayout::Lab => LayoutSql {
            calls: "SELECT CAST(call_id AS VARCHAR), CAST(caller AS VARCHAR), \
                    CAST(chain AS VARCHAR), CAST(mint AS VARCHAR), CAST(alert_ts_ms AS BIGINT), \
                    CAST(price_at_alert AS DOUBLE) \
                    FROM calls WHERE alert_ts_ms >= ? AND alert_ts_ms < ?",
            callers: "SELECT DISTINCT CAST(caller AS VARCHAR) FROM calls WHERE caller IS NOT NULL",
            candles: "SELECT CAST(chain AS VARCHAR), CAST(mint AS VARCHAR), CAST(ts AS BIGINT), \
                      CAST(open AS DOUBLE), CAST(high AS DOUBLE), CAST(low AS DOUBLE), \
                      CAST(close AS DOUBLE), {volume} \
                      FROM candles WHERE interval_s = ? AND ts >= ?",
            part: " AND CAST(mint AS VARCHAR) IN (SELECT CAST(mint AS VARCHAR) FROM calls \
                   WHERE list_contains(string_split(?, chr(31)), CAST(caller AS VARCHAR)))",
            name: "lab (tables calls and candles)",
        },
        SourceLayout::Quantbot => LayoutSql {
            calls: "SELECT CAST(alert_id AS VARCHAR), \
                    CAST(COALESCE(caller_name_norm, caller_raw_name) AS VARCHAR), \
                    CAST(chain AS VARCHAR), CAST(mint AS VARCHAR), CAST(alert_ts_ms AS BIGINT), \
                    CAST(NULL AS DOUBLE) \
                    FROM canon.alerts_std WHERE alert_ts_ms >= ? AND alert_ts_ms < ?",
            callers:
                "SELECT DISTINCT CAST(COALESCE(caller_name_norm, caller_raw_name) AS VARCHAR) \
                      FROM canon.alerts_std \
                      WHERE COALESCE(caller_name_norm, caller_raw_name) IS NOT NULL",
            candles: "SELECT CAST(NULL AS VARCHAR), CAST(mint AS VARCHAR), \
                      CAST(\"timestamp\" AS BIGINT), \
                      CAST(open AS DOUBLE), CAST(high AS DOUBLE), CAST(low AS DOUBLE), \
                      CAST(close AS DOUBLE), {volume} \
                      FROM ohlcv_candles_d WHERE interval_seconds = ? AND \"timestamp\" >= ?",
            part: " AND CAST(mint AS VARCHAR) IN (SELECT CAST(mint AS VARCHAR) \
                   FROM canon.alerts_std WHERE list_contains(string_split(?, chr(31)), \
                   CAST(COALESCE(caller_name_norm, caller_raw_name) AS VARCHAR)))",
            name: "quantbot (view canon.alerts_std and table ohlcv_candles_d)",
        },
    }
}

/// A layout's candle query with its volume column: read, or a NULL in its place (about 8 % of
/// a load's DuckDB time goes to a column that most grids never read).
fn volume_sql(candles: &str, volume: bool) -> String {
    let column = if volume {
        "CAST(volume AS DOUBLE)"
    } else {
        "CAST(NULL AS DOUBLE)"
    };
    candles.replace("{volume}", column)
}

/// In which order the candle rows are asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOrder {
    /// As the table stores them (no sort in DuckDB): each token's rows usually come together.
    Table,
    /// Sorted by chain, mint and time in DuckDB, so each token comes once, in key order.
    Sorted,
}

/// What a column of a layout must hold: anything (read as text), a whole number, or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Any,
    Int,
    Num,
}

impl Kind {
    fn admits(self, data_type: &str) -> bool {
        const INTS: [&str; 10] = [
            "TINYINT",
            "SMALLINT",
            "INTEGER",
            "BIGINT",
            "HUGEINT",
            "UTINYINT",
            "USMALLINT",
            "UINTEGER",
            "UBIGINT",
            "UHUGEINT",
        ];
        let t = data_type.to_ascii_uppercase();
        match self {
            Kind::Any => true,
            Kind::Int => INTS.contains(&t.as_str()),
            Kind::Num => {
                INTS.contains(&t.as_str())
                    || ["DOUBLE", "FLOAT", "REAL"].contains(&t.as_str())
                    || t.starts_with("DECIMAL")
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Any => "any type",
            Kind::Int => "a whole number (BIGINT, INTEGER, …)",
            Kind::Num => "a number (DOUBLE, DECIMAL, BIGINT, …)",
        }
    }
}

/// A table of a layout: its schema, its name, and the columns the queries read.
type LayoutTable = (&'static str, &'static str, &'static [(&'static str, Kind)]);

/// The tables of a layout (SPEC §2.1).
fn layout_tables(layout: SourceLayout) -> [LayoutTable; 2] {
    use Kind::{Any, Int, Num};
    match layout {
        SourceLayout::Lab => [
            (
                "main",
                "calls",
                &[
                    ("call_id", Any),
                    ("caller", Any),
                    ("chain", Any),
                    ("mint", Any),
                    ("alert_ts_ms", Int),
                    ("price_at_alert", Num),
                ],
            ),
            (
                "main",
                "candles",
                &[
                    ("chain", Any),
                    ("mint", Any),
                    ("interval_s", Int),
                    ("ts", Int),
                    ("open", Num),
                    ("high", Num),
                    ("low", Num),
                    ("close", Num),
                    ("volume", Num),
                ],
            ),
        ],
        SourceLayout::Quantbot => [
            (
                "canon",
                "alerts_std",
                &[
                    ("alert_id", Any),
                    ("caller_name_norm", Any),
                    ("caller_raw_name", Any),
                    ("chain", Any),
                    ("mint", Any),
                    ("alert_ts_ms", Int),
                ],
            ),
            (
                "main",
                "ohlcv_candles_d",
                &[
                    ("mint", Any),
                    ("timestamp", Int),
                    ("open", Num),
                    ("high", Num),
                    ("low", Num),
                    ("close", Num),
                    ("volume", Num),
                    ("interval_seconds", Int),
                ],
            ),
        ],
    }
}

impl<'a> DuckSource<'a> {
    pub fn open(
        path: &'a Path,
        layout: SourceLayout,
        spill: Option<&Path>,
    ) -> anyhow::Result<DuckSource<'a>> {
        let source = DuckSource {
            path,
            layout,
            conn: open_read_only(path, spill)?,
        };
        source.check_layout()?;
        Ok(source)
    }

    /// One line naming the table or column when the file does not hold what the layout reads,
    /// before any query (DuckDB's own errors span several lines and quote the SQL).
    fn check_layout(&self) -> anyhow::Result<()> {
        let ctx = |e| self.error(e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT table_schema, table_name, column_name, data_type \
                 FROM information_schema.columns",
            )
            .map_err(ctx)?;
        let mut columns: BTreeMap<(String, String), BTreeMap<String, String>> = BTreeMap::new();
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(ctx)?;
        for row in rows {
            let (schema, table, column, data_type) = row.map_err(ctx)?;
            columns
                .entry((schema, table))
                .or_default()
                .insert(column, data_type);
        }
        let flag = match self.layout {
            SourceLayout::Lab => "--source lab",
            SourceLayout::Quantbot => "--source quantbot",
        };
        for (schema, table, wanted) in layout_tables(self.layout) {
            let qualified = if schema == "main" {
                table.to_string()
            } else {
                format!("{schema}.{table}")
            };
            let list = wanted
                .iter()
                .map(|(c, _)| *c)
                .collect::<Vec<_>>()
                .join(", ");
            let Some(have) = columns.get(&(schema.to_string(), table.to_string())) else {
                bail!(
                    "{}: no table {qualified}, which {flag} reads (SPEC §2.1: {qualified}({list}))",
                    self.path.display()
                );
            };
            for &(column, kind) in wanted {
                match have.get(column) {
                    None => bail!(
                        "{}: table {qualified} has no column {column} ({flag} reads {qualified}({list}))",
                        self.path.display()
                    ),
                    Some(t) if !kind.admits(t) => bail!(
                        "{}: column {qualified}.{column} is {t}; {flag} needs {}",
                        self.path.display(),
                        kind.name()
                    ),
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    fn error(&self, e: duckdb::Error) -> anyhow::Error {
        anyhow!(
            "{}: {e} (layout --source {})",
            self.path.display(),
            layout_sql(self.layout).name
        )
    }

    /// The selected calls, sorted by `(alert_ts_ms, call_id)`. An unknown caller group is a
    /// usage error.
    pub fn calls(&self, sel: &Selection) -> anyhow::Result<Vec<Call>> {
        let sql = layout_sql(self.layout);
        let ctx = |e| self.error(e);
        if let Some(groups) = &sel.groups {
            let mut stmt = self.conn.prepare(sql.callers).map_err(ctx)?;
            let callers: BTreeSet<String> = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(ctx)?
                .collect::<Result<_, _>>()
                .map_err(ctx)?;
            check_groups(groups, &callers).map_err(cli_error)?;
        }
        let mut stmt = self.conn.prepare(sql.calls).map_err(ctx)?;
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
        let where_ = |what: &str| format!("{}: {what}", self.path.display());
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
        Ok(calls)
    }

    /// Streams the candles of interval `interval_s` that open at `min_ts` or later, one run of
    /// consecutive rows of a token at a time: `on_run(chain, mint, rows)` for each run of a
    /// token `wanted(chain, mint)` accepts (chain is empty in the quantbot layout, which has no
    /// chain column), cut by a [`RunCutter`] from [`DuckSource::candle_batches`] on this thread.
    /// A token's rows may come in several runs (rows in any order), and a run's rows in any
    /// time order: `on_run` deals with that. `on_run` returning `Break` stops the stream.
    #[allow(clippy::too_many_arguments)]
    pub fn candle_runs(
        &self,
        interval_s: i64,
        min_ts: i64,
        order: RowOrder,
        volume: bool,
        part: Option<&BTreeSet<String>>,
        mut wanted: impl FnMut(&str, &str) -> bool,
        mut on_run: impl FnMut(&str, &str, &mut Vec<Candle>) -> anyhow::Result<ControlFlow<()>>,
    ) -> anyhow::Result<ControlFlow<()>> {
        let mut cutter = self.cutter(volume);
        let flow = self.candle_batches(interval_s, min_ts, order, volume, part, |batch| {
            cutter.feed(&batch, &mut wanted, &mut on_run)
        })?;
        if flow.is_break() {
            return Ok(flow);
        }
        cutter.finish(&mut on_run)
    }

    /// A [`RunCutter`] for this source's candle chunks.
    pub fn cutter(&self, volume: bool) -> RunCutter {
        RunCutter {
            by_mint: self.layout == SourceLayout::Quantbot,
            volume,
            path: self.path.display().to_string(),
            keys: RunKeys::default(),
            rows: Vec::new(),
        }
    }

    /// Streams the candle query's Arrow chunks (see [`DuckSource::candle_runs`]) to `on_batch`,
    /// as DuckDB gives them; `Break` stops the stream. With `part` (some callers), DuckDB leaves
    /// out the rows of mints no call of theirs names ([`LayoutSql::part`]); without `volume`
    /// the volume column is not scanned (NULL in its place).
    pub fn candle_batches(
        &self,
        interval_s: i64,
        min_ts: i64,
        order: RowOrder,
        volume: bool,
        part: Option<&BTreeSet<String>>,
        mut on_batch: impl FnMut(RecordBatch) -> anyhow::Result<ControlFlow<()>>,
    ) -> anyhow::Result<ControlFlow<()>> {
        let sql_of = layout_sql(self.layout);
        let ctx = |e| self.error(e);
        let names = part
            .filter(|p| p.iter().all(|c| !c.contains(PART_SEPARATOR)))
            .map(|p| {
                p.iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(&PART_SEPARATOR.to_string())
            });
        let candles = volume_sql(sql_of.candles, volume);
        let base = match &names {
            Some(_) => format!("{candles}{}", sql_of.part),
            None => candles,
        };
        let sql = match order {
            RowOrder::Table => base,
            RowOrder::Sorted => {
                // A sort needs room to work in; what does not fit is spilled to disk.
                self.conn.execute_batch(DUCKDB_SORT_SETTINGS).map_err(ctx)?;
                format!("{base} ORDER BY 1, 2, 3")
            }
        };
        let mut stmt = self.conn.prepare(&sql).map_err(ctx)?;
        let stream = match &names {
            Some(names) => stmt.stream_arrow(params![interval_s, min_ts, names]),
            None => stmt.stream_arrow(params![interval_s, min_ts]),
        }
        .map_err(ctx)?;
        for batch in stream {
            if on_batch(batch.map_err(ctx)?)?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }
}

/// Cuts the candle query's chunks into runs of consecutive rows of one token. Rows are decoded
/// straight from the Arrow chunks; the token's key is copied only when it changes, and only
/// one run's rows are held at a time (`rows` is cleared after each `on_run`, which may take
/// it). Rows without a mint, chain or time are skipped; NULL prices read NaN, which validation
/// rejects (SPEC §12). Without `volume` the volume column is not read (volumes read 0).
pub struct RunCutter {
    by_mint: bool,
    volume: bool,
    /// The DuckDB file, for messages.
    path: String,
    keys: RunKeys,
    rows: Vec<Candle>,
}

impl RunCutter {
    /// The rows of one chunk: `on_run` for each run that ends in it.
    pub fn feed(
        &mut self,
        batch: &RecordBatch,
        wanted: &mut impl FnMut(&str, &str) -> bool,
        on_run: &mut impl FnMut(&str, &str, &mut Vec<Candle>) -> anyhow::Result<ControlFlow<()>>,
    ) -> anyhow::Result<ControlFlow<()>> {
        let cols = CandleColumns::of(batch, self.by_mint, self.volume)
            .with_context(|| format!("{}: reading candles", self.path))?;
        for i in 0..batch.num_rows() {
            let Some((ch, mi)) = cols.key(i) else {
                continue;
            };
            if self.keys.is_new(ch, mi) {
                if self.flush(on_run)?.is_break() {
                    return Ok(ControlFlow::Break(()));
                }
                self.keys.start(ch, mi, wanted(ch, mi));
            }
            if self.keys.keeps() {
                self.rows.push(cols.candle(i));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// The last run, after the last chunk.
    pub fn finish(
        &mut self,
        on_run: &mut impl FnMut(&str, &str, &mut Vec<Candle>) -> anyhow::Result<ControlFlow<()>>,
    ) -> anyhow::Result<ControlFlow<()>> {
        self.flush(on_run)
    }

    fn flush(
        &mut self,
        on_run: &mut impl FnMut(&str, &str, &mut Vec<Candle>) -> anyhow::Result<ControlFlow<()>>,
    ) -> anyhow::Result<ControlFlow<()>> {
        let flow = match self.keys.kept() {
            Some((ch, mi)) => on_run(ch, mi, &mut self.rows)?,
            None => ControlFlow::Continue(()),
        };
        self.rows.clear();
        Ok(flow)
    }
}

/// The columns of one chunk of the candle query, typed once per chunk.
struct CandleColumns<'b> {
    chain: Option<&'b StringArray>,
    mint: &'b StringArray,
    ts: &'b Int64Array,
    prices: [Floats<'b>; 4],
    volume: Option<Floats<'b>>,
    /// Whether no key column (chain, mint, ts) has a NULL: then no row needs checking.
    keys_whole: bool,
}

impl<'b> CandleColumns<'b> {
    fn of(b: &'b RecordBatch, by_mint: bool, volume: bool) -> anyhow::Result<CandleColumns<'b>> {
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
                .ok_or_else(|| {
                    anyhow!("column {i} is {}, expected BIGINT", b.column(i).data_type())
                })
        };
        let f64c = |i: usize| {
            b.column(i)
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(|| {
                    anyhow!("column {i} is {}, expected DOUBLE", b.column(i).data_type())
                })
        };
        // The quantbot layout has no chain column.
        let chain = if by_mint { None } else { Some(s(0)?) };
        let (mint, ts) = (s(1)?, i64c(2)?);
        Ok(CandleColumns {
            chain,
            mint,
            ts,
            prices: [
                Floats::of(f64c(3)?),
                Floats::of(f64c(4)?),
                Floats::of(f64c(5)?),
                Floats::of(f64c(6)?),
            ],
            volume: if volume {
                Some(Floats::of(f64c(7)?))
            } else {
                None
            },
            keys_whole: mint.null_count() == 0
                && ts.null_count() == 0
                && chain.is_none_or(|c| c.null_count() == 0),
        })
    }

    /// The row's token (chain empty in the quantbot layout), or `None` for a row to skip.
    #[inline]
    fn key(&self, i: usize) -> Option<(&'b str, &'b str)> {
        if self.keys_whole {
            return Some((self.chain.map_or("", |c| c.value(i)), self.mint.value(i)));
        }
        if self.mint.is_null(i) || self.ts.is_null(i) {
            return None;
        }
        let chain = match self.chain {
            Some(c) if c.is_null(i) => return None,
            Some(c) => c.value(i),
            None => "",
        };
        Some((chain, self.mint.value(i)))
    }

    #[inline]
    fn candle(&self, i: usize) -> Candle {
        // NULL prices are invalid (SPEC §12): they read as NaN, which validation rejects.
        let [o, h, l, c] = &self.prices;
        Candle {
            ts: self.ts.value(i),
            open: o.get(i),
            high: h.get(i),
            low: l.get(i),
            close: c.get(i),
            volume: self.volume.map_or(0.0, |v| v.get(i)),
        }
    }
}

/// Per mint, the chains the selected calls name with it (byte order). In the lab layout a row
/// serves the token of its own chain; in the quantbot layout, which has no chain column, a
/// mint's rows serve its calls on every chain.
pub type ChainsOfMint<'a> = BTreeMap<&'a str, Vec<&'a str>>;

/// Every selected call's token.
pub fn wanted_tokens(calls: &[Call]) -> BTreeSet<Token> {
    calls
        .iter()
        .map(|c| (c.chain.clone(), c.mint.clone()))
        .collect()
}

/// The [`ChainsOfMint`] of a set of tokens.
pub fn chains_of_mint(wanted: &BTreeSet<Token>) -> ChainsOfMint<'_> {
    let mut m: ChainsOfMint<'_> = BTreeMap::new();
    for (ch, mi) in wanted {
        m.entry(mi.as_str()).or_default().push(ch.as_str());
    }
    m
}

fn load_duckdb(
    path: &Path,
    layout: SourceLayout,
    sel: &Selection,
    opts: LoadOptions,
    volumes: Volumes,
    t: &mut Timings,
) -> anyhow::Result<Dataset> {
    let load_start = Instant::now();
    // Where DuckDB spills the sort of the slow path (see `build_dataset`); it removes its files.
    let spill = std::env::temp_dir().join(format!("quantbot-load-{}", std::process::id()));
    let src = DuckSource::open(path, layout, Some(&spill))?;
    let mut calls = src.calls(sel)?;
    let mut order = RowOrder::Table;
    let builder = loop {
        match build_dataset(
            &src,
            calls,
            opts,
            volumes,
            order,
            sel.only_callers.as_deref(),
        )? {
            Built::Done(b) => break b,
            Built::Disordered(back) => {
                calls = back;
                order = RowOrder::Sorted;
            }
        }
    };
    t.add(Stage::Load, load_start.elapsed());
    Ok(builder.finish(format!("duckdb:{}", path.display()), None, Vec::new()))
}

/// What one reading of the candles gave.
enum Built {
    Done(DatasetBuilder),
    /// Tokens came back so often that merging them would cost more than reading everything
    /// again sorted: the calls, to start over.
    Disordered(Vec<Call>),
}

/// Reads the candles of the selected calls' tokens from the earliest alert on (no upper bound,
/// so a late first candle is seen as late_start, not as no_candles) into a [`DatasetBuilder`]
/// on its own thread ([`on_builder_thread`]). A token that comes back is merged by the builder
/// (decoded, extended, compacted again); when that work grows past the rows read (rows in no
/// useful order), the stream stops and the caller asks for sorted rows.
fn build_dataset(
    src: &DuckSource<'_>,
    calls: Vec<Call>,
    opts: LoadOptions,
    volumes: Volumes,
    order: RowOrder,
    part: Option<&BTreeSet<String>>,
) -> anyhow::Result<Built> {
    let Some(first) = calls.first() else {
        return Ok(Built::Done(DatasetBuilder::new(opts, volumes, calls)));
    };
    let min_ts = first.alert_ts_ms.div_euclid(1000);
    let wanted = wanted_tokens(&calls);
    let by_mint = src.layout == SourceLayout::Quantbot;
    // Per mint, the chains of its calls (in the quantbot layout a mint's candles serve its
    // calls on every chain), owned: the builder takes the calls to its thread.
    let mints: BTreeMap<String, Vec<String>> = chains_of_mint(&wanted)
        .into_iter()
        .map(|(mi, chains)| {
            (
                mi.to_string(),
                chains.into_iter().map(str::to_string).collect(),
            )
        })
        .collect();
    let builder = DatasetBuilder::new(opts, volumes, calls);
    // Merging costs a token's rows so far each time it comes back; past the rows read (and a
    // floor for small data), rows sorted by DuckDB are cheaper.
    let give_up = |b: &DatasetBuilder| b.merged_rows() > b.rows_added().max(MERGE_FLOOR_ROWS);
    // DuckDB's chunks are cut into runs on the builder's thread: this one only drives DuckDB.
    let cutter = src.cutter(volumes == Volumes::Keep);
    let wanted = |ch: &str, mi: &str| {
        mints
            .get(mi)
            .is_some_and(|chains| by_mint || chains.iter().any(|c| c == ch))
    };
    let on_run = |b: &mut DatasetBuilder, ch: &str, mi: &str, rows: &mut Vec<Candle>| {
        if by_mint {
            for c in &mints[mi] {
                b.add_run(c, mi, &mut rows.clone());
                if give_up(b) {
                    return false;
                }
            }
        } else {
            b.add_run(ch, mi, rows);
        }
        !give_up(b)
    };
    let (built, read) = batches_on_builder_thread(builder, cutter, wanted, on_run, |send| {
        src.candle_batches(
            opts.interval_s,
            min_ts,
            order,
            volumes == Volumes::Keep,
            part,
            // The builder stops taking chunks once it gave up (or failed).
            |batch| {
                Ok(if send(batch) {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                })
            },
        )
    });
    let (builder, gave_up) = built?;
    // A stream stopped early is told by `gave_up`.
    let _stopped = read?;
    if gave_up {
        if order == RowOrder::Sorted {
            anyhow::bail!(
                "{}: the candles came out of order even sorted",
                src.path.display()
            );
        }
        return Ok(Built::Disordered(builder.into_calls()));
    }
    Ok(Built::Done(builder))
}

/// Runs `feed` on this thread and `builder` on a second one, fed the Arrow chunks that `feed`
/// hands to `send` through a short queue, in order: the second thread cuts them into runs
/// (`cutter`, keeping the tokens `wanted` accepts) and gives each run to `on_run`, which adds
/// it to the builder and says whether to go on (false: the builder gave up). Once the builder
/// gave up or a chunk could not be read, `send` returns false. Returns the builder and whether
/// it gave up (or the chunk's error), and what `feed` returned.
fn batches_on_builder_thread<T>(
    builder: DatasetBuilder,
    mut cutter: RunCutter,
    mut wanted: impl FnMut(&str, &str) -> bool + Send,
    mut on_run: impl FnMut(&mut DatasetBuilder, &str, &str, &mut Vec<Candle>) -> bool + Send,
    feed: impl FnOnce(&mut dyn FnMut(RecordBatch) -> bool) -> T,
) -> (anyhow::Result<(DatasetBuilder, bool)>, T) {
    let (send, receive) = mpsc::sync_channel::<RecordBatch>(8);
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            let mut builder = builder;
            let mut take = |ch: &str, mi: &str, rows: &mut Vec<Candle>| {
                Ok(if on_run(&mut builder, ch, mi, rows) {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                })
            };
            let mut flow = ControlFlow::Continue(());
            for batch in receive {
                flow = cutter.feed(&batch, &mut wanted, &mut take)?;
                if flow.is_break() {
                    break;
                }
            }
            if flow.is_continue() {
                flow = cutter.finish(&mut take)?;
            }
            Ok((builder, flow.is_break()))
        });
        let fed = feed(&mut |batch| send.send(batch).is_ok());
        drop(send);
        let built = worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (built, fed)
    })
}

/// Runs `feed` on this thread and `builder` on a second one, fed the runs of rows that `feed`
/// hands to `add(chain, mint, rows)` through a short queue, in order (so the result is what
/// one thread would give): the thread that reads (DuckDB's chunks, Parquet pages) and cuts the
/// rows into runs goes on while the previous runs are compacted and classified. `add` takes
/// the rows and leaves in `rows` an empty buffer the builder is done with (buffers go back and
/// forth, so neither thread allocates a run's rows again or frees the other's). After each
/// run `give_up` is asked; once it says yes the builder takes no more runs and `add` returns
/// false. Returns the builder, whether it gave up, and what `feed` returned.
fn on_builder_thread<T>(
    builder: DatasetBuilder,
    give_up: impl Fn(&DatasetBuilder) -> bool + Send,
    feed: impl FnOnce(&mut dyn FnMut(String, String, &mut Vec<Candle>) -> bool) -> T,
) -> (DatasetBuilder, bool, T) {
    let (send, receive) = mpsc::sync_channel::<(String, String, Vec<Candle>)>(8);
    let (give_back, spare) = mpsc::channel::<Vec<Candle>>();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            let mut builder = builder;
            for (chain, mint, mut rows) in receive {
                builder.add_run(&chain, &mint, &mut rows);
                if give_up(&builder) {
                    return (builder, true);
                }
                // A buffer grown by a long run is let go (each one in flight would hold that
                // much); the reader may be gone already, and then the buffer is dropped too.
                if rows.capacity() <= RECYCLED_ROWS {
                    let _ = give_back.send(rows);
                }
            }
            (builder, false)
        });
        let fed = feed(&mut |chain, mint, rows| {
            let next = spare.try_recv().unwrap_or_default();
            send.send((chain, mint, std::mem::replace(rows, next)))
                .is_ok()
        });
        drop(send);
        let (builder, gave_up) = worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (builder, gave_up, fed)
    })
}

/// The largest buffer of rows handed back to the reader (48 bytes a row: 3 MB).
const RECYCLED_ROWS: usize = 1 << 16;

/// Rows a builder may decode again for tokens that come back before the rows are asked for
/// sorted (see [`build_dataset`]).
const MERGE_FLOOR_ROWS: usize = 1 << 20;

/// How many of the selected calls each caller has whose candles a load would read (a published
/// dataset's excluded rows need none), without reading a candle: what a run in parts is
/// planned on (`parts.rs`).
pub fn calls_per_caller(source: &Source, sel: &Selection) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut per: BTreeMap<String, u64> = BTreeMap::new();
    match source {
        Source::DuckDb { path, layout } => {
            for c in DuckSource::open(path, *layout, None)?.calls(sel)? {
                *per.entry(c.caller).or_default() += 1;
            }
        }
        Source::Data { dir } => {
            let open = |name: &str| -> anyhow::Result<(String, File)> {
                let path = dir.join(name);
                let file =
                    File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
                Ok((path.display().to_string(), file))
            };
            let selected =
                read_published_calls(open("calls.parquet")?, Some(open("excluded.parquet")?), sel)
                    .map_err(cli_error)?;
            let mut excluded = vec![false; selected.calls.len()];
            for (k, _) in &selected.known {
                excluded[*k] = true;
            }
            for (c, _) in selected
                .calls
                .into_iter()
                .zip(excluded)
                .filter(|(_, ex)| !ex)
            {
                *per.entry(c.caller).or_default() += 1;
            }
        }
    }
    Ok(per)
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

/// [`load_published`] with the compaction on a second thread ([`on_builder_thread`]): the same
/// steps, the same result (the lab runs them on one thread).
fn load_dataset(dir: &Path, sel: &Selection, volumes: Volumes) -> anyhow::Result<Dataset> {
    let m = read_manifest(dir)?;
    let open = |name: &str| -> anyhow::Result<(String, File)> {
        let path = dir.join(name);
        let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        Ok((path.display().to_string(), file))
    };
    let (calls, excluded) = (open("calls.parquet")?, open("excluded.parquet")?);
    // Whole, or in parts: each part opened and checked against the manifest when the reader
    // comes to it (a missing part is found before any is read).
    let manifest_name = dir.join("manifest.json").display().to_string();
    let candle_files = parts::candle_files(&manifest_name, &m.json).map_err(cli_error)?;
    let names = candle_files.names();
    for (k, name) in names.iter().enumerate() {
        let path = dir.join(name);
        if !path.exists() && matches!(candle_files, parts::CandleFiles::Parts(_)) {
            let shown = path.display().to_string();
            return Err(cli_error(parts::missing_part(
                &shown,
                &manifest_name,
                k,
                names.len(),
            )));
        }
    }
    let candles = names.iter().enumerate().map(|(k, name)| {
        let path = dir.join(name);
        let shown = path.display().to_string();
        let file = File::open(&path)
            .map_err(|e| quantbot_format::Error::Data(format!("cannot open {shown}: {e}")))?;
        if let parts::CandleFiles::Parts(entries) = &candle_files {
            let mut hash = Sha256::new();
            let size = std::io::copy(&mut &file, &mut hash)
                .map_err(|e| quantbot_format::Error::Data(format!("{shown}: cannot read: {e}")))?;
            parts::check_part_digest(&entries[k], &shown, size, &hex(&hash.finalize()))?;
        }
        Ok((shown, file))
    });
    let selected = read_published_calls(calls, Some(excluded), sel).map_err(cli_error)?;
    let wanted = selected.wanted_tokens();
    let builder = DatasetBuilder::new(m.load_options(), volumes, selected.calls);
    let (builder, _, read) = on_builder_thread(
        builder,
        |_| false,
        |add| {
            read_candle_runs_in(
                candles,
                |ch, mi| wanted.get(ch).is_some_and(|m| m.contains(mi)),
                |ch, mi, run| {
                    add(ch.to_string(), mi.to_string(), run);
                },
            )
        },
    );
    read.map_err(cli_error)?;
    Ok(builder.finish(
        format!("data:{}", dir.display()),
        Some(m.sha256.clone()),
        selected.known,
    ))
}
