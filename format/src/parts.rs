//! A dataset's candles whole (`candles.parquet`, what every export wrote before parts, and
//! what one still writes when the candles fit in one part) or in parts (`candles-00000.parquet`,
//! `candles-00001.parquet`, … in row order), as the manifest lists them, and the checks of the
//! files a reader was given against that list.
//!
//! The manifest of a dataset in parts has `"parts": {"candles.parquet": [names…]}` and an entry
//! in `"files"` (`bytes`, `rows`, `sha256`) for each part. Part names are fixed by their number,
//! so a manifest can name no other file (no path leaves the folder) and the order is checked by
//! name: part k must be `candles-{k:05}.parquet`.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{data, hex, Result};

/// The candles as one file.
pub const WHOLE: &str = "candles.parquet";

/// The name of part `k` of the candles.
pub fn part_name(k: usize) -> String {
    format!("candles-{k:05}.parquet")
}

/// The number of a part from its file name (`candles-00012.parquet` → 12); `None` for any other
/// name (only the name [`part_name`] gives for that number counts, so `candles-1.parquet` is
/// not part 1).
pub fn part_number(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("candles-")?.strip_suffix(".parquet")?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let k: usize = digits.parse().ok()?;
    (part_name(k) == name).then_some(k)
}

/// The last component of a path or URL (`https://h/d/candles-00001.parquet` → its file name).
pub fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// One file as a manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
    pub rows: u64,
    pub sha256: String,
}

/// Where a dataset's candles are, by its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CandleFiles {
    /// `candles.parquet`.
    Whole,
    /// The parts, in row order.
    Parts(Vec<FileEntry>),
}

impl CandleFiles {
    /// The file names, in the order they are read.
    pub fn names(&self) -> Vec<String> {
        match self {
            CandleFiles::Whole => vec![WHOLE.to_string()],
            CandleFiles::Parts(parts) => parts.iter().map(|p| p.name.clone()).collect(),
        }
    }
}

/// The candle files of a manifest (`manifest` is how errors call the manifest file). A manifest
/// without `parts` has the candles whole. Every listed part must be part k in position k and
/// have a `files` entry.
pub fn candle_files(manifest: &str, json: &Value) -> Result<CandleFiles> {
    let Some(parts) = json.get("parts") else {
        return Ok(CandleFiles::Whole);
    };
    let list = parts
        .get(WHOLE)
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| {
            data(format!(
                "{manifest}: parts.\"{WHOLE}\" is not a list of file names"
            ))
        })?;
    let mut out = Vec::with_capacity(list.len());
    for (k, name) in list.iter().enumerate() {
        let want = part_name(k);
        let Some(name) = name.as_str().filter(|n| *n == want) else {
            return Err(data(format!(
                "{manifest}: part {k} of the candles is {name}, expected \"{want}\" (parts are numbered in row order from candles-00000.parquet)"
            )));
        };
        let entry = &json["files"][name];
        let field = |key: &str| {
            entry[key]
                .as_u64()
                .ok_or_else(|| data(format!("{manifest}: files.\"{name}\" has no number {key}")))
        };
        let (bytes, rows) = (field("bytes")?, field("rows")?);
        let sha256 = entry["sha256"]
            .as_str()
            .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| {
                data(format!(
                    "{manifest}: files.\"{name}\" has no sha256 (64 hexadecimal digits)"
                ))
            })?;
        out.push(FileEntry {
            name: name.to_string(),
            bytes,
            rows,
            sha256: sha256.to_ascii_lowercase(),
        });
    }
    Ok(CandleFiles::Parts(out))
}

/// The message of a part the manifest lists that is not there (`shown` names the file, `m`
/// the manifest; part `k` of `n`).
pub fn missing_part(shown: &str, m: &str, k: usize, n: usize) -> crate::Error {
    data(format!(
        "{shown}: missing ({m} lists it as part {} of {n} of the candles)",
        k + 1
    ))
}

/// Checks a part's bytes against its manifest entry (`shown` is how errors call the file).
pub fn check_part(entry: &FileEntry, shown: &str, bytes: &[u8]) -> Result<()> {
    check_part_digest(
        entry,
        shown,
        bytes.len() as u64,
        &hex(&Sha256::digest(bytes)),
    )
}

