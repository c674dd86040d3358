//! The heatmap of one caller's grid (issue 18) as plain data: a metric (the objective by
//! default) over two grid dimensions, the other dimensions held at chosen positions (the best
//! point's by default); each cell with its policy index, value, feasibility, colour level and
//! whether it is the caller's best; and the plateau score of a cell: its objective against the
//! mean of its grid neighbours, so a lone spike shows at a glance. The page draws what this
//! returns; the values are the engine's scores, never recomputed.

use quantbot_core::grid::{DimValues, Grid};
use quantbot_core::metrics::{Objective, Scored};
use quantbot_format::results::{metric_values, METRIC_NAMES};

/// Colour levels of the scale (a colour-blind-safe sequential palette in the page).
pub const LEVELS: u8 = 9;

/// Which number a cell shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeatMetric {
    /// The run's objective (SPEC §5).
    Objective(Objective),
    /// One of the result's metrics, by its place in [`METRIC_NAMES`].
    Named(usize),
}

impl HeatMetric {
    pub fn name(self) -> &'static str {
        match self {
            HeatMetric::Objective(o) => o.as_str(),
            HeatMetric::Named(k) => METRIC_NAMES[k],
        }
    }

    pub fn value(self, s: &Scored) -> Option<f64> {
        match self {
            HeatMetric::Objective(o) => o.value(&s.metrics),
            HeatMetric::Named(k) => metric_values(&s.metrics)[k],
        }
        .filter(|v| v.is_finite())
    }
}

/// One cell: the policy at these coordinates and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatCell {
    pub index: usize,
    pub value: Option<f64>,
    pub feasible: bool,
    /// The caller's best policy (SPEC §5).
    pub best: bool,
    /// `0..LEVELS` from the lowest value to the highest; `None` without a value.
    pub level: Option<u8>,
}

/// The cells of a metric over dimensions `x` (columns) and `y` (rows).
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub metric: &'static str,
    pub x_name: &'static str,
    pub y_name: &'static str,
    pub x_labels: Vec<String>,
    pub y_labels: Vec<String>,
    /// Row by row (`y`), each row `x_labels.len()` cells.
    pub cells: Vec<HeatCell>,
    /// The lowest and highest value shown (the legend's ends).
    pub range: Option<(f64, f64)>,
}

impl Heatmap {
    pub fn cell(&self, row: usize, col: usize) -> &HeatCell {
        &self.cells[row * self.x_labels.len() + col]
    }
}

/// Labels of a dimension's values as the result tables print them.
pub fn dim_labels(values: &DimValues) -> Vec<String> {
    match values {
        DimValues::Numbers(v) => v
            .iter()
            .map(|x| x.map_or_else(|| "off".to_string(), |x| format!("{x}")))
            .collect(),
        DimValues::Ladders(v) => v
            .iter()
            .map(|l| l.as_ref().map_or_else(|| "off".to_string(), |l| l.label()))
            .collect(),
        DimValues::Rules(v) => v
            .iter()
            .map(|r| r.map_or_else(|| "off".to_string(), |r| r.to_string()))
            .collect(),
    }
}

/// The heatmap of `scores` (one caller's, in policy-index order) over dimensions `x` and `y`
/// (positions in [`Grid::dimensions`]), every other dimension at its position in `fixed`.
pub fn heatmap(
    grid: &Grid,
    scores: &[Scored],
    best: usize,
    metric: HeatMetric,
    (x, y): (usize, usize),
    fixed: [usize; 8],
) -> Heatmap {
    let dims = grid.dimensions();
    let x_labels = dim_labels(&dims[x].1);
    let y_labels = dim_labels(&dims[y].1);
    let mut cells = Vec::with_capacity(x_labels.len() * y_labels.len());
    for row in 0..y_labels.len() {
        for col in 0..x_labels.len() {
            let mut c = fixed;
            c[y] = row;
            c[x] = col;
            let index = grid.index_of(c);
            let s = &scores[index];
            cells.push(HeatCell {
                index,
                value: metric.value(s),
                feasible: s.feasible,
                best: index == best,
                level: None,
            });
        }
    }
    let range = cells
        .iter()
        .filter_map(|c| c.value)
        .fold(None, |r: Option<(f64, f64)>, v| {
            Some(r.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        });
    if let Some((lo, hi)) = range {
        for c in &mut cells {
            c.level = c.value.map(|v| level(v, lo, hi));
        }
    }
    Heatmap {
        metric: metric.name(),
        x_name: dims[x].0,
        y_name: dims[y].0,
        x_labels,
        y_labels,
        cells,
        range,
    }
}

/// The colour level of `v` in `[lo, hi]`; the middle level when all values are equal.
fn level(v: f64, lo: f64, hi: f64) -> u8 {
    if hi <= lo {
        return LEVELS / 2;
    }
    let t = (v - lo) / (hi - lo);
    ((t * f64::from(LEVELS)) as u8).min(LEVELS - 1)
}

/// A cell's objective against its neighbours': one step up and down in each numeric dimension
/// (not the ladder or the indicator rule), those with a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Plateau {
    pub value: Option<f64>,
    pub neighbour_mean: Option<f64>,
    pub neighbours: usize,
}

impl Plateau {
    /// The cell's value less its neighbours' mean: near 0 on a plateau, large for a spike.
    pub fn drop(&self) -> Option<f64> {
        Some(self.value? - self.neighbour_mean?)
    }
}

/// The numeric dimensions: every one but the ladder (5) and the indicator rule (7).
const NUMERIC: [usize; 6] = [0, 1, 2, 3, 4, 6];

