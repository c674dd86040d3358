//! `quantbot publish` (issue 19; `cargo xtask publish` builds the lab and calls it): one folder
//! that any static host serves, under any sub-path, with relative URLs only.
//!
//! ```text
//! SITE/index.html          the start page: datasets and runs, each with a link into the lab
//! SITE/lab/                the built lab (its index.html, wasm, scripts; its bundled datasets)
//! SITE/data/NAME/          each --data folder (candles in parts)
//! SITE/runs/NAME/          each --bundles folder (results.json, grid.parquet, trades.parquet, index.html)
//! SITE/runs.json           the --runs registry's rows (bundle paths inside the site, no local path)
//! SITE/_headers            COOP, COEP and the Content-Security-Policies, for hosts that read it
//! ```
//!
//! A dataset opens in the lab as `lab/?data=../data/NAME/&sha=MANIFEST_SHA256`, a bundle as
//! `lab/?bundle=../runs/NAME/` (plus the dataset's `data` and `sha` when the dataset it was run
//! on is published too). No file of the site is larger than `--max-file` (25 MiB, the smallest
//! per-file limit of the common hosts): a dataset whose `candles.parquet` is larger is cut into
//! parts on the way (its manifest, and so its hash, is then that of the parts), and any other
//! file that large is refused. Every text of a dataset, a bundle or the registry is escaped on
//! the start page.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use quantbot_core::select::format_ts_ms;
use quantbot_format::dataset::parse_manifest;
use quantbot_format::hex;
use quantbot_format::parquet_read::read_candle_runs;
use quantbot_format::parts::{self, CandleFiles, WHOLE};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::args::PublishArgs;
use crate::bundle::write_folder_atomically;
use crate::parquet_io::{parse_part_size, CandleWriter};
use crate::plan::usage;
use quantbot_format::html::{esc, page, style_source, url_part};

/// A dataset as published.
struct Dataset {
    /// Its folder in the site, with a `/` at the end (`data/demo/`, `lab/data/demo/`).
    site_path: String,
    manifest: Value,
    sha256: String,
    /// Candle files (1 when whole).
    candle_files: usize,
    /// Cut into parts by publish (the source had one large `candles.parquet`).
    cut: bool,
}

impl Dataset {
    /// The dataset's folder as the lab (at `lab/`) names it.
    fn lab_relative(&self) -> String {
        match self.site_path.strip_prefix("lab/") {
            Some(inside) => inside.to_string(),
            None => format!("../{}", self.site_path),
        }
    }
}

/// A result bundle as published.
struct Bundle {
    name: String,
    kind: String,
    run_id: String,
    /// Day its result file was written (UTC), from the file's time.
    date: Option<String>,
    /// `results.json` or `summary.json`.
    result: Value,
    manifest_sha256: Option<String>,
}

