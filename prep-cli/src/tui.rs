//! The `backtest baseline --tui` dashboard (ratatui): live progress, running medians (ATH
//! multiple, share reaching 2x, time to 2x) and the latest alerts while calls are computed on a
//! worker thread; then a scrollable, sortable table of every alert. `q` quits. The terminal is
//! restored on exit and on error. The state is a plain type (`Dash`) so the screens are tested
//! with ratatui's test backend.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;
use crossterm::event::{self, Event, KeyCode, KeyEventKind};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use quantbot_core::baseline::{BaselineConfig, BaselineRow, Status};
use quantbot_core::num::median;
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Gauge, Paragraph, Row, Table};
use ratatui::{Frame, Terminal};

use crate::baseline_cmd::row_of;
use crate::output::{fmt_opt, pct};
use crate::source::Dataset;

/// Columns of the final table that can be sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Alert,
    Caller,
    Ath,
    TimeTo2x,
    TpSlRet,
}

impl SortBy {
    const ORDER: [SortBy; 5] = [
        SortBy::Alert,
        SortBy::Caller,
        SortBy::Ath,
        SortBy::TimeTo2x,
        SortBy::TpSlRet,
    ];

    fn name(self) -> &'static str {
        match self {
            SortBy::Alert => "alert time",
            SortBy::Caller => "caller",
            SortBy::Ath => "ATH",
            SortBy::TimeTo2x => "time to 2x",
            SortBy::TpSlRet => "TP/SL return",
        }
    }
}

/// One alert as the dashboard shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertLine {
    pub index: usize,
    pub caller: String,
    pub mint: String,
    pub status: Status,
    pub ath: Option<f64>,
    pub time_to_2x_s: Option<i64>,
    pub tp_sl_ret: Option<f64>,
}

/// The dashboard's state: plain data, updated by `push` and the keys.
#[derive(Debug, Clone)]
pub struct Dash {
    pub total: usize,
    pub lines: Vec<AlertLine>,
    pub latest: VecDeque<usize>,
    pub done: bool,
    pub sort: SortBy,
    pub descending: bool,
    pub offset: usize,
    order: Vec<usize>,
}

impl Dash {
    pub fn new(total: usize) -> Dash {
        Dash {
            total,
            lines: Vec::new(),
            latest: VecDeque::new(),
            done: false,
            sort: SortBy::Alert,
            descending: false,
            offset: 0,
            order: Vec::new(),
        }
    }

    /// Records one computed alert.
    pub fn push(&mut self, index: usize, caller: &str, mint: &str, row: &BaselineRow) {
        let m = row.metrics.as_ref();
        self.lines.push(AlertLine {
            index,
            caller: caller.to_string(),
            mint: mint.to_string(),
            status: row.status,
            ath: m.map(|m| m.ath_mult),
            time_to_2x_s: m.and_then(|m| m.time_to_2x_s),
            tp_sl_ret: m.map(|m| m.tp_sl_ret),
        });
        self.latest.push_front(self.lines.len() - 1);
        self.latest.truncate(8);
    }

    pub fn finish(&mut self) {
        self.done = true;
        self.resort();
    }

    /// Running medians over the `ok` alerts so far: (ATH multiple, share reaching 2x, time to 2x).
    pub fn medians(&self) -> (Option<f64>, Option<f64>, Option<f64>) {
        let ok: Vec<&AlertLine> = self
            .lines
            .iter()
            .filter(|l| l.status == Status::Ok)
            .collect();
        let ath = median(&mut ok.iter().filter_map(|l| l.ath).collect::<Vec<_>>());
        let share = (!ok.is_empty()).then(|| {
            ok.iter().filter(|l| l.time_to_2x_s.is_some()).count() as f64 / ok.len() as f64
        });
        let t2 = median(
            &mut ok
                .iter()
                .filter_map(|l| l.time_to_2x_s.map(|t| t as f64))
                .collect::<Vec<_>>(),
        );
        (ath, share, t2)
    }

