//! The bad-input corpus (issue 20), `tests/bad_inputs/cases.json`, run against the `quantbot`
//! binary: every case is data (its inputs, the command, the exact message and exit code), and
//! this runner checks each one for the message, the exit code, no panic, and that the case's
//! working folder (its inputs and any previous output) is byte-identical before and after.
//!
//! The dataset folders of the corpus are committed under `tests/bad_inputs/datasets/` (the lab's
//! end-to-end test, `web/e2e/bad_inputs.test.mjs`, opens them too) and generated here from the
//! textual description in `cases.json`; the committed bytes must equal the generated ones.
//! `QUANTBOT_BLESS=1 cargo test -p quantbot-cli --test bad_inputs` rewrites them after the
//! description changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/bad_inputs")
}

fn manifest() -> Value {
    let path = corpus().join("cases.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A table of the description: typed columns and rows of JSON values.
#[derive(Debug, Clone)]
struct Table {
    columns: Vec<(String, String)>,
    rows: Vec<Vec<Value>>,
}

impl Table {
    fn of(v: &Value) -> Table {
        let columns = v["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| {
                let pair = c.as_array().expect("[name, type]");
                (
                    pair[0].as_str().unwrap().to_string(),
                    pair[1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let rows = v["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r.as_array().expect("a row").clone())
            .collect();
        Table { columns, rows }
    }

    fn col(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|(c, _)| c == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    /// Applies the edits of a dataset description to this table, in a fixed order: rows
    /// replaced, rows appended, cells set, columns dropped, retyped and added.
    fn edit(&mut self, e: &Value) {
        if let Some(rows) = e.get("rows") {
            self.rows = rows
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_array().unwrap().clone())
                .collect();
        }
        for r in e
            .get("append")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.rows.push(r.as_array().unwrap().clone());
        }
        for s in e.get("set").and_then(Value::as_array).into_iter().flatten() {
            let s = s.as_array().expect("[row, column, value]");
            let (row, col) = (
                s[0].as_u64().unwrap() as usize,
                self.col(s[1].as_str().unwrap()),
            );
            self.rows[row][col] = s[2].clone();
        }
        for d in e
            .get("drop")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let k = self.col(d.as_str().unwrap());
            self.columns.remove(k);
            for r in &mut self.rows {
                r.remove(k);
            }
        }
        for (name, ty) in e
            .get("retype")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let k = self.col(name);
            self.columns[k].1 = ty.as_str().unwrap().to_string();
        }
        for (name, v) in e
            .get("add")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let pair = v.as_array().expect("[type, value]");
            self.columns
                .push((name.clone(), pair[0].as_str().unwrap().to_string()));
            for r in &mut self.rows {
                r.push(pair[1].clone());
            }
        }
    }

    /// The table as a Parquet file (uncompressed; the writer's defaults otherwise).
    fn parquet(&self) -> Vec<u8> {
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for (k, (name, ty)) in self.columns.iter().enumerate() {
            let cells: Vec<&Value> = self.rows.iter().map(|r| &r[k]).collect();
            let (dt, array): (DataType, ArrayRef) = match ty.as_str() {
                "utf8" => (
                    DataType::Utf8,
                    Arc::new(StringArray::from(
                        cells.iter().map(|v| text(v)).collect::<Vec<_>>(),
                    )),
                ),
                "int64" => (
                    DataType::Int64,
                    Arc::new(Int64Array::from(
                        cells.iter().map(|v| v.as_i64()).collect::<Vec<_>>(),
                    )),
                ),
                "int32" => (
                    DataType::Int32,
                    Arc::new(Int32Array::from(
                        cells
                            .iter()
                            .map(|v| v.as_i64().map(|x| x as i32))
                            .collect::<Vec<_>>(),
                    )),
                ),
                "float64" => (
                    DataType::Float64,
                    Arc::new(Float64Array::from(
                        cells.iter().map(|v| float(v)).collect::<Vec<_>>(),
                    )),
                ),
                other => panic!("column {name}: unknown type {other}"),
            };
            fields.push(Field::new(name, dt, true));
            arrays.push(array);
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        out
    }
}

/// A cell as text (numbers as JSON writes them), or null.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A cell as a float: a number, or "NaN", "inf", "-inf"; or null.
fn float(v: &Value) -> Option<f64> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.parse().unwrap_or_else(|_| panic!("not a float: {s}"))),
        other => Some(other.as_f64().unwrap()),
    }
}

