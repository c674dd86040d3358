//! Checks of the build itself: the pure crates' dependency trees hold no I/O, storage or browser
//! crate, and one run compiles DuckDB's C++ once.

use std::time::SystemTime;

use crate::{output, target_dir};

/// Crates that must never appear among the pure crates' normal dependencies (ARCHITECTURE.md).
const FORBIDDEN_IN_PURE: [&str; 6] = [
    "duckdb",
    "parquet",
    "arrow",
    "wasm-bindgen",
    "web-sys",
    "leptos",
];

/// The pure crates: the engine, and the demo data generator (which the CLI writes to DuckDB).
const PURE: [&str; 2] = ["quantbot-core", "quantbot-demo"];

/// The forbidden crates named in a `cargo tree --prefix none` listing, sorted, once each.
fn forbidden_in(tree: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        for bad in FORBIDDEN_IN_PURE {
            if name == bad || name.starts_with(&format!("{bad}-")) {
                found.push(name.to_string());
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The pure crates' dependency trees must not contain any I/O, storage or browser crate.
pub fn check_pure_crates() -> Result<(), String> {
    for krate in PURE {
        eprintln!("==> purity: cargo tree -p {krate} -e normal");
        let tree = output(
            "cargo",
            &["tree", "-p", krate, "-e", "normal", "--prefix", "none"],
        )?;
        let found = forbidden_in(&tree);
        if !found.is_empty() {
            return Err(format!("{krate} depends on {}", found.join(", ")));
        }
        eprintln!(
            "    ok: none of {} in {} dependencies",
            FORBIDDEN_IN_PURE.join(", "),
            tree.lines().count()
        );
    }
    Ok(())
}

/// Fails when this run compiled DuckDB's C++ more than once (about 20 minutes each on 2 cores):
/// every profile or feature set that differs from the tests' makes cargo build it again. Each
/// build leaves one `libduckdb-sys-*/output` file written by its build script.
pub fn check_one_duckdb_build(since: SystemTime) -> Result<(), String> {
    let build = target_dir().join("debug").join("build");
    let mut fresh = Vec::new();
    let mut all = 0;
    for entry in std::fs::read_dir(&build).map_err(|e| format!("{}: {e}", build.display()))? {
        let dir = entry
            .map_err(|e| format!("{}: {e}", build.display()))?
            .path();
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Ok(meta) = std::fs::metadata(dir.join("output")) else {
            continue;
        };
        if !name.starts_with("libduckdb-sys-") {
            continue;
        }
        all += 1;
        if meta.modified().is_ok_and(|m| m >= since) {
            fresh.push(name);
        }
    }
    eprintln!(
        "==> DuckDB builds: {} in this run, {all} in {}",
        fresh.len(),
        build.display()
    );
    if fresh.len() > 1 {
        fresh.sort();
        return Err(format!(
            "DuckDB's C++ was compiled {} times in this run ({}): one profile must serve lints, tests and the binary",
            fresh.len(),
            fresh.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::forbidden_in;

    #[test]
    fn finds_forbidden_crates_by_name_not_by_substring() {
        let tree = "quantbot-core v0.1.0 (/x/core)\nrayon v1.12.0\nthiserror v2.0.0\n\
                    duckdb v1.20000.1\nlibduckdb-sys v1.20000.1\narrow-array v60.0.0\nrayon v1.12.0 (*)\n\
                    arrow-array v60.0.0 (*)\n";
        assert_eq!(forbidden_in(tree), ["arrow-array", "duckdb"]);
        assert!(forbidden_in("quantbot-core v0.1.0\nrayon v1.12.0\n").is_empty());
    }
}
