//! Reading the dataset's Parquet files (SPEC §2.3) from anything Parquet can read: an open
//! file natively, bytes in the browser. Every error names the file and the column.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use arrow_array::types::Int32Type;
use arrow_array::{
    Array, DictionaryArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use std::sync::Arc;

use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
};
use parquet::arrow::{parquet_to_arrow_field_levels, ProjectionMask};
use parquet::file::reader::ChunkReader;
use quantbot_core::data::{Call, Candle};
use quantbot_core::store::{Series, Volumes};

use crate::dataset::{sort_by_time, Token};
use crate::page_guard::GuardedRowGroups;
use crate::{data, Result};

/// Batches as `parquet`'s builder reads them (its default size).
const BATCH_ROWS: usize = 1024;

/// Calls every batch of a Parquet file in turn. Every page is checked before it is decoded
/// (`page_guard`).
pub fn for_each_batch<R: ChunkReader + 'static>(
    name: &str,
    file: R,
    f: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<()> {
    for_each_batch_keyed(name, file, &[], f)
}

/// [`for_each_batch`] with the text columns `keys` read as dictionaries (`Int32` codes into
/// the column chunk's values, as Parquet stores them): a row's text is then its code, and the
/// text itself is read only where the code changes.
pub fn for_each_batch_keyed<R: ChunkReader + 'static>(
    name: &str,
    file: R,
    keys: &[&str],
    mut f: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<()> {
    let len = file.len();
    let unreadable = |e| data(format!("{name}: not a readable Parquet file: {e}"));
    let mut meta =
        ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(unreadable)?;
    let as_dictionary =
        |f: &Arc<Field>| keys.contains(&f.name().as_str()) && f.data_type() == &DataType::Utf8;
    if meta.schema().fields().iter().any(as_dictionary) {
        let fields: Vec<Arc<Field>> = meta
            .schema()
            .fields()
            .iter()
            .map(|f| {
                if as_dictionary(f) {
                    let dict =
                        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                    Arc::new(Field::new(f.name(), dict, f.is_nullable()))
                } else {
                    f.clone()
                }
            })
            .collect();
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            meta.schema().metadata().clone(),
        ));
        meta = ArrowReaderMetadata::try_new(
            meta.metadata().clone(),
            ArrowReaderOptions::new().with_schema(schema),
        )
        .map_err(unreadable)?;
    }
    // The reader trusts these offsets (and panics on bad ones): check them first.
    for rg in meta.metadata().row_groups() {
        for c in rg.columns() {
            let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset());
            let size = c.compressed_size();
            let fits = start >= 0
                && c.data_page_offset() >= 0
                && size >= 0
                && (start as u64)
                    .checked_add(size as u64)
                    .is_some_and(|end| end <= len);
            if !fits {
                return Err(corrupt(
                    name,
                    format!("column {} has a chunk outside the file", c.column_path()),
                ));
            }
        }
    }
    let levels = parquet_to_arrow_field_levels(
        meta.parquet_schema(),
        ProjectionMask::all(),
        Some(meta.schema().fields()),
    )
    .map_err(|e| data(format!("{name}: {e}")))?;
    let groups = GuardedRowGroups {
        reader: Arc::new(file),
        metadata: meta.metadata().clone(),
    };
    let reader =
        ParquetRecordBatchReader::try_new_with_row_groups(&levels, &groups, BATCH_ROWS, None)
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

