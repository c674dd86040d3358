//! Reading the dataset's Parquet files (SPEC §2.3) from anything Parquet can read: an open
//! file natively, bytes in the browser. Every error names the file and the column.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::ChunkReader;
use quantbot_core::data::{Call, Candle};

use crate::dataset::Token;
use crate::{data, Result};

/// Calls every batch of a Parquet file in turn.
pub fn for_each_batch<R: ChunkReader + 'static>(
    name: &str,
    file: R,
    mut f: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<()> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| data(format!("{name}: not a readable Parquet file: {e}")))?
        .build()
        .map_err(|e| data(format!("{name}: {e}")))?;
    for batch in reader {
        let batch = batch.map_err(|e| corrupt(name, e))?;
        f(&batch)?;
    }
    Ok(())
}

fn corrupt(name: &str, e: impl Display) -> crate::Error {
    data(format!(
        "{name}: cannot read rows (truncated or corrupt?): {e}"
    ))
}

/// A typed view of one column of a batch, or an error naming the file and column.
fn column<'a, T: 'static>(
    name: &str,
    batch: &'a RecordBatch,
    col: &str,
    want: &str,
) -> Result<&'a T> {
    let Some(arr) = batch.column_by_name(col) else {
        return Err(data(format!("{name}: missing column {col} ({want})")));
    };
    arr.as_any().downcast_ref::<T>().ok_or_else(|| {
        data(format!(
            "{name}: column {col} is {}, expected {want}",
            arr.data_type()
        ))
    })
}

pub fn strs<'a>(name: &str, b: &'a RecordBatch, col: &str) -> Result<&'a StringArray> {
    column(name, b, col, "utf8")
}

pub fn i64s<'a>(name: &str, b: &'a RecordBatch, col: &str) -> Result<&'a Int64Array> {
    column(name, b, col, "int64")
}

pub fn f64s<'a>(name: &str, b: &'a RecordBatch, col: &str) -> Result<&'a Float64Array> {
    column(name, b, col, "float64")
}

fn req_str<'a>(name: &str, a: &'a StringArray, col: &str, i: usize) -> Result<&'a str> {
    if a.is_null(i) {
        return Err(data(format!("{name}: column {col} is null in row {i}")));
    }
    Ok(a.value(i))
}

fn req_i64(name: &str, a: &Int64Array, col: &str, i: usize) -> Result<i64> {
    if a.is_null(i) {
        return Err(data(format!("{name}: column {col} is null in row {i}")));
    }
    Ok(a.value(i))
}

fn opt_f64(a: &Float64Array, i: usize) -> Option<f64> {
    (!a.is_null(i)).then(|| a.value(i))
}

/// Reads calls (`calls.parquet`, or `excluded.parquet` with `reason`).
pub fn read_calls<R: ChunkReader + 'static>(
    name: &str,
    file: R,
    with_reason: bool,
) -> Result<Vec<(Call, Option<String>)>> {
    let mut out = Vec::new();
    for_each_batch(name, file, |b| {
        let id = strs(name, b, "call_id")?;
        let caller = strs(name, b, "caller")?;
        let chain = strs(name, b, "chain")?;
        let mint = strs(name, b, "mint")?;
        let ts = i64s(name, b, "alert_ts_ms")?;
        let px = f64s(name, b, "price_at_alert")?;
        let reason = if with_reason {
            Some(strs(name, b, "reason")?)
        } else {
            None
        };
        for i in 0..b.num_rows() {
            out.push((
                Call {
                    call_id: req_str(name, id, "call_id", i)?.to_string(),
                    caller: req_str(name, caller, "caller", i)?.to_string(),
                    chain: req_str(name, chain, "chain", i)?.to_string(),
                    mint: req_str(name, mint, "mint", i)?.to_string(),
                    alert_ts_ms: req_i64(name, ts, "alert_ts_ms", i)?,
                    price_at_alert: opt_f64(px, i),
                },
                reason.map(|r| r.value(i).to_string()),
            ));
        }
        Ok(())
    })?;
    Ok(out)
}

/// Reads `candles.parquet` into candles per token, keeping only the `wanted` tokens (all when
/// `None`). Null prices read as NaN so that validation rejects them. Rows of a token need not
/// be contiguous; each token's candles come out sorted by `ts`.
pub fn read_candles<R: ChunkReader + 'static>(
    name: &str,
    file: R,
    wanted: Option<&BTreeSet<Token>>,
) -> Result<BTreeMap<Token, Vec<Candle>>> {
    let mut tokens: BTreeMap<Token, Vec<Candle>> = BTreeMap::new();
    // The token of the previous row and whether it is wanted: rows come grouped by token, so
    // the map is looked up once per run of rows, without allocating per row.
    let mut current: Option<(Token, bool)> = None;
    let mut run: Vec<Candle> = Vec::new();
    let mut flush = |current: &Option<(Token, bool)>, run: &mut Vec<Candle>| {
        if let Some((key, true)) = current {
            tokens.entry(key.clone()).or_default().append(run);
        }
        run.clear();
    };
    for_each_batch(name, file, |b| {
        let chain = strs(name, b, "chain")?;
        let mint = strs(name, b, "mint")?;
        let ts = i64s(name, b, "ts")?;
        let o = f64s(name, b, "open")?;
        let h = f64s(name, b, "high")?;
        let l = f64s(name, b, "low")?;
        let c = f64s(name, b, "close")?;
        let v = f64s(name, b, "volume")?;
        let val = |a: &Float64Array, i: usize| opt_f64(a, i).unwrap_or(f64::NAN);
        for i in 0..b.num_rows() {
            let (ch, mi) = (
                req_str(name, chain, "chain", i)?,
                req_str(name, mint, "mint", i)?,
            );
            let same = matches!(&current, Some(((c0, m0), _)) if c0 == ch && m0 == mi);
            if !same {
                flush(&current, &mut run);
                let key = (ch.to_string(), mi.to_string());
                let keep = wanted.is_none_or(|w| w.contains(&key));
                current = Some((key, keep));
            }
            if matches!(current, Some((_, true))) {
                run.push(Candle {
                    ts: req_i64(name, ts, "ts", i)?,
                    open: val(o, i),
                    high: val(h, i),
                    low: val(l, i),
                    close: val(c, i),
                    volume: val(v, i),
                });
            }
        }
        Ok(())
    })?;
    flush(&current, &mut run);
    for v in tokens.values_mut() {
        if !v.is_sorted_by_key(|c| c.ts) {
            v.sort_by_key(|c| c.ts);
        }
    }
    Ok(tokens)
}
