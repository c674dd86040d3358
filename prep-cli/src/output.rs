//! The commands' general output helpers: plain-text tables, CSV cells, number formatting, JSON
//! text, and stdout, where a closed pipe (`| head`) is not an error.

use std::io::Write;

use serde_json::Value;

/// Text as a terminal shows it safely: control characters (escape sequences, carriage
/// returns, NUL, bell) and the bidirectional overrides that reorder what is displayed are
/// written as Rust escapes (`\u{1b}`, `\r`, `\u{202e}`); everything else, emoji included, as
/// is. A caller name comes from whoever wrote the data; on a terminal it must stay one cell.
pub fn printable(text: &str) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.contains(hidden) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if hidden(c) {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A table of left-aligned text and right-aligned numbers (a cell that starts with a digit or a
/// sign, past the first column), columns two spaces apart, under a rule of dashes. Cells are
/// shown [`printable`].
pub fn render_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| printable(c)).collect())
        .collect();
    let rows = rows.as_slice();
    let n = header.len();
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (k, cell) in r.iter().enumerate().take(n) {
            width[k] = width[k].max(cell.chars().count());
        }
    }
    let numeric = |s: &str| s.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+');
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (k, cell) in cells.iter().enumerate() {
            let pad = width[k] - cell.chars().count();
            if k > 0 {
                s.push_str("  ");
            }
            if k > 0 && numeric(cell) {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            } else {
                s.push_str(cell);
                if k + 1 < n {
                    s.push_str(&" ".repeat(pad));
                }
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    let mut out = line(header.to_vec());
    out.push_str(&line(rule.iter().map(String::as_str).collect()));
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// A CSV cell: quoted (with doubled quotes) when it holds a comma, a quote or a line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A number as a CSV cell in its shortest round-trip form, empty when it does not exist or is
/// not finite.
pub fn csv_num(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite())
        .map_or_else(String::new, |x| x.to_string())
}

/// Numbers and shares as the tables print them (shared with the bundle's `index.html`).
pub use quantbot_format::html::{fmt_opt, pct};

/// Pretty JSON with a final newline, as printed on stdout and written to files.
pub fn json_text(v: &Value) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(v)? + "\n")
}

/// Writes `text` to stdout.
pub fn print(text: &str) -> anyhow::Result<()> {
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .or_else(ignore_broken_pipe)?;
    Ok(())
}

/// A closed pipe (`| head`) is not an error.
pub fn ignore_broken_pipe(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_table(header: &[&str], rows: &[&[&str]], expected: &str) {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        assert_eq!(render_table(header, &rows), expected);
    }

    #[test]
    fn tables_align_text_left_and_numbers_right() {
        check_table(
            &["caller", "calls", "flags"],
            &[
                &["Alpha", "7", "edge"],
                &["Brook", "-", ""],
                &["Jo", "123", "x"],
            ],
            "caller  calls  flags\n\
             ------  -----  -----\n\
             Alpha       7  edge\n\
             Brook       -\n\
             Jo        123  x\n",
        );
        // The first column is text even when it looks like a number.
        check_table(&["a", "b"], &[&["1", "x"]], "a  b\n-  -\n1  x\n");
        // A caller name cannot move the cursor, recolour the terminal or break the row.
        check_table(
            &["caller", "n"],
            &[&["A\u{1b}[2J\r\n\u{202e}💀", "1"]],
            "caller                   n\n\
             -----------------------  -\n\
             A\\u{1b}[2J\\r\\n\\u{202e}💀  1\n",
        );
    }

    #[test]
    fn csv_cells_are_quoted_only_when_needed() {
        for (input, expected) in [
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("", ""),
        ] {
            assert_eq!(csv_field(input), expected, "{input:?}");
        }
        assert_eq!(csv_num(Some(0.1)), "0.1");
        assert_eq!(csv_num(Some(f64::NAN)), "");
        assert_eq!(csv_num(None), "");
    }

    #[test]
    fn numbers_and_shares_format_with_a_dash_when_missing() {
        assert_eq!(fmt_opt(Some(1.23456), 2), "1.23");
        assert_eq!(fmt_opt(None, 2), "-");
        assert_eq!(pct(Some(0.1234)), "12.3%");
        assert_eq!(pct(Some(-0.5)), "-50.0%");
        assert_eq!(pct(None), "-");
    }

    #[test]
    fn a_closed_pipe_is_not_an_error() {
        use std::io::{Error, ErrorKind};
        assert!(ignore_broken_pipe(Error::from(ErrorKind::BrokenPipe)).is_ok());
        assert!(ignore_broken_pipe(Error::from(ErrorKind::PermissionDenied)).is_err());
    }
}
