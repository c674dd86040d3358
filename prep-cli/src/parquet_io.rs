//! Parquet at the edge: the published dataset's schemas (SPEC §2.3), writing record batches with
//! Snappy, and reading files back with a clear message naming the file and column.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

use quantbot_core::data::{Call, Candle};

pub use quantbot_format::table_file::{col, Col, NamedCol};

/// Writes one record batch as a Snappy Parquet file (`quantbot_format::table_file`, the writer
/// the lab saves bundles with). Columns are nullable exactly when `nullable` lists them.
/// Returns the number of rows.
pub fn write_parquet(path: &Path, cols: Vec<NamedCol>, nullable: &[&str]) -> anyhow::Result<usize> {
    let what = path.display().to_string();
    let (bytes, rows) = quantbot_format::table_file::table_parquet(&what, cols, nullable)
        .map_err(anyhow::Error::msg)?;
    std::fs::write(path, bytes).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(rows)
}

/// A Snappy Parquet writer of `schema` into a new file at `path` (SPEC §2.3: the browser's
/// decoder has no zstd), with `props`' other settings.
fn start(
    path: &Path,
    schema: SchemaRef,
    props: WriterPropertiesBuilder,
) -> anyhow::Result<ArrowWriter<File>> {
    let props = props.set_compression(Compression::SNAPPY).build();
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    ArrowWriter::try_new(file, schema, Some(props))
        .with_context(|| format!("{}: starting the Parquet writer", path.display()))
}

/// Rows handed to the Parquet writer at a time by [`CandleWriter`]: the writer's mini-batch.
/// A divisor of its row group (1,048,576 rows), so pages and row groups fall exactly where they
/// fall when the whole table is written as one batch: a file is the same, byte for byte,
/// however it is fed (and a dataset that fits in one part is the `candles.parquet` that export
/// wrote before parts). It is also how often a part's size is checked.
pub const CANDLE_BATCH_ROWS: usize = 1024;

/// The candle files written, in row order: name and rows.
pub type CandleFilesWritten = Vec<(String, usize)>;

/// The smallest part size `--part-size` takes: a part must hold a batch of rows and its
/// footer with room to spare (see [`CandleWriter::headroom`]).
pub const MIN_PART_BYTES: u64 = 256 * 1024;

/// Parses `--part-size`: bytes, or a number with `KiB`, `MiB` or `GiB` (`25MiB`, `1.5GiB`),
/// at least [`MIN_PART_BYTES`].
pub fn parse_part_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let unit_bytes: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => 0,
    };
    let value: f64 = num.trim().parse().unwrap_or(f64::NAN);
    let bytes = value * unit_bytes as f64;
    if unit_bytes == 0 || !bytes.is_finite() || !(0.0..=1e18).contains(&bytes) {
        return Err(format!(
            "{text:?} is not a size (bytes, or a number with KiB, MiB or GiB, like 25MiB)"
        ));
    }
    let bytes = bytes.floor() as u64;
    if bytes < MIN_PART_BYTES {
        return Err(format!(
            "{text} is {bytes} bytes, below the smallest part, 256KiB ({MIN_PART_BYTES} bytes)"
        ));
    }
    Ok(bytes)
}

/// `candles.parquet` (SPEC §2.3) written as its rows come, in bounded memory, in parts of at
/// most `part_bytes` each (`candles-00000.parquet`, …, in row order; `quantbot_format::parts`).
/// Rows are gathered [`CANDLE_BATCH_ROWS`] at a time into columns (chain and mint as text
/// buffers of the batch, no string per row), and the writer keeps at most one row group. Rows
/// must come in the file's order, (chain, mint, ts).
///
/// Before a batch is written, the part's size so far (the writer's bytes plus its estimate of
/// the row group in progress, which counts the open pages before compression) plus a bound on
/// the batch and on the footer is compared with the limit; past it, the part is closed and the
/// batch starts the next. Where parts are cut depends only on the rows, so the files are the
/// same on every run. Each closed part's real size is checked against the limit. When the rows
/// fit in one part it is written as `candles.parquet`, as before parts.
pub struct CandleWriter {
    dir: PathBuf,
    part_bytes: u64,
    schema: SchemaRef,
    /// The part being written, its rows, and the longest chain or mint it holds.
    part: Option<(ArrowWriter<File>, usize, usize)>,
    /// Parts closed: name and rows.
    done: Vec<(String, usize)>,
    chain: StringBuilder,
    mint: StringBuilder,
    ts: Vec<i64>,
    values: [Vec<f64>; 5],
    /// The longest chain or mint in the batch being gathered.
    longest: usize,
}

