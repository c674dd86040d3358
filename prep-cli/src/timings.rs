//! `--timings`: where a command's wall time goes (load, prepare, search, write), as one line on
//! stderr at the end. Off, it measures nothing and prints nothing.

use std::time::{Duration, Instant};

/// The stages of a command, in the order they are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading calls and candles (DuckDB or Parquet) into memory, compacted, and classifying
    /// each token's calls as its rows come.
    Load,
    /// The search's per-call precomputation; for export, classifying and the union of windows.
    Prepare,
    /// The grid search.
    Search,
    /// Everything written: stdout, result files, the exported dataset.
    Write,
}

impl Stage {
    const ALL: [Stage; 4] = [Stage::Load, Stage::Prepare, Stage::Search, Stage::Write];

    fn name(self) -> &'static str {
        match self {
            Stage::Load => "load",
            Stage::Prepare => "prepare",
            Stage::Search => "search",
            Stage::Write => "write",
        }
    }
}

/// Seconds spent per stage. A stage may be entered many times (export interleaves reading,
/// classifying and writing token by token): its time is the sum.
#[derive(Debug)]
pub struct Timings {
    on: bool,
    start: Instant,
    spent: [Duration; 4],
}

impl Timings {
    pub fn new(on: bool) -> Timings {
        Timings {
            on,
            start: Instant::now(),
            spent: [Duration::ZERO; 4],
        }
    }

    /// Runs `f`, adding its wall time to `stage`.
    pub fn time<T>(&mut self, stage: Stage, f: impl FnOnce() -> T) -> T {
        if !self.on {
            return f();
        }
        let t = Instant::now();
        let out = f();
        self.add(stage, t.elapsed());
        out
    }

    /// Adds time measured elsewhere to `stage`.
    pub fn add(&mut self, stage: Stage, d: Duration) {
        self.spent[stage as usize] += d;
    }

    /// The line printed at the end: every stage that was entered, then the total.
    pub fn line(&self) -> String {
        let mut parts: Vec<String> = Stage::ALL
            .iter()
            .filter(|s| self.spent[**s as usize] > Duration::ZERO)
            .map(|s| {
                format!(
                    "{} {:.3} s",
                    s.name(),
                    self.spent[*s as usize].as_secs_f64()
                )
            })
            .collect();
        parts.push(format!("total {:.3} s", self.start.elapsed().as_secs_f64()));
        format!("timings: {}", parts.join(", "))
    }

    /// Prints [`Timings::line`] on stderr when on.
    pub fn report(&self) {
        if self.on {
            eprintln!("{}", self.line());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_stages_entered_in_order_then_the_total() {
        let mut t = Timings::new(true);
        t.add(Stage::Write, Duration::from_millis(250));
        t.add(Stage::Load, Duration::from_millis(1500));
        t.add(Stage::Load, Duration::from_millis(500));
        let line = t.line();
        let head = line.rsplit_once(", total ").unwrap().0;
        assert_eq!(head, "timings: load 2.000 s, write 0.250 s");
        // Off: nothing is measured.
        let mut off = Timings::new(false);
        assert_eq!(off.time(Stage::Search, || 7), 7);
        assert!(off.line().starts_with("timings: total "));
    }
}
