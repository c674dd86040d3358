//! One token's candles out of a published candle file fetched by byte ranges (issue 19): the
//! lab opens a result bundle without the dataset, and a clicked trade needs only its token's
//! candles. The file's tail (footer and page index) says which pages can hold the token (the
//! `chain` and `mint` columns' page statistics, rows being in token order), their byte ranges
//! in every column are fetched, and the rows are decoded through the same checked page readers
//! as a whole file ([`crate::page_guard`]), pages outside the selection never read. No I/O
//! here: the caller fetches the ranges this asks for into a [`Sparse`] file.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, RowSelection, RowSelector,
};
use parquet::arrow::{parquet_to_arrow_field_levels, ProjectionMask};
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::reader::{ChunkReader, Length};
use quantbot_core::data::Candle;

use crate::page_guard::GuardedRowGroups;
use crate::parquet_read::{f64s, i64s, strs, Floats};
use crate::{data, Result};

/// The bytes fetched first from the end of a file: its footer and page index, in one request
/// for the published candle parts (about 60 KB of both per 25 MiB part).
pub const TAIL_GUESS: u64 = 128 * 1024;

/// A file of `len` bytes of which only some ranges were fetched. Reading anything else is an
/// error, never a panic or a silent zero.
#[derive(Debug, Clone, Default)]
pub struct Sparse {
    len: u64,
    pieces: BTreeMap<u64, Bytes>,
}

impl Sparse {
    pub fn new(len: u64) -> Sparse {
        Sparse {
            len,
            pieces: BTreeMap::new(),
        }
    }

    /// Adds the bytes fetched at `start`.
    pub fn add(&mut self, start: u64, bytes: Bytes) {
        self.pieces.insert(start, bytes);
    }

    /// Bytes fetched in all.
    pub fn fetched(&self) -> u64 {
        self.pieces.values().map(|b| b.len() as u64).sum()
    }

    fn slice(&self, start: u64, length: usize) -> std::result::Result<Bytes, ParquetError> {
        let end = start.saturating_add(length as u64);
        if let Some((&at, piece)) = self.pieces.range(..=start).next_back() {
            if end <= at + piece.len() as u64 {
                let from = (start - at) as usize;
                return Ok(piece.slice(from..from + length));
            }
        }
        Err(ParquetError::General(format!(
            "bytes {start}..{end} were not fetched"
        )))
    }
}

