//! Selection of calls (SPEC §2.2, §12): the date range and caller-group matching. Shared by the
//! CLI and the lab, so both select the same calls.

use thiserror::Error;

/// Which end of the date range a value gives; it reads `from` or `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    From,
    To,
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bound::From => "from",
            Bound::To => "to",
        })
    }
}

/// A text that is neither a date nor a UTC timestamp (the value as given).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0:?} is not a date (YYYY-MM-DD) or a UTC timestamp (YYYY-MM-DDTHH:MM[:SS][Z])")]
pub struct DateError(pub String);

/// A date range that selects nothing or cannot be read; the bound at fault is data, so a shell
/// can name its own flag for it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SelectError {
    #[error("{bound}: {error}")]
    BadDate { bound: Bound, error: DateError },
    /// The start is not before the end; the values as given, `-` for an absent bound.
    #[error("from {from} is not before to {to}")]
    EmptyRange { from: String, to: String },
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of epoch milliseconds, for messages and tables.
pub fn format_ts_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// A parsed bound of a date range: epoch milliseconds, and whether only a date was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateArg {
    pub ms: i64,
    pub date_only: bool,
}

/// Parses `YYYY-MM-DD`, or a UTC timestamp `YYYY-MM-DDTHH:MM[:SS[.fff]][Z]` (a space may stand
/// for the `T`).
pub fn parse_date(value: &str) -> Result<DateArg, DateError> {
    let bad = || DateError(value.to_string());
    let v = value.trim();
    let v = v.strip_suffix('Z').unwrap_or(v);
    let (date, time) = match v.find(['T', ' ']) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 2 || parts[2].len() != 2 {
        return Err(bad());
    }
    let y: i64 = parts[0].parse().map_err(|_| bad())?;
    let m: u32 = parts[1].parse().map_err(|_| bad())?;
    let d: u32 = parts[2].parse().map_err(|_| bad())?;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if d == 0 || d > days_in_month {
        return Err(bad());
    }
    let mut ms = days_from_civil(y, m, d) * 86_400_000;
    let Some(time) = time else {
        return Ok(DateArg {
            ms,
            date_only: true,
        });
    };
    let (hms, frac) = match time.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (time, None),
    };
    let t: Vec<&str> = hms.split(':').collect();
    if !(2..=3).contains(&t.len()) || t.iter().any(|p| p.len() != 2) {
        return Err(bad());
    }
    let h: i64 = t[0].parse().map_err(|_| bad())?;
    let mi: i64 = t[1].parse().map_err(|_| bad())?;
    let s: i64 = if t.len() == 3 {
        t[2].parse().map_err(|_| bad())?
    } else {
        0
    };
    if h > 23 || mi > 59 || s > 59 {
        return Err(bad());
    }
    ms += (h * 3600 + mi * 60 + s) * 1000;
    if let Some(f) = frac {
        if f.is_empty() || f.len() > 3 || !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let padded = format!("{f:0<3}");
        ms += padded.parse::<i64>().map_err(|_| bad())?;
    }
    Ok(DateArg {
        ms,
        date_only: false,
    })
}

/// The half-open range `[from, to)` of alert times selected by a start and an end (SPEC §2.2,
/// the CLI's `--from`/`--to`): a date-only end includes its whole day; a full timestamp is an
/// exclusive end.
pub fn date_range(from: Option<&str>, to: Option<&str>) -> Result<(i64, i64), SelectError> {
    let parse =
        |bound, value| parse_date(value).map_err(|error| SelectError::BadDate { bound, error });
    let start = match from {
        Some(f) => parse(Bound::From, f)?.ms,
        None => i64::MIN,
    };
    let end = match to {
        Some(t) => {
            let d = parse(Bound::To, t)?;
            if d.date_only {
                d.ms + 86_400_000
            } else {
                d.ms
            }
        }
        None => i64::MAX,
    };
    if start >= end {
        return Err(SelectError::EmptyRange {
            from: from.unwrap_or("-").to_string(),
            to: to.unwrap_or("-").to_string(),
        });
    }
    Ok((start, end))
}

fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// Whether a caller-group entry matches a caller (SPEC §2.2, §12): case-folded equality, or a
/// whole-word prefix (the next character is not a Unicode letter, digit or `_`).
/// "Brook" matches "Brook 💀🧲" and "Brook Giga I verify", not "Brooklyn".
pub fn group_matches(entry: &str, caller: &str) -> bool {
    let (e, c) = (fold(entry.trim()), fold(caller));
    if e.is_empty() {
        return false;
    }
    if c == e {
        return true;
    }
    match c.strip_prefix(e.as_str()) {
        Some(rest) => rest
            .chars()
            .next()
            .is_some_and(|ch| !(ch.is_alphanumeric() || ch == '_')),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `value` parses to these epoch milliseconds, with or without a time.
    fn check_date(value: &str, ms: i64, date_only: bool) {
        assert_eq!(parse_date(value), Ok(DateArg { ms, date_only }), "{value}");
    }

    /// `date_range(from, to)` gives `expected`.
    fn check_range(
        from: Option<&str>,
        to: Option<&str>,
        expected: Result<(i64, i64), SelectError>,
    ) {
        assert_eq!(date_range(from, to), expected, "{from:?} {to:?}");
    }

    const MAY_1: i64 = 1_746_057_600_000;

    #[test]
    fn dates() {
        check_date("1970-01-02", 86_400_000, true);
        check_date("2025-05-01", MAY_1, true);
        check_date("2024-02-29", 19_782 * 86_400_000, true);
        check_date("2025-05-01T12:30:15Z", MAY_1 + 45_015_000, false);
        check_date("2025-05-01 12:30", MAY_1 + 45_000_000, false);
        check_date("2025-05-01T00:00:00.5", MAY_1 + 500, false);
        for bad in [
            "2025-13-01",
            "2025-02-30",
            "25-05-01",
            "2025/05/01",
            "2025-05-01T25:00",
            "x",
        ] {
            assert_eq!(parse_date(bad), Err(DateError(bad.into())));
        }
        assert_eq!(format_ts_ms(MAY_1 + 45_015_000), "2025-05-01 12:30:15");
        for days in [-800_000, -1, 0, 1, 19_000, 20_000, 800_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn ranges() {
        // A date-only end includes its whole day: [from, to + 1 day).
        check_range(
            Some("2025-05-01"),
            Some("2025-05-01"),
            Ok((MAY_1, MAY_1 + 86_400_000)),
        );
        // A full timestamp is an exclusive end.
        check_range(
            None,
            Some("2025-05-01T06:00:00Z"),
            Ok((i64::MIN, MAY_1 + 6 * 3_600_000)),
        );
        check_range(None, None, Ok((i64::MIN, i64::MAX)));
        check_range(
            Some("2025-05-02"),
            Some("2025-05-01"),
            Err(SelectError::EmptyRange {
                from: "2025-05-02".into(),
                to: "2025-05-01".into(),
            }),
        );
        check_range(
            Some("2025-05-01T00:00"),
            Some("2025-05-01T00:00"),
            Err(SelectError::EmptyRange {
                from: "2025-05-01T00:00".into(),
                to: "2025-05-01T00:00".into(),
            }),
        );
        let bad = |bound, value: &str| SelectError::BadDate {
            bound,
            error: DateError(value.into()),
        };
        check_range(
            Some("2025-13-01"),
            None,
            Err(bad(Bound::From, "2025-13-01")),
        );
        check_range(None, Some("soon"), Err(bad(Bound::To, "soon")));
    }

    /// The messages name the bound as a word; a shell puts its flag in front.
    #[test]
    fn messages() {
        assert_eq!(
            date_range(Some("2025-13-01"), None)
                .unwrap_err()
                .to_string(),
            "from: \"2025-13-01\" is not a date (YYYY-MM-DD) or a UTC timestamp \
             (YYYY-MM-DDTHH:MM[:SS][Z])"
        );
        assert_eq!(
            date_range(None, Some("x")).unwrap_err().to_string(),
            "to: \"x\" is not a date (YYYY-MM-DD) or a UTC timestamp (YYYY-MM-DDTHH:MM[:SS][Z])"
        );
        assert_eq!(
            date_range(Some("2025-05-02"), Some("2025-05-01"))
                .unwrap_err()
                .to_string(),
            "from 2025-05-02 is not before to 2025-05-01"
        );
    }

    #[test]
    fn caller_groups_match_whole_word_prefixes() {
        assert!(group_matches("Brook", "Brook 💀🧲"));
        assert!(group_matches("Brook", "Brook Giga I verify"));
        assert!(group_matches("brook", "BROOK"));
        assert!(!group_matches("Brook", "Brooklyn"));
        assert!(!group_matches("Brook", "Brook_2"));
        assert!(!group_matches("Brook", "Brook2"));
        assert!(group_matches("Brook", "Brook-Calls"));
        assert!(!group_matches("Alpha", "AlphaSeeker"));
        assert!(group_matches("Alpha", "Alpha Calls"));
        assert!(!group_matches("Calls", "Alpha Calls"));
        assert!(group_matches("Ärger", "ärger bot"));
        assert!(!group_matches("Ärger", "ärgerlich"));
        assert!(!group_matches("", "anything"));
    }
}
