//! The browser lab's automation: tool installs (pinned nightly, Trunk, wasm-bindgen, Debian's
//! Chromium, playwright-core), the demo dataset, the site build, its tests in headless
//! Chromium, and serving it with the headers WebAssembly threads need.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tally::Tally;
use crate::{root, target_dir};

pub const NIGHTLY: &str = "nightly-2026-05-20";
const TRUNK: &str = "0.21.14";
const WASM_BINDGEN: &str = "0.2.130";

/// The cache folder: the parent of the cargo target directory, made absolute (commands run
/// from `web/` too).
fn cache_dir() -> PathBuf {
    let t = target_dir();
    let t = if t.is_absolute() { t } else { root().join(t) };
    t.parent()
        .map_or_else(|| root().join(".cache"), Path::to_path_buf)
}

/// Where installed tools live: outside the clone, beside the cargo target directory.
fn tools_dir() -> PathBuf {
    cache_dir().join("tools")
}

fn web_target_dir() -> PathBuf {
    cache_dir().join("web-target")
}

/// `PATH` with the installed tools first.
fn path_env() -> String {
    let mut p = tools_dir().join("bin").display().to_string();
    if let Some(old) = std::env::var_os("PATH") {
        p.push(':');
        p.push_str(&old.to_string_lossy());
    }
    p
}

/// A command run from `dir` with the tools on `PATH`, for the web workspace (pinned nightly,
/// its own target directory) when `nightly` is set.
fn command(program: &str, dir: &Path, nightly: bool) -> Command {
    let mut c = crate::clean_command(program);
    c.current_dir(dir).env("PATH", path_env());
    if nightly {
        c.env("RUSTUP_TOOLCHAIN", NIGHTLY)
            .env("CARGO_TARGET_DIR", web_target_dir());
    } else {
        c.env_remove("RUSTUP_TOOLCHAIN");
    }
    c
}

