//! A check of every Parquet page before `parquet`'s decoders see it: two kinds of corrupt page
//! make `parquet` 60 panic instead of returning an error (found by `fuzz/`, target `dataset`),
//! so they are refused here with a message naming the column.
//!
//! - A data page in a dictionary encoding with no dictionary page before it in its column chunk
//!   (`column/reader/decoder.rs`: "Decoder for dict should have been set").
//! - A `BYTE_STREAM_SPLIT` page holding fewer value bytes than its values need
//!   (`encodings/decoding/byte_stream_split_decoder.rs` indexes past the page).
//!
//! The pages pass through [`GuardedRowGroups`], a [`RowGroups`] whose page readers are wrapped
//! by [`GuardedPages`]: one pass, nothing decoded twice.

use std::sync::Arc;

use parquet::arrow::arrow_reader::RowGroups;
use parquet::basic::{Encoding, Type};
use parquet::column::page::{Page, PageIterator, PageMetadata, PageReader};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ParquetMetaData, RowGroupMetaData};
use parquet::file::reader::ChunkReader;
use parquet::file::serialized_reader::SerializedPageReader;

/// The row groups of one file, every page reader guarded.
pub struct GuardedRowGroups<R: ChunkReader> {
    pub reader: Arc<R>,
    pub metadata: Arc<ParquetMetaData>,
}

impl<R: ChunkReader + 'static> RowGroups for GuardedRowGroups<R> {
    fn num_rows(&self) -> usize {
        self.metadata
            .row_groups()
            .iter()
            .map(|rg| rg.num_rows().max(0) as usize)
            .sum()
    }

    fn column_chunks(&self, i: usize) -> Result<Box<dyn PageIterator>> {
        Ok(Box::new(Chunks {
            reader: self.reader.clone(),
            metadata: self.metadata.clone(),
            column: i,
            next_group: 0,
        }))
    }

    fn row_groups(&self) -> Box<dyn Iterator<Item = &RowGroupMetaData> + '_> {
        Box::new(self.metadata.row_groups().iter())
    }

    fn metadata(&self) -> &ParquetMetaData {
        &self.metadata
    }
}

/// One column's chunks, row group after row group.
struct Chunks<R: ChunkReader> {
    reader: Arc<R>,
    metadata: Arc<ParquetMetaData>,
    column: usize,
    next_group: usize,
}

impl<R: ChunkReader + 'static> Iterator for Chunks<R> {
    type Item = Result<Box<dyn PageReader>>;

    fn next(&mut self) -> Option<Self::Item> {
        let rg = self.metadata.row_groups().get(self.next_group)?;
        self.next_group += 1;
        let chunk = rg.column(self.column);
        let descr = chunk.column_descr();
        let shape = Shape {
            column: chunk.column_path().string(),
            width: match descr.physical_type() {
                Type::INT32 | Type::FLOAT => Some(4),
                Type::INT64 | Type::DOUBLE => Some(8),
                Type::FIXED_LEN_BYTE_ARRAY => usize::try_from(descr.type_length()).ok(),
                _ => None,
            },
            max_def: descr.max_def_level(),
            max_rep: descr.max_rep_level(),
        };
        let rows = rg.num_rows().max(0) as usize;
        // With an offset index (loaded only to read some rows, `crate::ranged`), pages are read
        // by their locations and pages outside the row selection are never read.
        let locations = self
            .metadata
            .page_index_for_row_group(self.next_group - 1)
            .page_locations(self.column)
            .cloned();
        Some(
            SerializedPageReader::new(self.reader.clone(), chunk, rows, locations).map(|inner| {
                Box::new(GuardedPages {
                    inner,
                    shape,
                    dictionary: false,
                }) as Box<dyn PageReader>
            }),
        )
    }
}

impl<R: ChunkReader + 'static> PageIterator for Chunks<R> {}

/// What the checks need of a column.
struct Shape {
    column: String,
    /// Bytes a value takes in `BYTE_STREAM_SPLIT`, for the types that have a fixed width.
    width: Option<usize>,
    max_def: i16,
    max_rep: i16,
}

/// A column chunk's pages, each checked before it is handed on.
pub struct GuardedPages<P> {
    inner: P,
    shape: Shape,
    /// A dictionary page has gone by in this chunk.
    dictionary: bool,
}