impl CandleWriter {
    /// The columns of `candles.parquet`, none nullable.
    fn schema() -> SchemaRef {
        let mut fields = vec![
            Field::new("chain", DataType::Utf8, false),
            Field::new("mint", DataType::Utf8, false),
            Field::new("ts", DataType::Int64, false),
        ];
        for name in ["open", "high", "low", "close", "volume"] {
            fields.push(Field::new(name, DataType::Float64, false));
        }
        Arc::new(Schema::new(fields))
    }

    /// The candles' encodings: `BYTE_STREAM_SPLIT` for the prices and volumes (each value's
    /// bytes grouped by position, so that Snappy finds the shared exponents) and
    /// `DELTA_BINARY_PACKED` for the times (a constant step packs to almost nothing), no
    /// dictionary for either; chain and mint keep the dictionary. Lossless: 42.0 → 32.5 bytes
    /// a candle on the demo data (BENCHMARKS.md, "Published candles").
    fn encodings() -> WriterPropertiesBuilder {
        let mut p = WriterProperties::builder();
        for name in ["open", "high", "low", "close", "volume"] {
            p = p
                .set_column_dictionary_enabled(ColumnPath::from(name), false)
                .set_column_encoding(ColumnPath::from(name), Encoding::BYTE_STREAM_SPLIT);
        }
        p.set_column_dictionary_enabled(ColumnPath::from("ts"), false)
            .set_column_encoding(ColumnPath::from("ts"), Encoding::DELTA_BINARY_PACKED)
    }

    /// A writer of the candles into `dir`, in parts of at most `part_bytes`.
    pub fn create(dir: &Path, part_bytes: u64) -> anyhow::Result<CandleWriter> {
        Ok(CandleWriter {
            dir: dir.to_path_buf(),
            part_bytes,
            schema: CandleWriter::schema(),
            part: None,
            done: Vec::new(),
            chain: StringBuilder::new(),
            mint: StringBuilder::new(),
            ts: Vec::with_capacity(CANDLE_BATCH_ROWS),
            values: std::array::from_fn(|_| Vec::with_capacity(CANDLE_BATCH_ROWS)),
            longest: 0,
        })
    }

    /// Appends one token's candles (sorted by `ts`).
    pub fn push(&mut self, chain: &str, mint: &str, candles: &[Candle]) -> anyhow::Result<()> {
        self.longest = self.longest.max(chain.len()).max(mint.len());
        for c in candles {
            self.chain.append_value(chain);
            self.mint.append_value(mint);
            self.ts.push(c.ts);
            for (k, v) in [c.open, c.high, c.low, c.close, c.volume]
                .into_iter()
                .enumerate()
            {
                self.values[k].push(v);
            }
            if self.ts.len() == CANDLE_BATCH_ROWS {
                self.flush()?;
                self.longest = chain.len().max(mint.len());
            }
        }
        Ok(())
    }

