//! The messages between the page and its one worker (the lab's mode for pages that are not
//! cross-origin isolated), as typed enums sent as JSON text. The worker's JavaScript glue
//! (`www/solo-worker.js`) reads only `init` and writes only `ready` and `error`; everything
//! else is decoded and answered by the engine in the worker (`web/src/solo.rs`). Numbers in
//! the payloads travel as bit patterns ([`crate::transfer`]), so results arrive bit for bit.

use quantbot_core::optimize::SearchResult;
use quantbot_format::dataset::{Dataset, ManifestInfo};
use quantbot_format::Error;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::transfer;

/// A file of a dataset for the worker to read: fetched from `url`, or, without one, the next
/// of the user's files posted along with the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub name: String,
    pub url: Option<String>,
    /// A 404 for an optional file (the manifest, the excluded calls) is not an error.
    pub optional: bool,
}

/// The page to its worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ToWorker {
    /// Load the engine: the URLs of this page's module and WebAssembly (read by the glue).
    Init { module: String, wasm: String },
    /// Read and decode a dataset; `interval_s` serves files without a manifest.
    Load {
        label: String,
        sources: Vec<Source>,
        interval_s: i64,
    },
    /// Run the grid of a share link's query on the loaded data.
    Run { query: String },
}

/// The worker to the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FromWorker {
    /// The engine is loaded (written by the glue).
    Ready,
    /// The dataset is decoded: its calls (bit patterns), manifest and candle counts; the
    /// candles stay in the worker.
    Loaded {
        label: String,
        calls: Value,
        manifest: Option<Value>,
        manifest_sha256: Option<String>,
    },
    /// A run finished: the §10.1 JSON, the result (bit patterns) and each caller's equity
    /// curve as `(time, f64 bits)`.
    Done {
        results_json: String,
        result: Value,
        equity: Vec<Vec<(i64, u64)>>,
    },
    /// Anything that went wrong, as the message to show.
    Error { message: String },
}

impl ToWorker {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a message always serializes")
    }

    pub fn decode(text: &str) -> Result<ToWorker, String> {
        serde_json::from_str(text).map_err(|e| format!("a malformed message to the worker: {e}"))
    }
}

impl FromWorker {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a message always serializes")
    }

    /// Never fails: a message that does not read is an [`FromWorker::Error`] saying so.
    pub fn decode(text: &str) -> FromWorker {
        serde_json::from_str(text).unwrap_or_else(|e| FromWorker::Error {
            message: format!("a malformed message from the worker: {e}"),
        })
    }

    /// The answer to a load.
    pub fn loaded(label: &str, ds: &Dataset, manifest: Option<&ManifestInfo>) -> FromWorker {
        FromWorker::Loaded {
            label: label.to_string(),
            calls: transfer::calls_to_json(ds),
            manifest: manifest.map(|m| m.json.clone()),
            manifest_sha256: manifest.map(|m| m.sha256.clone()),
        }
    }

    /// The answer to a run.
    pub fn done(
        results_json: String,
        result: &SearchResult,
        equity: &[Vec<(i64, f64)>],
    ) -> FromWorker {
        FromWorker::Done {
            results_json,
            result: transfer::result_to_json(result),
            equity: equity
                .iter()
                .map(|c| c.iter().map(|&(t, e)| (t, e.to_bits())).collect())
                .collect(),
        }
    }
}

/// The dataset of a [`FromWorker::Loaded`], without candles (they stay in the worker).
#[derive(Debug)]
pub struct LoadedCalls {
    pub ds: Dataset,
    pub manifest: Option<ManifestInfo>,
    /// Candles the worker holds, and the bytes they take there.
    pub candles: usize,
    pub candle_bytes: usize,
}

