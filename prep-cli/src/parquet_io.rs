//! Parquet at the edge: the published dataset's schemas (SPEC §2.3), writing record batches with
//! Snappy, and reading files back with a clear message naming the file and column.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

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
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = ArrowWriter::try_new(file, schema, Some(props))
        .with_context(|| format!("{}: starting the Parquet writer", path.display()))?;
    w.write(&batch)
        .with_context(|| format!("{}: writing rows", path.display()))?;
    w.close()
        .with_context(|| format!("{}: finishing the file", path.display()))?;
    Ok(batch.num_rows())
}

/// Shorthand for a named column.
pub fn col(col: Col) -> NamedCol {
    NamedCol {
        name: col.name().to_string(),
        col,
    }
}

/// Reads every batch of a Parquet file.
pub fn read_batches(path: &Path) -> anyhow::Result<Vec<RecordBatch>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| anyhow!("{}: not a readable Parquet file: {e}", path.display()))?
        .build()
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    reader.collect::<Result<Vec<_>, _>>().map_err(|e| {
        anyhow!(
            "{}: cannot read rows (truncated or corrupt?): {e}",
            path.display()
        )
    })
}

/// A typed view of one column of a batch, or an error naming the file and column.
fn column<'a, T: 'static>(
    path: &Path,
    batch: &'a RecordBatch,
    name: &str,
    want: &str,
) -> anyhow::Result<&'a T> {
    let Some(arr) = batch.column_by_name(name) else {
        bail!("{}: missing column {name} ({want})", path.display());
    };
    arr.as_any().downcast_ref::<T>().ok_or_else(|| {
        anyhow!(
            "{}: column {name} is {}, expected {want}",
            path.display(),
            arr.data_type()
        )
    })
}

pub fn strs<'a>(path: &Path, b: &'a RecordBatch, name: &str) -> anyhow::Result<&'a StringArray> {
    column(path, b, name, "utf8")
}

pub fn i64s<'a>(path: &Path, b: &'a RecordBatch, name: &str) -> anyhow::Result<&'a Int64Array> {
    column(path, b, name, "int64")
}

pub fn f64s<'a>(path: &Path, b: &'a RecordBatch, name: &str) -> anyhow::Result<&'a Float64Array> {
    column(path, b, name, "float64")
}

fn req_str(path: &Path, a: &StringArray, name: &str, i: usize) -> anyhow::Result<String> {
    if a.is_null(i) {
        bail!("{}: column {name} is null in row {i}", path.display());
    }
    Ok(a.value(i).to_string())
}

fn req_i64(path: &Path, a: &Int64Array, name: &str, i: usize) -> anyhow::Result<i64> {
    if a.is_null(i) {
        bail!("{}: column {name} is null in row {i}", path.display());
    }
    Ok(a.value(i))
}

fn opt_f64(a: &Float64Array, i: usize) -> Option<f64> {
    (!a.is_null(i)).then(|| a.value(i))
}

/// Reads calls (`calls.parquet`, or `excluded.parquet` with `reason`).
pub fn read_calls(path: &Path, with_reason: bool) -> anyhow::Result<Vec<(Call, Option<String>)>> {
    let mut out = Vec::new();
    for b in read_batches(path)? {
        let id = strs(path, &b, "call_id")?;
        let caller = strs(path, &b, "caller")?;
        let chain = strs(path, &b, "chain")?;
        let mint = strs(path, &b, "mint")?;
        let ts = i64s(path, &b, "alert_ts_ms")?;
        let px = f64s(path, &b, "price_at_alert")?;
        let reason = if with_reason {
            Some(strs(path, &b, "reason")?)
        } else {
            None
        };
        for i in 0..b.num_rows() {
            out.push((
                Call {
                    call_id: req_str(path, id, "call_id", i)?,
                    caller: req_str(path, caller, "caller", i)?,
                    chain: req_str(path, chain, "chain", i)?,
                    mint: req_str(path, mint, "mint", i)?,
                    alert_ts_ms: req_i64(path, ts, "alert_ts_ms", i)?,
                    price_at_alert: opt_f64(px, i),
                },
                reason.map(|r| r.value(i).to_string()),
            ));
        }
    }
    Ok(out)
}

/// Reads `candles.parquet` as `(chain, mint, candle)` rows; null prices read as NaN so that
/// validation rejects them.
pub fn read_candles(path: &Path) -> anyhow::Result<Vec<(String, String, Candle)>> {
    let mut out = Vec::new();
    for b in read_batches(path)? {
        let chain = strs(path, &b, "chain")?;
        let mint = strs(path, &b, "mint")?;
        let ts = i64s(path, &b, "ts")?;
        let cols =
            ["open", "high", "low", "close", "volume"].map(|n| f64s(path, &b, n).map(|a| (n, a)));
        let [o, h, l, c, v] = cols;
        let (o, h, l, c, v) = (o?.1, h?.1, l?.1, c?.1, v?.1);
        let val = |a: &Float64Array, i: usize| opt_f64(a, i).unwrap_or(f64::NAN);
        for i in 0..b.num_rows() {
            out.push((
                req_str(path, chain, "chain", i)?,
                req_str(path, mint, "mint", i)?,
                Candle {
                    ts: req_i64(path, ts, "ts", i)?,
                    open: val(o, i),
                    high: val(h, i),
                    low: val(l, i),
                    close: val(c, i),
                    volume: val(v, i),
                },
            ));
        }
    }
    Ok(out)
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
