//! Loading calls and candles (SPEC §2.1) from a DuckDB file in either layout or from a
//! published dataset folder, then selecting calls and classifying their coverage (§2.2, §12)
//! with the engine's rules. Values from the command line go into SQL as bound parameters only.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array};
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
    /// `{key}` stands for the token's columns ([`LayoutSql::key`] or [`LayoutSql::key_hash`]),
    /// `{volume}` for the volume column, left out when no rule reads it ([`candle_sql`]).
    candles: &'static str,
    /// The token as text: chain (NULL in the quantbot layout, which has none) and mint.
    key: &'static str,
    /// The token as DuckDB's 64-bit hash of the same text (of the mint alone in the quantbot
    /// layout, whose candles serve a mint on every chain).
    key_hash: &'static str,
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
            candles: "SELECT {key}, CAST(ts AS BIGINT), \
                      CAST(open AS DOUBLE), CAST(high AS DOUBLE), CAST(low AS DOUBLE), \
                      CAST(close AS DOUBLE){volume} \
                      FROM candles WHERE interval_s = ? AND ts >= ?",
            key: "CAST(chain AS VARCHAR), CAST(mint AS VARCHAR)",
            key_hash: "hash(CAST(chain AS VARCHAR), CAST(mint AS VARCHAR))",
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
            candles: "SELECT {key}, CAST(\"timestamp\" AS BIGINT), \
                      CAST(open AS DOUBLE), CAST(high AS DOUBLE), CAST(low AS DOUBLE), \
                      CAST(close AS DOUBLE){volume} \
                      FROM ohlcv_candles_d WHERE interval_seconds = ? AND \"timestamp\" >= ?",
            key: "CAST(NULL AS VARCHAR), CAST(mint AS VARCHAR)",
            key_hash: "hash(CAST(mint AS VARCHAR))",
            part: " AND CAST(mint AS VARCHAR) IN (SELECT CAST(mint AS VARCHAR) \
                   FROM canon.alerts_std WHERE list_contains(string_split(?, chr(31)), \
                   CAST(COALESCE(caller_name_norm, caller_raw_name) AS VARCHAR)))",
            name: "quantbot (view canon.alerts_std and table ohlcv_candles_d)",
        },
    }
}

/// A layout's candle query, its tokens named by `keys`, with the volume column only when it
/// is read (DuckDB then does not scan it: about 8 % of a load's DuckDB time).
fn candle_sql(sql: &LayoutSql, keys: KeyColumns, volume: bool) -> String {
    let key = match keys {
        KeyColumns::Text => sql.key,
        KeyColumns::Hash => sql.key_hash,
    };
    let column = if volume {
        ", CAST(volume AS DOUBLE)"
    } else {
        ""
    };
    sql.candles
        .replace("{key}", key)
        .replace("{volume}", column)
}