    fn resort(&mut self) {
        let key = |l: &AlertLine| -> f64 {
            match self.sort {
                SortBy::Alert => l.index as f64,
                SortBy::Caller => 0.0,
                SortBy::Ath => l.ath.unwrap_or(f64::NEG_INFINITY),
                SortBy::TimeTo2x => l.time_to_2x_s.map_or(f64::INFINITY, |t| t as f64),
                SortBy::TpSlRet => l.tp_sl_ret.unwrap_or(f64::NEG_INFINITY),
            }
        };
        let mut order: Vec<usize> = (0..self.lines.len()).collect();
        order.sort_by(|&a, &b| {
            let (la, lb) = (&self.lines[a], &self.lines[b]);
            let o = if self.sort == SortBy::Caller {
                la.caller.cmp(&lb.caller)
            } else {
                key(la).total_cmp(&key(lb))
            };
            o.then(la.index.cmp(&lb.index))
        });
        if self.descending {
            order.reverse();
        }
        self.order = order;
    }

    /// The table rows in display order.
    pub fn sorted(&self) -> impl Iterator<Item = &AlertLine> {
        self.order.iter().map(|&k| &self.lines[k])
    }

    /// Handles a key; returns false to quit.
    pub fn key(&mut self, code: KeyCode, page: usize) -> bool {
        let max = self.lines.len().saturating_sub(1);
        match code {
            KeyCode::Char('q') | KeyCode::Esc => return false,
            KeyCode::Down | KeyCode::Char('j') => self.offset = (self.offset + 1).min(max),
            KeyCode::Up | KeyCode::Char('k') => self.offset = self.offset.saturating_sub(1),
            KeyCode::PageDown => self.offset = (self.offset + page).min(max),
            KeyCode::PageUp => self.offset = self.offset.saturating_sub(page),
            KeyCode::Home => self.offset = 0,
            KeyCode::End => self.offset = max,
            KeyCode::Char('s') if self.done => {
                let k = SortBy::ORDER
                    .iter()
                    .position(|&s| s == self.sort)
                    .unwrap_or(0);
                self.sort = SortBy::ORDER[(k + 1) % SortBy::ORDER.len()];
                self.offset = 0;
                self.resort();
            }
            KeyCode::Char('r') if self.done => {
                self.descending = !self.descending;
                self.offset = 0;
                self.resort();
            }
            _ => {}
        }
        true
    }
}

fn short(mint: &str) -> String {
    if mint.chars().count() > 12 {
        let head: String = mint.chars().take(5).collect();
        let tail: String = mint
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("{head}…{tail}")
    } else {
        mint.to_string()
    }
}

/// Draws the dashboard.
pub fn render(f: &mut Frame<'_>, d: &Dash) {
    let [top, stats, body, help] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(3),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let n = d.lines.len();
    let ratio = if d.total == 0 {
        1.0
    } else {
        n as f64 / d.total as f64
    };
    let title = if d.done {
        " baseline: done "
    } else {
        " baseline: computing "
    };
    f.render_widget(
        Gauge::default()
            .block(Block::default().borders(Borders::ALL).title(title))
            .ratio(ratio.clamp(0.0, 1.0))
            .label(format!("{n}/{} alerts", d.total)),
        top,
    );
    let (ath, share, t2) = d.medians();
    let ok = d.lines.iter().filter(|l| l.status == Status::Ok).count();
    f.render_widget(
        Paragraph::new(Line::from(format!(
            "ok {ok}   median ATH {}x   reached 2x {}   median time to 2x {}",
            fmt_opt(ath, 2),
            pct(share),
            t2.map_or("-".into(), |t| format!("{:.1} h", t / 3600.0)),
        )))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" running medians "),
        ),
        stats,
    );
    let header = Row::new([
        "#",
        "caller",
        "mint",
        "status",
        "ATH",
        "t→2x (h)",
        "TP/SL ret",
    ])
    .style(Style::default().add_modifier(Modifier::BOLD));
    let widths = [
        Constraint::Length(6),
        Constraint::Min(16),
        Constraint::Length(12),
        Constraint::Length(16),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(10),
    ];
    let to_row = |l: &AlertLine| {
        Row::new([
            (l.index + 1).to_string(),
            l.caller.clone(),
            short(&l.mint),
            l.status.as_str().to_string(),
            fmt_opt(l.ath, 2),
            l.time_to_2x_s
                .map_or("-".into(), |t| format!("{:.1}", t as f64 / 3600.0)),
            fmt_opt(l.tp_sl_ret, 4),
        ])
    };
    if d.done {
        let rows: Vec<Row<'_>> = d.sorted().skip(d.offset).map(to_row).collect();
        let title = format!(
            " results: {} alerts, sorted by {}{} ",
            n,
            d.sort.name(),
            if d.descending { " (descending)" } else { "" }
        );
        f.render_widget(
            Table::new(rows, widths)
                .header(header)
                .block(Block::default().borders(Borders::ALL).title(title)),
            body,
        );
        f.render_widget(
            Paragraph::new("↑/↓ PgUp/PgDn scroll · s sort column · r reverse · q quit"),
            help,
        );
    } else {
        let rows: Vec<Row<'_>> = d.latest.iter().map(|&k| to_row(&d.lines[k])).collect();
        f.render_widget(
            Table::new(rows, widths).header(header).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" latest alerts "),
            ),
            body,
        );
        f.render_widget(Paragraph::new("q quit"), help);
    }
}

