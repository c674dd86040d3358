//! Atomic output folders (SPEC §2.3, §10.1): a bundle is written into a temporary sibling folder
//! and renamed into place, so it appears whole or not at all; an existing non-empty folder is
//! replaced only with `--force`, and only once the new one is complete. Also the `--out-dir`,
//! `--force`, `--quiet` and `--registry` steps that every backtest's bundle goes through.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::args::OutputArgs;
use crate::plan::{check_out_dir, check_out_spares_input};

/// Fails early, before any work, when `--out-dir` names a folder that cannot be written
/// (non-empty without `--force`) or would replace the run's own input.
pub fn check_bundle_dir(o: &OutputArgs, input: &Path) -> anyhow::Result<()> {
    match &o.out_dir {
        Some(dir) => {
            check_out_spares_input("--out-dir", dir, input)?;
            check_out_dir(dir, o.force)
        }
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

/// Whether process `pid` still runs (on Linux; elsewhere every process is taken to run, so a
/// leftover is reported, never removed).
fn running(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// The folders an interrupted run left beside `out` (`.NAME.tmp-PID`, a bundle being written,
/// or `.NAME.old-PID`, a replaced one being removed), of processes that no longer run: removed,
/// each said on stderr. Those of a running process (another write to the same folder) stay.
fn clean_leftovers(out: &Path) {
    let Some(name) = out.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let parent = match out.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p.to_path_buf(),
        None => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&parent) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&format!(".{name}.")) else {
            continue;
        };
        let pid = ["tmp-", "old-"]
            .iter()
            .find_map(|tag| rest.strip_prefix(tag))
            .and_then(|pid| pid.parse::<u32>().ok());
        match pid {
            Some(pid) if pid != std::process::id() && !running(pid) => {
                match std::fs::remove_dir_all(e.path()) {
                    Ok(()) => {
                        eprintln!("removed {}, left by an interrupted run", e.path().display())
                    }
                    Err(err) => eprintln!(
                        "cannot remove {}, left by an interrupted run: {err}",
                        e.path().display()
                    ),
                }
            }
            Some(pid) if pid != std::process::id() => eprintln!(
                "{} belongs to a run that is still going (process {pid}); left alone",
                e.path().display()
            ),
            _ => {}
        }
    }
}

/// Swaps two folders in one step (Linux `renameat2` with `RENAME_EXCHANGE`): at every moment
/// each path holds one of the two whole. `Ok(false)` where the system or file system cannot.
fn exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
            Ok(()) => Ok(true),
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (a, b);
        Ok(false)
    }
}

/// Writes a folder through `fill` and moves it to `out`, so that a kill at any moment leaves
/// `out` as it was or whole and new: the bundle is written into `.NAME.tmp-PID` beside it, then
/// swapped with the old folder in one step (or renamed into place when there is none), and
/// the old one, now at the temporary name, removed. Leftovers of interrupted runs are cleaned
/// first. Where the one-step swap is not available, the old folder is moved aside and the new
/// one moved in (two renames: a kill between them leaves the old folder as `.NAME.old-PID`).
pub fn write_folder_atomically(
    out: &Path,
    force: bool,
    fill: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    check_out_dir(out, force)?;
    if out.exists() && !out.is_dir() {
        anyhow::bail!("{} exists and is not a folder", out.display());
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    clean_leftovers(out);
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
    if out.exists() {
        match exchange(&tmp, out) {
            Ok(true) => {
                // `tmp` now holds the old folder.
                std::fs::remove_dir_all(&tmp).ok();
                return Ok(());
            }
            Ok(false) => {}
            Err(e) => {
                std::fs::remove_dir_all(&tmp).ok();
                return Err(e).with_context(|| format!("cannot replace {}", out.display()));
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("bundle-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_replacement_swaps_in_one_step_and_leaves_nothing_beside() {
        let d = scratch("swap");
        let out = d.join("out");
        write_folder_atomically(&out, false, |p| Ok(std::fs::write(p.join("a"), "old")?)).unwrap();
        // Without --force a non-empty folder stays as it is.
        assert!(write_folder_atomically(&out, false, |_| Ok(())).is_err());
        assert_eq!(std::fs::read_to_string(out.join("a")).unwrap(), "old");
        write_folder_atomically(&out, true, |p| Ok(std::fs::write(p.join("b"), "new")?)).unwrap();
        assert!(!out.join("a").exists());
        assert_eq!(std::fs::read_to_string(out.join("b")).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["out"]);
        // The swap itself: both paths hold one of the two folders, whole.
        let (x, y) = (d.join("x"), d.join("y"));
        std::fs::create_dir(&x).unwrap();
        std::fs::create_dir(&y).unwrap();
        std::fs::write(x.join("f"), "x").unwrap();
        std::fs::write(y.join("f"), "y").unwrap();
        if exchange(&x, &y).unwrap() {
            assert_eq!(std::fs::read_to_string(x.join("f")).unwrap(), "y");
            assert_eq!(std::fs::read_to_string(y.join("f")).unwrap(), "x");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn leftovers_of_dead_runs_are_removed_and_live_ones_kept() {
        let d = scratch("leftovers");
        let out = d.join("out");
        // No process has this number (above Linux's pid_max).
        let dead = d.join(".out.tmp-4194305");
        let dead_old = d.join(".out.old-4194306");
        let live = d.join(format!(".out.tmp-{}", std::process::id()));
        let other = d.join(".other.tmp-4194305");
        for p in [&dead, &dead_old, &live, &other] {
            std::fs::create_dir(p).unwrap();
        }
        clean_leftovers(&out);
        if cfg!(target_os = "linux") {
            assert!(!dead.exists() && !dead_old.exists());
        }
        assert!(live.exists(), "this run's own folder is not a leftover");
        assert!(other.exists(), "another output's folder is left alone");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