fn run(step: &str, mut cmd: Command) -> Result<(), String> {
    eprintln!("==> {step}: {}", shown(&cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("{step}: cannot start {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

/// A command as echoed: program and arguments (not the environment).
pub fn shown(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn version_of(program: &Path) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The `cargo install`s of the tools the lab's build needs that are missing (Trunk and
/// wasm-bindgen-cli, from crates.io into the cache), as (step, command). Each builds in a
/// folder of its own, so it never waits for the lock of the workspace's target folder.
fn tool_installs() -> Vec<(&'static str, Command)> {
    let r = root();
    let bin = tools_dir().join("bin");
    let installed = |name: &str, want: &str| {
        version_of(&bin.join(name)).is_some_and(|v| v.split_whitespace().any(|w| w == want))
    };
    let mut steps = Vec::new();
    if !installed("trunk", TRUNK) {
        let mut c = command("cargo", &r, false);
        c.args(["install", "trunk", "--version", TRUNK, "--locked", "--root"])
            .arg(tools_dir());
        steps.push(("install Trunk (about 8 minutes, once)", c));
    }
    if !installed("wasm-bindgen", WASM_BINDGEN) {
        // Without --locked: its lockfile pins a crate version this registry does not serve.
        let mut c = command("cargo", &r, false);
        c.args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            WASM_BINDGEN,
            "--root",
        ])
        .arg(tools_dir());
        steps.push(("install wasm-bindgen-cli (about 3 minutes, once)", c));
    }
    for (_, c) in &mut steps {
        c.env("CARGO_TARGET_DIR", tools_dir().join("build"));
    }
    steps
}

/// Starts the missing tool installs on a thread of their own, so that on a fresh machine they
/// build while the workspace's lints and tests do (DuckDB's C++ among them) and fill the
/// moments one core is idle; their output goes to a log file. `join` it before the lab's steps,
/// which then find the tools installed. `None` when nothing is missing.
pub fn install_tools_in_background() -> Option<std::thread::JoinHandle<Result<(), String>>> {
    let steps = tool_installs();
    if steps.is_empty() {
        return None;
    }
    let log_path = tools_dir().join("install.log");
    eprintln!(
        "==> installing the lab's tools in the background (log: {})",
        log_path.display()
    );
    Some(std::thread::spawn(move || {
        std::fs::create_dir_all(tools_dir())
            .map_err(|e| format!("{}: {e}", tools_dir().display()))?;
        let log =
            std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        for (step, mut c) in steps {
            let out = log.try_clone().map_err(|e| e.to_string())?;
            let err = log.try_clone().map_err(|e| e.to_string())?;
            let status = c
                .stdout(out)
                .stderr(err)
                .status()
                .map_err(|e| format!("{step}: cannot start cargo: {e}"))?;
            if !status.success() {
                return Err(format!(
                    "{step} failed ({status}); its output is in {}",
                    log_path.display()
                ));
            }
        }
        Ok(())
    }))
}

/// Installs what the lab needs on a fresh machine (each step is skipped when done).
pub fn ensure_tools() -> Result<(), String> {
    let r = root();
    let mut rustup = Command::new("rustup");
    rustup.args([
        "toolchain",
        "install",
        NIGHTLY,
        "--profile",
        "minimal",
        "--component",
        "rust-src",
        "--target",
        "wasm32-unknown-unknown",
    ]);
    run("nightly toolchain for the WebAssembly build", rustup)?;
    // Clippy for the web crate's lints (the same registry as the toolchain itself).
    let mut clippy = Command::new("rustup");
    clippy.args(["component", "add", "clippy", "--toolchain", NIGHTLY]);
    run("clippy for the nightly toolchain", clippy)?;
    for (step, c) in tool_installs() {
        run(step, c)?;
    }
    let has_node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_node
        || !Path::new("/usr/bin/chromium").exists()
        || !Path::new("/usr/bin/chromedriver").exists()
    {
        let root_user = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"));
        let packages = if has_node {
            "chromium chromium-driver"
        } else {
            "chromium chromium-driver nodejs npm"
        };
        let script = format!(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {packages}"
        );
        let mut c = if root_user {
            let mut c = Command::new("sh");
            c.args(["-c", &script]);
            c
        } else {
            let mut c = Command::new("sudo");
            // -n: fail at once rather than wait for a password nobody will type.
            c.args(["-n", "sh", "-c", &script]);
            c
        };
        c.current_dir(&r);
        run(
            "install Debian's chromium and chromium-driver (and Node.js if missing)",
            c,
        )?;
    }
    let e2e = r.join("web/e2e");
    // Every package package.json names (playwright-core; hyparquet and hyparquet-writer, with
    // which the views test reads and writes Parquet): one missing, and `npm ci` installs them
    // all from package-lock.json.
    let manifest = std::fs::read_to_string(e2e.join("package.json"))
        .map_err(|e| format!("web/e2e/package.json: {e}"))?;
    let wanted = npm_dependencies(&manifest);
    if wanted.is_empty() {
        return Err("web/e2e/package.json: no dependencies found".into());
    }
    if wanted
        .iter()
        .any(|p| !e2e.join("node_modules").join(p).exists())
    {
        let mut c = command("npm", &e2e, false);
        c.args(["ci", "--no-audit", "--no-fund"]);
        run(
            &format!(
                "install {} (npm ci; no browser download)",
                wanted.join(", ")
            ),
            c,
        )?;
    }
    Ok(())
}

/// The package names of a package.json's `"dependencies"` object (its keys; enough JSON for the
/// file we write ourselves).
fn npm_dependencies(manifest: &str) -> Vec<String> {
    let Some(start) = manifest.find("\"dependencies\"") else {
        return Vec::new();
    };
    let rest = &manifest[start..];
    let (Some(open), Some(close)) = (rest.find('{'), rest.find('}')) else {
        return Vec::new();
    };
    rest[open + 1..close]
        .split(',')
        .filter_map(|entry| {
            let key = entry.split(':').next()?.trim();
            Some(key.strip_prefix('"')?.strip_suffix('"')?.to_string())
        })
        .collect()
}

/// The demo DuckDB (in the cache) and its export in `www/data/demo`, made when missing.
pub fn ensure_demo(quantbot: &Path) -> Result<PathBuf, String> {
    let r = root();
    let out = r.join("www/data/demo");
    if out.join("manifest.json").exists() {
        return Ok(out);
    }
    // Whole (one candles.parquet, not 25 MiB parts): the lab's tests hand its files to the
    // page by name. `cargo xtask publish` cuts it into parts for a published site.
    export(
        quantbot,
        "2026-01-07",
        &out,
        "export the demo dataset for the lab",
        &["--part-size", "4GiB"],
    )?;
    Ok(out)
}

/// The small dataset and the CLI's JSON that the wasm-bindgen test compares with.
fn ensure_wasm_test_data(quantbot: &Path) -> Result<(), String> {
    let r = root();
    let data = r.join("web/tests/data");
    if !data.join("manifest.json").exists() {
        export(
            quantbot,
            "2025-05-10",
            &data,
            "small dataset for the wasm test",
            &[],
        )?;
    }
    // Always from the current engine, so the comparison never uses a stale answer.
    let out = Command::new(quantbot)
        .args(["backtest", "v1-baseline", "--data"])
        .arg(&data)
        .args([
            "--tp-mults",
            "[2,3]",
            "--sl-mults",
            "[0.9]",
            "--indicators",
            r#"[null,"rsi_below:14:70"]"#,
            "--format",
            "json",
            "--quiet",
        ])
        .output()
        .map_err(|e| format!("cannot start quantbot: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "quantbot for the wasm test's expected JSON: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::write(data.join("expected.json"), out.stdout).map_err(|e| e.to_string())
}

/// Exports the demo calls from 2025-05-01 to `to` (1-minute candles) into `out`, with `extra`
/// flags.
fn export(quantbot: &Path, to: &str, out: &Path, step: &str, extra: &[&str]) -> Result<(), String> {
    let db = ensure_demo_db(quantbot)?;
    let mut c = Command::new(quantbot);
    c.args(["export", "--duckdb"])
        .arg(&db)
        .args([
            "--from",
            "2025-05-01",
            "--to",
            to,
            "--interval",
            "1m",
            "--out",
        ])
        .arg(out)
        .arg("--force")
        .args(extra)
        .current_dir(root());
    run(step, c)
}

/// The demo DuckDB in the cache (written by `quantbot demo-data` when missing).
fn ensure_demo_db(quantbot: &Path) -> Result<PathBuf, String> {
    let db = cache_dir().join("demo/alerts.duckdb");
    if !db.exists() {
        let mut c = Command::new(quantbot);
        c.arg("demo-data").arg("--out").arg(&db).current_dir(root());
        run("demo data", c)?;
    }
    Ok(db)
}

/// Builds the site into `dist/` (release, threads) and writes its Content-Security-Policy into
/// `dist/index.html` (`web/csp.mjs`: the hash of Trunk's inline loader, nothing else inline).
pub fn build_site() -> Result<(), String> {
    // Relative URLs always: the served lab and a published site are one build.
    build_site_at(Some("./"))
}

/// [`build_site`] with Trunk's public URL (`Some("./")`: every URL of the page relative, so
/// the site works under any path, as `cargo xtask publish` needs).
pub fn build_site_at(public_url: Option<&str>) -> Result<(), String> {
    let mut c = command("trunk", &root().join("web"), true);
    c.args(["build", "--release"]);
    if let Some(url) = public_url {
        c.args(["--public-url", url]);
    }
    run("build the lab (trunk build --release)", c)?;
    let mut c = command("node", &root(), false);
    c.args(["web/csp.mjs", "dist/index.html"]);
    run("write the lab's Content-Security-Policy (web/csp.mjs)", c)
}

/// Lints and tests of the web workspace, their counts added to `tally`. None of them can skip:
/// a missing dataset or tool is an error.
pub fn test(quantbot: &Path, tally: &mut Tally) -> Result<(), String> {
    ensure_tools()?;
    let web = root().join("web");
    let mut c = command("cargo", &web, false);
    c.env("RUSTUP_TOOLCHAIN", "1.95.0")
        .args(["fmt", "--", "--check"]);
    run("format (web)", c)?;
    let demo = ensure_demo(quantbot)?;
    ensure_wasm_test_data(quantbot)?;
    let mut c = command("cargo", &web, true);
    c.args([
        "clippy",
        "--release",
        "--target",
        "wasm32-unknown-unknown",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run("lint (web)", c)?;
    let mut c = command("cargo", &web, true);
    c.args(["test", "--release", "--target", "wasm32-unknown-unknown"])
        .env("CHROMEDRIVER", "/usr/bin/chromedriver");
    crate::tally::run_counting("wasm-bindgen tests in headless Chromium", c, None, tally)?;
    build_site()?;
    let mut c = command("node", &root(), false);
    c.arg("web/e2e/lab.test.mjs")
        .arg("dist")
        .arg(&demo)
        .arg(quantbot)
        .arg("docs/lab.png");
    crate::tally::run_counting("lab end-to-end in headless Chromium", c, None, tally)?;
    // The views that explain a result (issue 18): heatmap, selected policy, candle chart,
    // intrabar toggle and Baseline tab against the CLI; it writes the README's screenshots.
    let mut c = command("node", &root(), false);
    c.arg("web/e2e/views.test.mjs")
        .arg("dist")
        .arg(&demo)
        .arg(quantbot)
        .arg("docs");
    crate::tally::run_counting("lab views end-to-end in headless Chromium", c, None, tally)?;
    // The lab's guards (issue 20): share links with markup in every field, another origin's
    // dataset, sizes over the page's limits, and a tiny dataset (the demo's first day, 11
    // calls) on both backends, which the start-up races would hang.
    let tiny = root().join("target/e2e-tiny");
    export(
        quantbot,
        "2025-05-01",
        &tiny,
        "tiny dataset for the security test",
        &[],
    )?;
    let mut c = command("node", &root(), false);
    c.arg("web/e2e/security.test.mjs").arg("dist").arg(&tiny);
    crate::tally::run_counting("lab security in headless Chromium", c, None, tally)?;
    // The bad-input corpus's datasets through the lab's loader, in both modes (issue 20).
    let mut c = command("node", &root(), false);
    c.arg("web/e2e/bad_inputs.test.mjs")
        .arg("dist")
        .arg("tests/bad_inputs")
        .arg(quantbot);
    crate::tally::run_counting("bad inputs in the lab, headless Chromium", c, None, tally)?;
    // A published site (issue 19): the lab (its demo cut into parts) and the tiny dataset, with
    // a bundle of a run on it, through `quantbot publish`; served under a sub-path with no
    // headers (the service-worker fallback), with its `_headers`, and without service workers.
    let bundle = root().join("target/e2e-bundle");
    let mut c = Command::new(quantbot);
    c.args(["backtest", "v1-baseline", "--quiet", "--data"])
        .arg(&tiny)
        .arg("--out-dir")
        .arg(&bundle)
        .arg("--force")
        .current_dir(root());
    run("a result bundle for the publish test", c)?;
    // And one of a run on the demo (one caller), whose trades' candles the lab reads by byte
    // ranges from the demo's parts.
    let bundle_demo = root().join("target/e2e-bundle-demo");
    let mut c = Command::new(quantbot);
    c.args(["backtest", "v1-baseline", "--quiet", "--data"])
        .arg(&demo)
        .args(["--caller-groups", "[\"SmugCalls\"]", "--out-dir"])
        .arg(&bundle_demo)
        .arg("--force")
        .current_dir(root());
    run("a result bundle of the demo for the publish test", c)?;
    let site = root().join("target/e2e-site");
    let mut c = Command::new(quantbot);
    c.args(["publish", "--lab", "dist", "--out"])
        .arg(&site)
        .arg("--data")
        .arg(&tiny)
        .arg("--bundles")
        .arg(&bundle)
        .arg(&bundle_demo)
        .arg("--force")
        .current_dir(root());
    run("publish the site for the publish test", c)?;
    let mut c = command("node", &root(), false);
    c.arg("web/e2e/publish.test.mjs").arg(&site).arg(quantbot);
    crate::tally::run_counting("published site in headless Chromium", c, None, tally)?;
    // The static server itself: malformed paths, and nothing outside its folder.
    let mut c = command("node", &root(), false);
    c.arg("web/e2e/serve.test.mjs");
    crate::tally::run_counting("static server", c, None, tally)
}

/// `cargo xtask lab`: everything from a fresh machine to the served site.
pub fn lab(quantbot: &Path, port: &str) -> Result<(), String> {
    ensure_tools()?;
    ensure_demo(quantbot)?;
    build_site()?;
    let mut c = command("node", &root(), false);
    c.args(["web/e2e/serve.mjs", "dist", port]);
    run("serve the lab", c)
}

#[cfg(test)]
mod tests {
    use super::npm_dependencies;

    #[test]
    fn the_e2e_packages_are_read_from_package_json() {
        let text = std::fs::read_to_string(crate::root().join("web/e2e/package.json")).unwrap();
        let names = npm_dependencies(&text);
        for p in ["playwright-core", "hyparquet", "hyparquet-writer"] {
            assert!(names.iter().any(|n| n == p), "{p} in {names:?}");
        }
        assert!(npm_dependencies("{}").is_empty());
    }
}
