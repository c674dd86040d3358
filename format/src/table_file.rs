//! A table written as one Snappy Parquet file into bytes (the CLI writes them to disk, the lab
//! offers them as downloads): columns built by name with their values, nullable exactly where
//! the caller says. One writer for both faces, so a bundle's files are the same bytes wherever
//! they are written.

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::{data, Result};

/// A column being built: name and values.
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
pub struct NamedCol {
    pub name: String,
    pub col: Col,
}

/// A column named by its own name.
pub fn col(col: Col) -> NamedCol {
    NamedCol {
        name: col.name().to_string(),
        col,
    }
}

/// One record batch as the bytes of a Snappy Parquet file (SPEC §2.3: the browser's decoder has
/// no zstd). Columns are nullable exactly when `nullable` lists them. `what` names the file in
/// errors. Returns the bytes and the number of rows.
pub fn table_parquet(
    what: &str,
    cols: Vec<NamedCol>,
    nullable: &[&str],
) -> Result<(Vec<u8>, usize)> {
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
        .map_err(|e| data(format!("{what}: building the table: {e}")))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, schema, Some(props))
        .map_err(|e| data(format!("{what}: starting the Parquet writer: {e}")))?;
    w.write(&batch)
        .map_err(|e| data(format!("{what}: writing rows: {e}")))?;
    w.close()
        .map_err(|e| data(format!("{what}: finishing the file: {e}")))?;
    Ok((out, batch.num_rows()))
}
