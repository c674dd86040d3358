//! Parquet at the edge: the published dataset's schemas (SPEC §2.3), writing record batches with
//! Snappy, and reading files back with a clear message naming the file and column.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

use quantbot_core::data::{Call, Candle};

/// A column being built: name and values.
pub enum Col {
    Str(&'static str, Vec<Option<String>>),
    I64(&'static str, Vec<Option<i64>>),
    F64(&'static str, Vec<Option<f64>>),
    Bool(&'static str, Vec<Option<bool>>),
}

impl Col {
    fn name(&self) -> &str {
        match self {
            Col::Str(n, _) | Col::I64(n, _) | Col::F64(n, _) | Col::Bool(n, _) => n,
        }
    }
}

/// A column with a name known only at run time (grid dimensions, skip reasons).
pub struct NamedCol {
    pub name: String,
    pub col: Col,
}

/// Writes one record batch as a Snappy Parquet file. Columns are nullable exactly when
/// `nullable` lists them. Returns the number of rows.
pub fn write_parquet(path: &Path, cols: Vec<NamedCol>, nullable: &[&str]) -> anyhow::Result<usize> {
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for c in cols {
        let null_ok = nullable.contains(&c.name.as_str());
        let (dt, arr): (DataType, ArrayRef) = match c.col {
            Col::Str(_, v) => (DataType::Utf8, Arc::new(StringArray::from(v))),
            Col::I64(_, v) => (DataType::Int64, Arc::new(Int64Array::from(v))),
            Col::F64(_, v) => (DataType::Float64, Arc::new(Float64Array::from(v))),
            Col::Bool(_, v) => (DataType::Boolean, Arc::new(BooleanArray::from(v))),
        };
        fields.push(Field::new(&c.name, dt, null_ok));
        arrays.push(arr);
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays)
        .with_context(|| format!("{}: building the table", path.display()))?;
    let mut w = start(path, schema, WriterProperties::builder())?;
    w.write(&batch)
        .with_context(|| format!("{}: writing rows", path.display()))?;
    w.close()
        .with_context(|| format!("{}: finishing the file", path.display()))?;
    Ok(batch.num_rows())
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

/// Rows handed to the Parquet writer at a time by [`CandleWriter`]. A multiple of the writer's
/// mini-batch (1,024 rows) and a divisor of its row group (1,048,576 rows), so pages and row
/// groups fall exactly where they fall when the whole table is written as one batch: the file
/// is the same, byte for byte, however it is fed.
pub const CANDLE_BATCH_ROWS: usize = 64 * 1024;

/// `candles.parquet` (SPEC §2.3) written as its rows come, in bounded memory: rows are gathered
/// [`CANDLE_BATCH_ROWS`] at a time into columns (chain and mint as text buffers of the batch,
/// no string per row), and the writer keeps at most one row group. Rows must come in the
/// file's order, (chain, mint, ts).
pub struct CandleWriter {
    path: PathBuf,
    schema: SchemaRef,
    writer: ArrowWriter<File>,
    chain: StringBuilder,
    mint: StringBuilder,
    ts: Vec<i64>,
    values: [Vec<f64>; 5],
    rows: usize,
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

    pub fn create(path: &Path) -> anyhow::Result<CandleWriter> {
        let schema = CandleWriter::schema();
        let writer = start(path, schema.clone(), CandleWriter::encodings())?;
        Ok(CandleWriter {
            path: path.to_path_buf(),
            schema,
            writer,
            chain: StringBuilder::new(),
            mint: StringBuilder::new(),
            ts: Vec::with_capacity(CANDLE_BATCH_ROWS),
            values: std::array::from_fn(|_| Vec::with_capacity(CANDLE_BATCH_ROWS)),
            rows: 0,
        })
    }

    /// Appends one token's candles (sorted by `ts`).
    pub fn push(&mut self, chain: &str, mint: &str, candles: &[Candle]) -> anyhow::Result<()> {
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
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if self.ts.is_empty() {
            return Ok(());
        }
        let n = self.ts.len();
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
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .with_context(|| format!("{}: building rows", self.path.display()))?;
        self.writer
            .write(&batch)
            .with_context(|| format!("{}: writing rows", self.path.display()))?;
        self.rows += n;
        Ok(())
    }

    /// Writes what is left and closes the file; returns the number of rows.
    pub fn finish(mut self) -> anyhow::Result<usize> {
        self.flush()?;
        self.writer
            .close()
            .with_context(|| format!("{}: finishing the file", self.path.display()))?;
        Ok(self.rows)
    }
}

/// Shorthand for a named column.
pub fn col(col: Col) -> NamedCol {
    NamedCol {
        name: col.name().to_string(),
        col,
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