impl<P: PageReader> GuardedPages<P> {
    fn check(&mut self, page: &Page) -> Result<()> {
        match page {
            Page::DictionaryPage { .. } => {
                self.dictionary = true;
                Ok(())
            }
            Page::DataPage {
                buf,
                num_values,
                encoding,
                def_level_encoding,
                rep_level_encoding,
                ..
            } => {
                self.check_dictionary(*encoding)?;
                if *encoding != Encoding::BYTE_STREAM_SPLIT {
                    return Ok(());
                }
                let levels = *num_values as usize;
                let mut rest: &[u8] = buf;
                if self.shape.max_rep > 0 {
                    let (_, after) =
                        self.v1_levels(rest, levels, self.shape.max_rep, *rep_level_encoding)?;
                    rest = after;
                }
                let mut values = levels;
                if self.shape.max_def > 0 {
                    let (level_bytes, after) =
                        self.v1_levels(rest, levels, self.shape.max_def, *def_level_encoding)?;
                    if *def_level_encoding == Encoding::RLE {
                        values = count_level(level_bytes, levels, self.shape.max_def)
                            .ok_or_else(|| self.bad("its definition levels are cut short"))?;
                    }
                    rest = after;
                }
                self.check_split(rest.len(), values)
            }
            Page::DataPageV2 {
                buf,
                num_values,
                encoding,
                num_nulls,
                def_levels_byte_len,
                rep_levels_byte_len,
                ..
            } => {
                self.check_dictionary(*encoding)?;
                if *encoding != Encoding::BYTE_STREAM_SPLIT {
                    return Ok(());
                }
                let levels = *def_levels_byte_len as usize + *rep_levels_byte_len as usize;
                let value_bytes = buf
                    .len()
                    .checked_sub(levels)
                    .ok_or_else(|| self.bad("its levels are longer than the page"))?;
                let values = num_values
                    .checked_sub(*num_nulls)
                    .ok_or_else(|| self.bad("it has more nulls than values"))?;
                self.check_split(value_bytes, values as usize)
            }
        }
    }

    fn check_dictionary(&self, encoding: Encoding) -> Result<()> {
        let dictionary_encoded = matches!(
            encoding,
            Encoding::PLAIN_DICTIONARY | Encoding::RLE_DICTIONARY
        );
        if dictionary_encoded && !self.dictionary {
            return Err(self.bad("it is dictionary-encoded and no dictionary page comes before it"));
        }
        Ok(())
    }

    /// `BYTE_STREAM_SPLIT` reads value `i`'s byte `j` at `i + j × (len / width)`: every value
    /// must have its `width` bytes.
    fn check_split(&self, value_bytes: usize, values: usize) -> Result<()> {
        let Some(width) = self.shape.width.filter(|w| *w > 0) else {
            return Ok(());
        };
        if values
            .checked_mul(width)
            .is_none_or(|need| need > value_bytes)
        {
            return Err(self.bad(&format!(
                "its BYTE_STREAM_SPLIT values need {values} × {width} bytes and it holds \
                 {value_bytes}"
            )));
        }
        Ok(())
    }

    /// Splits a v1 page's levels (length-prefixed RLE, or the old bit-packed encoding) from
    /// what follows.
    fn v1_levels<'b>(
        &self,
        buf: &'b [u8],
        levels: usize,
        max: i16,
        encoding: Encoding,
    ) -> Result<(&'b [u8], &'b [u8])> {
        let len = match encoding {
            Encoding::RLE => {
                let Some(prefix) = buf.get(..4) else {
                    return Err(self.bad("its levels are cut short"));
                };
                let len = u32::from_le_bytes(prefix.try_into().expect("4 bytes")) as usize;
                if len > buf.len() - 4 {
                    return Err(self.bad("its levels are longer than the page"));
                }
                return Ok(buf[4..].split_at(len));
            }
            #[allow(deprecated)]
            Encoding::BIT_PACKED => levels
                .checked_mul(bit_width(max) as usize)
                .map(|bits| bits.div_ceil(8)),
            _ => None,
        };
        match len {
            Some(len) if len <= buf.len() => Ok(buf.split_at(len)),
            _ => Err(self.bad("its levels are cut short or in an unknown encoding")),
        }
    }

    fn bad(&self, why: &str) -> ParquetError {
        ParquetError::General(format!(
            "column {}: a corrupt page: {why}",
            self.shape.column
        ))
    }
}

