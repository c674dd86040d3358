//! The browser lab's UI state as plain types (the components stay thin): the options form as
//! the user types it, with every problem named inline; the grid size before a run; and result
//! tables with sorting and paging. Tested natively; the lab only renders what these return.

use quantbot_core::grid::Grid;
use quantbot_core::metrics::{Metrics, Objective};
use quantbot_core::optimize::{CallerResult, Mode, Prepared, SearchResult};
use quantbot_core::policy::{CostModel, EntryPrice, Intrabar};
use quantbot_core::wallet::SkipReason;

use crate::options::V1Options;
use crate::{usage, Error};

/// The lab's form: one text per field, exactly as typed. Lists are JSON (as on the command
/// line); an empty optional field means "not set".
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub from: String,
    pub to: String,
    pub chain: String,
    pub caller_groups: String,
    pub tp_mults: String,
    pub sl_mults: String,
    pub trail_pcts: String,
    pub trail_activations: String,
    pub be_triggers: String,
    pub ladders: String,
    pub max_hold_hrs: String,
    pub indicators: String,
    pub initial_capital: String,
    pub max_allocation_pct: String,
    pub max_risk_per_trade: String,
    pub max_concurrent_positions: String,
    pub min_executable_size: String,
    pub allow_same_token: bool,
    pub taker_fee_bps: String,
    pub slippage_bps: String,
    pub be_offset: String,
    pub cost_model: String,
    pub entry_price: String,
    pub intrabar: String,
    pub mode: String,
    pub min_calls: String,
    pub filter_collapsed: bool,
    pub filter_edge: bool,
    pub objective: String,
    pub max_drawdown: String,
    pub min_win_rate: String,
    pub min_trades: String,
    pub max_stop_out_rate: String,
    pub min_profit_factor: String,
    pub holdout_fraction: String,
}

/// The lab's default holdout fraction (SPEC §6; the CLI's is 0).
pub const LAB_HOLDOUT: f64 = 0.3;

fn opt_text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn opt_num<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

impl Default for Form {
    /// The CLI's defaults, with the lab's holdout and the default grid written out.
    fn default() -> Self {
        let o = V1Options {
            tp_mults: Some("[1.5,2,2.5,3,4,5]".into()),
            holdout_fraction: LAB_HOLDOUT,
            ..V1Options::default()
        };
        Form::from_options(&o)
    }
}

impl Form {
    /// The form showing the given options.
    pub fn from_options(o: &V1Options) -> Form {
        Form {
            from: opt_text(&o.from),
            to: opt_text(&o.to),
            chain: opt_text(&o.chain),
            caller_groups: opt_text(&o.caller_groups),
            tp_mults: opt_text(&o.tp_mults),
            sl_mults: o.sl_mults.clone(),
            trail_pcts: opt_text(&o.trail_pcts),
            trail_activations: opt_text(&o.trail_activations),
            be_triggers: opt_text(&o.be_triggers),
            ladders: opt_text(&o.ladders),
            max_hold_hrs: opt_text(&o.max_hold_hrs),
            indicators: o.indicators.clone(),
            initial_capital: o.initial_capital.to_string(),
            max_allocation_pct: o.max_allocation_pct.to_string(),
            max_risk_per_trade: o.max_risk_per_trade.to_string(),
            max_concurrent_positions: o.max_concurrent_positions.to_string(),
            min_executable_size: o.min_executable_size.to_string(),
            allow_same_token: o.allow_same_token,
            taker_fee_bps: o.taker_fee_bps.to_string(),
            slippage_bps: o.slippage_bps.to_string(),
            be_offset: o.be_offset.to_string(),
            cost_model: match o.cost_model {
                CostModel::Fills => "fills",
                CostModel::V1 => "v1",
            }
            .into(),
            entry_price: match o.entry_price {
                EntryPrice::Open => "open",
                EntryPrice::Close => "close",
            }
            .into(),
            intrabar: match o.intrabar {
                Intrabar::SlFirst => "sl-first",
                Intrabar::TpFirst => "tp-first",
            }
            .into(),
            mode: o.mode.as_str().into(),
            min_calls: o.min_calls.to_string(),
            filter_collapsed: o.filter_collapsed,
            filter_edge: o.filter_edge,
            objective: o.objective.as_str().into(),
            max_drawdown: opt_num(o.max_drawdown),
            min_win_rate: opt_num(o.min_win_rate),
            min_trades: opt_num(o.min_trades),
            max_stop_out_rate: opt_num(o.max_stop_out_rate),
            min_profit_factor: opt_num(o.min_profit_factor),
            holdout_fraction: o.holdout_fraction.to_string(),
        }
    }

