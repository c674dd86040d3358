//! The run registry (SPEC §10.3): a DuckDB file (default `data/runs.duckdb`) cataloguing result
//! bundles. `runs import` walks folders for bundles (`results.json` of v1-baseline,
//! `summary.json` of baseline) and upserts one row per run, one transaction each; whatever is not
//! a readable bundle is skipped with its reason and never stops the import. `runs list` prints
//! the catalogue. Bundles are only ever read.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use duckdb::{params, AccessMode, Config, Connection};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::args::Format;
use crate::output::{csv_field, ignore_broken_pipe, render_table};
use quantbot_format::hex;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS runs(
    run_id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    engine_version VARCHAR,
    manifest_sha256 VARCHAR,
    options_json VARCHAR,
    callers BIGINT,
    eligible_calls BIGINT,
    grouped_final_capital DOUBLE,
    best_json VARCHAR
)";

/// One registry row.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub run_id: String,
    pub kind: String,
    pub path: String,
    pub engine_version: Option<String>,
    pub manifest_sha256: Option<String>,
    pub options_json: Option<String>,
    pub callers: i64,
    pub eligible_calls: Option<i64>,
    pub grouped_final_capital: Option<f64>,
    pub best_json: String,
}

/// Reads a bundle folder's result file into a row, or says why it is not a bundle.
pub fn read_bundle(dir: &Path) -> Result<RunRow, String> {
    let path = dir
        .canonicalize()
        .map_err(|e| format!("cannot resolve the folder: {e}"))?
        .display()
        .to_string();
    let results = dir.join("results.json");
    let summary = dir.join("summary.json");
    let (file, kind) = if results.is_file() {
        (results, "v1-baseline")
    } else if summary.is_file() {
        (summary, "baseline")
    } else {
        return Err("no results.json or summary.json".into());
    };
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(&file).map_err(|e| format!("{name}: cannot read: {e}"))?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{name}: not valid JSON: {e}"))?;
    let run_id = hex(&Sha256::digest(&bytes));
    if kind == "v1-baseline" {
        let (Some(per), Some(engine)) =
            (v["per_caller"].as_array(), v["engine"]["version"].as_str())
        else {
            return Err(format!(
                "{name}: not a v1-baseline result (no engine.version or per_caller)"
            ));
        };
        let objective = v["options"]["objective"]
            .as_str()
            .unwrap_or("final_capital");
        let best: Vec<Value> = per
            .iter()
            .map(|p| {
                json!({
                    "caller": p["caller"],
                    "label": p["best"]["label"],
                    "objective": objective,
                    "value": p["best"]["metrics"][objective],
                })
            })
            .collect();
        Ok(RunRow {
            run_id,
            kind: kind.into(),
            path,
            engine_version: Some(engine.to_string()),
            manifest_sha256: v["dataset"]["manifest_sha256"].as_str().map(str::to_string),
            options_json: Some(
                json!({"options": v["options"], "grid_size": v["grid"]["size"]}).to_string(),
            ),
            callers: per.len() as i64,
            eligible_calls: v["coverage"]["eligible"].as_i64(),
            grouped_final_capital: v["grouped"]["metrics"]["final_capital"].as_f64(),
            best_json: Value::Array(best).to_string(),
        })
    } else {
        let (Some(per), Some(_)) = (v["per_caller"].as_array(), v["overall"].as_object()) else {
            return Err(format!(
                "{name}: not a baseline summary (no overall or per_caller)"
            ));
        };
        // The baseline bundle's run.json carries the engine version, data and options.
        let meta: Value = std::fs::read(dir.join("run.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let best: Vec<Value> = per
            .iter()
            .map(|p| {
                json!({
                    "caller": p["caller"],
                    "label": "baseline",
                    "objective": "median_ath_mult",
                    "value": p["median_ath_mult"],
                })
            })
            .collect();
        Ok(RunRow {
            run_id,
            kind: kind.into(),
            path,
            engine_version: meta["engine"]["version"].as_str().map(str::to_string),
            manifest_sha256: meta["dataset"]["manifest_sha256"]
                .as_str()
                .map(str::to_string),
            options_json: (!meta["options"].is_null())
                .then(|| json!({"options": meta["options"]}).to_string()),
            callers: per.len() as i64,
            eligible_calls: v["overall"]["ok"].as_i64(),
            grouped_final_capital: None,
            best_json: Value::Array(best).to_string(),
        })
    }
}

/// Every folder under the roots that holds a bundle file, and every other JSON file (reported
/// as not a bundle). Sorted, so the import order is stable.
fn walk(roots: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let mut bundles = BTreeSet::new();
    let mut others = Vec::new();
    let mut stack: Vec<PathBuf> = roots.to_vec();
    while let Some(p) = stack.pop() {
        if p.is_file() {
            match p.file_name().and_then(|n| n.to_str()) {
                Some("results.json") | Some("summary.json") => {
                    bundles.insert(p.parent().unwrap_or(Path::new(".")).to_path_buf());
                }
                _ if p.extension().is_some_and(|e| e == "json") => {
                    others.push((
                        p.clone(),
                        "not a bundle file (expected results.json or summary.json)".to_string(),
                    ));
                }
                _ => {}
            }
            continue;
        }
        match std::fs::read_dir(&p) {
            Ok(entries) => {
                let mut children: Vec<PathBuf> =
                    entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
                children.sort();
                stack.extend(children.into_iter().rev());
            }
            Err(e) => others.push((p.clone(), format!("cannot read the folder: {e}"))),
        }
    }
    // Side files of a bundle (run.json, manifest.json, …) are part of it, not strays.
    others.retain(|(p, _)| !p.parent().is_some_and(|d| bundles.contains(d)));
    others.sort();
    (bundles.into_iter().collect(), others)
}

fn open_registry(path: &Path, read_only: bool) -> anyhow::Result<Connection> {
    let cfg = Config::default();
    let cfg = if read_only {
        cfg.access_mode(AccessMode::ReadOnly)
            .map_err(|e| anyhow!("registry {}: {e}", path.display()))?
    } else {
        cfg
    };
    if !read_only {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| {
                format!("registry {}: cannot create its folder", path.display())
            })?;
        }
    }
    if path.exists() {
        crate::source::check_duckdb_header(path).map_err(|e| anyhow!("registry {e:#}"))?;
    }
    let conn = Connection::open_with_flags(path, cfg).map_err(|e| {
        anyhow!("registry {}: cannot open it as a DuckDB database (locked by another process, or not a DuckDB file): {e}", path.display())
    })?;
    if !read_only {
        conn.execute_batch(SCHEMA)
            .map_err(|e| anyhow!("registry {}: cannot create table runs: {e}", path.display()))?;
    }
    Ok(conn)
}