/// A float column of a batch read row by row, NULL as NaN (so that validation rejects a NULL
/// price): the values slice itself when the column has no NULL, the usual case.
#[derive(Debug, Clone, Copy)]
pub enum Floats<'a> {
    Dense(&'a [f64]),
    Nullable(&'a Float64Array),
}

impl<'a> Floats<'a> {
    pub fn of(a: &'a Float64Array) -> Floats<'a> {
        if a.null_count() == 0 {
            Floats::Dense(a.values())
        } else {
            Floats::Nullable(a)
        }
    }

    #[inline]
    pub fn get(&self, i: usize) -> f64 {
        match self {
            Floats::Dense(v) => v[i],
            Floats::Nullable(a) => opt_f64(a, i).unwrap_or(f64::NAN),
        }
    }
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
///
/// Each token's candles are held compact ([`Series`]) as soon as its rows end, so at most one
/// token's candles are ever held decoded. Rows come grouped by token in a published dataset;
/// a token whose rows come in several runs is decoded, extended and sorted again (a stable
/// sort by `ts`, as if all its rows had been read first).
pub fn read_candles<R: ChunkReader + 'static>(
    name: &str,
    file: R,
    wanted: Option<&BTreeSet<Token>>,
    volumes: Volumes,
) -> Result<BTreeMap<Token, Series>> {
    let mut tokens: BTreeMap<Token, Series> = BTreeMap::new();
    read_candle_runs(
        name,
        file,
        |ch, mi| wanted.is_none_or(|w| w.contains(&(ch.to_string(), mi.to_string()))),
        |ch, mi, run| {
            let key = (ch.to_string(), mi.to_string());
            if let Some(earlier) = tokens.get(&key) {
                let mut all = earlier.to_vec();
                all.append(run);
                *run = all;
            }
            sort_by_time(run);
            tokens.insert(key, Series::with(run, volumes));
            run.clear();
        },
    )?;
    Ok(tokens)
}

/// Streams `candles.parquet` one run of consecutive rows of a token at a time:
/// `on_run(chain, mint, rows)` for each run of a token `wanted(chain, mint)` accepts, with the
/// run's rows in file order (`on_run` may take them; the buffer is cleared after). The token's
/// key is compared with the previous row's, so nothing is allocated per row. Null prices read
/// as NaN so that validation rejects them.
/// Cuts rows that come token by token into runs of one token (the Parquet and the DuckDB
/// loaders): the row's key is compared with the run's and copied only when it changes, so
/// nothing is allocated per row.
#[derive(Debug, Default)]
pub struct RunKeys {
    chain: String,
    mint: String,
    /// Whether the run's token is wanted; `None` before the first row.
    keep: Option<bool>,
}

impl RunKeys {
    /// Whether the row's token is not the run's (always so for the first row).
    #[inline]
    pub fn is_new(&self, chain: &str, mint: &str) -> bool {
        self.keep.is_none() || mint != self.mint || chain != self.chain
    }

    /// Starts the run of `(chain, mint)`, kept or not.
    pub fn start(&mut self, chain: &str, mint: &str, keep: bool) {
        self.chain.clear();
        self.chain.push_str(chain);
        self.mint.clear();
        self.mint.push_str(mint);
        self.keep = Some(keep);
    }

    /// Whether the run's rows are kept.
    #[inline]
    pub fn keeps(&self) -> bool {
        self.keep == Some(true)
    }

    /// The run's token, when its rows are kept.
    pub fn kept(&self) -> Option<(&str, &str)> {
        self.keeps()
            .then_some((self.chain.as_str(), self.mint.as_str()))
    }
}

pub fn read_candle_runs<R: ChunkReader + 'static>(
    name: &str,
    file: R,
    wanted: impl FnMut(&str, &str) -> bool,
    on_run: impl FnMut(&str, &str, &mut Vec<Candle>),
) -> Result<()> {
    read_candle_runs_in([Ok((name.to_string(), file))], wanted, on_run)
}

/// [`read_candle_runs`] over the candles in several files read one after the other (a
/// dataset's parts, `crate::parts`), as if they were one file: a token's rows that continue
/// from one part into the next stay one run, so the runs, and everything built from them, are
/// those of the whole file. Each file is asked for only when the previous one is read (a
/// native reader opens and checks a part then, and holds one part at a time); an error in
/// opening one ends the read.
pub fn read_candle_runs_in<R: ChunkReader + 'static>(
    files: impl IntoIterator<Item = Result<(String, R)>>,
    mut wanted: impl FnMut(&str, &str) -> bool,
    mut on_run: impl FnMut(&str, &str, &mut Vec<Candle>),
) -> Result<()> {
    let mut keys = RunKeys::default();
    let mut run: Vec<Candle> = Vec::new();
    for file in files {
        let (name, file) = file?;
        let name = name.as_str();
        for_each_batch_keyed(name, file, &["chain", "mint"], |b| {
            let chain = Text::of(name, b, "chain")?;
            let mint = Text::of(name, b, "mint")?;
            let ts = i64s(name, b, "ts")?;
            let [o, h, l, c, v] = ["open", "high", "low", "close", "volume"]
                .map(|col| f64s(name, b, col).map(Floats::of));
            let (o, h, l, c, v) = (o?, h?, l?, c?, v?);
            // Without NULL keys (the usual case) no row needs checking.
            let keys_whole =
                chain.null_count() == 0 && mint.null_count() == 0 && ts.null_count() == 0;
            // The codes of the previous row of this batch: equal codes, equal token.
            let mut codes = None;
            for i in 0..b.num_rows() {
                let same = keys_whole && {
                    let now = (chain.code(i), mint.code(i));
                    now.0.is_some() && now.1.is_some() && codes.replace(now) == Some(now)
                };
                if !same {
                    let (ch, mi) = if keys_whole {
                        (chain.value(i), mint.value(i))
                    } else {
                        (chain.required(name, i)?, mint.required(name, i)?)
                    };
                    if keys.is_new(ch, mi) {
                        if let Some((kc, km)) = keys.kept() {
                            on_run(kc, km, &mut run);
                        }
                        run.clear();
                        keys.start(ch, mi, wanted(ch, mi));
                    }
                }
                if keys.keeps() {
                    run.push(Candle {
                        ts: if keys_whole {
                            ts.value(i)
                        } else {
                            req_i64(name, ts, "ts", i)?
                        },
                        open: o.get(i),
                        high: h.get(i),
                        low: l.get(i),
                        close: c.get(i),
                        volume: v.get(i),
                    });
                }
            }
            Ok(())
        })?;
    }
    if let Some((kc, km)) = keys.kept() {
        on_run(kc, km, &mut run);
    }
    Ok(())
}

