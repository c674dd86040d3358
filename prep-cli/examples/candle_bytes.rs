//! Bytes a candle takes in `candles.parquet`, as `export` wrote it before session 8 (Snappy,
//! the writer's default encodings: dictionary, then plain) and as it writes it now (Snappy,
//! `BYTE_STREAM_SPLIT` for the five prices and volumes, `DELTA_BINARY_PACKED` for the times),
//! each read back and compared with the input value for value (bit for bit). Inputs: a
//! published `candles.parquet`, or candle CSVs (`timestamp` in seconds or `open_time` as
//! `YYYY-MM-DD HH:MM:SS+00:00`, then open, high, low, close, volume; the file's name is the
//! token).
//!
//! ```sh
//! cargo run -p quantbot-cli --profile test --example candle_bytes -- datasets/demo/candles.parquet
//! cargo run -p quantbot-cli --profile test --example candle_bytes -- ../shared/data/binanceus-btc-1m-2023-03/*_1m_*.csv
//! cargo run -p quantbot-cli --profile test --features zstd --example candle_bytes -- FILES  # adds ZSTD
//! ```

use std::sync::Arc;

use anyhow::{bail, Context};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn seconds(text: &str) -> anyhow::Result<i64> {
    if let Ok(s) = text.parse::<i64>() {
        return Ok(s);
    }
    // YYYY-MM-DD HH:MM:SS+00:00
    let n = |r: std::ops::Range<usize>| -> anyhow::Result<i64> {
        text.get(r)
            .context("a short time")?
            .parse()
            .context("a time")
    };
    if !text.ends_with("+00:00") {
        bail!("{text}: not UTC");
    }
    Ok(days(n(0..4)?, n(5..7)?, n(8..10)?) * 86_400
        + n(11..13)? * 3600
        + n(14..16)? * 60
        + n(17..19)?)
}

fn csv_batch(path: &str) -> anyhow::Result<RecordBatch> {
    let text = std::fs::read_to_string(path).with_context(|| path.to_string())?;
    let token = std::path::Path::new(path)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let (mut ts, mut cols) = (Vec::new(), [(); 5].map(|_| Vec::new()));
    for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 6 {
            bail!("{path}: {line}: six fields expected");
        }
        ts.push(seconds(f[0])?);
        for k in 0..5 {
            cols[k].push(
                f[k + 1]
                    .parse::<f64>()
                    .with_context(|| format!("{path}: {line}"))?,
            );
        }
    }
    let n = ts.len();
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["csv"; n])),
        Arc::new(StringArray::from(vec![token.as_str(); n])),
        Arc::new(Int64Array::from(ts)),
    ];
    arrays.extend(cols.map(|c| Arc::new(Float64Array::from(c)) as ArrayRef));
    let names = [
        "chain", "mint", "ts", "open", "high", "low", "close", "volume",
    ];
    let fields: Vec<Field> = names
        .iter()
        .enumerate()
        .map(|(k, n)| {
            let t = match k {
                0 | 1 => DataType::Utf8,
                2 => DataType::Int64,
                _ => DataType::Float64,
            };
            Field::new(*n, t, false)
        })
        .collect();
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// Every row as text keys and the bits of its numbers.
fn rows_of(batches: &[RecordBatch]) -> Vec<(String, String, i64, [u64; 5])> {
    let mut out = Vec::new();
    for b in batches {
        let s = |k: usize| {
            b.column(k)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone()
        };
        let (chain, mint) = (s(0), s(1));
        let ts = b.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
        let f = |k: usize| {
            b.column(k)
                .as_any()
                .downcast_ref::<Float64Array>()
                .unwrap()
                .clone()
        };
        let v = [f(3), f(4), f(5), f(6), f(7)];
        for i in 0..b.num_rows() {
            out.push((
                chain.value(i).to_string(),
                mint.value(i).to_string(),
                ts.value(i),
                [0, 1, 2, 3, 4].map(|k| v[k].value(i).to_bits()),
            ));
        }
    }
    out
}

fn props(now: bool, codec: Compression) -> WriterProperties {
    let mut p = WriterProperties::builder().set_compression(codec);
    if now {
        for c in ["open", "high", "low", "close", "volume"] {
            p = p
                .set_column_dictionary_enabled(ColumnPath::from(c), false)
                .set_column_encoding(ColumnPath::from(c), Encoding::BYTE_STREAM_SPLIT);
        }
        p = p
            .set_column_dictionary_enabled(ColumnPath::from("ts"), false)
            .set_column_encoding(ColumnPath::from("ts"), Encoding::DELTA_BINARY_PACKED);
    }
    p.build()
}

fn main() -> anyhow::Result<()> {
    let inputs: Vec<String> = std::env::args().skip(1).collect();
    let mut batches = Vec::new();
    for path in &inputs {
        if path.ends_with(".parquet") {
            let f = std::fs::File::open(path).with_context(|| path.clone())?;
            for b in ParquetRecordBatchReaderBuilder::try_new(f)?
                .with_batch_size(65536)
                .build()?
            {
                batches.push(b?);
            }
        } else {
            batches.push(csv_batch(path)?);
        }
    }
    let Some(first) = batches.first() else {
        bail!("usage: candle_bytes FILE…");
    };
    let schema = first.schema();
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    #[allow(unused_mut)]
    let mut ways = vec![
        ("before (dictionary/plain)", false, Compression::SNAPPY),
        ("now (byte-stream-split, delta)", true, Compression::SNAPPY),
    ];
    // With `--features zstd`: the same encodings under ZSTD, which the lab cannot decode (its
    // WebAssembly build cannot compile zstd's C), for the record.
    #[cfg(feature = "zstd")]
    for (name, level) in [("now, ZSTD level 3", 3), ("now, ZSTD level 9", 9)] {
        let level = parquet::basic::ZstdLevel::try_new(level)?;
        ways.push((name, true, Compression::ZSTD(level)));
    }
    for (name, now, codec) in ways {
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, schema.clone(), Some(props(now, codec)))?;
        for b in &batches {
            w.write(b)?;
        }
        w.close()?;
        let size = out.len();
        // Read back: every value equal to its input, bit for bit.
        let tmp = std::env::temp_dir().join(format!("candle_bytes-{}.parquet", std::process::id()));
        std::fs::write(&tmp, &out)?;
        let back: Vec<RecordBatch> =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&tmp)?)?
                .build()?
                .collect::<Result<_, _>>()?;
        std::fs::remove_file(&tmp)?;
        if rows_of(&batches) != rows_of(&back) {
            bail!("{name}: the file read back differs from its input");
        }
        println!(
            "{name:32} {size:>12} bytes  {:6.2} bytes a candle  ({rows} candles, read back equal)",
            size as f64 / rows as f64
        );
    }
    Ok(())
}