/// The bits a level up to `max` takes.
fn bit_width(max: i16) -> u32 {
    16 - (max.max(0) as u16).leading_zeros()
}

/// How many of the first `n` levels of an RLE/bit-packed hybrid run equal `max` (a value that
/// is not null), or `None` when the runs end before `n` levels.
fn count_level(data: &[u8], n: usize, max: i16) -> Option<usize> {
    let width = bit_width(max) as usize;
    let value_bytes = width.div_ceil(8);
    let (mut at, mut seen, mut count) = (0usize, 0usize, 0usize);
    while seen < n {
        let mut header = 0u64;
        let mut shift = 0;
        loop {
            let b = *data.get(at)?;
            at += 1;
            header |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
        if header & 1 == 0 {
            let run = usize::try_from(header >> 1).ok()?.min(n - seen);
            let bytes = data.get(at..at + value_bytes)?;
            at += value_bytes;
            let value = bytes
                .iter()
                .rev()
                .fold(0u64, |v, b| (v << 8) | u64::from(*b));
            if value == max as u64 {
                count += run;
            }
            seen += run;
        } else {
            let groups = usize::try_from(header >> 1).ok()?;
            let bytes = groups.checked_mul(width)?;
            let packed = data.get(at..at.checked_add(bytes)?)?;
            at += bytes;
            let take = groups.checked_mul(8)?.min(n - seen);
            for i in 0..take {
                let mut value = 0u64;
                for bit in 0..width {
                    let pos = i * width + bit;
                    value |= u64::from((packed[pos / 8] >> (pos % 8)) & 1) << bit;
                }
                if value == max as u64 {
                    count += 1;
                }
            }
            seen += take;
            if groups == 0 {
                return None;
            }
        }
    }
    Some(count)
}

impl<P: PageReader> Iterator for GuardedPages<P> {
    type Item = Result<Page>;

    fn next(&mut self) -> Option<Self::Item> {
        self.get_next_page().transpose()
    }
}

impl<P: PageReader> PageReader for GuardedPages<P> {
    fn get_next_page(&mut self) -> Result<Option<Page>> {
        let page = self.inner.get_next_page()?;
        if let Some(page) = &page {
            self.check(page)?;
        }
        Ok(page)
    }

    fn peek_next_page(&mut self) -> Result<Option<PageMetadata>> {
        self.inner.peek_next_page()
    }

    fn skip_next_page(&mut self) -> Result<()> {
        // A dictionary page skipped still counts as gone by (the reader may defer it).
        if self.inner.peek_next_page()?.is_some_and(|p| p.is_dict) {
            self.dictionary = true;
        }
        self.inner.skip_next_page()
    }

    fn supports_deferred_dictionary(&self) -> bool {
        self.inner.supports_deferred_dictionary()
    }

    fn take_deferred_dictionary(&mut self) -> Result<Option<Page>> {
        self.inner.take_deferred_dictionary()
    }

    fn at_record_boundary(&mut self) -> Result<bool> {
        self.inner.at_record_boundary()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_counted_in_rle_and_bit_packed_runs() {
        // An RLE run of 5 levels = 1, then an RLE run of 3 levels = 0 (width 1).
        assert_eq!(count_level(&[10, 1, 6, 0], 8, 1), Some(5));
        // A bit-packed run of one group of 8 levels (width 1): 0b1011_0101 → five ones.
        assert_eq!(count_level(&[3, 0b1011_0101], 8, 1), Some(5));
        // Only the first 6 of those 8: 0b11_0101 → four ones.
        assert_eq!(count_level(&[3, 0b1011_0101], 6, 1), Some(4));
        // Width 2 (max 2), bit-packed 8 levels: 2,2,0,1, 2,0,0,2 → four at the maximum.
        let packed = [0b0100_1010u8, 0b1000_0010u8];
        assert_eq!(count_level(&[3, packed[0], packed[1]], 8, 2), Some(4));
        // Runs that end before the levels do, and an endless header.
        assert_eq!(count_level(&[10, 1], 8, 1), None);
        assert_eq!(count_level(&[0xff; 12], 8, 1), None);
        assert_eq!(count_level(&[1], 8, 1), None);
    }

    #[test]
    fn bit_widths() {
        assert_eq!([0, 1, 2, 3, 4, 7, 8].map(bit_width), [0, 1, 2, 2, 3, 3, 4]);
    }
}