    /// Bytes a part may grow by when a batch of `rows` rows with strings up to `longest` bytes
    /// is written into it and it is closed, beyond the writer's estimate so far: the batch
    /// stored plainly (a dictionary that overflows falls back to plain strings), Snappy's worst
    /// expansion (a sixth, plus 32 bytes a page), page headers, and a footer with the page index
    /// (at most a page per 1,024 rows, each with two statistics of at most 64 bytes per column)
    /// and the schema.
    fn headroom(rows_before: usize, rows: usize, longest: usize) -> u64 {
        let batch = rows * (8 * 6 + 2 * (4 + longest)) + 8 * 256;
        let pages = (rows_before + rows) / CANDLE_BATCH_ROWS + 2;
        let footer = 16 * 1024 + 4 * longest + pages * 8 * 200;
        (batch + batch / 6 + footer) as u64
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if self.ts.is_empty() {
            return Ok(());
        }
        let n = self.ts.len();
        if let Some((w, rows, _)) = &self.part {
            let so_far = (w.bytes_written() + w.in_progress_size()) as u64;
            if *rows > 0
                && so_far + CandleWriter::headroom(*rows, n, self.longest) > self.part_bytes
            {
                self.close_part()?;
            }
        }
        if self.part.is_none() {
            let name = quantbot_format::parts::part_name(self.done.len());
            let w = start(
                &self.dir.join(&name),
                self.schema.clone(),
                CandleWriter::encodings(),
            )?;
            self.part = Some((w, 0, 0));
        }
        let mut arrays: Vec<ArrayRef> = vec![
            Arc::new(self.chain.finish()),
            Arc::new(self.mint.finish()),
            Arc::new(Int64Array::from(std::mem::replace(
                &mut self.ts,
                Vec::with_capacity(CANDLE_BATCH_ROWS),
            ))),
        ];
        for v in &mut self.values {
            arrays.push(Arc::new(Float64Array::from(std::mem::replace(
                v,
                Vec::with_capacity(CANDLE_BATCH_ROWS),
            ))));
        }
        let name = quantbot_format::parts::part_name(self.done.len());
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .with_context(|| format!("{name}: building rows"))?;
        let (w, rows, longest) = self.part.as_mut().expect("a part is open");
        w.write(&batch)
            .with_context(|| format!("{name}: writing rows"))?;
        *rows += n;
        *longest = (*longest).max(self.longest);
        Ok(())
    }

    /// Closes the part being written and checks its size.
    fn close_part(&mut self) -> anyhow::Result<()> {
        let Some((w, rows, _)) = self.part.take() else {
            return Ok(());
        };
        let name = quantbot_format::parts::part_name(self.done.len());
        let path = self.dir.join(&name);
        w.close()
            .with_context(|| format!("{}: finishing the file", path.display()))?;
        let size = std::fs::metadata(&path)
            .with_context(|| format!("{}: reading its size", path.display()))?
            .len();
        if size > self.part_bytes {
            anyhow::bail!(
                "{}: {size} bytes, more than --part-size ({} bytes): the part's size was misjudged; give a smaller --part-size",
                path.display(),
                self.part_bytes
            );
        }
        self.done.push((name, rows));
        Ok(())
    }

    /// Writes what is left and closes the last part; returns the files written (name and rows,
    /// in row order): `candles.parquet` alone when one part held every row (also when there is
    /// none), else the parts.
    pub fn finish(mut self) -> anyhow::Result<CandleFilesWritten> {
        self.flush()?;
        if self.part.is_none() && self.done.is_empty() {
            // No row: an empty file, with the schema.
            let w = start(
                &self.dir.join(quantbot_format::parts::part_name(0)),
                self.schema.clone(),
                CandleWriter::encodings(),
            )?;
            self.part = Some((w, 0, 0));
        }
        self.close_part()?;
        if let [(only, rows)] = self.done.as_slice() {
            let whole = quantbot_format::parts::WHOLE;
            std::fs::rename(self.dir.join(only), self.dir.join(whole))
                .with_context(|| format!("naming {only} {whole}"))?;
            return Ok(vec![(whole.to_string(), *rows)]);
        }
        Ok(self.done)
    }
}

/// The columns of `calls.parquet` (and, with `reason`, of `excluded.parquet`).
pub fn calls_columns(calls: &[&Call], reasons: Option<Vec<String>>) -> Vec<NamedCol> {
    let mut cols = vec![
        col(Col::Str(
            "call_id",
            calls.iter().map(|c| Some(c.call_id.clone())).collect(),
        )),
        col(Col::Str(
            "caller",
            calls.iter().map(|c| Some(c.caller.clone())).collect(),
        )),
        col(Col::Str(
            "chain",
            calls.iter().map(|c| Some(c.chain.clone())).collect(),
        )),
        col(Col::Str(
            "mint",
            calls.iter().map(|c| Some(c.mint.clone())).collect(),
        )),
        col(Col::I64(
            "alert_ts_ms",
            calls.iter().map(|c| Some(c.alert_ts_ms)).collect(),
        )),
        col(Col::F64(
            "price_at_alert",
            calls.iter().map(|c| c.price_at_alert).collect(),
        )),
    ];
    if let Some(r) = reasons {
        cols.push(col(Col::Str("reason", r.into_iter().map(Some).collect())));
    }
    cols
}
