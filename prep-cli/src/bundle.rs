//! Atomic output folders (SPEC §2.3, §10.1): a bundle is written into a temporary sibling folder
//! and renamed into place, so it appears whole or not at all; an existing non-empty folder is
//! replaced only with `--force`, and only once the new one is complete. Also the `--out-dir`,
//! `--force`, `--quiet` and `--registry` steps that every backtest's bundle goes through.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::args::OutputArgs;
use crate::plan::check_out_dir;

/// Fails early, before any work, when `--out-dir` names a folder that cannot be written
/// (non-empty without `--force`).
pub fn check_bundle_dir(o: &OutputArgs) -> anyhow::Result<()> {
    match &o.out_dir {
        Some(dir) => check_out_dir(dir, o.force),
        None => Ok(()),
    }
}

/// With `--out-dir`: writes the bundle through `fill` ([`write_folder_atomically`]), says so on
/// stderr unless `--quiet`, and records it in the `--registry` when one is given.
pub fn write_bundle(
    o: &OutputArgs,
    fill: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let Some(dir) = &o.out_dir else {
        return Ok(());
    };
    write_folder_atomically(dir, o.force, fill)?;
    if !o.quiet {
        eprintln!("wrote {}", dir.display());
    }
    if let Some(registry) = &o.registry {
        crate::runs::record(dir, registry)?;
    }
    Ok(())
}

fn sibling(out: &Path, tag: &str) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    out.with_file_name(format!(".{name}.{tag}-{}", std::process::id()))
}

/// Writes a folder through `fill` and moves it to `out`.
pub fn write_folder_atomically(
    out: &Path,
    force: bool,
    fill: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    check_out_dir(out, force)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let tmp = sibling(out, "tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).ok();
    }
    std::fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    if let Err(e) = fill(&tmp) {
        std::fs::remove_dir_all(&tmp).ok();
        return Err(e);
    }
    // Checked again: another process may have written there meanwhile.
    if let Err(e) = check_out_dir(out, force) {
        std::fs::remove_dir_all(&tmp).ok();
        return Err(e);
    }
    let old = sibling(out, "old");
    let had_old = out.exists();
    if had_old {
        std::fs::rename(out, &old)
            .with_context(|| format!("cannot move the old {} aside", out.display()))?;
    }
    if let Err(e) = std::fs::rename(&tmp, out) {
        if had_old {
            std::fs::rename(&old, out).ok();
        }
        std::fs::remove_dir_all(&tmp).ok();
        return Err(e).with_context(|| format!("cannot move the new folder to {}", out.display()));
    }
    if had_old {
        std::fs::remove_dir_all(&old).ok();
    }
    Ok(())
}