/// How the candle query names each row's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyColumns {
    /// Chain and mint as text: the exact key, what `export` reads.
    Text,
    /// DuckDB's 64-bit hash of the key (one integer column): DuckDB hashes its text in place,
    /// while text columns are copied twice per row on their way out (into the result, then into
    /// Arrow), which was a third of the backtest's load. The selected calls' tokens are hashed
    /// by the same expression ([`DuckSource::token_hashes`]) to tell the rows' tokens.
    Hash,
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

    /// DuckDB's hashes of the tokens' keys, computed by the very expression of the candle query
    /// ([`KeyColumns::Hash`]) on the same text, so that a row's hash says whose it is. `None`
    /// when the hashes cannot tell the tokens apart (two tokens, or two mints in the quantbot
    /// layout, with one hash) or a key holds the separator the keys are passed with: the text
    /// keys are read then.
    pub fn token_hashes(&self, wanted: &BTreeSet<Token>) -> anyhow::Result<Option<TokenHashes>> {
        let by_mint = self.layout == SourceLayout::Quantbot;
        let keys: BTreeSet<(&str, &str)> = wanted
            .iter()
            .map(|(c, m)| (if by_mint { "" } else { c.as_str() }, m.as_str()))
            .collect();
        if keys.is_empty()
            || keys
                .iter()
                .any(|(c, m)| c.contains(PART_SEPARATOR) || m.contains(PART_SEPARATOR))
        {
            return Ok(None);
        }
        let sep = PART_SEPARATOR.to_string();
        let chains = keys.iter().map(|k| k.0).collect::<Vec<_>>().join(&sep);
        let mints = keys.iter().map(|k| k.1).collect::<Vec<_>>().join(&sep);
        let sql = format!(
            "SELECT chain, mint, {} FROM (SELECT unnest(string_split(?, chr(31))) AS chain, \
             unnest(string_split(?, chr(31))) AS mint)",
            layout_sql(self.layout).key_hash
        );
        let ctx = |e| self.error(e);
        let mut stmt = self.conn.prepare(&sql).map_err(ctx)?;
        let rows = stmt
            .query_map(params![chains, mints], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u64>(2)?,
                ))
            })
            .map_err(ctx)?;
        let mut hashes: TokenHashes = HashMap::new();
        let mut hashed = 0;
        for row in rows {
            let (chain, mint, hash) = row.map_err(ctx)?;
            if !keys.contains(&(chain.as_str(), mint.as_str())) {
                return Ok(None);
            }
            hashed += 1;
            let tokens: Vec<Token> = if by_mint {
                wanted.iter().filter(|(_, m)| *m == mint).cloned().collect()
            } else {
                vec![(chain, mint)]
            };
            if hashes.insert(hash, tokens).is_some() {
                // Two keys, one hash.
                return Ok(None);
            }
        }
        Ok((hashed == keys.len()).then_some(hashes))
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
        let keys = KeyColumns::Text;
        let flow = self.candle_batches(interval_s, min_ts, order, keys, volume, part, |batch| {
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
    /// as DuckDB gives them: the token's columns as `keys` says, then `ts`, open, high, low,
    /// close and, with `volume`, the volume (else not scanned). `Break` stops the stream. With
    /// `part` (some callers), DuckDB leaves out the rows of mints no call of theirs names
    /// ([`LayoutSql::part`]).
    #[allow(clippy::too_many_arguments)]
    pub fn candle_batches(
        &self,
        interval_s: i64,
        min_ts: i64,
        order: RowOrder,
        keys: KeyColumns,
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
        let candles = candle_sql(&sql_of, keys, volume);
        let base = match &names {
            Some(_) => format!("{candles}{}", sql_of.part),
            None => candles,
        };
        let sql = match order {
            RowOrder::Table => base,
            RowOrder::Sorted => {
                // A sort needs room to work in; what does not fit is spilled to disk.
                self.conn.execute_batch(DUCKDB_SORT_SETTINGS).map_err(ctx)?;
                match keys {
                    KeyColumns::Text => format!("{base} ORDER BY 1, 2, 3"),
                    KeyColumns::Hash => format!("{base} ORDER BY 1, 2"),
                }
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
        on_run: &mut OnRun<'_>,
    ) -> anyhow::Result<ControlFlow<()>> {
        let cols = CandleColumns::of(batch, self.by_mint, self.volume)
            .with_context(|| format!("{}: reading candles", self.path))?;
        for i in 0..batch.num_rows() {
            let Some((ch, mi)) = cols.key(i) else {
                continue;
            };
            if self.keys.is_new(ch, mi) {
                if self.finish(on_run)?.is_break() {
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

    /// Hands over the run read so far (the last one, after the last chunk).
    pub fn finish(&mut self, on_run: &mut OnRun<'_>) -> anyhow::Result<ControlFlow<()>> {
        let flow = match self.keys.kept() {
            Some((ch, mi)) => on_run(ch, mi, &mut self.rows)?,
            None => ControlFlow::Continue(()),
        };
        self.rows.clear();
        Ok(flow)
    }
}

/// The columns of one chunk of the candle query with text keys, typed once per chunk.
struct CandleColumns<'b> {
    chain: Option<&'b StringArray>,
    mint: &'b StringArray,
    rows: RowColumns<'b>,
    /// Whether no key column (chain, mint, ts) has a NULL: then no row needs checking.
    keys_whole: bool,
}

/// A chunk's column `i`, of the Arrow type `T`, or an error naming the SQL type expected.
fn column_as<'b, T: 'static>(
    b: &'b RecordBatch,
    i: usize,
    expected: &str,
) -> anyhow::Result<&'b T> {
    b.column(i).as_any().downcast_ref::<T>().ok_or_else(|| {
        anyhow!(
            "column {i} is {}, expected {expected}",
            b.column(i).data_type()
        )
    })
}

/// A chunk's time and price columns (and volume, when read), from column `at` on.
struct RowColumns<'b> {
    ts: &'b Int64Array,
    prices: [Floats<'b>; 4],
    volume: Option<Floats<'b>>,
}

impl<'b> RowColumns<'b> {
    fn of(b: &'b RecordBatch, at: usize, volume: bool) -> anyhow::Result<RowColumns<'b>> {
        let f64c = |i: usize| column_as::<Float64Array>(b, at + i, "DOUBLE").map(Floats::of);
        Ok(RowColumns {
            ts: column_as::<Int64Array>(b, at, "BIGINT")?,
            prices: [f64c(1)?, f64c(2)?, f64c(3)?, f64c(4)?],
            volume: if volume { Some(f64c(5)?) } else { None },
        })
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

impl<'b> CandleColumns<'b> {
    fn of(b: &'b RecordBatch, by_mint: bool, volume: bool) -> anyhow::Result<CandleColumns<'b>> {
        // The quantbot layout has no chain column.
        let chain = if by_mint {
            None
        } else {
            Some(column_as::<StringArray>(b, 0, "text")?)
        };
        let mint = column_as::<StringArray>(b, 1, "text")?;
        let rows = RowColumns::of(b, 2, volume)?;
        Ok(CandleColumns {
            keys_whole: mint.null_count() == 0
                && rows.ts.null_count() == 0
                && chain.is_none_or(|c| c.null_count() == 0),
            chain,
            mint,
            rows,
        })
    }

    /// The row's token (chain empty in the quantbot layout), or `None` for a row to skip.
    #[inline]
    fn key(&self, i: usize) -> Option<(&'b str, &'b str)> {
        if self.keys_whole {
            return Some((self.chain.map_or("", |c| c.value(i)), self.mint.value(i)));
        }
        if self.mint.is_null(i) || self.rows.ts.is_null(i) {
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
        self.rows.candle(i)
    }
}

/// The selected calls' tokens by DuckDB's hash of their key ([`KeyColumns::Hash`]): each hash
/// with the tokens its rows serve (one token in the lab layout; in the quantbot layout a mint's
/// rows serve its calls on every chain).
pub type TokenHashes = HashMap<u64, Vec<Token>>;

/// Cuts the chunks of a candle query with hashed keys into runs of consecutive rows of one
/// token, as [`RunCutter`] does with text keys: the row's hash is compared with the run's, and
/// a run is kept when its hash is one of the selected tokens'. Rows without a time are skipped.
pub struct HashCutter {
    tokens: TokenHashes,
    volume: bool,
    path: String,
    /// The run's hash, and whether it is kept; `None` before the first row.
    run: Option<(u64, bool)>,
    rows: Vec<Candle>,
}

impl HashCutter {
    pub fn new(tokens: TokenHashes, volume: bool, path: &Path) -> HashCutter {
        HashCutter {
            tokens,
            volume,
            path: path.display().to_string(),
            run: None,
            rows: Vec::new(),
        }
    }

    /// The rows of one chunk: `on_run` for each run that ends in it.
    pub fn feed(
        &mut self,
        batch: &RecordBatch,
        on_run: &mut OnRun<'_>,
    ) -> anyhow::Result<ControlFlow<()>> {
        let read = || -> anyhow::Result<_> {
            Ok((
                column_as::<UInt64Array>(batch, 0, "UBIGINT")?,
                RowColumns::of(batch, 1, self.volume)?,
            ))
        };
        let (keys, rows) = read().with_context(|| format!("{}: reading candles", self.path))?;
        let whole = rows.ts.null_count() == 0;
        let keys = keys.values();
        for (i, &key) in keys.iter().enumerate() {
            if !whole && rows.ts.is_null(i) {
                continue;
            }
            if self.run.is_none_or(|(h, _)| h != key) {
                if self.finish(on_run)?.is_break() {
                    return Ok(ControlFlow::Break(()));
                }
                self.run = Some((key, self.tokens.contains_key(&key)));
            }
            if self.run.is_some_and(|(_, keep)| keep) {
                self.rows.push(rows.candle(i));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Hands over the run read so far (the last one, after the last chunk).
    pub fn finish(&mut self, on_run: &mut OnRun<'_>) -> anyhow::Result<ControlFlow<()>> {
        let mut flow = ControlFlow::Continue(());
        if let Some((key, true)) = self.run {
            let tokens = &self.tokens[&key];
            for (k, (chain, mint)) in tokens.iter().enumerate() {
                flow = if k + 1 == tokens.len() {
                    on_run(chain, mint, &mut self.rows)?
                } else {
                    on_run(chain, mint, &mut self.rows.clone())?
                };
                if flow.is_break() {
                    break;
                }
            }
        }
        self.rows.clear();
        Ok(flow)
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
    // Rows are told apart by DuckDB's hash of their token where the hashes tell the selected
    // tokens apart (almost always), else by the text of their keys.
    let hashes = src.token_hashes(&wanted)?;
    let keys = if hashes.is_some() {
        KeyColumns::Hash
    } else {
        KeyColumns::Text
    };
    let volume = volumes == Volumes::Keep;
    let mut cut = Cutting::new(hashes, src, volume);
    let mut wanted = |ch: &str, mi: &str| {
        mints
            .get(mi)
            .is_some_and(|chains| by_mint || chains.iter().any(|c| c == ch))
    };
    // DuckDB's chunks are cut into runs on the builder's thread: this one only drives DuckDB.
    let cut_batch = move |batch: Option<&RecordBatch>, on_run: &mut OnRun<'_>| match &mut cut {
        Cutting::Text(c) => match batch {
            Some(b) => c.feed(b, &mut wanted, on_run),
            None => c.finish(on_run),
        },
        Cutting::Hash(c) => match batch {
            Some(b) => c.feed(b, on_run),
            None => c.finish(on_run),
        },
    };
    let on_run = |b: &mut DatasetBuilder, ch: &str, mi: &str, rows: &mut Vec<Candle>| {
        if by_mint && keys == KeyColumns::Text {
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
    let (built, read) = batches_on_builder_thread(builder, cut_batch, on_run, |send| {
        src.candle_batches(
            opts.interval_s,
            min_ts,
            order,
            keys,
            volume,
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

/// What a run of rows is handed to: `(chain, mint, rows)`, `Break` to stop.
type OnRun<'a> = dyn FnMut(&str, &str, &mut Vec<Candle>) -> anyhow::Result<ControlFlow<()>> + 'a;

/// How the builder's thread cuts DuckDB's chunks into runs: by text keys or hashed keys.
enum Cutting {
    Text(RunCutter),
    Hash(HashCutter),
}

impl Cutting {
    fn new(hashes: Option<TokenHashes>, src: &DuckSource<'_>, volume: bool) -> Cutting {
        match hashes {
            Some(h) => Cutting::Hash(HashCutter::new(h, volume, src.path)),
            None => Cutting::Text(src.cutter(volume)),
        }
    }
}

/// Runs `feed` on this thread and `builder` on a second one, fed the Arrow chunks that `feed`
/// hands to `send` through a short queue, in order: the second thread cuts them into runs
/// (`cut(Some(chunk), …)`, then `cut(None, …)` for the last run) and gives each run to
/// `on_run`, which adds it to the builder and says whether to go on (false: the builder gave
/// up). Once the builder gave up or a chunk could not be read, `send` returns false. Returns
/// the builder and whether it gave up (or the chunk's error), and what `feed` returned.
fn batches_on_builder_thread<T>(
    builder: DatasetBuilder,
    mut cut: impl FnMut(Option<&RecordBatch>, &mut OnRun<'_>) -> anyhow::Result<ControlFlow<()>> + Send,
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
                flow = cut(Some(&batch), &mut take)?;
                if flow.is_break() {
                    break;
                }
            }
            if flow.is_continue() {
                flow = cut(None, &mut take)?;
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

/// The candle runs of `files` ([`read_candle_runs_in`]) of the tokens `wanted` accepts, added
/// to `builder` on its own thread ([`on_builder_thread`]).
fn read_runs<R: parquet::file::reader::ChunkReader + 'static>(
    builder: DatasetBuilder,
    wanted: &dyn Fn(&str, &str) -> bool,
    files: impl Iterator<Item = quantbot_format::Result<(String, R)>>,
) -> (DatasetBuilder, quantbot_format::Result<()>) {
    let (builder, _, read) = on_builder_thread(
        builder,
        |_| false,
        |add| {
            read_candle_runs_in(files, wanted, |ch, mi, run| {
                add(ch.to_string(), mi.to_string(), run);
            })
        },
    );
    (builder, read)
}

/// A dataset's candle parts, read one ahead of the reader on a thread of their own: each part
/// is read whole and its size and SHA-256 checked against the manifest's entry (so a part is
/// read from disk once, and checked while the part before it is decoded); at most one part
/// waits, so two parts are held at a time. The iterator yields the parts in order, or the
/// first part's error; the thread ends when the iterator is dropped.
fn parts_read_ahead(
    paths: Vec<std::path::PathBuf>,
    entries: Vec<parts::FileEntry>,
) -> (
    impl Iterator<Item = quantbot_format::Result<(String, bytes::Bytes)>>,
    std::thread::JoinHandle<()>,
) {
    let (send, receive) = mpsc::sync_channel(1);
    let reader = std::thread::spawn(move || {
        for (path, entry) in paths.iter().zip(&entries) {
            let shown = path.display().to_string();
            let part = std::fs::read(path)
                .map_err(|e| quantbot_format::Error::Data(format!("{shown}: cannot read: {e}")))
                .and_then(|bytes| {
                    let sha256 = hex(&Sha256::digest(&bytes));
                    parts::check_part_digest(entry, &shown, bytes.len() as u64, &sha256)?;
                    Ok((shown, bytes::Bytes::from(bytes)))
                });
            let failed = part.is_err();
            if send.send(part).is_err() || failed {
                return;
            }
        }
    });
    (receive.into_iter(), reader)
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
    let selected = read_published_calls(calls, Some(excluded), sel).map_err(cli_error)?;
    let wanted = selected.wanted_tokens();
    let builder = DatasetBuilder::new(m.load_options(), volumes, selected.calls);
    let want = |ch: &str, mi: &str| wanted.get(ch).is_some_and(|m| m.contains(mi));
    let (builder, read) = match candle_files {
        parts::CandleFiles::Whole => {
            let path = dir.join(&names[0]);
            let shown = path.display().to_string();
            let file = File::open(&path)
                .map_err(|e| quantbot_format::Error::Data(format!("cannot open {shown}: {e}")));
            read_runs(builder, &want, std::iter::once(file.map(|f| (shown, f))))
        }
        parts::CandleFiles::Parts(entries) => {
            let paths = names.iter().map(|n| dir.join(n)).collect();
            let (parts, reader) = parts_read_ahead(paths, entries);
            let got = read_runs(builder, &want, parts);
            // The read-ahead stops at the first part not taken (its channel closed).
            let _ = reader.join();
            got
        }
    };
    read.map_err(cli_error)?;
    Ok(builder.finish(
        format!("data:{}", dir.display()),
        Some(m.sha256.clone()),
        selected.known,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lab-layout DuckDB in a fresh folder: calls on `tokens`, and for each token `n` candles
    /// stored token after token, with one token's rows split in two runs.
    fn lab_db(name: &str, tokens: &[(&str, &str)], n: i64) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("quantbot-source-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lab.duckdb");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE calls (call_id VARCHAR, caller VARCHAR, chain VARCHAR, mint VARCHAR,
                                 alert_ts_ms BIGINT, price_at_alert DOUBLE);
             CREATE TABLE candles (chain VARCHAR, mint VARCHAR, interval_s BIGINT, ts BIGINT,
                                   open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE,
                                   volume DOUBLE);",
        )
        .unwrap();
        let mut rows: Vec<(usize, i64)> = Vec::new();
        for k in 0..tokens.len() {
            rows.extend((0..n).map(|i| (k, i)));
        }
        // The first token's second half comes back after the others.
        let half = (n / 2) as usize;
        let back: Vec<(usize, i64)> = rows.drain(half..n as usize).collect();
        rows.extend(back);
        for (k, (chain, mint)) in tokens.iter().enumerate() {
            conn.execute(
                "INSERT INTO calls VALUES (?, 'c', ?, ?, 60000, 1.0)",
                params![format!("call{k}"), chain, mint],
            )
            .unwrap();
        }
        for (k, i) in rows {
            let (chain, mint) = tokens[k];
            let px = 1.0 + (k as f64) + i as f64 / 100.0;
            conn.execute(
                "INSERT INTO candles VALUES (?, ?, 60, ?, ?, ?, ?, ?, ?)",
                params![chain, mint, 60 * i, px, px, px, px, i as f64],
            )
            .unwrap();
        }
        path
    }

    /// Every run of the candle query, cut with the given keys: (chain, mint, times, volumes).
    fn runs(src: &DuckSource<'_>, keys: KeyColumns, wanted: &BTreeSet<Token>) -> Vec<Run> {
        let mut out = Vec::new();
        let mut on_run = |ch: &str, mi: &str, rows: &mut Vec<Candle>| {
            let ts = rows.iter().map(|c| c.ts).collect();
            let volumes = rows.iter().map(|c| c.volume).collect();
            out.push((ch.to_string(), mi.to_string(), ts, volumes));
            Ok(ControlFlow::Continue(()))
        };
        match keys {
            KeyColumns::Text => {
                let mut cutter = src.cutter(true);
                let mut want = |c: &str, m: &str| wanted.contains(&(c.into(), m.into()));
                let feed = |b: RecordBatch| cutter.feed(&b, &mut want, &mut on_run);
                let read = src.candle_batches(60, 0, RowOrder::Table, keys, true, None, feed);
                assert!(read.unwrap().is_continue());
                assert!(cutter.finish(&mut on_run).unwrap().is_continue());
            }
            KeyColumns::Hash => {
                let hashes = src.token_hashes(wanted).unwrap().expect("hashes");
                let mut cutter = HashCutter::new(hashes, true, src.path);
                let feed = |b: RecordBatch| cutter.feed(&b, &mut on_run);
                let read = src.candle_batches(60, 0, RowOrder::Table, keys, true, None, feed);
                assert!(read.unwrap().is_continue());
                assert!(cutter.finish(&mut on_run).unwrap().is_continue());
            }
        }
        out
    }

    type Run = (String, String, Vec<i64>, Vec<f64>);

    fn tokens(list: &[(&str, &str)]) -> BTreeSet<Token> {
        list.iter()
            .map(|(c, m)| (c.to_string(), m.to_string()))
            .collect()
    }

    /// Hashed keys cut DuckDB's rows into the very runs the text keys give (a token that comes
    /// back included, other tokens left out), volumes read when asked for.
    #[test]
    fn hashed_keys_give_the_runs_of_the_text_keys() {
        let all = [
            ("solana", "m0"),
            ("solana", "m1"),
            ("base", "m0"),
            ("solana", "x"),
        ];
        let path = lab_db("hash", &all, 300);
        let src = DuckSource::open(&path, SourceLayout::Lab, None).unwrap();
        let wanted = tokens(&all[..3]);
        let text = runs(&src, KeyColumns::Text, &wanted);
        let hashed = runs(&src, KeyColumns::Hash, &wanted);
        assert_eq!(text, hashed);
        assert_eq!(text.len(), 4, "m0 comes back once: {text:?}");
        assert_eq!(text[0].0, "solana");
        assert_eq!(text[0].1, "m0");
        assert_eq!(text[0].2.len(), 150);
        assert_eq!(text[0].3[1], 1.0, "volumes read");
        assert!(text.iter().all(|r| r.1 != "x"), "x is not wanted");
    }

    /// Keys the hashes cannot carry are refused, so the load reads text keys: a key holding
    /// the separator the keys are passed with. In the quantbot layout a mint's hash serves
    /// the mint on every chain.
    #[test]
    fn hashes_name_the_tokens_they_serve_or_are_refused() {
        let sep = format!("m{PART_SEPARATOR}1");
        let odd = [("solana", "m0"), ("solana", sep.as_str())];
        let path = lab_db("sep", &odd, 10);
        let src = DuckSource::open(&path, SourceLayout::Lab, None).unwrap();
        assert!(src.token_hashes(&tokens(&odd)).unwrap().is_none());
        let one = tokens(&odd[..1]);
        let hashes = src.token_hashes(&one).unwrap().unwrap();
        assert_eq!(hashes.len(), 1);
        assert_eq!(
            hashes.values().next().unwrap(),
            &vec![("solana".into(), "m0".into())]
        );
        assert!(src.token_hashes(&BTreeSet::new()).unwrap().is_none());
        // Two chains, one mint: one hash for both (quantbot layout), two (lab layout).
        let both = tokens(&[("solana", "m0"), ("base", "m0"), ("solana", "m1")]);
        let lab = src.token_hashes(&both).unwrap().unwrap();
        assert_eq!(lab.len(), 3);
        let qb = DuckSource {
            path: &path,
            layout: SourceLayout::Quantbot,
            conn: open_read_only(&path, None).unwrap(),
        };
        let by_mint = qb.token_hashes(&both).unwrap().unwrap();
        assert_eq!(by_mint.len(), 2);
        let m0: Vec<&Vec<Token>> = by_mint.values().filter(|t| t[0].1 == "m0").collect();
        assert_eq!(
            m0,
            vec![&vec![
                ("base".to_string(), "m0".to_string()),
                ("solana".to_string(), "m0".to_string())
            ]]
        );
    }
}