    /// The typed options, or every problem of the form, each naming its flag.
    pub fn options(&self, horizon_hours: f64, interval_s: i64) -> Result<V1Options, Vec<Error>> {
        let mut errs = Vec::new();
        let text = |s: &str| {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_string())
        };
        let mut f64_of = |flag: &str, s: &str, default: f64| -> f64 {
            match s.trim() {
                "" => default,
                t => t.parse::<f64>().unwrap_or_else(|_| {
                    errs.push(usage(format!("{flag}: {t:?} is not a number")));
                    default
                }),
            }
        };
        let d = V1Options::default();
        let initial_capital = f64_of(
            "--initial-capital",
            &self.initial_capital,
            d.initial_capital,
        );
        let max_allocation_pct = f64_of(
            "--max-allocation-pct",
            &self.max_allocation_pct,
            d.max_allocation_pct,
        );
        let max_risk_per_trade = f64_of(
            "--max-risk-per-trade",
            &self.max_risk_per_trade,
            d.max_risk_per_trade,
        );
        let min_executable_size = f64_of(
            "--min-executable-size",
            &self.min_executable_size,
            d.min_executable_size,
        );
        let taker_fee_bps = f64_of("--taker-fee-bps", &self.taker_fee_bps, d.taker_fee_bps);
        let slippage_bps = f64_of("--slippage-bps", &self.slippage_bps, d.slippage_bps);
        let be_offset = f64_of("--be-offset", &self.be_offset, d.be_offset);
        let holdout_fraction = f64_of("--holdout-fraction", &self.holdout_fraction, 0.0);
        let mut opt_f64 = |flag: &str, s: &str| -> Option<f64> {
            match s.trim() {
                "" => None,
                t => match t.parse::<f64>() {
                    Ok(v) => Some(v),
                    Err(_) => {
                        errs.push(usage(format!("{flag}: {t:?} is not a number")));
                        None
                    }
                },
            }
        };
        let max_drawdown = opt_f64("--max-drawdown", &self.max_drawdown);
        let min_win_rate = opt_f64("--min-win-rate", &self.min_win_rate);
        let max_stop_out_rate = opt_f64("--max-stop-out-rate", &self.max_stop_out_rate);
        let min_profit_factor = opt_f64("--min-profit-factor", &self.min_profit_factor);
        // Whole numbers must fit the CLI's types (u32), or the two would run different things.
        let mut whole = |flag: &str, s: &str| -> Option<u32> {
            match s.trim() {
                "" => None,
                t => match t.parse::<u32>() {
                    Ok(v) => Some(v),
                    Err(_) => {
                        errs.push(usage(format!(
                            "{flag}: {t:?} is not a whole number from 0 to {}",
                            u32::MAX
                        )));
                        None
                    }
                },
            }
        };
        let max_concurrent_positions =
            whole("--max-concurrent-positions", &self.max_concurrent_positions)
                .unwrap_or(d.max_concurrent_positions);
        let min_calls = whole("--min-calls", &self.min_calls).map_or(0, |v| v as usize);
        let min_trades = whole("--min-trades", &self.min_trades);
        let mut choice = |flag: &str, s: &str, all: &[&str]| -> usize {
            all.iter().position(|c| *c == s).unwrap_or_else(|| {
                errs.push(usage(format!(
                    "{flag}: {s:?} is not one of {}",
                    all.join(", ")
                )));
                0
            })
        };
        let cost_model = [CostModel::Fills, CostModel::V1]
            [choice("--cost-model", &self.cost_model, &["fills", "v1"])];
        let entry_price = [EntryPrice::Open, EntryPrice::Close]
            [choice("--entry-price", &self.entry_price, &["open", "close"])];
        let intrabar = [Intrabar::SlFirst, Intrabar::TpFirst]
            [choice("--intrabar", &self.intrabar, &["sl-first", "tp-first"])];
        let modes = [Mode::PerCaller, Mode::Grouped, Mode::Both];
        let mode = modes[choice("--mode", &self.mode, &modes.map(Mode::as_str))];
        let objective = Objective::ALL[choice(
            "--objective",
            &self.objective,
            &Objective::ALL.map(Objective::as_str),
        )];
        let o = V1Options {
            from: text(&self.from),
            to: text(&self.to),
            chain: text(&self.chain),
            caller_groups: text(&self.caller_groups),
            tp_mults: text(&self.tp_mults),
            sl_mults: self.sl_mults.trim().to_string(),
            trail_pcts: text(&self.trail_pcts),
            trail_activations: text(&self.trail_activations),
            be_triggers: text(&self.be_triggers),
            ladders: text(&self.ladders),
            max_hold_hrs: text(&self.max_hold_hrs),
            indicators: text(&self.indicators).unwrap_or_else(|| "[null]".into()),
            initial_capital,
            max_allocation_pct,
            max_risk_per_trade,
            max_concurrent_positions,
            min_executable_size,
            allow_same_token: self.allow_same_token,
            taker_fee_bps,
            slippage_bps,
            be_offset,
            cost_model,
            entry_price,
            intrabar,
            mode,
            min_calls,
            filter_collapsed: self.filter_collapsed,
            filter_edge: self.filter_edge,
            objective,
            max_drawdown,
            min_win_rate,
            min_trades,
            max_stop_out_rate,
            min_profit_factor,
            holdout_fraction,
        };
        errs.extend(o.problems(horizon_hours, interval_s));
        if errs.is_empty() {
            Ok(o)
        } else {
            Err(errs)
        }
    }

    /// The message for one field (by its flag), if the form has a problem there.
    pub fn problem_for(problems: &[Error], flag: &str) -> Option<String> {
        problems
            .iter()
            .find(|e| e.flag() == Some(flag))
            .map(ToString::to_string)
    }
}