/// Restores the terminal when dropped, also on error or panic unwinding.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = disable_raw_mode();
        let _ = crossterm::execute!(std::io::stdout(), LeaveAlternateScreen);
    }
}

/// Runs the computation on a worker thread while the dashboard draws; returns every row.
pub fn run_dashboard(ds: &Dataset, cfg: &BaselineConfig) -> anyhow::Result<Vec<BaselineRow>> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("--tui needs a terminal on stdout (use --format for files and pipes)");
    }
    enable_raw_mode().context("--tui: cannot switch the terminal to raw mode")?;
    let _restore = Restore;
    crossterm::execute!(std::io::stdout(), EnterAlternateScreen)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    drive(&mut terminal, ds, cfg, || {
        if event::poll(Duration::from_millis(50))? {
            if let Event::Key(k) = event::read()? {
                if k.kind == KeyEventKind::Press {
                    return Ok(Some(k.code));
                }
            }
        }
        Ok(None)
    })
}

/// The dashboard loop on any backend, with keys from `next_key` (tests feed them).
pub fn drive<B: Backend>(
    terminal: &mut Terminal<B>,
    ds: &Dataset,
    cfg: &BaselineConfig,
    mut next_key: impl FnMut() -> anyhow::Result<Option<KeyCode>>,
) -> anyhow::Result<Vec<BaselineRow>>
where
    B::Error: Send + Sync + 'static,
{
    let total = ds.calls.len();
    let mut rows: Vec<Option<BaselineRow>> = vec![None; total];
    let mut dash = Dash::new(total);
    let (tx, rx) = mpsc::channel::<(usize, BaselineRow)>();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        scope.spawn(move || {
            for (k, call) in ds.calls.iter().enumerate() {
                if tx.send((k, row_of(ds, call, cfg))).is_err() {
                    return;
                }
            }
        });
        let mut quit = false;
        loop {
            let mut received = 0;
            while let Ok((k, row)) = rx.try_recv() {
                let c = &ds.calls[k];
                dash.push(k, &c.caller, &c.mint, &row);
                rows[k] = Some(row);
                received += 1;
                if received > 200 {
                    break;
                }
            }
            if !dash.done && dash.lines.len() == total {
                dash.finish();
            }
            terminal.draw(|f| render(f, &dash))?;
            if quit && dash.done {
                break;
            }
            let page = terminal
                .size()
                .map(|s| s.height.saturating_sub(10) as usize)
                .unwrap_or(10);
            if let Some(code) = next_key()? {
                if !dash.key(code, page.max(1)) {
                    quit = true;
                    if dash.done {
                        break;
                    }
                }
            }
            if quit && !dash.done {
                // Quit while computing: finish without drawing.
                for (k, row) in rx.iter() {
                    rows[k] = Some(row);
                }
                break;
            }
        }
        Ok(())
    })?;
    Ok(rows
        .into_iter()
        .map(|r| r.expect("every call was computed"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantbot_core::baseline::{baseline_call, BaselineConfig};
    use quantbot_core::data::{Call, Candle};
    use quantbot_core::policy::Intrabar;
    use ratatui::backend::TestBackend;
    use std::collections::BTreeMap;

    fn screen(t: &Terminal<TestBackend>) -> String {
        let buf = t.backend().buffer();
        let w = buf.area.width as usize;
        buf.content()
            .chunks(w)
            .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Three calls: peaks at 3x (2x after 2 minutes), 1.5x, and a call without candles.
    fn dataset() -> Dataset {
        let mk = |id: &str, caller: &str, mint: &str| Call {
            call_id: id.into(),
            caller: caller.into(),
            chain: "solana".into(),
            mint: mint.into(),
            alert_ts_ms: 0,
            price_at_alert: None,
        };
        let path = |peak: f64| -> Vec<Candle> {
            (0..10)
                .map(|i| {
                    let p = if i == 2 { peak } else { 1.0 };
                    Candle {
                        ts: i * 60,
                        open: 1.0,
                        high: p,
                        low: 0.9,
                        close: 1.0,
                        volume: 1.0,
                    }
                })
                .collect()
        };
        let mut tokens = BTreeMap::new();
        let series = |p: Vec<Candle>| quantbot_core::store::Series::new(&p);
        tokens.insert(("solana".to_string(), "m1".to_string()), series(path(3.0)));
        tokens.insert(("solana".to_string(), "m2".to_string()), series(path(1.5)));
        Dataset {
            source_label: "test".into(),
            manifest_sha256: None,
            interval_s: 60,
            horizon_hours: 48.0,
            min_coverage: 0.0,
            calls: vec![
                mk("a", "Zed", "m1"),
                mk("b", "Alpha", "m2"),
                mk("c", "Brook", "m3"),
            ],
            tokens,
            status: vec![
                Ok(0..10),
                Ok(0..10),
                Err(quantbot_core::window::Exclusion::NoCandles),
            ],
        }
    }

    fn cfg() -> BaselineConfig {
        BaselineConfig::new(quantbot_core::baseline::BaselineParams {
            intrabar: Intrabar::SlFirst,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn stages_render_progress_medians_and_the_final_table() {
        let ds = dataset();
        let cfg = cfg();
        let mut t = Terminal::new(TestBackend::new(110, 24)).unwrap();
        let mut dash = Dash::new(3);
        t.draw(|f| render(f, &dash)).unwrap();
        assert!(screen(&t).contains("0/3 alerts"), "{}", screen(&t));
        for k in 0..2 {
            let row = row_of(&ds, &ds.calls[k], &cfg);
            dash.push(k, &ds.calls[k].caller, &ds.calls[k].mint, &row);
        }
        t.draw(|f| render(f, &dash)).unwrap();
        let s = screen(&t);
        assert!(s.contains("2/3 alerts"), "{s}");
        // Medians over the two ok calls: ATH (3 + 1.5) / 2 = 2.25; one of two reached 2x (50 %),
        // after 120 s = 0.03 h.
        assert!(s.contains("median ATH 2.25x"), "{s}");
        assert!(s.contains("reached 2x 50.0%"), "{s}");
        assert!(s.contains("median time to 2x 0.0 h"), "{s}");
        assert!(
            s.contains("latest alerts") && s.contains("Alpha") && s.contains("Zed"),
            "{s}"
        );
        let row = baseline_call(None, &cfg);
        dash.push(2, "Brook", "m3", &row);
        dash.finish();
        t.draw(|f| render(f, &dash)).unwrap();
        let s = screen(&t);
        assert!(s.contains("results: 3 alerts, sorted by alert time"), "{s}");
        assert!(s.contains("missing"), "{s}");
        // Sort by caller: Alpha, Brook, Zed.
        assert!(dash.key(KeyCode::Char('s'), 10));
        t.draw(|f| render(f, &dash)).unwrap();
        let s = screen(&t);
        assert!(s.contains("sorted by caller"), "{s}");
        let (a, b, z) = (
            s.find("Alpha").unwrap(),
            s.find("Brook").unwrap(),
            s.find("Zed").unwrap(),
        );
        assert!(a < b && b < z, "{s}");
        assert!(dash.key(KeyCode::Char('r'), 10));
        assert_eq!(dash.sorted().next().unwrap().caller, "Zed");
        assert!(dash.key(KeyCode::Down, 10));
        assert_eq!(dash.offset, 1);
        assert!(!dash.key(KeyCode::Char('q'), 10));
    }

    #[test]
    fn drive_computes_every_row_and_quits_on_q() {
        let ds = dataset();
        let cfg = cfg();
        let mut t = Terminal::new(TestBackend::new(100, 20)).unwrap();
        let mut keys = vec![KeyCode::Char('q'), KeyCode::Char('s')].into_iter();
        let mut polls = 0;
        let rows = drive(&mut t, &ds, &cfg, || {
            polls += 1;
            // Let the computation finish before pressing keys.
            if polls < 50 {
                std::thread::sleep(Duration::from_millis(2));
                return Ok(None);
            }
            Ok(keys.next_back())
        })
        .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[2].status, Status::Missing);
        let s = screen(&t);
        assert!(s.contains("sorted by caller"), "{s}");
    }
}
