//! Result tables as plain state: cells that sort with absent numbers last, and a view (sort
//! column, direction, page) that the page's table component renders.

/// A table: its columns, its rows, and which rows are shown muted (infeasible).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// `muted[k]`: row `k` is shown in grey italics (an infeasible grid point or caller).
    pub muted: Vec<bool>,
}

/// One table cell: a number (absent numbers show as "–" and sort last), a time (milliseconds
/// since the epoch, shown as a UTC minute, sorted and exported as the number), text, or a badge
/// (a word the page colours by its value, such as a verdict; it sorts as text).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Num(Option<f64>),
    Time(i64),
    Text(String),
    Badge(String),
}

impl Cell {
    /// The text shown: numbers with up to 4 decimals, trailing zeros trimmed.
    pub fn display(&self) -> String {
        match self {
            Cell::Text(s) | Cell::Badge(s) => s.clone(),
            Cell::Time(ms) => crate::detail::utc_minute(*ms),
            Cell::Num(None) => "–".into(),
            // Prices of young tokens are tiny: below 0.001 four significant digits.
            Cell::Num(Some(x)) if *x != 0.0 && x.abs() < 1e-3 => {
                let s = format!("{x:.3e}");
                let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                let m = m.trim_end_matches('0').trim_end_matches('.');
                format!("{m}e{e}")
            }
            Cell::Num(Some(x)) => {
                let s = format!("{x:.4}");
                let s = s.trim_end_matches('0').trim_end_matches('.');
                if s == "-0" {
                    "0".into()
                } else {
                    s.to_string()
                }
            }
        }
    }

    /// The exact value, for a CSV cell or a test reading the page: numbers in their shortest
    /// round-trip form (empty when absent), times as integer milliseconds, text as is.
    pub fn exact(&self) -> String {
        match self {
            Cell::Num(Some(x)) => x.to_string(),
            Cell::Num(None) => String::new(),
            Cell::Time(ms) => ms.to_string(),
            Cell::Text(s) | Cell::Badge(s) => s.clone(),
        }
    }

    fn cmp(&self, other: &Cell) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match (self, other) {
            (Cell::Time(a), Cell::Time(b)) => a.cmp(b),
            (Cell::Num(Some(a)), Cell::Num(Some(b))) => a.total_cmp(b),
            (Cell::Num(None), Cell::Num(None)) => Equal,
            (Cell::Num(None), _) => Greater,
            (_, Cell::Num(None)) => Less,
            (Cell::Text(a) | Cell::Badge(a), Cell::Text(b) | Cell::Badge(b)) => a.cmp(b),
            (Cell::Num(_) | Cell::Time(_), _) => Less,
            (_, Cell::Num(_) | Cell::Time(_)) => Greater,
        }
    }
}

impl Table {
    /// The table as CSV (RFC 4180): a header, then every row in table order with exact values.
    pub fn to_csv(&self) -> String {
        let field = |s: &str| {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut out = self
            .columns
            .iter()
            .map(|c| field(c))
            .collect::<Vec<_>>()
            .join(",");
        out.push('\n');
        for row in &self.rows {
            out.push_str(
                &row.iter()
                    .map(|c| field(&c.exact()))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
        out
    }
}

/// A table's sort and page. Sorting is stable (ties keep row order); absent numbers always
/// sort last, in both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableView {
    pub sort: Option<(usize, bool)>,
    pub page: usize,
    pub page_size: usize,
}

impl TableView {
    pub fn new(page_size: usize) -> TableView {
        TableView {
            sort: None,
            page: 0,
            page_size: page_size.max(1),
        }
    }

    /// A click on a column header: sort by it ascending, or flip the direction when it is
    /// already the sort column. Back to the first page.
    pub fn click(&mut self, column: usize) {
        self.sort = match self.sort {
            Some((c, desc)) if c == column => Some((c, !desc)),
            _ => Some((column, false)),
        };
        self.page = 0;
    }

    /// Row indices in display order.
    pub fn order(&self, rows: &[Vec<Cell>]) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..rows.len()).collect();
        if let Some((c, desc)) = self.sort {
            idx.sort_by(|&a, &b| {
                let (x, y) = (&rows[a][c], &rows[b][c]);
                let absent = |v: &Cell| matches!(v, Cell::Num(None));
                match (absent(x), absent(y)) {
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ if desc => y.cmp(x),
                    _ => x.cmp(y),
                }
            });
        }
        idx
    }

