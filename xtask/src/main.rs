//! `cargo xtask`: the project's automation in one place. `cargo xtask test` is the README's
//! test command and what `.ci/run` calls; `cargo xtask lab` builds and serves the browser lab.

use std::env;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

mod web;

/// Crates that must never appear among the engine's normal dependencies (ARCHITECTURE.md).
const FORBIDDEN_IN_CORE: [&str; 6] = [
    "duckdb",
    "parquet",
    "arrow",
    "wasm-bindgen",
    "web-sys",
    "leptos",
];

/// The workspace root. `cargo run` (which `cargo xtask` is) tells the running binary where its
/// manifest is; the value compiled in is only a fallback. Clones share one target directory
/// (see below), so the binary may have been built from another clone, now perhaps deleted.
fn root() -> PathBuf {
    let manifest = env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// The one cargo target directory of this machine, shared by CI and the README's commands so
/// DuckDB's C++ (about 20 minutes) is compiled once: `$CARGO_TARGET_DIR`, else
/// `$HOME/.cache/quantbot/target`.
fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env::var_os("HOME").unwrap_or_else(|| ".".into()))
            .join(".cache/quantbot/target"),
    }
}

/// A cargo command with the environment of a plain shell: `cargo run` gives xtask variables
/// (`LD_LIBRARY_PATH`, `CARGO_PKG_*`, …) that a nested cargo would pass on to build scripts and
/// rustc, which can make it consider DuckDB's build stale and compile it again.
fn cargo_command() -> Command {
    let mut c = clean_command("cargo");
    c.env("CARGO_TARGET_DIR", target_dir());
    c
}

/// `program` without the variables `cargo run` gave xtask (see [`cargo_command`]).
fn clean_command(program: &str) -> Command {
    let mut c = Command::new(program);
    for (key, _) in env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_BIN_")
            || matches!(
                k.as_ref(),
                "CARGO"
                    | "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "LD_LIBRARY_PATH"
                    | "RUST_RECURSION_COUNT"
            )
        {
            c.env_remove(&key);
        }
    }
    c
}