pub fn run(a: &PublishArgs) -> anyhow::Result<()> {
    let max = parse_part_size(&a.max_file).map_err(|e| usage(format!("--max-file: {e}")))?;
    let index = a.lab.join("index.html");
    let lab_html = std::fs::read_to_string(&index)
        .with_context(|| format!("--lab {}: no readable index.html (build the lab with `cargo xtask publish`, or give its dist folder)", a.lab.display()))?;
    check_relative(&index, &lab_html)?;
    let lab_csp = lab_policy(&index, &lab_html)?;
    let mut names = BTreeSet::new();
    for d in a.data.iter().chain(&a.bundles) {
        if !d.is_dir() {
            bail!("{}: no such folder", d.display());
        }
    }
    for (flag, dirs) in [("--data", &a.data), ("--bundles", &a.bundles)] {
        names.clear();
        for d in dirs {
            let name = folder_name(d)?;
            if !names.insert(name.clone()) {
                bail!("{flag}: two folders named {name:?}; each is published under its folder's name, so rename one");
            }
        }
    }
    // The site never replaces what it is made of, nor grows inside the lab it copies.
    for input in std::iter::once(&a.lab).chain(&a.data).chain(&a.bundles) {
        crate::plan::check_out_spares_input("--out", &a.out, input)?;
    }
    if let Some(r) = &a.runs {
        crate::plan::check_out_spares_input("--out", &a.out, r)?;
    }
    let out_parent = a
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let (Ok(parent), Ok(lab)) = (out_parent.canonicalize(), a.lab.canonicalize()) {
        if parent.starts_with(&lab) {
            bail!(
                "--out {} is inside --lab {}: the next publish would copy it into the lab; choose another folder",
                a.out.display(),
                a.lab.display()
            );
        }
    }
    let registry = match &a.runs {
        Some(r) => crate::runs::list_rows(r)?,
        None => Vec::new(),
    };
    let mut summary = (0, 0, 0);
    write_folder_atomically(&a.out, a.force, |site| {
        let mut datasets = Vec::new();
        copy_lab(&a.lab, &site.join("lab"), "lab/", max, &mut datasets)?;
        for d in &a.data {
            let name = folder_name(d)?;
            let site_path = format!("data/{name}/");
            datasets.push(publish_dataset(d, &site.join(&site_path), site_path, max)?);
        }
        let mut bundles = Vec::new();
        for d in &a.bundles {
            bundles.push(publish_bundle(d, &site.join("runs"), max)?);
        }
        let runs_json = runs_json(&registry, &bundles);
        let mut text = serde_json::to_string_pretty(&runs_json)?;
        text.push('\n');
        std::fs::write(site.join("runs.json"), text).context("writing runs.json")?;
        std::fs::write(
            site.join("index.html"),
            start_page(&datasets, &bundles, &registry),
        )
        .context("writing index.html")?;
        std::fs::write(site.join("_headers"), headers(&lab_csp)).context("writing _headers")?;
        check_sizes(site, max)?;
        summary = (datasets.len(), bundles.len(), registry.len());
        Ok(())
    })?;
    eprintln!(
        "published {} ({} datasets, {} bundles, {} registry runs)",
        a.out.display(),
        summary.0,
        summary.1,
        summary.2
    );
    Ok(())
}

/// The last component of a folder's path, as it is named in the site.
fn folder_name(dir: &Path) -> anyhow::Result<String> {
    let canon = dir
        .canonicalize()
        .with_context(|| format!("{}: cannot resolve the folder", dir.display()))?;
    canon
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && !n.starts_with('.'))
        .ok_or_else(|| anyhow::anyhow!("{}: has no usable folder name", dir.display()))
}

/// A page that loads anything from the host's root (`/x`) breaks under a sub-path: refused.
fn check_relative(path: &Path, html: &str) -> anyhow::Result<()> {
    for pat in [
        "href=\"/",
        "src=\"/",
        "from '/",
        "from \"/",
        "import('/",
        "import(\"/",
        ": '/",
        ": \"/",
        "url(/",
    ] {
        if let Some(at) = html.find(pat) {
            let next = html[at + pat.len()..].chars().next();
            if next != Some('/') {
                bail!(
                    "{}: loads {}… from the host's root, which breaks under a sub-path; build the lab with relative URLs (`trunk build --public-url ./`, as `cargo xtask publish` does)",
                    path.display(),
                    &html[at..(at + pat.len() + 20).min(html.len())]
                );
            }
        }
    }
    Ok(())
}

/// The lab page's own Content-Security-Policy (the `<meta>` that `web/csp.mjs` writes).
fn lab_policy(path: &Path, html: &str) -> anyhow::Result<String> {
    let key = "http-equiv=\"Content-Security-Policy\" content=\"";
    let at = html.find(key).map(|i| i + key.len()).ok_or_else(|| {
        anyhow::anyhow!(
            "{}: has no Content-Security-Policy <meta> (web/csp.mjs writes it after `trunk build`; `cargo xtask publish` runs both)",
            path.display()
        )
    })?;
    let end = html[at..]
        .find('"')
        .ok_or_else(|| anyhow::anyhow!("{}: an unterminated policy", path.display()))?;
    Ok(html[at..at + end].to_string())
}