    pub fn pages(&self, total: usize) -> usize {
        total.div_ceil(self.page_size).max(1)
    }

    /// Moves to a page, kept in range.
    pub fn go(&mut self, page: usize, total: usize) {
        self.page = page.min(self.pages(total) - 1);
    }

    /// The slice of `order` on the current page.
    pub fn page_of<'a>(&self, order: &'a [usize]) -> &'a [usize] {
        let start = (self.page * self.page_size).min(order.len());
        let end = (start + self.page_size).min(order.len());
        &order[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting_is_stable_with_absent_numbers_last() {
        let rows: Vec<Vec<Cell>> = [Some(2.0), None, Some(-1.0), Some(2.0), None]
            .iter()
            .enumerate()
            .map(|(i, v)| vec![Cell::Num(*v), Cell::Text(format!("r{i}"))])
            .collect();
        let mut t = TableView::new(2);
        assert_eq!(t.order(&rows), [0, 1, 2, 3, 4]);
        t.click(0);
        assert_eq!(t.order(&rows), [2, 0, 3, 1, 4]);
        t.click(0);
        assert_eq!(t.order(&rows), [0, 3, 2, 1, 4]);
        t.click(1);
        assert_eq!(t.sort, Some((1, false)));
        assert_eq!(t.order(&rows), [0, 1, 2, 3, 4]);
        assert_eq!(Cell::Num(Some(0.123456)).display(), "0.1235");
        assert_eq!(Cell::Num(Some(2.0)).display(), "2");
        assert_eq!(Cell::Num(None).display(), "–");
        assert_eq!(Cell::Num(Some(0.000004019344597)).display(), "4.019e-6");
        assert_eq!(Cell::Num(Some(-0.0005)).display(), "-5e-4");
        assert_eq!(Cell::Time(1_678_000_000_000).display(), "2023-03-05 07:06");
        assert_eq!(Cell::Time(1_678_000_000_000).exact(), "1678000000000");
    }

    #[test]
    fn csv_has_exact_values_and_quotes_what_needs_it() {
        let t = Table {
            columns: vec!["caller".into(), "x".into(), "t".into()],
            rows: vec![
                vec![
                    Cell::Text("a,\"b\"".into()),
                    Cell::Num(Some(0.1 + 0.2)),
                    Cell::Time(5),
                ],
                vec![Cell::Badge("ok".into()), Cell::Num(None), Cell::Time(-1)],
            ],
            muted: vec![false, true],
        };
        assert_eq!(
            t.to_csv(),
            "caller,x,t\n\"a,\"\"b\"\"\",0.30000000000000004,5\nok,,-1\n"
        );
    }

    #[test]
    fn paging_covers_every_row_once() {
        let mut t = TableView::new(50);
        let order: Vec<usize> = (0..10_001).rev().collect();
        assert_eq!(t.pages(order.len()), 201);
        let mut seen = 0;
        for p in 0..t.pages(order.len()) {
            t.go(p, order.len());
            seen += t.page_of(&order).len();
        }
        assert_eq!(seen, 10_001);
        t.go(10_000, order.len());
        assert_eq!(t.page, 200);
        assert_eq!(t.page_of(&order), &[0]);
        t.click(3);
        assert_eq!(t.page, 0);
        assert_eq!(TableView::new(10).pages(0), 1);
    }
}