/// Runs a command from the workspace root, echoing it; an error names the failed step.
fn run(step: &str, program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    eprintln!("==> {step}: {program} {}", args.join(" "));
    let mut cmd = if program == "cargo" {
        cargo_command()
    } else {
        Command::new(program)
    };
    let status = cmd
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(root())
        .status()
        .map_err(|e| format!("{step}: cannot start {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let mut cmd = if program == "cargo" {
        cargo_command()
    } else {
        Command::new(program)
    };
    let out = cmd
        .args(args)
        .current_dir(root())
        .output()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Installs what the tests need on a fresh machine: the pinned toolchain's components and the
/// WebAssembly target (rustup does not auto-install them here).
fn setup() -> Result<(), String> {
    run(
        "toolchain components",
        "rustup",
        &["component", "add", "rustfmt", "clippy"],
        &[],
    )?;
    run(
        "wasm target",
        "rustup",
        &["target", "add", "wasm32-unknown-unknown"],
        &[],
    )
}

/// The engine's dependency tree must not contain any I/O, storage or browser crate.
fn check_core_is_pure() -> Result<(), String> {
    eprintln!("==> engine purity: cargo tree -p quantbot-core -e normal");
    let tree = output(
        "cargo",
        &[
            "tree",
            "-p",
            "quantbot-core",
            "-e",
            "normal",
            "--prefix",
            "none",
        ],
    )?;
    let mut found = Vec::new();
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        for bad in FORBIDDEN_IN_CORE {
            if name == bad || name.starts_with(&format!("{bad}-")) {
                found.push(name.to_string());
            }
        }
    }
    if found.is_empty() {
        eprintln!(
            "    ok: none of {} in {} dependencies",
            FORBIDDEN_IN_CORE.join(", "),
            tree.lines().count()
        );
        Ok(())
    } else {
        found.sort();
        found.dedup();
        Err(format!("quantbot-core depends on {}", found.join(", ")))
    }
}

fn test() -> Result<(), String> {
    let started = std::time::SystemTime::now();
    setup()?;
    run("format", "cargo", &["fmt", "--all", "--", "--check"], &[])?;
    run(
        "lint",
        "cargo",
        // The test profile, which `cargo test` uses for every unit: cargo keys DuckDB's C++
        // build by profile name (and Cargo.toml keeps the rest of the build script's units the
        // same in check and build mode), so lints and tests share one build.
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--profile",
            "test",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    run(
        "engine docs",
        "cargo",
        &["doc", "-p", "quantbot-core", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    run(
        "engine builds for WebAssembly",
        "cargo",
        &[
            "check",
            "-p",
            "quantbot-core",
            "--target",
            "wasm32-unknown-unknown",
        ],
        &[],
    )?;
    check_core_is_pure()?;
    run(
        "oracle self-tests",
        "python3",
        &["-m", "unittest", "tools/oracle/test_oracle.py"],
        &[],
    )?;
    let mut tests = cargo_command();
    tests.args(["test", "--workspace"]).current_dir(root());
    let (mut passed, mut failed) = run_counting("tests", tests)?;
    // The lab: its lints, wasm-bindgen tests and the end-to-end test in headless Chromium.
    let (p, f) = web::test(&target_dir().join("debug").join("quantbot"))?;
    passed += p;
    failed += f;
    // A small benchmark run, so the benchmark cannot rot (figures are printed, not judged).
    run(
        "benchmark (quick)",
        "cargo",
        &["run", "--quiet", "-p", "quantbot-bench", "--", "--quick"],
        &[],
    )?;
    check_one_duckdb_build(started)?;
    eprintln!("==> all checks passed");
    // One plain closing line over every test binary (cargo's own last line is a doc-test
    // binary with no tests, which would read as "ran no test").
    println!("tests: {passed} passed, {failed} failed");
    Ok(())
}

/// Fails when this run compiled DuckDB's C++ more than once (about 20 minutes each on 2 cores):
/// every profile or feature set that differs from the tests' makes cargo build it again. Each
/// build leaves one `libduckdb-sys-*/output` file written by its build script.
fn check_one_duckdb_build(since: std::time::SystemTime) -> Result<(), String> {
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

/// Runs a test command, streaming its output, and sums its `test result:` lines (cargo and
/// wasm-bindgen-test) and `… e2e: N passed, M failed` lines (the browser test).
fn run_counting(step: &str, mut cmd: Command) -> Result<(u64, u64), String> {
    use std::io::{BufRead, BufReader};
    eprintln!("==> {step}: {}", web::shown(&cmd));
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{step}: cannot start {:?}: {e}", cmd.get_program()))?;
    let (mut passed, mut failed) = (0u64, 0u64);
    let stdout = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("{step}: reading output: {e}"))?;
        println!("{line}");
        let rest = line
            .strip_prefix("test result: ")
            .or_else(|| line.split_once(" e2e: ").map(|(_, r)| r));
        if let Some(rest) = rest {
            let count = |word: &str| -> u64 {
                rest.split([';', ','])
                    .find_map(|part| part.trim().strip_suffix(word))
                    .and_then(|n| n.trim().rsplit(' ').next()?.parse().ok())
                    .unwrap_or(0)
            };
            passed += count(" passed");
            failed += count(" failed");
        }
    }
    let status = child.wait().map_err(|e| format!("{step}: {e}"))?;
    if !status.success() {
        println!("tests: {passed} passed, {failed} failed");
        return Err(format!("{step} failed ({status})"));
    }
    if passed == 0 {
        return Err(format!("{step}: no test ran"));
    }
    Ok((passed, failed))
}

/// Builds the `quantbot` binary the same way the tests do (one shared DuckDB build) and runs
/// it with `args`.
fn quantbot(args: &[String]) -> Result<(), String> {
    let bin = build_quantbot()?;
    let status = Command::new(&bin)
        .args(args)
        .status()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("quantbot exited with {status}"))
    }
}

fn build_quantbot() -> Result<PathBuf, String> {
    run(
        "build quantbot",
        "cargo",
        &["test", "--workspace", "--no-run", "--quiet"],
        &[],
    )?;
    Ok(target_dir().join("debug").join("quantbot"))
}

fn lab(args: &[String]) -> Result<(), String> {
    let port = args.first().map_or("8080", String::as_str);
    let bin = build_quantbot()?;
    web::lab(&bin, port)
}

fn bench(args: &[String]) -> Result<(), String> {
    let mut a: Vec<&str> = vec!["run", "--release", "-p", "quantbot-bench", "--"];
    a.extend(args.iter().map(String::as_str));
    run("benchmark", "cargo", &a, &[])
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("lab") => lab(&args[1..]),
        Some("test-lab") => build_quantbot().and_then(|bin| {
            let (p, f) = web::test(&bin)?;
            println!("tests: {p} passed, {f} failed");
            Ok(())
        }),
        Some("quantbot") => quantbot(&args[1..]),
        Some("bench") => bench(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <test|test-lab|lab|bench|quantbot ARGS…>\n  bench     the standard benchmark workload (release build; --quick for a small one)\n  test      run every check and test (what CI runs)\n  test-lab  only the lab's checks and browser tests\n  lab       build and serve the browser lab on 127.0.0.1 (port: first argument, default 8080)\n  quantbot  build the quantbot binary and run it with ARGS"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
