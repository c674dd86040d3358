//! In headless Chromium (wasm-bindgen-test): the lab's own code decodes an exported demo
//! dataset from its Parquet bytes and runs a small grid on the Web Worker pool, and the result
//! equals the native CLI's JSON for the same options. `cargo xtask test` writes the dataset and
//! the CLI's JSON into `tests/data/` before this builds.

use quantbot_format::options::V1Options;
use quantbot_web::job::{decode, on_pool, run, Progress, RawFiles};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

macro_rules! data {
    ($name:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/", $name)).to_vec()
    };
}

#[wasm_bindgen_test]
async fn decodes_the_demo_parquet_and_runs_a_grid_on_the_pool() {
    assert!(js_sys::eval("self.crossOriginIsolated")
        .unwrap()
        .as_bool()
        .unwrap());
    wasm_bindgen_futures::JsFuture::from(quantbot_web::init_thread_pool(2))
        .await
        .unwrap();
    let mut files = RawFiles::default();
    assert!(files.add("manifest.json", data!("manifest.json")));
    assert!(files.add("calls.parquet", data!("calls.parquet")));
    assert!(files.add("excluded.parquet", data!("excluded.parquet")));
    assert!(files.add("candles.parquet", data!("candles.parquet")));
    assert!(!files.add("notes.txt", Vec::new()));
    let fallback = quantbot_format::dataset::LoadOptions {
        interval_s: 60,
        horizon_hours: 48.0,
        min_coverage: 0.8,
    };
    let loaded = on_pool(move || decode("test".into(), files, fallback))
        .await
        .expect("the dataset decodes");
    let manifest = loaded.manifest.as_ref().unwrap().json.clone();
    assert_eq!(
        loaded.ds.candle_count() as u64,
        manifest["files"]["candles.parquet"]["rows"]
            .as_u64()
            .unwrap()
    );
    assert_eq!(loaded.ds.coverage_json(), manifest["coverage"]);

    let options = V1Options {
        tp_mults: Some("[2,3]".into()),
        sl_mults: "[0.9]".into(),
        indicators: r#"[null,"rsi_below:14:70"]"#.into(),
        ..V1Options::default()
    };
    let loaded = std::sync::Arc::new(loaded);
    let progress = std::sync::Arc::new(Progress::default());
    let (l, p) = (loaded.clone(), progress.clone());
    let out = on_pool(move || run(&l, options, &p))
        .await
        .expect("the grid runs")
        .expect("not cancelled");
    assert_eq!(out.grid.size(), 4);
    assert_eq!(progress.fraction(), 1.0);
    let ours: serde_json::Value = serde_json::from_str(&out.json).unwrap();
    let cli: serde_json::Value = serde_json::from_slice(&data!("expected.json")).unwrap();
    assert!(!cli["per_caller"].as_array().unwrap().is_empty());
    assert_eq!(ours["per_caller"], cli["per_caller"]);
    assert_eq!(ours["grouped"], cli["grouped"]);
    assert_eq!(ours["grid"], cli["grid"]);

    // A broken file is one clear message naming it.
    let mut bad = RawFiles::default();
    bad.add("calls.parquet", b"PAR1 not really".to_vec());
    bad.add("candles.parquet", data!("candles.parquet"));
    let err = on_pool(move || decode("bad".into(), bad, fallback))
        .await
        .unwrap_err();
    assert!(err.starts_with("calls.parquet: "), "{err}");
}