/// The form's fields by flag, in the order a share link lists them.
pub const FLAGS: [&str; 35] = [
    "--tp-mults",
    "--sl-mults",
    "--trail-pcts",
    "--trail-activations",
    "--be-triggers",
    "--ladders",
    "--max-hold-hrs",
    "--indicators",
    "--initial-capital",
    "--max-allocation-pct",
    "--max-risk-per-trade",
    "--max-concurrent-positions",
    "--min-executable-size",
    "--allow-same-token",
    "--taker-fee-bps",
    "--slippage-bps",
    "--be-offset",
    "--cost-model",
    "--entry-price",
    "--intrabar",
    "--mode",
    "--min-calls",
    "--filter-collapsed",
    "--filter-edge",
    "--objective",
    "--max-drawdown",
    "--min-win-rate",
    "--min-trades",
    "--max-stop-out-rate",
    "--min-profit-factor",
    "--holdout-fraction",
    "--from",
    "--to",
    "--chain",
    "--caller-groups",
];

impl Form {
    fn slot(&mut self, flag: &str) -> Option<&mut String> {
        Some(match flag {
            "--tp-mults" => &mut self.tp_mults,
            "--sl-mults" => &mut self.sl_mults,
            "--trail-pcts" => &mut self.trail_pcts,
            "--trail-activations" => &mut self.trail_activations,
            "--be-triggers" => &mut self.be_triggers,
            "--ladders" => &mut self.ladders,
            "--max-hold-hrs" => &mut self.max_hold_hrs,
            "--indicators" => &mut self.indicators,
            "--initial-capital" => &mut self.initial_capital,
            "--max-allocation-pct" => &mut self.max_allocation_pct,
            "--max-risk-per-trade" => &mut self.max_risk_per_trade,
            "--max-concurrent-positions" => &mut self.max_concurrent_positions,
            "--min-executable-size" => &mut self.min_executable_size,
            "--taker-fee-bps" => &mut self.taker_fee_bps,
            "--slippage-bps" => &mut self.slippage_bps,
            "--be-offset" => &mut self.be_offset,
            "--cost-model" => &mut self.cost_model,
            "--entry-price" => &mut self.entry_price,
            "--intrabar" => &mut self.intrabar,
            "--mode" => &mut self.mode,
            "--min-calls" => &mut self.min_calls,
            "--objective" => &mut self.objective,
            "--max-drawdown" => &mut self.max_drawdown,
            "--min-win-rate" => &mut self.min_win_rate,
            "--min-trades" => &mut self.min_trades,
            "--max-stop-out-rate" => &mut self.max_stop_out_rate,
            "--min-profit-factor" => &mut self.min_profit_factor,
            "--holdout-fraction" => &mut self.holdout_fraction,
            "--from" => &mut self.from,
            "--to" => &mut self.to,
            "--chain" => &mut self.chain,
            "--caller-groups" => &mut self.caller_groups,
            _ => return None,
        })
    }