fn existing(conn: &Connection, run_id: &str) -> anyhow::Result<Option<RunRow>> {
    let mut stmt = conn.prepare(
        "SELECT run_id, kind, path, engine_version, manifest_sha256, options_json, callers, \
         eligible_calls, grouped_final_capital, best_json FROM runs WHERE run_id = ?",
    )?;
    let mut rows = stmt.query(params![run_id])?;
    Ok(match rows.next()? {
        Some(r) => Some(row_from(r)?),
        None => None,
    })
}

fn row_from(r: &duckdb::Row<'_>) -> duckdb::Result<RunRow> {
    Ok(RunRow {
        run_id: r.get(0)?,
        kind: r.get(1)?,
        path: r.get(2)?,
        engine_version: r.get(3)?,
        manifest_sha256: r.get(4)?,
        options_json: r.get(5)?,
        callers: r.get(6)?,
        eligible_calls: r.get(7)?,
        grouped_final_capital: r.get(8)?,
        best_json: r.get(9)?,
    })
}

fn upsert(conn: &mut Connection, row: &RunRow) -> anyhow::Result<()> {
    let tx = conn.transaction()?;
    tx.execute("DELETE FROM runs WHERE run_id = ?", params![row.run_id])?;
    tx.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            row.run_id,
            row.kind,
            row.path,
            row.engine_version,
            row.manifest_sha256,
            row.options_json,
            row.callers,
            row.eligible_calls,
            row.grouped_final_capital,
            row.best_json
        ],
    )?;
    tx.commit()?;
    Ok(())
}

/// Counts of an import.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub imported: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub failed: usize,
}

/// Imports every bundle under `roots`. Messages for skipped and failed items go to `log`.
pub fn import(
    roots: &[PathBuf],
    registry: &Path,
    dry_run: bool,
    log: &mut dyn Write,
) -> anyhow::Result<Counts> {
    for r in roots {
        if !r.exists() {
            anyhow::bail!("{}: no such file or folder", r.display());
        }
    }
    let (bundles, strays) = walk(roots);
    let mut conn = if dry_run {
        // A dry run never writes: it reads an existing registry, or none.
        if registry.exists() {
            Some(open_registry(registry, true)?)
        } else {
            None
        }
    } else {
        Some(open_registry(registry, false)?)
    };
    let mut counts = Counts::default();
    for (p, why) in &strays {
        writeln!(log, "skipped {}: {why}", p.display())?;
        counts.skipped += 1;
    }
    for dir in &bundles {
        let row = match read_bundle(dir) {
            Ok(row) => row,
            Err(why) => {
                writeln!(log, "skipped {}: {why}", dir.display())?;
                counts.skipped += 1;
                continue;
            }
        };
        let before = match &conn {
            Some(c) => match existing(c, &row.run_id) {
                Ok(b) => b,
                Err(e) if dry_run => {
                    writeln!(log, "note: {}: {e}", registry.display())?;
                    None
                }
                Err(e) => return Err(e.context(format!("registry {}", registry.display()))),
            },
            None => None,
        };
        if before.as_ref() == Some(&row) {
            counts.unchanged += 1;
            continue;
        }
        if dry_run {
            counts.imported += 1;
            continue;
        }
        match upsert(conn.as_mut().expect("a registry is open"), &row) {
            Ok(()) => counts.imported += 1,
            Err(e) => {
                writeln!(log, "failed {}: {e}", dir.display())?;
                counts.failed += 1;
            }
        }
    }
    Ok(counts)
}