/// Copies the lab folder (files and folders whose name starts with a dot are left out: Trunk's
/// staging); a folder with a `manifest.json` is a dataset, published as `--data` folders are.
fn copy_lab(
    from: &Path,
    to: &Path,
    site_path: &str,
    max: u64,
    datasets: &mut Vec<Dataset>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .with_context(|| format!("reading {}", from.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = e.path();
        if path.is_dir() {
            let inside = format!("{site_path}{name}/");
            if path.join("manifest.json").is_file() {
                datasets.push(publish_dataset(&path, &to.join(&name), inside, max)?);
            } else {
                copy_lab(&path, &to.join(&name), &inside, max, datasets)?;
            }
        } else {
            copy_file(&path, &to.join(&name), max)?;
        }
    }
    Ok(())
}

/// Copies a file no larger than `max`.
fn copy_file(from: &Path, to: &Path, max: u64) -> anyhow::Result<()> {
    let size = std::fs::metadata(from)
        .with_context(|| format!("cannot read {}", from.display()))?
        .len();
    if size > max {
        bail!(
            "{}: {size} bytes, more than a published file may take ({max} bytes, --max-file)",
            from.display()
        );
    }
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// A file's SHA-256 and size, read in pieces.
fn file_digest(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hash = Sha256::new();
    let n =
        std::io::copy(&mut f, &mut hash).with_context(|| format!("reading {}", path.display()))?;
    Ok((hex(&hash.finalize()), n))
}

/// Publishes one dataset folder into `to`: its manifest, calls and excluded calls as they are,
/// its candles' parts checked against the manifest, or its whole `candles.parquet` copied when
/// it fits `max` and cut into parts (with a manifest listing them) when it does not.
fn publish_dataset(from: &Path, to: &Path, site_path: String, max: u64) -> anyhow::Result<Dataset> {
    let mpath = from.join("manifest.json");
    let mname = mpath.display().to_string();
    let bytes = std::fs::read(&mpath).with_context(|| format!("cannot read {mname}"))?;
    let info = parse_manifest(&mname, &bytes).map_err(crate::plan::cli_error)?;
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for name in ["calls.parquet", "excluded.parquet"] {
        let path = from.join(name);
        if path.exists() || name == "calls.parquet" {
            copy_file(&path, &to.join(name), max)?;
        }
    }
    let files = parts::candle_files(&mname, &info.json).map_err(crate::plan::cli_error)?;
    match files {
        CandleFiles::Parts(entries) => {
            for (k, e) in entries.iter().enumerate() {
                let path = from.join(&e.name);
                let shown = path.display().to_string();
                if !path.is_file() {
                    return Err(crate::plan::cli_error(parts::missing_part(
                        &shown,
                        &mname,
                        k,
                        entries.len(),
                    )));
                }
                let (sha, size) = file_digest(&path)?;
                parts::check_part_digest(e, &shown, size, &sha).map_err(crate::plan::cli_error)?;
                copy_file(&path, &to.join(&e.name), max)?;
            }
            copy_file(&mpath, &to.join("manifest.json"), max)?;
            Ok(Dataset {
                site_path,
                manifest: info.json,
                sha256: info.sha256,
                candle_files: entries.len(),
                cut: false,
            })
        }
        CandleFiles::Whole => {
            let whole = from.join(WHOLE);
            let size = std::fs::metadata(&whole)
                .with_context(|| format!("cannot read {}", whole.display()))?
                .len();
            if size <= max {
                copy_file(&whole, &to.join(WHOLE), max)?;
                copy_file(&mpath, &to.join("manifest.json"), max)?;
                return Ok(Dataset {
                    site_path,
                    manifest: info.json,
                    sha256: info.sha256,
                    candle_files: 1,
                    cut: false,
                });
            }
            let (manifest, sha256, n) = cut_candles(&whole, to, info.json, max)?;
            Ok(Dataset {
                site_path,
                manifest,
                sha256,
                candle_files: n,
                cut: true,
            })
        }
    }
}

/// Cuts a whole `candles.parquet` into parts of at most `max` bytes in `to` (its rows in the
/// same order, the same values bit for bit) and writes the manifest that lists them. Returns
/// the manifest, its SHA-256 and the number of candle files.
fn cut_candles(
    whole: &Path,
    to: &Path,
    mut manifest: Value,
    max: u64,
) -> anyhow::Result<(Value, String, usize)> {
    let shown = whole.display().to_string();
    let file = File::open(whole).with_context(|| format!("cannot open {shown}"))?;
    let mut out = CandleWriter::create(to, max)?;
    let mut failed: Option<anyhow::Error> = None;
    read_candle_runs(
        &shown,
        file,
        |_, _| true,
        |chain, mint, rows| {
            if failed.is_none() {
                if let Err(e) = out.push(chain, mint, rows) {
                    failed = Some(e);
                }
            }
        },
    )
    .map_err(crate::plan::cli_error)?;
    if let Some(e) = failed {
        return Err(e);
    }
    let written = out.finish()?;
    let rows: usize = written.iter().map(|(_, r)| r).sum();
    if manifest["files"][WHOLE]["rows"]
        .as_u64()
        .is_some_and(|r| r != rows as u64)
    {
        bail!("{shown}: {rows} rows read, its manifest says otherwise");
    }
    if let Some(files) = manifest["files"].as_object_mut() {
        files.remove(WHOLE);
    }
    for (name, rows) in &written {
        let (sha, bytes) = file_digest(&to.join(name))?;
        manifest["files"][name] = json!({"sha256": sha, "bytes": bytes, "rows": rows});
    }
    if written.len() > 1 {
        let names: Vec<&str> = written.iter().map(|(n, _)| n.as_str()).collect();
        manifest["parts"] = json!({ WHOLE: names });
    }
    let mut text = serde_json::to_string_pretty(&manifest)?;
    text.push('\n');
    std::fs::write(to.join("manifest.json"), &text).context("writing manifest.json")?;
    Ok((
        manifest,
        hex(&Sha256::digest(text.as_bytes())),
        written.len(),
    ))
}

/// Publishes one result bundle as `runs/NAME/`: its files (not its subfolders).
fn publish_bundle(from: &Path, runs: &Path, max: u64) -> anyhow::Result<Bundle> {
    let name = folder_name(from)?;
    let row = crate::runs::read_bundle(from)
        .map_err(|why| anyhow::anyhow!("--bundles {}: {why}", from.display()))?;
    let result_file = from.join(if row.kind == "baseline" {
        "summary.json"
    } else {
        "results.json"
    });
    let result: Value = serde_json::from_slice(&std::fs::read(&result_file)?)
        .with_context(|| format!("{}: not valid JSON", result_file.display()))?;
    let date = std::fs::metadata(&result_file)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| format_ts_ms(d.as_millis() as i64)[..10].to_string());
    let to = runs.join(&name);
    std::fs::create_dir_all(&to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut entries: Vec<_> = std::fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let fname = e.file_name().to_string_lossy().into_owned();
        if !fname.starts_with('.') && e.path().is_file() {
            copy_file(&e.path(), &to.join(&fname), max)?;
        }
    }
    Ok(Bundle {
        name,
        kind: row.kind,
        run_id: row.run_id,
        date,
        result,
        manifest_sha256: row.manifest_sha256,
    })
}

/// The registry's rows for the site: each row's JSON with its local `path` replaced by the
/// bundle's folder in the site (`bundle`, or `null` when the bundle is not published).
fn runs_json(registry: &[crate::runs::RunRow], bundles: &[Bundle]) -> Value {
    let by_id: BTreeMap<&str, &str> = bundles
        .iter()
        .map(|b| (b.run_id.as_str(), b.name.as_str()))
        .collect();
    Value::Array(
        registry
            .iter()
            .map(|r| {
                let mut v = crate::runs::row_json(r);
                if let Some(o) = v.as_object_mut() {
                    o.remove("path");
                    o.insert(
                        "bundle".into(),
                        by_id
                            .get(r.run_id.as_str())
                            .map_or(Value::Null, |n| json!(format!("runs/{n}/"))),
                    );
                }
                v
            })
            .collect(),
    )
}

/// A day from epoch milliseconds in JSON (`–` when absent).
fn day(v: &Value) -> String {
    v.as_i64()
        .map_or("–".into(), |ms| format_ts_ms(ms)[..10].to_string())
}

/// The start page: every dataset and run, with links into the lab.
fn start_page(
    datasets: &[Dataset],
    bundles: &[Bundle],
    registry: &[crate::runs::RunRow],
) -> String {
    let mut body = String::from(
        "<h1>Quantbot Lab</h1>\n<p><a href=\"lab/\">Open the lab</a> <span class=\"muted\">\
         (runs in this browser; nothing is uploaded)</span></p>\n<h2>Datasets</h2>\n",
    );
    if datasets.is_empty() {
        body.push_str("<p class=\"muted\">none</p>\n");
    } else {
        body.push_str(
            "<table><thead><tr><th>dataset</th><th>calls</th><th>excluded</th><th>callers</th>\
             <th>alerts from</th><th>to</th><th>interval</th><th>candles</th><th>files</th>\
             <th>manifest SHA-256</th></tr></thead><tbody>\n",
        );
        for d in datasets {
            let m = &d.manifest;
            let link = format!(
                "lab/?data={}&sha={}",
                url_part(&d.lab_relative()),
                url_part(&d.sha256)
            );
            let files = if d.candle_files > 1 {
                format!(
                    "{} parts{}",
                    d.candle_files,
                    if d.cut { " (cut when published)" } else { "" }
                )
            } else {
                "whole".into()
            };
            body.push_str(&format!(
                "<tr><td><a href=\"{}\">{}</a></td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>\
                 <td>{}</td><td><code>{}</code></td></tr>\n",
                esc(&link),
                esc(d.site_path.trim_end_matches('/')),
                esc(&json_num(&m["rows"]["calls"])),
                esc(&json_num(&m["rows"]["excluded"])),
                m["callers"].as_array().map_or(0, Vec::len),
                day(&m["time_range"]["first_alert_ts_ms"]),
                day(&m["time_range"]["last_alert_ts_ms"]),
                esc(m["interval"].as_str().unwrap_or("–")),
                esc(&json_num(&m["rows"]["candles"])),
                esc(&files),
                esc(&d.sha256),
            ));
        }
        body.push_str("</tbody></table>\n");
    }
    body.push_str("<h2>Runs</h2>\n");
    if bundles.is_empty() {
        body.push_str("<p class=\"muted\">none published</p>\n");
    }
    for b in bundles {
        let mut link = format!("lab/?bundle=../runs/{}/", url_part(&b.name));
        if let Some(d) = datasets
            .iter()
            .find(|d| Some(&d.sha256) == b.manifest_sha256.as_ref())
        {
            link.push_str(&format!(
                "&data={}&sha={}",
                url_part(&d.lab_relative()),
                url_part(&d.sha256)
            ));
        }
        body.push_str(&format!(
            "<h3><a href=\"{}\">{}</a></h3>\n<p class=\"muted\">{} · written {} · data manifest \
             <code>{}</code> · <a href=\"runs/{}/index.html\">static page</a> · \
             <a href=\"runs/{}/results.json\">results.json</a></p>\n",
            esc(&link),
            esc(&b.name),
            esc(&b.kind),
            esc(b.date.as_deref().unwrap_or("–")),
            esc(b.manifest_sha256.as_deref().unwrap_or("–")),
            esc(&url_part(&b.name)),
            esc(&url_part(&b.name)),
        ));
        body.push_str(
            "<table><thead><tr><th>caller</th><th>best policy</th><th>value</th><th>verdict</th>\
             </tr></thead><tbody>\n",
        );
        let objective = b.result["options"]["objective"]
            .as_str()
            .unwrap_or("final_capital");
        for p in b.result["per_caller"].as_array().into_iter().flatten() {
            let (label, value) = if b.kind == "baseline" {
                ("baseline".to_string(), &p["median_ath_mult"])
            } else {
                (
                    p["best"]["label"].as_str().unwrap_or("–").to_string(),
                    &p["best"]["metrics"][objective],
                )
            };
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
                esc(p["caller"].as_str().unwrap_or("–")),
                esc(&label),
                esc(&json_num(value)),
                esc(p["robustness"]["verdict"].as_str().unwrap_or("–")),
            ));
        }
        body.push_str("</tbody></table>\n");
    }
    let published: BTreeSet<&str> = bundles.iter().map(|b| b.run_id.as_str()).collect();
    let others: Vec<&crate::runs::RunRow> = registry
        .iter()
        .filter(|r| !published.contains(r.run_id.as_str()))
        .collect();
    if !others.is_empty() {
        body.push_str(
            "<h2>In the registry, not published</h2>\n<p class=\"muted\">From \
             <a href=\"runs.json\">runs.json</a>; publish a run's folder with --bundles to open it \
             in the lab.</p>\n<table><thead><tr><th>run</th><th>kind</th><th>callers</th>\
             <th>best policy per caller</th></tr></thead><tbody>\n",
        );
        for r in others {
            let best: Value = serde_json::from_str(&r.best_json).unwrap_or(Value::Null);
            let per: Vec<String> = best
                .as_array()
                .into_iter()
                .flatten()
                .map(|b| {
                    format!(
                        "{}: {}",
                        b["caller"].as_str().unwrap_or("–"),
                        b["label"].as_str().unwrap_or("–")
                    )
                })
                .collect();
            body.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
                esc(&r.run_id[..12.min(r.run_id.len())]),
                esc(&r.kind),
                r.callers,
                esc(&per.join("; ")),
            ));
        }
        body.push_str("</tbody></table>\n");
    }
    page("Quantbot Lab — published datasets and runs", &body)
}