impl Length for Sparse {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for Sparse {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> std::result::Result<Self::T, ParquetError> {
        // A reader from `start` to the end of the piece that holds it.
        let (&at, piece) = self
            .pieces
            .range(..=start)
            .next_back()
            .filter(|(&at, p)| start < at + p.len() as u64)
            .ok_or_else(|| ParquetError::General(format!("byte {start} was not fetched")))?;
        use bytes::Buf;
        Ok(piece.slice((start - at) as usize..).reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> std::result::Result<Bytes, ParquetError> {
        self.slice(start, length)
    }
}

/// The range of the file's tail to fetch next, or `None` once the tail holds the footer, the
/// metadata and the page index (then [`metadata`] reads them).
pub fn tail_needed(name: &str, file: &Sparse) -> Result<Option<Range<u64>>> {
    let len = file.len;
    if len < 12 {
        return Err(data(format!(
            "{name}: {len} bytes is too short for Parquet"
        )));
    }
    let have_from = |start: u64| file.slice(start, (len - start) as usize).is_ok();
    if !have_from(len - 8) {
        return Ok(Some(len.saturating_sub(TAIL_GUESS)..len));
    }
    let foot = file
        .slice(len - 8, 8)
        .map_err(|e| data(format!("{name}: {e}")))?;
    if &foot[4..] != b"PAR1" {
        return Err(data(format!(
            "{name}: not a Parquet file (no PAR1 at its end)"
        )));
    }
    let meta_len = u64::from(u32::from_le_bytes([foot[0], foot[1], foot[2], foot[3]]));
    let meta_start = len
        .checked_sub(8 + meta_len)
        .ok_or_else(|| data(format!("{name}: its footer is longer than the file")))?;
    if !have_from(meta_start) {
        return Ok(Some(meta_start..len));
    }
    let meta = ParquetMetaDataReader::decode_metadata(
        &file
            .slice(meta_start, meta_len as usize)
            .map_err(|e| data(format!("{name}: {e}")))?,
    )
    .map_err(|e| data(format!("{name}: not a readable Parquet footer: {e}")))?;
    let index_start = meta
        .row_groups()
        .iter()
        .flat_map(|rg| rg.columns())
        .flat_map(|c| [c.column_index_range(), c.offset_index_range()])
        .flatten()
        .map(|r| r.start)
        .min();
    match index_start {
        None => Err(data(format!(
            "{name}: has no page index, so one token's rows cannot be fetched alone"
        ))),
        Some(s) if s >= meta_start => Err(data(format!("{name}: its page index is misplaced"))),
        Some(s) if !have_from(s) => Ok(Some(s..len)),
        Some(_) => Ok(None),
    }
}

/// The file's metadata with its page index, from a tail [`tail_needed`] is content with.
pub fn metadata(name: &str, file: &Sparse) -> Result<ParquetMetaData> {
    ParquetMetaDataReader::new()
        .with_page_index_policy(PageIndexPolicy::Required)
        .parse_and_finish(file)
        .map_err(|e| data(format!("{name}: not a readable Parquet footer: {e}")))
}

/// Ranges sorted, overlapping and touching ones merged.
fn merge<T: Ord + Copy>(mut v: Vec<Range<T>>) -> Vec<Range<T>> {
    v.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<T>> = Vec::new();
    for r in v {
        match merged.last_mut() {
            Some(m) if r.start <= m.end => m.end = m.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// Whether `v` lies in a page's `[min, max]` of a string column (a page without statistics
/// may hold anything).
fn page_may_hold(index: &ColumnIndexMetaData, page: usize, v: &[u8]) -> bool {
    let ColumnIndexMetaData::BYTE_ARRAY(ix) = index else {
        return true;
    };
    if ix.is_null_page(page) {
        return false;
    }
    match (ix.min_value(page), ix.max_value(page)) {
        (Some(lo), Some(hi)) => lo <= v && v <= hi,
        _ => true,
    }
}

/// The rows (of the whole file, in order) whose pages may hold `(chain, mint)`: the rows of
/// the pages where both the `chain` and the `mint` column's statistics allow it.
pub fn token_rows(meta: &ParquetMetaData, chain: &str, mint: &str) -> Vec<Range<usize>> {
    let schema = meta.file_metadata().schema_descr();
    let col = |name: &str| (0..schema.num_columns()).find(|&i| schema.column(i).name() == name);
    let (Some(c_chain), Some(c_mint)) = (col("chain"), col("mint")) else {
        return Vec::new();
    };
    let mut out: Vec<Range<usize>> = Vec::new();
    let mut base = 0usize;
    for (g, rg) in meta.row_groups().iter().enumerate() {
        let rows = rg.num_rows().max(0) as usize;
        let pi = meta.page_index_for_row_group(g);
        // Per column, the row ranges of its pages that may hold the value.
        let ranges = |c: usize, v: &str| -> Vec<Range<usize>> {
            let (Some(ix), Some(oi)) = (pi.column_index(c), pi.offset_index(c)) else {
                // No statistics: every row may hold it.
                return std::iter::once(0..rows).collect();
            };
            let locs = oi.page_locations();
            (0..locs.len())
                .filter(|&p| page_may_hold(ix, p, v.as_bytes()))
                .map(|p| {
                    let start = locs[p].first_row_index.max(0) as usize;
                    let end = locs
                        .get(p + 1)
                        .map_or(rows, |n| n.first_row_index.max(0) as usize);
                    start.min(rows)..end.min(rows)
                })
                .collect()
        };
        let a = ranges(c_chain, chain);
        let b = ranges(c_mint, mint);
        for x in &a {
            for y in &b {
                let (s, e) = (x.start.max(y.start), x.end.min(y.end));
                if s < e {
                    out.push(base + s..base + e);
                }
            }
        }
        base += rows;
    }
    merge(out)
}

/// The byte ranges to fetch to decode `rows` in every column: each column's dictionary page
/// and the data pages that overlap the rows, adjacent ranges merged.
pub fn page_ranges(meta: &ParquetMetaData, rows: &[Range<usize>]) -> Vec<Range<u64>> {
    let mut out: Vec<Range<u64>> = Vec::new();
    let mut base = 0usize;
    for (g, rg) in meta.row_groups().iter().enumerate() {
        let n = rg.num_rows().max(0) as usize;
        let pi = meta.page_index_for_row_group(g);
        let here: Vec<Range<usize>> = rows
            .iter()
            .filter(|r| r.start < base + n && r.end > base)
            .map(|r| r.start.max(base) - base..r.end.min(base + n) - base)
            .collect();
        if !here.is_empty() {
            for (c, chunk) in rg.columns().iter().enumerate() {
                let Some(oi) = pi.offset_index(c) else {
                    let (s, l) = chunk.byte_range();
                    out.push(s..s + l);
                    continue;
                };
                let locs = oi.page_locations();
                let (start, _) = chunk.byte_range();
                if let Some(first) = locs.first() {
                    if first.offset as u64 > start {
                        out.push(start..first.offset as u64);
                    }
                }
                for (p, loc) in locs.iter().enumerate() {
                    let s = loc.first_row_index.max(0) as usize;
                    let e = locs
                        .get(p + 1)
                        .map_or(n, |x| x.first_row_index.max(0) as usize);
                    if here.iter().any(|r| r.start < e && r.end > s) {
                        let at = loc.offset.max(0) as u64;
                        out.push(at..at + loc.compressed_page_size.max(0) as u64);
                    }
                }
            }
        }
        base += n;
    }
    merge(out)
}

/// The candles of `(chain, mint)` among `rows` of a file whose [`page_ranges`] were fetched,
/// in file order.
pub fn read_token(
    name: &str,
    file: Sparse,
    meta: ParquetMetaData,
    chain: &str,
    mint: &str,
    rows: &[Range<usize>],
) -> Result<Vec<Candle>> {
    let total: usize = meta
        .row_groups()
        .iter()
        .map(|rg| rg.num_rows().max(0) as usize)
        .sum();
    let mut selectors = Vec::new();
    let mut at = 0;
    for r in rows {
        if r.start > at {
            selectors.push(RowSelector::skip(r.start - at));
        }
        selectors.push(RowSelector::select(r.end - r.start));
        at = r.end;
    }
    if total > at {
        selectors.push(RowSelector::skip(total - at));
    }
    let meta = Arc::new(meta);
    let arrow = ArrowReaderMetadata::try_new(meta.clone(), ArrowReaderOptions::new())
        .map_err(|e| data(format!("{name}: {e}")))?;
    let levels = parquet_to_arrow_field_levels(
        arrow.parquet_schema(),
        ProjectionMask::all(),
        Some(arrow.schema().fields()),
    )
    .map_err(|e| data(format!("{name}: {e}")))?;
    let groups = GuardedRowGroups {
        reader: Arc::new(file),
        metadata: meta,
    };
    let reader = ParquetRecordBatchReader::try_new_with_row_groups(
        &levels,
        &groups,
        1024,
        Some(RowSelection::from(selectors)),
    )
    .map_err(|e| data(format!("{name}: {e}")))?;
    let mut out = Vec::new();
    for batch in reader {
        let b = batch.map_err(|e| data(format!("{name}: a corrupt page: {e}")))?;
        let (ch, mi) = (strs(name, &b, "chain")?, strs(name, &b, "mint")?);
        let ts = i64s(name, &b, "ts")?;
        let [o, h, l, c, v] =
            ["open", "high", "low", "close", "volume"].map(|k| f64s(name, &b, k).map(Floats::of));
        let (o, h, l, c, v) = (o?, h?, l?, c?, v?);
        for i in 0..b.num_rows() {
            if ch.value(i) == chain && mi.value(i) == mint {
                out.push(Candle {
                    ts: ts.value(i),
                    open: o.get(i),
                    high: h.get(i),
                    low: l.get(i),
                    close: c.get(i),
                    volume: v.get(i),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    use parquet::schema::types::ColumnPath;

    /// A token's chain, mint and candles.
    type TokenRows = (String, String, Vec<Candle>);

    /// 40 tokens × 300 candles in token order, pages of 64 rows: one file of many pages.
    fn file() -> (Vec<u8>, Vec<TokenRows>) {
        let mut tokens = Vec::new();
        for t in 0..40 {
            let chain = if t < 20 { "base" } else { "solana" };
            let mint = format!("mint{t:03}");
            let candles: Vec<Candle> = (0..300)
                .map(|i| {
                    let p = 1.0 + t as f64 + i as f64 / 1000.0;
                    Candle {
                        ts: 1_700_000_000 + i * 60,
                        open: p,
                        high: p * 1.01,
                        low: p * 0.99,
                        close: p,
                        volume: i as f64,
                    }
                })
                .collect();
            tokens.push((chain.to_string(), mint, candles));
        }
        let rows: Vec<(&str, &str, &Candle)> = tokens
            .iter()
            .flat_map(|(c, m, k)| k.iter().map(move |x| (c.as_str(), m.as_str(), x)))
            .collect();
        let col = |f: &dyn Fn(&Candle) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from(
                rows.iter().map(|r| f(r.2)).collect::<Vec<_>>(),
            ))
        };
        let batch = RecordBatch::try_from_iter([
            (
                "chain",
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            (
                "mint",
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            (
                "ts",
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.2.ts).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            ("open", col(&|c| c.open)),
            ("high", col(&|c| c.high)),
            ("low", col(&|c| c.low)),
            ("close", col(&|c| c.close)),
            ("volume", col(&|c| c.volume)),
        ])
        .unwrap();
        // As `quantbot export` writes candles: no dictionary but for the token's key.
        let props = WriterProperties::builder()
            .set_data_page_row_count_limit(64)
            .set_write_batch_size(64)
            .set_dictionary_enabled(false)
            .set_column_dictionary_enabled(ColumnPath::from("chain"), true)
            .set_column_dictionary_enabled(ColumnPath::from("mint"), true)
            .build();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        (out, tokens)
    }

    /// What the lab does over HTTP: the tail, then the token's pages, nothing else.
    /// Returns the candles and the bytes fetched for the pages (after the tail).
    fn fetch_token(bytes: &[u8], chain: &str, mint: &str) -> (Vec<Candle>, u64) {
        let whole = Bytes::copy_from_slice(bytes);
        let mut f = Sparse::new(bytes.len() as u64);
        while let Some(r) = tail_needed("c.parquet", &f).unwrap() {
            f.add(r.start, whole.slice(r.start as usize..r.end as usize));
        }
        let meta = metadata("c.parquet", &f).unwrap();
        let tail = f.fetched();
        let rows = token_rows(&meta, chain, mint);
        for r in page_ranges(&meta, &rows) {
            f.add(r.start, whole.slice(r.start as usize..r.end as usize));
        }
        let fetched = f.fetched() - tail;
        (
            read_token("c.parquet", f, meta, chain, mint, &rows).unwrap(),
            fetched,
        )
    }

    #[test]
    fn a_tokens_candles_come_from_its_pages_alone() {
        let (bytes, tokens) = file();
        for (chain, mint, want) in [&tokens[0], &tokens[17], &tokens[20], &tokens[39]] {
            let (got, fetched) = fetch_token(&bytes, chain, mint);
            assert_eq!(&got, want, "{chain}:{mint}");
            // The token is 1/40 of the rows: its pages are a small part of the file.
            assert!(
                fetched * 15 < bytes.len() as u64,
                "{fetched} of {} bytes fetched",
                bytes.len()
            );
        }
        // An unknown token: no rows, nothing but the tail fetched.
        let (none, _) = fetch_token(&bytes, "solana", "nope");
        assert!(none.is_empty());
        // A byte range that was not fetched is an error, not a panic.
        let f = Sparse::new(100);
        assert!(f.get_bytes(10, 5).is_err());
        assert!(tail_needed("x", &Sparse::new(4)).is_err());
    }
}
