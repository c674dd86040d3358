//! `cargo fuzz run options`: [`harness::options`] on libFuzzer's inputs.
#![no_main]

#[path = "../harness.rs"]
#[allow(dead_code)]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::options(data));