/// A JSON number as text: integers whole, others with 4 decimals (2 from 1,000 up); `–` when
/// absent.
fn json_num(v: &Value) -> String {
    match v {
        Value::Null => "–".into(),
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if x.abs() >= 1000.0 {
                format!("{x:.2}")
            } else {
                format!("{x:.4}")
            }
        }
        other => other.to_string(),
    }
}

/// `_headers` (Cloudflare Pages, Netlify): cross-origin isolation everywhere (the lab's worker
/// pool needs it), the lab's own policy on the lab, and on the static pages a policy that
/// allows their one inline style and nothing else. Each path gets one policy: a host that
/// merges two would enforce both.
fn headers(lab_csp: &str) -> String {
    let pages = format!(
        "default-src 'none'; style-src {}; img-src 'self' data:; base-uri 'none'; form-action 'none'; object-src 'none'",
        style_source()
    );
    format!(
        "/*\n  Cross-Origin-Opener-Policy: same-origin\n  Cross-Origin-Embedder-Policy: require-corp\n  X-Content-Type-Options: nosniff\n\
         /lab/*\n  Content-Security-Policy: {lab_csp}\n\
         /\n  Content-Security-Policy: {pages}\n\
         /index.html\n  Content-Security-Policy: {pages}\n\
         /runs/*\n  Content-Security-Policy: {pages}\n"
    )
}

/// Every file of the site is at most `max` bytes (the datasets were cut, the rest checked as
/// copied; this is the last word).
fn check_sizes(dir: &Path, max: u64) -> anyhow::Result<()> {
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let meta = e.metadata()?;
            if meta.is_dir() {
                stack.push(e.path());
            } else if meta.len() > max {
                bail!(
                    "{}: {} bytes, more than a published file may take ({max} bytes, --max-file)",
                    e.path().display(),
                    meta.len()
                );
            }
        }
    }
    Ok(())
}
