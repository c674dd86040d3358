//! `cargo xtask`: the project's automation in one place. `cargo xtask test` is the README's
//! test command and what `.ci/run` calls; `cargo xtask lab` builds and serves the browser lab.
//! This file holds the commands and how they run programs; `tally.rs` counts the tests (passed,
//! failed, skipped), `checks.rs` checks the build itself, `web.rs` automates the lab.

use std::env;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use tally::Tally;

mod checks;
mod tally;
mod web;

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

fn test() -> Result<(), String> {
    let started = std::time::SystemTime::now();
    setup()?;
    let tools = web::install_tools_in_background();
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
    checks::check_pure_crates()?;
    let mut tally = Tally::default();
    oracle_self_tests(&mut tally)?;
    let mut tests = cargo_command();
    tests.args(["test", "--workspace"]).current_dir(root());
    // Tests whose input is missing record themselves here (see `tally::SKIP_LOG_VAR`).
    let skip_log = target_dir().join(format!("xtask-skipped-{}.txt", std::process::id()));
    tally::run_counting("tests", tests, Some(&skip_log), &mut tally)?;
    // The lab: its lints, wasm-bindgen tests and the end-to-end test in headless Chromium.
    if let Some(installs) = tools {
        eprintln!("==> waiting for the lab's tools to be installed");
        installs
            .join()
            .map_err(|_| "the tool installs panicked".to_string())??;
    }
    web::test(&target_dir().join("debug").join("quantbot"), &mut tally)?;
    // A small benchmark run, so the benchmark cannot rot (figures are printed, not judged).
    run(
        "benchmark (quick)",
        "cargo",
        &[
            "run",
            "--quiet",
            "-p",
            "quantbot-bench",
            "--profile",
            "test",
            "--",
            "--quick",
        ],
        &[],
    )?;
    checks::check_one_duckdb_build(started)?;
    eprintln!("==> every step ran");
    finish(&tally)
}

/// The closing lines over every test binary (cargo's own last line is a doc-test binary with no
/// tests, which would read as "ran no test"): the skipped tests by name, then
/// `tests: N passed, M failed, K skipped`; under CI a skip fails the run.
fn finish(tally: &Tally) -> Result<(), String> {
    print!("{}", tally.summary());
    tally.verdict(tally::is_ci(env::var("CI").ok().as_deref()))
}

/// The independent oracle's own tests (Python); without python3 they are skipped, by name.
fn oracle_self_tests(tally: &mut Tally) -> Result<(), String> {
    let file = "tools/oracle/test_oracle.py";
    if Command::new("python3").arg("--version").output().is_err() {
        tally.skip_step(file, "oracle self-tests", "python3 is not installed");
        return Ok(());
    }
    run(
        "oracle self-tests",
        "python3",
        &["-m", "unittest", file],
        &[],
    )
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

/// `cargo xtask publish --out SITE [--data DIR…] [--runs REGISTRY] [--bundles DIR…] [--force]`:
/// builds the lab with relative URLs into `dist/` (with the demo dataset, which `quantbot
/// publish` cuts into parts) and runs `quantbot publish --lab dist` with the arguments. With
/// `--lab DIR` the lab is taken from DIR as built, and nothing is built but the binary.
fn publish(args: &[String]) -> Result<(), String> {
    let bin = build_quantbot()?;
    let mut a: Vec<String> = vec!["publish".into()];
    a.extend(args.iter().cloned());
    if !args.iter().any(|x| x == "--lab") {
        web::ensure_tools()?;
        web::ensure_demo(&bin)?;
        web::build_site_at(Some("./"))?;
        a.push("--lab".into());
        a.push(root().join("dist").display().to_string());
    }
    let status = Command::new(&bin)
        .args(&a)
        .status()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("quantbot publish exited with {status}"))
    }
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
            let mut tally = Tally::default();
            web::test(&bin, &mut tally)?;
            finish(&tally)
        }),
        Some("quantbot") => quantbot(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("publish") => publish(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <test|test-lab|lab|bench|publish ARGS…|quantbot ARGS…>\n  bench     the standard benchmark workload (release build; --quick for a small one)\n  publish   build the lab and assemble a static site: --out SITE [--data DIR…] [--runs REGISTRY] [--bundles DIR…] [--lab DIST] [--force]\n  test      run every check and test (what CI runs)\n  test-lab  only the lab's checks and browser tests\n  lab       build and serve the browser lab on 127.0.0.1 (port: first argument, default 8080)\n  quantbot  build the quantbot binary and run it with ARGS"
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