/// Reads the payload of a [`FromWorker::Loaded`].
pub fn dataset_of(
    calls: &Value,
    manifest: Option<&Value>,
    manifest_sha256: Option<&str>,
) -> Result<LoadedCalls, Error> {
    let (ds, candles) = transfer::calls_from_json(calls)?;
    let manifest = match (manifest, manifest_sha256) {
        (Some(json), Some(sha)) => Some(ManifestInfo {
            interval_s: ds.interval_s,
            horizon_hours: ds.horizon_hours,
            min_coverage: ds.min_coverage,
            sha256: sha.to_string(),
            json: json.clone(),
        }),
        _ => None,
    };
    Ok(LoadedCalls {
        ds,
        manifest,
        candles,
        candle_bytes: calls["candle_bytes"].as_u64().unwrap_or(0) as usize,
    })
}

/// The files of a published dataset folder, and whether each may be missing.
pub const DATASET_FILES: [(&str, bool); 4] = [
    ("manifest.json", false),
    ("calls.parquet", false),
    ("excluded.parquet", true),
    ("candles.parquet", false),
];

/// The sources of a dataset folder at `base` (a URL that ends with `/`, absolute for a worker).
pub fn folder_sources(base: &str) -> Vec<Source> {
    DATASET_FILES
        .iter()
        .map(|&(file, optional)| Source {
            name: format!("{base}{file}"),
            url: Some(format!("{base}{file}")),
            optional,
        })
        .collect()
}

/// Each caller's equity curve: `(time, equity)` after each close.
pub type Curves = Vec<Vec<(i64, f64)>>;

/// The result and equity curves of a [`FromWorker::Done`].
pub fn result_of(
    result: &Value,
    equity: &[Vec<(i64, u64)>],
) -> Result<(SearchResult, Curves), Error> {
    let r = transfer::result_from_json(result)?;
    let curves = equity
        .iter()
        .map(|c| c.iter().map(|&(t, e)| (t, f64::from_bits(e))).collect())
        .collect();
    Ok((r, curves))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_name_their_kind() {
        let to = [
            ToWorker::Init {
                module: "m.js".into(),
                wasm: "m.wasm".into(),
            },
            ToWorker::Load {
                label: "data/demo/".into(),
                sources: vec![
                    Source {
                        name: "calls.parquet".into(),
                        url: Some("http://h/data/demo/calls.parquet".into()),
                        optional: false,
                    },
                    Source {
                        name: "mine.parquet".into(),
                        url: None,
                        optional: false,
                    },
                ],
                interval_s: 60,
            },
            ToWorker::Run {
                query: "?sl-mults=%5B0.9%5D".into(),
            },
        ];
        for m in to {
            assert_eq!(ToWorker::decode(&m.encode()), Ok(m.clone()));
        }
        // The glue reads `init` and writes `ready` and `error` by these exact shapes.
        assert!(ToWorker::Init {
            module: "m".into(),
            wasm: "w".into()
        }
        .encode()
        .starts_with(r#"{"kind":"init","#));
        assert_eq!(FromWorker::decode(r#"{"kind":"ready"}"#), FromWorker::Ready);
        assert_eq!(
            FromWorker::decode(r#"{"kind":"error","message":"HTTP 404"}"#),
            FromWorker::Error {
                message: "HTTP 404".into()
            }
        );
        let done = FromWorker::Done {
            results_json: "{}".into(),
            result: serde_json::json!({"a": 1}),
            equity: vec![vec![(5, (-0.0f64).to_bits())]],
        };
        assert_eq!(FromWorker::decode(&done.encode()), done);
        // Garbage is an error message, never a panic.
        assert!(matches!(
            FromWorker::decode("{\"kind\":\"boom\"}"),
            FromWorker::Error { message } if message.starts_with("a malformed message from the worker")
        ));
        assert!(ToWorker::decode("[]").is_err());
    }

    #[test]
    fn a_folder_is_its_four_files() {
        let s = folder_sources("https://h/d/");
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "https://h/d/manifest.json",
                "https://h/d/calls.parquet",
                "https://h/d/excluded.parquet",
                "https://h/d/candles.parquet"
            ]
        );
        assert_eq!(s.iter().filter(|s| s.optional).count(), 1);
        assert!(s.iter().all(|s| s.url.as_deref() == Some(s.name.as_str())));
    }
}
