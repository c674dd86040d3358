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