/// Every row, sorted by path.
pub fn list_rows(registry: &Path) -> anyhow::Result<Vec<RunRow>> {
    if !registry.is_file() {
        anyhow::bail!(
            "registry {}: no such file (create it with `quantbot runs import`)",
            registry.display()
        );
    }
    let conn = open_registry(registry, true)?;
    let mut stmt = conn
        .prepare(
            "SELECT run_id, kind, path, engine_version, manifest_sha256, options_json, callers, \
             eligible_calls, grouped_final_capital, best_json FROM runs ORDER BY path, run_id",
        )
        .map_err(|e| anyhow!("registry {}: {e}", registry.display()))?;
    let rows = stmt
        .query_map([], row_from)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("registry {}: {e}", registry.display()))?;
    Ok(rows)
}

fn parse(s: &Option<String>) -> Value {
    s.as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// A row as JSON, for scripts and the lab's start page.
pub fn row_json(r: &RunRow) -> Value {
    json!({
        "run_id": r.run_id,
        "kind": r.kind,
        "path": r.path,
        "engine_version": r.engine_version,
        "manifest_sha256": r.manifest_sha256,
        "options": parse(&r.options_json),
        "callers": r.callers,
        "eligible_calls": r.eligible_calls,
        "grouped_final_capital": r.grouped_final_capital,
        "best": parse(&Some(r.best_json.clone())),
    })
}

fn brief(r: &RunRow) -> String {
    let o = parse(&r.options_json);
    if r.kind == "baseline" {
        let tp = &o["options"]["tp_mult"];
        let sl = &o["options"]["sl_mult"];
        return if tp.is_null() {
            "baseline".into()
        } else {
            format!("tp {tp} sl {sl}")
        };
    }
    format!(
        "grid {} · {} · {}",
        o["grid_size"],
        o["options"]["objective"].as_str().unwrap_or("?"),
        o["options"]["mode"].as_str().unwrap_or("?")
    )
}

pub fn list(registry: &Path, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    let rows = list_rows(registry)?;
    let text = match format {
        Format::Json => {
            serde_json::to_string_pretty(&Value::Array(rows.iter().map(row_json).collect()))? + "\n"
        }
        Format::Csv => {
            let mut s = String::from("run_id,kind,path,engine_version,manifest_sha256,callers,eligible_calls,grouped_final_capital\n");
            for r in &rows {
                s.push_str(&format!(
                    "{},{},{},{},{},{},{},{}\n",
                    r.run_id,
                    r.kind,
                    csv_field(&r.path),
                    r.engine_version.clone().unwrap_or_default(),
                    r.manifest_sha256.clone().unwrap_or_default(),
                    r.callers,
                    r.eligible_calls.map_or(String::new(), |n| n.to_string()),
                    r.grouped_final_capital
                        .map_or(String::new(), |x| x.to_string())
                ));
            }
            s
        }
        Format::Table => {
            let body: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.kind.clone(),
                        r.path.clone(),
                        r.manifest_sha256
                            .as_deref()
                            .map_or("-".into(), |h| h[..12.min(h.len())].to_string()),
                        brief(r),
                        r.callers.to_string(),
                        r.eligible_calls.map_or("-".into(), |n| n.to_string()),
                        r.grouped_final_capital
                            .map_or("-".into(), |x| format!("{x:.2}")),
                    ]
                })
                .collect();
            render_table(
                &[
                    "kind",
                    "path",
                    "data",
                    "options",
                    "callers",
                    "eligible",
                    "grouped final",
                ],
                &body,
            ) + &format!("{} runs\n", rows.len())
        }
    };
    out.write_all(text.as_bytes()).or_else(ignore_broken_pipe)?;
    Ok(())
}

/// Records a freshly written bundle (`backtest … --out-dir D --registry R`).
pub fn record(dir: &Path, registry: &Path) -> anyhow::Result<()> {
    let mut log = Vec::new();
    let counts = import(&[dir.to_path_buf()], registry, false, &mut log)?;
    if counts.imported + counts.unchanged != 1 {
        anyhow::bail!(
            "registry {}: the run in {} was not recorded: {}",
            registry.display(),
            dir.display(),
            String::from_utf8_lossy(&log).trim()
        );
    }
    Ok(())
}