/// A text column of a batch: plain, or a dictionary of codes into its values (how
/// [`for_each_batch_keyed`] reads the key columns).
struct Text<'a> {
    col: &'static str,
    data: TextData<'a>,
}

enum TextData<'a> {
    Plain(&'a StringArray),
    Codes {
        codes: &'a Int32Array,
        values: &'a StringArray,
    },
}

impl<'a> Text<'a> {
    fn of(name: &str, b: &'a RecordBatch, col: &'static str) -> Result<Text<'a>> {
        let Some(arr) = b.column_by_name(col) else {
            return Err(data(format!("{name}: missing column {col} (utf8)")));
        };
        if let Some(d) = arr.as_any().downcast_ref::<DictionaryArray<Int32Type>>() {
            if let Some(values) = d.values().as_any().downcast_ref::<StringArray>() {
                // A code outside the values (a corrupt file) is an error, never a panic.
                let keys = d.keys();
                let fits = |(i, &k): (usize, &i32)| {
                    (k >= 0 && (k as usize) < values.len()) || keys.is_null(i)
                };
                if !keys.values().iter().enumerate().all(fits) {
                    return Err(corrupt(
                        name,
                        format!("column {col}: a code outside its values"),
                    ));
                }
                let data = TextData::Codes {
                    codes: d.keys(),
                    values,
                };
                return Ok(Text { col, data });
            }
        }
        let data = TextData::Plain(strs(name, b, col)?);
        Ok(Text { col, data })
    }

    fn null_count(&self) -> usize {
        match self.data {
            TextData::Plain(a) => a.null_count(),
            TextData::Codes { codes, .. } => codes.null_count(),
        }
    }

    /// The row's code (`None` for a plain column): rows with equal codes hold equal text.
    #[inline]
    fn code(&self, i: usize) -> Option<i32> {
        match self.data {
            TextData::Plain(_) => None,
            TextData::Codes { codes, .. } => Some(codes.value(i)),
        }
    }

    /// The row's text, the row known not to be NULL.
    #[inline]
    fn value(&self, i: usize) -> &'a str {
        match self.data {
            TextData::Plain(a) => a.value(i),
            TextData::Codes { codes, values } => values.value(codes.value(i) as usize),
        }
    }

    /// The row's text, or an error naming the column when it is NULL.
    fn required(&self, name: &str, i: usize) -> Result<&'a str> {
        let null = match self.data {
            TextData::Plain(a) => a.is_null(i),
            TextData::Codes { codes, .. } => codes.is_null(i),
        };
        if null {
            let col = self.col;
            return Err(data(format!("{name}: column {col} is null in row {i}")));
        }
        Ok(self.value(i))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;

    use super::*;

    /// One batch written as a Parquet file.
    fn parquet_bytes(batch: &RecordBatch) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
        out
    }

    fn calls_file(n: usize) -> Vec<u8> {
        let s = |f: &dyn Fn(usize) -> String| -> ArrayRef {
            Arc::new(StringArray::from((0..n).map(f).collect::<Vec<_>>()))
        };
        let batch = RecordBatch::try_from_iter([
            ("call_id", s(&|i| format!("c{i}"))),
            ("caller", s(&|i| format!("caller {}", i % 3))),
            ("chain", s(&|_| "solana".into())),
            ("mint", s(&|i| format!("mint{i}"))),
            (
                "alert_ts_ms",
                Arc::new(Int64Array::from((0..n as i64).collect::<Vec<_>>())) as ArrayRef,
            ),
            (
                "price_at_alert",
                Arc::new(Float64Array::from(vec![Some(1.5); n])) as ArrayRef,
            ),
        ])
        .unwrap();
        parquet_bytes(&batch)
    }

    /// A candles file whose rows are `(mint, ts)` in the given order.
    fn candles_file(rows: &[(&str, i64)]) -> Vec<u8> {
        let price = |ts: i64| 1.0 + ts as f64 / 7.0;
        let f = |g: &dyn Fn(i64) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from(
                rows.iter().map(|r| g(r.1)).collect::<Vec<_>>(),
            ))
        };
        let batch = RecordBatch::try_from_iter([
            (
                "chain",
                Arc::new(StringArray::from(vec!["solana"; rows.len()])) as ArrayRef,
            ),
            (
                "mint",
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            (
                "ts",
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            ("open", f(&price)),
            ("high", f(&|t| price(t) * 1.5)),
            ("low", f(&|t| price(t) * 0.5)),
            ("close", f(&|t| price(t + 60))),
            ("volume", f(&|t| (t % 5) as f64)),
        ])
        .unwrap();
        parquet_bytes(&batch)
    }

    #[test]
    fn candles_are_grouped_per_token_sorted_and_compact_in_any_row_order() {
        // Token `b` comes in three runs, out of order; `c` is not wanted.
        let rows = [
            ("a", 0),
            ("a", 60),
            ("b", 180),
            ("b", 120),
            ("c", 0),
            ("a", 120),
            ("b", 0),
            ("b", 60),
            ("a", 180),
        ];
        let wanted: BTreeSet<Token> = ["a", "b"]
            .iter()
            .map(|m| ("solana".to_string(), m.to_string()))
            .collect();
        let read = |volumes| {
            let file = bytes::Bytes::from(candles_file(&rows));
            read_candles("candles.parquet", file, Some(&wanted), volumes).unwrap()
        };
        let got = read(Volumes::Keep);
        assert_eq!(got.len(), 2);
        for series in got.values() {
            let candles = series.to_vec();
            let ts: Vec<i64> = candles.iter().map(|c| c.ts).collect();
            assert_eq!(ts, [0, 60, 120, 180]);
            for c in &candles {
                let p = 1.0 + c.ts as f64 / 7.0;
                assert_eq!((c.open, c.high, c.low), (p, p * 1.5, p * 0.5));
                assert_eq!(c.close, 1.0 + (c.ts + 60) as f64 / 7.0);
                assert_eq!(c.volume, (c.ts % 5) as f64);
            }
        }
        // Without volumes: the same prices and volumes read NaN. These volumes are all 0,
        // which the store keeps for free, so the memory is exactly the same.
        let prices_only = read(Volumes::Drop);
        for (key, series) in &prices_only {
            let full = &got[key];
            assert!(!series.holds_volume() && full.holds_volume());
            assert_eq!(series.bytes(), full.bytes());
            for (a, b) in series.to_vec().iter().zip(full.to_vec()) {
                assert_eq!(
                    (a.ts, a.open, a.high, a.low, a.close),
                    (b.ts, b.open, b.high, b.low, b.close)
                );
                assert!(a.volume.is_nan());
            }
        }
    }

    /// The runs of a file cut in parts anywhere are the runs of the whole file: a token that
    /// continues into the next part stays one run (so a dataset in parts builds what the whole
    /// file builds, with no token merged again).
    #[test]
    fn parts_read_as_the_whole_file() {
        let rows = [
            ("a", 0),
            ("a", 60),
            ("b", 0),
            ("b", 60),
            ("b", 120),
            ("c", 0),
            ("a", 120),
        ];
        let runs_of = |files: Vec<Vec<u8>>| {
            let mut runs = Vec::new();
            read_candle_runs_in(
                files
                    .into_iter()
                    .enumerate()
                    .map(|(k, f)| Ok((format!("part {k}"), bytes::Bytes::from(f)))),
                |_, mi| mi != "c",
                |_, mi, run| {
                    runs.push((mi.to_string(), run.iter().map(|c| c.ts).collect::<Vec<_>>()))
                },
            )
            .unwrap();
            runs
        };
        let whole = runs_of(vec![candles_file(&rows)]);
        assert_eq!(whole.len(), 3);
        for cut in 1..rows.len() {
            for cut2 in cut..rows.len() {
                let (head, rest) = rows.split_at(cut);
                let (mid, tail) = rest.split_at(cut2 - cut);
                let mut files = vec![candles_file(head)];
                if !mid.is_empty() {
                    files.push(candles_file(mid));
                }
                files.push(candles_file(tail));
                assert_eq!(runs_of(files), whole, "cut at {cut} and {cut2}");
            }
        }
        // An error opening a part ends the read with it.
        let err = read_candle_runs_in(
            [
                Ok(("p0".to_string(), bytes::Bytes::from(candles_file(&rows)))),
                Err(crate::data("p1: missing")),
            ],
            |_, _| true,
            |_, _, _| {},
        );
        assert_eq!(err, Err(crate::data("p1: missing")));
    }

    /// The lab's path: a dataset's parts, as bytes, picked and checked against a manifest that
    /// lists them (`parts::pick_candle_files`) and loaded (`load_published`), give the dataset
    /// the whole file gives; a changed part is refused by name.
    #[test]
    fn a_dataset_in_parts_loads_as_the_whole_file() {
        use crate::dataset::{load_published, LoadOptions, PublishedFiles};
        use crate::options::Selection;
        use crate::parts::{part_name, pick_candle_files, WHOLE};
        use serde_json::json;
        use sha2::{Digest, Sha256};

        // Three calls on three tokens, at 0 ms; 120 valid one-minute candles each.
        let rows: Vec<(String, i64)> = (0..3)
            .flat_map(|i| (0..120).map(move |k| (format!("mint{i}"), k * 60)))
            .collect();
        let file = |rows: &[(String, i64)]| {
            let p: Vec<f64> = rows.iter().map(|r| 1.0 + r.1 as f64 / 7.0).collect();
            let f = |m: f64| {
                Arc::new(Float64Array::from(
                    p.iter().map(|x| x * m).collect::<Vec<_>>(),
                )) as ArrayRef
            };
            let batch = RecordBatch::try_from_iter([
                (
                    "chain",
                    Arc::new(StringArray::from(vec!["solana"; rows.len()])) as ArrayRef,
                ),
                (
                    "mint",
                    Arc::new(StringArray::from(
                        rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
                    )) as ArrayRef,
                ),
                (
                    "ts",
                    Arc::new(Int64Array::from(
                        rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                    )) as ArrayRef,
                ),
                ("open", f(1.0)),
                ("high", f(1.5)),
                ("low", f(0.5)),
                ("close", f(1.0)),
                ("volume", f(0.25)),
            ])
            .unwrap();
            parquet_bytes(&batch)
        };
        let opts = LoadOptions {
            interval_s: 60,
            horizon_hours: 1.0,
            min_coverage: 0.8,
        };
        let load = |candles: Vec<(String, bytes::Bytes)>| {
            let files = PublishedFiles {
                calls: (
                    "calls.parquet".to_string(),
                    bytes::Bytes::from(calls_file(3)),
                ),
                excluded: None,
                candles,
            };
            load_published(
                "t".into(),
                None,
                opts,
                files,
                &Selection::all(),
                Volumes::Keep,
            )
            .unwrap()
        };
        let whole = load(vec![(WHOLE.to_string(), bytes::Bytes::from(file(&rows)))]);
        assert_eq!(whole.coverage().0, 3, "{:?}", whole.status);
        // Cut inside tokens.
        let parts: Vec<Vec<u8>> = [0..50, 50..200, 200..360].map(|r| file(&rows[r])).into();
        let manifest = json!({
            "parts": {WHOLE: (0..3).map(part_name).collect::<Vec<_>>()},
            "files": (0..3).map(|k| (part_name(k), json!({
                "bytes": parts[k].len(),
                "rows": 1,
                "sha256": crate::hex(&Sha256::digest(&parts[k])),
            }))).collect::<serde_json::Map<_, _>>(),
        });
        // Given in any order, by URL.
        let given = |parts: &[Vec<u8>]| -> Vec<(String, bytes::Bytes)> {
            [2, 0, 1]
                .iter()
                .map(|&k| {
                    (
                        format!("https://h/d/{}", part_name(k)),
                        bytes::Bytes::from(parts[k].clone()),
                    )
                })
                .collect()
        };
        let picked = pick_candle_files(Some(("manifest.json", &manifest)), given(&parts)).unwrap();
        let in_parts = load(picked);
        assert_eq!(in_parts.tokens, whole.tokens);
        assert_eq!(in_parts.status, whole.status);
        let mut changed = parts.clone();
        changed[1] = parts[2].clone();
        assert_eq!(
            pick_candle_files(Some(("manifest.json", &manifest)), given(&changed)).map(|_| ()),
            Err(crate::data(format!(
                "https://h/d/candles-00001.parquet: {} bytes, the manifest says {} (a partial copy, or a part of another export?)",
                parts[2].len(),
                parts[1].len()
            )))
        );
    }

    /// The page check (`page_guard`) passes every page a writer makes: `BYTE_STREAM_SPLIT`
    /// numbers with NULLs among them, dictionary-encoded strings, data pages v1 and v2, many
    /// small pages; what is read equals what was written.
    #[test]
    fn valid_pages_of_every_kind_pass_the_page_check() {
        use parquet::basic::Encoding;
        use parquet::file::properties::{WriterProperties, WriterVersion};
        use parquet::schema::types::ColumnPath;

        let n = 5000;
        let batch = RecordBatch::try_from_iter([
            (
                "mint",
                Arc::new(StringArray::from(
                    (0..n).map(|i| format!("m{}", i / 700)).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            (
                "ts",
                Arc::new(Int64Array::from(
                    (0..n as i64).map(|i| i * 60).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            (
                "close",
                Arc::new(Float64Array::from(
                    (0..n).map(|i| 1.0 + i as f64 / 3.0).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            (
                "volume",
                Arc::new(Float64Array::from(
                    (0..n)
                        .map(|i| (i % 7 != 3).then_some(i as f64))
                        .collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
        ])
        .unwrap();
        for version in [WriterVersion::PARQUET_1_0, WriterVersion::PARQUET_2_0] {
            let mut props = WriterProperties::builder()
                .set_writer_version(version)
                .set_data_page_row_count_limit(300)
                .set_write_batch_size(100);
            for col in ["ts", "close", "volume"] {
                props = props
                    .set_column_dictionary_enabled(ColumnPath::from(col), false)
                    .set_column_encoding(ColumnPath::from(col), Encoding::BYTE_STREAM_SPLIT);
            }
            let mut out = Vec::new();
            let mut w =
                ArrowWriter::try_new(&mut out, batch.schema(), Some(props.build())).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
            let mut rows = 0;
            for_each_batch("pages.parquet", bytes::Bytes::from(out), |b| {
                assert_eq!(*b, batch.slice(rows, b.num_rows()), "{version:?}");
                rows += b.num_rows();
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{version:?}: {e}"));
            assert_eq!(rows, n, "{version:?}");
        }
    }

    /// A `FIXED_LEN_BYTE_ARRAY` column of width 0 (no column of a dataset has that type, but a
    /// file may, and `parquet`'s fixed-length reader divides by the width) is read without a
    /// panic: the one divisor a file sets directly. (Session 5 saw a rare page-level division
    /// by zero in `parquet` 60.1; none has shown since 60.2.0 and the page check.)
    #[test]
    fn a_zero_width_fixed_length_column_reads_without_a_panic() {
        use parquet::data_type::{ByteArray, FixedLenByteArray, FixedLenByteArrayType};
        use parquet::file::properties::WriterProperties;
        use parquet::file::writer::SerializedFileWriter;
        use parquet::schema::parser::parse_message_type;

        let schema = parse_message_type("message m { REQUIRED FIXED_LEN_BYTE_ARRAY (0) f; }")
            .expect("a width-0 column is a valid schema to parquet");
        let mut out = Vec::new();
        let mut w = SerializedFileWriter::new(
            &mut out,
            Arc::new(schema),
            Arc::new(WriterProperties::builder().build()),
        )
        .unwrap();
        let mut rg = w.next_row_group().unwrap();
        let mut col = rg.next_column().unwrap().unwrap();
        let values = vec![FixedLenByteArray::from(ByteArray::from(Vec::<u8>::new())); 3];
        col.typed::<FixedLenByteArrayType>()
            .write_batch(&values, None, None)
            .unwrap();
        col.close().unwrap();
        rg.close().unwrap();
        w.close().unwrap();
        let file = bytes::Bytes::from(out);
        let mut rows = 0;
        for_each_batch("zero.parquet", file, |b| {
            rows += b.num_rows();
            Ok(())
        })
        .unwrap();
        assert_eq!(rows, 3);
    }

    #[test]
    fn floats_read_null_as_nan_with_or_without_nulls_in_the_column() {
        let check = |values: Vec<Option<f64>>, dense: bool| {
            let a = Float64Array::from(values.clone());
            let f = Floats::of(&a);
            assert_eq!(matches!(f, Floats::Dense(_)), dense);
            for (i, v) in values.iter().enumerate() {
                let got = f.get(i);
                match v {
                    Some(x) => assert_eq!(got.to_bits(), x.to_bits()),
                    None => assert!(got.is_nan()),
                }
            }
        };
        check(vec![Some(1.5), Some(-0.0), Some(f64::INFINITY)], true);
        check(vec![Some(1.5), None, Some(2.5)], false);
        check(vec![None], false);
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it_not_a_panic() {
        let good = calls_file(50);
        let rows = read_calls("calls.parquet", bytes::Bytes::from(good.clone()), false).unwrap();
        assert_eq!(rows.len(), 50);
        // Truncated, and flipped bytes all over the file (a fixed pseudo-random walk).
        let cut = read_calls(
            "calls.parquet",
            bytes::Bytes::from(good[..good.len() / 2].to_vec()),
            false,
        );
        assert!(cut.unwrap_err().to_string().starts_with("calls.parquet: "));
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..3000 {
            let mut bad = good.clone();
            for _ in 0..2 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let at = (x % bad.len() as u64) as usize;
                bad[at] ^= (x >> 32) as u8 | 1;
            }
            let r = std::panic::catch_unwind(|| {
                read_calls("calls.parquet", bytes::Bytes::from(bad.clone()), false)
            });
            match r {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => assert!(e.to_string().starts_with("calls.parquet: "), "{e}"),
                Err(_) => panic!("reading a corrupt file panicked"),
            }
        }
    }
}
