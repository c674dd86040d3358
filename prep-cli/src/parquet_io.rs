//! Parquet at the edge: the published dataset's schemas (SPEC §2.3), writing record batches with
//! Snappy, and reading files back with a clear message naming the file and column.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use quantbot_core::data::Call;

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