pub fn plateau(grid: &Grid, scores: &[Scored], index: usize, metric: HeatMetric) -> Plateau {
    let at = grid.coords(index);
    let lens: Vec<usize> = grid
        .dimensions()
        .iter()
        .map(|(_, d)| match d {
            DimValues::Numbers(v) => v.len(),
            DimValues::Ladders(v) => v.len(),
            DimValues::Rules(v) => v.len(),
        })
        .collect();
    let mut values = Vec::new();
    for k in NUMERIC {
        for step in [-1i64, 1] {
            let p = at[k] as i64 + step;
            if p < 0 || p >= lens[k] as i64 {
                continue;
            }
            let mut c = at;
            c[k] = p as usize;
            if let Some(v) = metric.value(&scores[grid.index_of(c)]) {
                values.push(v);
            }
        }
    }
    Plateau {
        value: metric.value(&scores[index]),
        neighbour_mean: (!values.is_empty())
            .then(|| values.iter().sum::<f64>() / values.len() as f64),
        neighbours: values.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantbot_core::grid::GridSpec;
    use quantbot_core::metrics::Metrics;
    use quantbot_core::wallet::WalletRun;

    /// A 3 tp × 2 sl × 2 max-hold grid whose final capital is `1000 + index` (so every cell
    /// tells its index), policy 4 infeasible.
    fn fixture() -> (Grid, Vec<Scored>) {
        let spec = GridSpec {
            tp: vec![Some(1.5), Some(2.0), None],
            sl: vec![Some(0.9), None],
            max_hold: vec![12.0, 48.0],
            ..GridSpec::default()
        };
        let grid = Grid::new(spec, 48.0).unwrap();
        let empty = Metrics::of(&WalletRun {
            initial_capital: 1000.0,
            final_capital: 1000.0,
            taken: Vec::new(),
            skips: Vec::new(),
            equity: Vec::new(),
            max_drawdown: 0.0,
            max_open: 0,
            decisions: Vec::new(),
        });
        let scores = (0..grid.size())
            .map(|index| Scored {
                index,
                feasible: index != 4,
                metrics: Metrics {
                    final_capital: 1000.0 + index as f64,
                    ..empty.clone()
                },
            })
            .collect();
        (grid, scores)
    }

    #[test]
    fn cells_are_the_scores_at_their_coordinates() {
        let (grid, scores) = fixture();
        let obj = HeatMetric::Objective(Objective::FinalCapital);
        // tp (dimension 0) across, sl (1) down, max_hold at 48 h (position 1).
        let mut fixed = [0; 8];
        fixed[6] = 1;
        let h = heatmap(&grid, &scores, 5, obj, (0, 1), fixed);
        assert_eq!((h.x_name, h.y_name), ("tp", "sl"));
        assert_eq!(h.x_labels, ["1.5", "2", "off"]);
        assert_eq!(h.y_labels, ["0.9", "off"]);
        assert_eq!(h.cells.len(), 6);
        for row in 0..2 {
            for col in 0..3 {
                let c = h.cell(row, col);
                let index = grid.index_of([col, row, 0, 0, 0, 0, 1, 0]);
                assert_eq!(c.index, index);
                assert_eq!(c.value, Some(1000.0 + index as f64));
                assert_eq!(c.feasible, index != 4);
                assert_eq!(c.best, index == 5);
            }
        }
        let (lo, hi) = h.range.unwrap();
        assert_eq!((lo, hi), (1001.0, 1011.0));
        assert_eq!(h.cell(0, 0).level, Some(0));
        assert_eq!(h.cell(1, 2).level, Some(LEVELS - 1));
        assert_eq!(h.cells.iter().filter(|c| c.best).count(), 1);
        assert_eq!(h.metric, "final_capital");
        // A named metric: trades are 0 everywhere, one level for all.
        let t = heatmap(&grid, &scores, 5, HeatMetric::Named(2), (0, 1), fixed);
        assert!(t
            .cells
            .iter()
            .all(|c| c.value == Some(0.0) && c.level == Some(LEVELS / 2)));
    }

    #[test]
    fn a_plateau_compares_a_cell_with_its_numeric_neighbours() {
        let (grid, mut scores) = fixture();
        let obj = HeatMetric::Objective(Objective::FinalCapital);
        // Cell (tp 2.0, sl 0.9, 48 h): neighbours tp 1.5 and off, sl off, max_hold 12 h.
        let index = grid.index_of([1, 0, 0, 0, 0, 0, 1, 0]);
        let p = plateau(&grid, &scores, index, obj);
        assert_eq!(p.neighbours, 4);
        let mean = [[0, 0, 1], [2, 0, 1], [1, 1, 1], [1, 0, 0]]
            .iter()
            .map(|&[a, b, h]| 1000.0 + grid.index_of([a, b, 0, 0, 0, 0, h, 0]) as f64)
            .sum::<f64>()
            / 4.0;
        assert_eq!(p.neighbour_mean, Some(mean));
        assert_eq!(p.drop(), Some(1000.0 + index as f64 - mean));
        // A lone spike: the cell far above its neighbours.
        scores[index].metrics.final_capital = 5000.0;
        let spike = plateau(&grid, &scores, index, obj);
        assert!(spike.drop().unwrap() > 3900.0);
        // A neighbour without a value is left out.
        let sharpe = HeatMetric::Objective(Objective::Sharpe);
        let none = plateau(&grid, &scores, index, sharpe);
        assert_eq!(
            (none.neighbours, none.neighbour_mean, none.drop()),
            (0, None, None)
        );
    }
}