/// The files of one dataset of the description: the base with the dataset's edits; a file's
/// `bytes` edit (`{"text": …}` for the whole file, `{"truncate": n}` for its first n bytes)
/// applies to the Parquet written, and `{"zero": [from, to]}` zeroes those bytes.
fn dataset_files(base: &Value, spec: &Value) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut manifest = base["manifest"].clone();
    if let Some(Value::Object(m)) = spec.get("manifest") {
        for (k, v) in m {
            manifest[k] = v.clone();
        }
    }
    let manifest_bytes = match spec.get("manifest_text") {
        Some(t) => t.as_str().unwrap().as_bytes().to_vec(),
        None => (serde_json::to_string_pretty(&manifest).unwrap() + "\n").into_bytes(),
    };
    out.insert("manifest.json".to_string(), manifest_bytes);
    for file in ["calls", "excluded", "candles"] {
        let mut table = Table::of(&base[file]);
        let edit = spec.get(file).cloned().unwrap_or(Value::Null);
        if !edit.is_null() {
            table.edit(&edit);
        }
        let mut bytes = table.parquet();
        match edit.get("bytes") {
            None => {}
            Some(b) if b.get("text").is_some() => {
                bytes = b["text"].as_str().unwrap().as_bytes().to_vec();
            }
            Some(b) if b.get("zero").is_some() => {
                let r = &b["zero"];
                let (from, to) = (
                    r[0].as_u64().unwrap() as usize,
                    r[1].as_u64().unwrap() as usize,
                );
                bytes[from..to].fill(0);
            }
            Some(b) => bytes.truncate(b["truncate"].as_u64().unwrap() as usize),
        }
        out.insert(format!("{file}.parquet"), bytes);
    }
    out
}

/// Every file under `dir` (and every folder, empty ones too) with the SHA-256 of its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            if p.is_dir() {
                out.insert(rel, "folder".into());
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.insert(
                    rel,
                    Sha256::digest(&bytes)
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect(),
                );
            }
        }
    }
    out
}

/// The committed dataset folders equal their description (or are rewritten under
/// `QUANTBOT_BLESS=1`). Returns how many there are.
fn check_datasets(m: &Value) -> usize {
    let bless = std::env::var_os("QUANTBOT_BLESS").is_some();
    let root = corpus().join("datasets");
    let datasets = m["datasets"].as_object().unwrap();
    let mut stale = Vec::new();
    for (name, spec) in datasets {
        let dir = root.join(name);
        for (file, bytes) in dataset_files(&m["base"], spec) {
            let path = dir.join(&file);
            if std::fs::read(&path).ok().as_deref() == Some(bytes.as_slice()) {
                continue;
            }
            if bless {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &bytes).unwrap();
            } else {
                stale.push(format!("{name}/{file}"));
            }
        }
    }
    // No folder the description does not name.
    for e in std::fs::read_dir(&root).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !datasets.contains_key(&name) {
            stale.push(format!("{name}/ (not in cases.json)"));
        }
    }
    assert!(
        stale.is_empty(),
        "committed datasets differ from cases.json (QUANTBOT_BLESS=1 rewrites them): {stale:?}"
    );
    datasets.len()
}

/// Prepares a case's working folder: its dataset (copied from the corpus, at `./NAME`), its
/// text files, its DuckDB files (written from SQL) and its folders.
fn prepare(case: &Value, work: &Path) {
    if let Some(name) = case.get("data").and_then(Value::as_str) {
        let from = corpus().join("datasets").join(name);
        let to = work.join(name);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(&from).unwrap().flatten() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
    for (path, body) in case
        .get("files")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let p = work.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body.as_str().unwrap()).unwrap();
    }
    for d in case
        .get("folders")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        std::fs::create_dir_all(work.join(d.as_str().unwrap())).unwrap();
    }
    for (path, sql) in case
        .get("duckdb")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let p = work.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let conn = duckdb::Connection::open(&p).unwrap();
        conn.execute_batch(sql.as_str().unwrap())
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        drop(conn);
    }
}

/// `{data}` in a case's text: the dataset folder as the command line names it.
fn fill(text: &str, case: &Value) -> String {
    match case.get("data").and_then(Value::as_str) {
        Some(d) => text.replace("{data}", d),
        None => text.to_string(),
    }
}

/// The coverage a case expects, every reason present (zeros for the ones it does not name).
fn expected_coverage(want: &Map<String, Value>) -> Value {
    let mut excluded = Map::new();
    for r in [
        "no_candles",
        "late_start",
        "insufficient_coverage",
        "invalid_candles",
        "duplicate_call",
    ] {
        excluded.insert(r.into(), want.get(r).cloned().unwrap_or(Value::from(0)));
    }
    serde_json::json!({"eligible": want["eligible"], "excluded": excluded})
}

