//! Replays the saved corpus of every fuzz target (`fuzz/corpus/<target>/`): the inputs
//! libFuzzer kept for new coverage and the seeds, each through the target's body
//! (`fuzz/harness.rs`), which must not panic. A target whose corpus is missing fails: the
//! corpora are committed.

#[path = "../../fuzz/harness.rs"]
mod harness;

use std::path::Path;

fn replay(target: &str, body: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: an empty corpus", dir.display());
    for f in &files {
        let data = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        body(&data);
    }
    println!("{target}: {} inputs replayed", files.len());
}

#[test]
fn dataset_corpus_replays() {
    replay("dataset", harness::dataset);
}

#[test]
fn share_link_corpus_replays() {
    replay("share_link", harness::share_link);
}

#[test]
fn options_corpus_replays() {
    replay("options", harness::options);
}

/// The inputs on which `parquet` 60 panicked inside its decoders (fuzz/crashes until session 8)
/// are refused by the page check with a message naming the file and the column.
#[test]
fn the_pages_that_made_parquet_panic_are_refused_with_a_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/dataset");
    let cases = [
        (
            "crash-95cd2ff686c2896c523933d2836a42f5df944739",
            "no dictionary page",
        ),
        (
            "crash-1d2d60cca06d8cdd24f7877b47519c350d57b4bf",
            "no dictionary page",
        ),
        (
            "crash-2f6e22e8d1ac13bf6b40a38c36c9df8a71959ab2",
            "no dictionary page",
        ),
        (
            "crash-5d54c6d9d9ee8705b103ce8a8c6b80f5376df570",
            "no dictionary page",
        ),
        (
            "crash-a29dedc6955d3c4a5ac775978b7a3a9f2b86bbf5",
            "no dictionary page",
        ),
        (
            "crash-0b0f827a39e7879901883c10c621afd24736b1da",
            "BYTE_STREAM_SPLIT values need",
        ),
    ];
    for (file, why) in cases {
        let data = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let err = match harness::load_dataset(&data) {
            Some(Err(e)) => e.to_string(),
            Some(Ok(_)) => panic!("{file}: loaded"),
            None => panic!("{file}: too short to split"),
        };
        assert!(
            err.contains("a corrupt page") && err.contains(why) && err.contains("column "),
            "{file}: {err}"
        );
        println!("{file}: {err}");
    }
}

/// The seed in the encodings `export` writes since session 8 (`BYTE_STREAM_SPLIT` prices,
/// `DELTA_BINARY_PACKED` times) loads, so the fuzzer mutates pages those decoders read.
#[test]
fn the_seed_in_the_exports_encodings_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus/dataset/seed-session8-bss-delta");
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let ds = harness::load_dataset(&data)
        .expect("long enough to split")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ds.calls.len(), 2);
    assert_eq!(ds.candle_count(), 48);
}