    fn flag_slot(&mut self, flag: &str) -> Option<&mut bool> {
        Some(match flag {
            "--allow-same-token" => &mut self.allow_same_token,
            "--filter-collapsed" => &mut self.filter_collapsed,
            "--filter-edge" => &mut self.filter_edge,
            _ => return None,
        })
    }

    /// The text of a field by its flag (`true`/`false` for switches).
    pub fn get(&self, flag: &str) -> Option<String> {
        let mut f = self.clone();
        if let Some(b) = f.flag_slot(flag) {
            return Some(b.to_string());
        }
        f.slot(flag).map(|s| s.clone())
    }

    /// Sets a field by its flag; `false` for an unknown flag or a switch that is not
    /// `true`/`false`.
    pub fn set(&mut self, flag: &str, value: &str) -> bool {
        if let Some(b) = self.flag_slot(flag) {
            return match value {
                "true" => {
                    *b = true;
                    true
                }
                "false" => {
                    *b = false;
                    true
                }
                _ => false,
            };
        }
        match self.slot(flag) {
            Some(s) => {
                *s = value.to_string();
                true
            }
            None => false,
        }
    }

    /// The query string of a share link: every field, as `flag-without-dashes=value`
    /// (percent-encoded), in [`FLAGS`] order. All of them, not only those that differ from
    /// today's defaults, so a link reproduces the run even if a default changes (SPEC §9).
    pub fn to_query(&self) -> String {
        FLAGS
            .iter()
            .filter_map(|flag| {
                Some(format!(
                    "{}={}",
                    &flag[2..],
                    percent_encode(&self.get(flag)?)
                ))
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The form of a share link's query string (`?` optional); other keys are ignored.
    pub fn from_query(query: &str) -> Form {
        let mut f = Form::default();
        for pair in query.trim_start_matches('?').split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let flag = format!("--{}", percent_decode(k));
            f.set(&flag, &percent_decode(v));
        }
        f
    }
}

/// Percent-encodes everything but `A–Z a–z 0–9 - _ . ~`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` and `+` (as a space); a malformed escape is kept as is.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a run will cost, shown before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSize {
    pub grid_points: usize,
    /// Callers searched (each keeps every grid point's score).
    pub callers: usize,
    /// (call, policy) evaluations: grid points × eligible calls.
    pub evaluations: u64,
}

impl RunSize {
    pub fn of(grid: &Grid, eligible_calls: usize) -> RunSize {
        RunSize {
            grid_points: grid.size(),
            callers: 1,
            evaluations: grid.size() as u64 * eligible_calls as u64,
        }
    }