/// Runs one case; the problems found, if any.
fn run_case(case: &Value, scratch: &Path) -> Vec<String> {
    let name = case["name"].as_str().unwrap();
    let work = scratch.join(name);
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    prepare(case, &work);
    let before = tree(&work);
    let args: Vec<String> = case["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| fill(a.as_str().unwrap(), case))
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_quantbot"))
        .args(&args)
        .current_dir(&work)
        .output()
        .expect("quantbot runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut problems = Vec::new();
    let code = out.status.code();
    if code == Some(101) || stderr.contains("panicked") {
        problems.push(format!("panicked ({code:?}): {stderr}"));
    }
    let want_code = case["exit"].as_i64().unwrap() as i32;
    if code != Some(want_code) {
        problems.push(format!("exit code {code:?}, expected {want_code}"));
    }
    if let Some(msg) = case.get("message").and_then(Value::as_str) {
        let want = format!("quantbot: {}\n", fill(msg, case));
        if stderr != want {
            problems.push(format!("stderr\n  got:  {stderr:?}\n  want: {want:?}"));
        }
    }
    if let Some(Value::Object(want)) = case.get("coverage") {
        let want = expected_coverage(want);
        match serde_json::from_str::<Value>(&stdout) {
            Ok(v) if v["coverage"] == want => {}
            Ok(v) => problems.push(format!("coverage {}, expected {want}", v["coverage"])),
            Err(e) => problems.push(format!("stdout is not JSON ({e}): {stdout}")),
        }
    }
    for s in case
        .get("stdout_has")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = fill(s.as_str().unwrap(), case);
        if !stdout.contains(&s) {
            problems.push(format!("stdout lacks {s:?}: {stdout}"));
        }
    }
    let after = tree(&work);
    if after != before {
        let changed: Vec<String> = before
            .keys()
            .chain(after.keys())
            .filter(|p| before.get(*p) != after.get(*p))
            .map(|p| p.display().to_string())
            .collect();
        problems.push(format!("the working folder changed: {changed:?}"));
    }
    let _ = std::fs::remove_dir_all(&work);
    problems
        .into_iter()
        .map(|p| format!("{name} (quantbot {}): {p}", args.join(" ")))
        .collect()
}

#[test]
fn every_bad_input_gets_its_message_and_exit_code_and_changes_nothing() {
    let m = manifest();
    let datasets = check_datasets(&m);
    let cases = m["cases"].as_array().unwrap();
    let mut names = std::collections::BTreeSet::new();
    for c in cases {
        let name = c["name"].as_str().expect("every case has a name");
        assert!(names.insert(name), "two cases are named {name}");
        assert!(
            c.get("message").is_some() || c["exit"] == 0,
            "{name}: a failing case states its message"
        );
        if let Some(d) = c.get("data").and_then(Value::as_str) {
            assert!(m["datasets"].get(d).is_some(), "{name}: no dataset {d}");
        }
    }
    // What the lab's test (web/e2e/bad_inputs.test.mjs) needs of the first plain load of each
    // dataset: the coverage the page shows, or a message about the dataset's files.
    let mut seen = std::collections::BTreeSet::new();
    for c in cases {
        let plain = c["args"].as_array().unwrap().starts_with(&[
            "backtest".into(),
            "v1-baseline".into(),
            "--data".into(),
            "{data}".into(),
        ]);
        let Some(d) = c.get("data").and_then(Value::as_str) else {
            continue;
        };
        if d == "good" || !plain || !seen.insert(d) {
            continue;
        }
        let message = c.get("message").and_then(Value::as_str).unwrap_or("");
        assert!(
            c.get("coverage").is_some()
                || c.get("lab_coverage").is_some()
                || message.starts_with("{data}/"),
            "{}: the lab needs a coverage, a lab_coverage or a message about {{data}}/'s files",
            c["name"]
        );
    }
    let scratch =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bad-inputs-{}", std::process::id()));
    // Two workers: the cases are independent, each in its own folder.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let problems = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(case) = cases.get(k) else { break };
                let p = run_case(case, &scratch);
                problems.lock().unwrap().extend(p);
            });
        }
    });
    let _ = std::fs::remove_dir_all(&scratch);
    let problems = problems.into_inner().unwrap();
    println!(
        "bad inputs: {} cases on {datasets} datasets, {} problems",
        cases.len(),
        problems.len()
    );
    assert!(problems.is_empty(), "\n{}", problems.join("\n\n"));
}