/// [`check_part`] from a part's size and SHA-256 (hexadecimal), for a reader that hashes a
/// file as it streams it.
pub fn check_part_digest(entry: &FileEntry, shown: &str, size: u64, sha256: &str) -> Result<()> {
    if size != entry.bytes {
        return Err(data(format!(
            "{shown}: {size} bytes, the manifest says {} (a partial copy, or a part of another export?)",
            entry.bytes
        )));
    }
    if sha256 != entry.sha256 {
        return Err(data(format!(
            "{shown}: its SHA-256 is not the manifest's (a changed file, or a part of another export?)"
        )));
    }
    Ok(())
}

/// The candle files among `files` (a reader's files by name: a path or URL whose last component
/// is `candles.parquet` or a part's name), checked and in reading order. With a manifest
/// (`(its name, its JSON)`): the files it lists, each part checked against its entry (missing,
/// size, SHA-256). Without one (a user's own files): `candles.parquet`, or parts numbered from
/// 00000 without a gap. Files that are neither are left out.
pub fn pick_candle_files<B: AsRef<[u8]>>(
    manifest: Option<(&str, &Value)>,
    files: Vec<(String, B)>,
) -> Result<Vec<(String, B)>> {
    let mut whole = None;
    let mut parts: std::collections::BTreeMap<usize, (String, B)> = Default::default();
    for (name, b) in files {
        let base = base_name(&name);
        if base == WHOLE {
            whole = Some((name, b));
        } else if let Some(k) = part_number(base) {
            parts.insert(k, (name, b));
        }
    }
    match manifest.map(|(m, json)| (m, candle_files(m, json))) {
        Some((_, Err(e))) => Err(e),
        Some((_, Ok(CandleFiles::Whole))) => whole
            .map(|w| vec![w])
            .ok_or_else(|| data(format!("{WHOLE} is missing"))),
        Some((m, Ok(CandleFiles::Parts(entries)))) => {
            let n = entries.len();
            let mut out = Vec::with_capacity(n);
            for (k, entry) in entries.iter().enumerate() {
                let Some((name, b)) = parts.remove(&k) else {
                    return Err(missing_part(&entry.name, m, k, n));
                };
                check_part(entry, &name, b.as_ref())?;
                out.push((name, b));
            }
            if let Some((_, (name, _))) = parts.into_iter().next() {
                return Err(data(format!(
                    "{name}: not a part {m} lists (it has {n}): a part of another export?"
                )));
            }
            Ok(out)
        }
        None => match (whole, parts.is_empty()) {
            (Some(_), false) => Err(data(format!(
                "give either {WHOLE} or its parts (candles-00000.parquet, …), not both"
            ))),
            (Some(w), true) => Ok(vec![w]),
            (None, true) => Err(data(format!("{WHOLE} is missing"))),
            (None, false) => {
                let mut out = Vec::with_capacity(parts.len());
                for (want, (k, file)) in parts.into_iter().enumerate() {
                    if k != want {
                        return Err(data(format!(
                            "{}: missing (the parts run from candles-00000.parquet without a gap; {} was given)",
                            part_name(want),
                            base_name(&file.0)
                        )));
                    }
                    out.push(file);
                }
                Ok(out)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sha(b: &[u8]) -> String {
        hex(&Sha256::digest(b))
    }

    /// A manifest listing parts with these contents.
    fn manifest(parts: &[&[u8]]) -> Value {
        let names: Vec<String> = (0..parts.len()).map(part_name).collect();
        let mut files = serde_json::Map::new();
        for (n, b) in names.iter().zip(parts) {
            files.insert(
                n.clone(),
                json!({"bytes": b.len(), "rows": 1, "sha256": sha(b)}),
            );
        }
        json!({"parts": {WHOLE: names}, "files": files})
    }

    /// The names [`pick_candle_files`] gives, or its message.
    fn check(
        m: Option<&Value>,
        files: &[(&str, &[u8])],
        expected: std::result::Result<&[&str], &str>,
    ) {
        let files = files.iter().map(|(n, b)| (n.to_string(), *b)).collect();
        let got = pick_candle_files(m.map(|j| ("manifest.json", j)), files)
            .map(|v| v.into_iter().map(|(n, _)| n).collect::<Vec<_>>())
            .map_err(|e| e.to_string());
        let expected = expected
            .map(|v| v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .map_err(str::to_string);
        assert_eq!(got, expected);
    }

    #[test]
    fn part_names_round_trip_and_nothing_else_is_a_part() {
        for k in [0, 1, 99_999, 100_000, 1_234_567] {
            assert_eq!(part_number(&part_name(k)), Some(k));
        }
        for name in [
            "candles-1.parquet",
            "candles-000001.parquet",
            "candles-0000a.parquet",
            "candles-+0001.parquet",
            "candles.parquet",
            "../candles-00000.parquet",
            "candles-00000.parquet.tmp",
        ] {
            assert_eq!(part_number(name), None, "{name}");
        }
        assert_eq!(
            base_name("https://h/d/candles-00001.parquet"),
            "candles-00001.parquet"
        );
    }

    #[test]
    fn parts_are_read_in_the_manifests_order_and_checked() {
        let (a, b, c): (&[u8], &[u8], &[u8]) = (b"part zero", b"part one", b"part two");
        let m = manifest(&[a, b, c]);
        let ok = [
            ("d/candles-00002.parquet", c),
            ("d/candles-00000.parquet", a),
            ("d/candles-00001.parquet", b),
            ("d/calls.parquet", b"x".as_slice()),
        ];
        check(
            Some(&m),
            &ok,
            Ok(&[
                "d/candles-00000.parquet",
                "d/candles-00001.parquet",
                "d/candles-00002.parquet",
            ]),
        );
        check(
            Some(&m),
            &[("d/candles-00000.parquet", a), ("d/candles-00002.parquet", c)],
            Err("candles-00001.parquet: missing (manifest.json lists it as part 2 of 3 of the candles)"),
        );
        check(
            Some(&m),
            &[("d/candles-00000.parquet", a), ("d/candles-00001.parquet", c), ("d/candles-00002.parquet", c)],
            Err("d/candles-00001.parquet: its SHA-256 is not the manifest's (a changed file, or a part of another export?)"),
        );
        check(
            Some(&m),
            &[("d/candles-00000.parquet", a), ("d/candles-00001.parquet", b"short"), ("d/candles-00002.parquet", c)],
            Err("d/candles-00001.parquet: 5 bytes, the manifest says 8 (a partial copy, or a part of another export?)"),
        );
        check(
            Some(&m),
            &[("candles-00000.parquet", a), ("candles-00001.parquet", b), ("candles-00002.parquet", c), ("candles-00003.parquet", c)],
            Err("candles-00003.parquet: not a part manifest.json lists (it has 3): a part of another export?"),
        );
        // Out of order in the manifest.
        let mut swapped = m.clone();
        swapped["parts"][WHOLE] = json!(["candles-00001.parquet", "candles-00000.parquet"]);
        check(
            Some(&swapped),
            &ok,
            Err("manifest.json: part 0 of the candles is \"candles-00001.parquet\", expected \"candles-00000.parquet\" (parts are numbered in row order from candles-00000.parquet)"),
        );
        let mut escaping = m.clone();
        escaping["parts"][WHOLE] = json!(["../candles-00000.parquet"]);
        assert!(candle_files("manifest.json", &escaping).is_err());
        let mut no_entry = m.clone();
        no_entry["files"] = json!({});
        check(
            Some(&no_entry),
            &ok,
            Err("manifest.json: files.\"candles-00000.parquet\" has no number bytes"),
        );
        let mut empty = m;
        empty["parts"][WHOLE] = json!([]);
        check(
            Some(&empty),
            &ok,
            Err("manifest.json: parts.\"candles.parquet\" is not a list of file names"),
        );
    }

    #[test]
    fn a_manifest_without_parts_and_files_without_a_manifest() {
        let whole = json!({"files": {WHOLE: {}}});
        let x: &[u8] = b"x";
        check(
            Some(&whole),
            &[("d/candles.parquet", x)],
            Ok(&["d/candles.parquet"]),
        );
        check(
            Some(&whole),
            &[("d/candles-00000.parquet", x)],
            Err("candles.parquet is missing"),
        );
        check(None, &[("candles.parquet", x)], Ok(&["candles.parquet"]));
        check(
            None,
            &[("candles-00001.parquet", x), ("candles-00000.parquet", x)],
            Ok(&["candles-00000.parquet", "candles-00001.parquet"]),
        );
        check(
            None,
            &[("candles-00000.parquet", x), ("candles-00002.parquet", x)],
            Err("candles-00001.parquet: missing (the parts run from candles-00000.parquet without a gap; candles-00002.parquet was given)"),
        );
        check(
            None,
            &[("candles.parquet", x), ("candles-00000.parquet", x)],
            Err("give either candles.parquet or its parts (candles-00000.parquet, …), not both"),
        );
        check(
            None,
            &[("calls.parquet", x)],
            Err("candles.parquet is missing"),
        );
    }
}