    /// Grid-point scores the result keeps (every point of every caller).
    pub fn scores_held(&self) -> u64 {
        self.grid_points as u64 * self.callers as u64
    }

    /// The evaluations a search will do: per caller with at least `min_calls` eligible calls,
    /// its in-sample calls (SPEC §6 holdout) × the grid points.
    pub fn for_search(
        grid: &Grid,
        calls_per_caller: impl IntoIterator<Item = usize>,
        options: &V1Options,
    ) -> RunSize {
        let kept: Vec<usize> = calls_per_caller
            .into_iter()
            .filter(|&n| n >= options.min_calls)
            .collect();
        let callers = kept.len();
        let in_sample: u64 = kept
            .into_iter()
            .map(|n| {
                if options.holdout_fraction > 0.0 {
                    Prepared::in_sample_count(n, options.holdout_fraction) as u64
                } else {
                    n as u64
                }
            })
            .sum();
        RunSize {
            grid_points: grid.size(),
            callers,
            evaluations: grid.size() as u64 * in_sample,
        }
    }
}

/// One table cell: a number (absent numbers show as "–" and sort last) or text.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Num(Option<f64>),
    Text(String),
}

impl Cell {
    /// The text shown: numbers with up to 4 decimals, trailing zeros trimmed.
    pub fn display(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Num(None) => "–".into(),
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

    fn cmp(&self, other: &Cell) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match (self, other) {
            (Cell::Num(Some(a)), Cell::Num(Some(b))) => a.total_cmp(b),
            (Cell::Num(None), Cell::Num(None)) => Equal,
            (Cell::Num(None), _) => Greater,
            (_, Cell::Num(None)) => Less,
            (Cell::Text(a), Cell::Text(b)) => a.cmp(b),
            (Cell::Num(_), Cell::Text(_)) => Less,
            (Cell::Text(_), Cell::Num(_)) => Greater,
        }
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

/// Metric columns, in §5 order, as shown in the lab's tables.
pub use crate::results::METRIC_NAMES as METRIC_COLUMNS;

/// The metric cells in [`METRIC_COLUMNS`] order.
pub fn metric_cells(m: &Metrics) -> Vec<Cell> {
    crate::results::metric_values(m)
        .into_iter()
        .map(Cell::Num)
        .collect()
}

/// Columns of the per-caller table.
pub fn caller_columns(holdout: bool) -> Vec<String> {
    let mut c: Vec<String> = [
        "caller",
        "calls",
        "best policy",
        "objective",
        "final_capital",
        "total_return",
        "win_rate",
        "max_drawdown",
        "trades",
        "flags",
    ]
    .map(String::from)
    .to_vec();
    if holdout {
        c.extend(
            [
                "in-sample return",
                "out-of-sample return",
                "out-of-sample trades",
            ]
            .map(String::from),
        );
    }
    c
}

/// One row per caller of a search.
pub fn caller_rows(grid: &Grid, result: &SearchResult, objective: Objective) -> Vec<Vec<Cell>> {
    result
        .per_caller
        .iter()
        .map(|r| {
            let b = r.best_scored();
            let m = &b.metrics;
            let flags = crate::results::caller_flags(r);
            let mut row = vec![
                Cell::Text(r.caller.clone()),
                Cell::Num(Some(r.calls as f64)),
                Cell::Text(grid.label(b.index)),
                Cell::Num(objective.value(m)),
                Cell::Num(Some(m.final_capital)),
                Cell::Num(Some(m.total_return)),
                Cell::Num(m.win_rate),
                Cell::Num(Some(m.max_drawdown)),
                Cell::Num(Some(m.trades as f64)),
                Cell::Text(flags.join(", ")),
            ];
            if let Some(h) = &r.holdout {
                row.push(Cell::Num(Some(h.in_sample.total_return)));
                row.push(Cell::Num(Some(h.out_of_sample.total_return)));
                row.push(Cell::Num(Some(h.out_of_sample.trades as f64)));
            } else if result.per_caller.iter().any(|c| c.holdout.is_some()) {
                row.extend([Cell::Num(None), Cell::Num(None), Cell::Num(None)]);
            }
            row
        })
        .collect()
}

/// An equity curve as SVG polyline points in a `width` × `height` box: time left to right,
/// equity bottom to top, starting at `(first time, initial)`; the scale covers the initial
/// capital too. Empty when there is nothing to draw.
pub fn equity_points(curve: &[(i64, f64)], initial: f64, width: f64, height: f64) -> String {
    let Some(&(t_end, _)) = curve.last() else {
        return String::new();
    };
    let t0 = curve[0].0;
    let (mut lo, mut hi) = (initial, initial);
    for &(_, e) in curve {
        lo = lo.min(e);
        hi = hi.max(e);
    }
    let span_t = (t_end - t0).max(1) as f64;
    let span_e = if hi > lo { hi - lo } else { 1.0 };
    let x = |t: i64| (t - t0) as f64 / span_t * width;
    let y = |e: f64| height - (e - lo) / span_e * height;
    std::iter::once((t0, initial))
        .chain(curve.iter().copied())
        .map(|(t, e)| format!("{:.1},{:.1}", x(t), y(e)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Columns of a caller's grid table: index, feasibility, one per grid dimension, every metric
/// and the skips by reason.
pub fn grid_columns(grid: &Grid) -> Vec<String> {
    let mut c = vec!["index".to_string(), "feasible".to_string()];
    c.extend(grid.dimensions().iter().map(|(n, _)| n.to_string()));
    c.extend(METRIC_COLUMNS.map(String::from));
    c.extend(SkipReason::ALL.map(|r| format!("skipped_{}", r.as_str())));
    c
}

/// Every grid point of a caller (in-sample under holdout), in policy-index order.
pub fn grid_rows(grid: &Grid, caller: &CallerResult) -> Vec<Vec<Cell>> {
    caller
        .scored
        .iter()
        .map(|s| {
            let p = grid.params(s.index);
            let mut row = vec![
                Cell::Num(Some(s.index as f64)),
                Cell::Text(if s.feasible { "yes" } else { "no" }.into()),
                Cell::Num(p.tp),
                Cell::Num(p.sl),
                Cell::Num(p.trail),
                Cell::Num(p.trail_activation),
                Cell::Num(p.be_trigger),
                Cell::Text(p.ladder.as_ref().map_or("-".into(), |l| l.label())),
                Cell::Num(Some(p.max_hold_hours)),
                Cell::Text(p.indicator.map_or("-".into(), |r| r.to_string())),
            ];
            row.extend(metric_cells(&s.metrics));
            row.extend(s.metrics.skipped.iter().map(|&n| Cell::Num(Some(n as f64))));
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_form_is_valid_with_the_default_grid() {
        let f = Form::default();
        let o = f.options(48.0, 60).unwrap();
        assert_eq!(o.holdout_fraction, LAB_HOLDOUT);
        let grid = o.grid(48.0).unwrap();
        assert_eq!(RunSize::of(&grid, 3000).grid_points, 30);
        assert_eq!(RunSize::of(&grid, 3000).evaluations, 90_000);
        // Holdout 0.3: ceil(0.7 × 10) = 7 and ceil(0.7 × 3) = 3 in-sample calls; a caller
        // under min_calls is left out.
        let mut o2 = o.clone();
        o2.min_calls = 3;
        let s = RunSize::for_search(&grid, [10, 3, 2], &o2);
        assert_eq!(s.evaluations, 30 * (7 + 3));
        assert_eq!(s.callers, 2);
        assert_eq!(s.scores_held(), 60);
        // The form round-trips the options it shows.
        assert_eq!(Form::from_options(&o), f);
    }

    #[test]
    fn form_problems_name_each_field() {
        let f = Form {
            indicators: r#"[null,"ema_cross:21:9"]"#.into(),
            initial_capital: "ten".into(),
            max_concurrent_positions: "-3".into(),
            mode: "sideways".into(),
            ..Form::default()
        };
        let errs = f.options(48.0, 60).unwrap_err();
        let msg = Form::problem_for(&errs, "--indicators").unwrap();
        // The same message as the CLI's (`--indicators: …` naming the bad rule).
        let cli = crate::options::rule_list(r#"[null,"ema_cross:21:9"]"#).unwrap_err();
        assert_eq!(msg, cli.to_string());
        assert!(msg.contains("ema_cross:21:9"), "{msg}");
        assert!(Form::problem_for(&errs, "--initial-capital")
            .unwrap()
            .contains("ten"));
        assert!(Form::problem_for(&errs, "--max-concurrent-positions").is_some());
        assert!(Form::problem_for(&errs, "--mode").is_some());
        let huge = Form {
            min_calls: "4294967297".into(),
            ..Form::default()
        };
        let errs = huge.options(48.0, 60).unwrap_err();
        assert!(
            Form::problem_for(&errs, "--min-calls").is_some(),
            "{errs:?}"
        );
        assert!(Form::problem_for(&errs, "--sl-mults").is_none());
        // A grid over the dataset's horizon is refused, naming the flag.
        let long = Form {
            max_hold_hrs: "[72]".into(),
            ..Form::default()
        };
        let errs = long.options(48.0, 60).unwrap_err();
        assert!(
            Form::problem_for(&errs, "--max-hold-hrs").is_some(),
            "{errs:?}"
        );
    }

    #[test]
    fn share_links_round_trip_the_form() {
        let mut f = Form::default();
        let d = f.to_query();
        assert_eq!(d.split('&').count(), FLAGS.len());
        assert!(
            d.starts_with("tp-mults=%5B1.5%2C2%2C2.5%2C3%2C4%2C5%5D&sl-mults="),
            "{d}"
        );
        assert!(d.contains("&holdout-fraction=0.3&"), "{d}");
        assert!(f.set("--indicators", r#"[null,"ema_cross:9:21"]"#));
        assert!(f.set("--filter-edge", "false"));
        assert!(f.set("--caller-groups", "Brook 💀🧲, Alpha & co"));
        assert!(!f.set("--threads", "4"));
        assert!(!f.set("--filter-edge", "maybe"));
        let q = f.to_query();
        for part in [
            "indicators=%5Bnull%2C%22ema_cross%3A9%3A21%22%5D",
            "filter-edge=false",
            "caller-groups=Brook%20%F0%9F%92%80%F0%9F%A7%B2%2C%20Alpha%20%26%20co",
        ] {
            assert!(q.split('&').any(|p| p == part), "{part} not in {q}");
        }
        // A link carries every field, so it does not depend on the defaults of the lab that
        // opens it; a key a link lacks keeps its default.
        let mut other = Form::default();
        other.set("--holdout-fraction", "0");
        let mut g = Form::from_query(&q);
        assert_eq!(g, f);
        g.set("--sl-mults", "[0.9]");
        assert_eq!(Form::from_query(&g.to_query()).sl_mults, "[0.9]");
        assert_ne!(other, f);
        assert_eq!(Form::from_query(&format!("?data=x&{q}")), f);
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("a+b%41"), "a bA");
        assert_eq!(percent_decode("%é%"), "%é%");
        assert_eq!(percent_decode("%+1"), "% 1");
        for flag in FLAGS {
            assert!(Form::default().get(flag).is_some(), "{flag}");
        }
    }

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
    }

    #[test]
    fn equity_points_scale_to_the_box() {
        assert_eq!(equity_points(&[], 100.0, 600.0, 100.0), "");
        let curve = [(1_000, 150.0), (3_000, 50.0)];
        // Starts at the initial capital (the middle of 50..150), ends at the bottom right.
        assert_eq!(
            equity_points(&curve, 100.0, 600.0, 100.0),
            "0.0,50.0 0.0,0.0 600.0,100.0"
        );
        // A flat curve and a single point stay finite.
        assert_eq!(
            equity_points(&[(5, 100.0)], 100.0, 10.0, 10.0),
            "0.0,10.0 0.0,10.0"
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
