//! Grids of policies (SPEC §1, §12): dimensions in a fixed order, stable row-major policy
//! indices, canonical labels, and the `edge` test.

use thiserror::Error;

use crate::indicator::Rule;
use crate::num::fmt_num;
use crate::policy::{Ladder, Policy, PolicyError, PolicyParams};

/// The dimension names, in index order (the last varies fastest).
pub const DIMENSIONS: [&str; 8] = [
    "tp",
    "sl",
    "trail",
    "trail_activation",
    "be_trigger",
    "ladder",
    "max_hold",
    "indicator",
];

/// The value lists of a grid, as given. `None` means "off".
#[derive(Debug, Clone, PartialEq)]
pub struct GridSpec {
    pub tp: Vec<Option<f64>>,
    pub sl: Vec<Option<f64>>,
    pub trail: Vec<Option<f64>>,
    pub trail_activation: Vec<Option<f64>>,
    pub be_trigger: Vec<Option<f64>>,
    pub ladder: Vec<Option<Ladder>>,
    /// Hours.
    pub max_hold: Vec<f64>,
    pub indicator: Vec<Option<Rule>>,
}

impl Default for GridSpec {
    /// The default grid of `backtest v1-baseline` (SPEC §10): 6 tp × 5 sl = 30 policies.
    fn default() -> Self {
        GridSpec {
            tp: [1.5, 2.0, 2.5, 3.0, 4.0, 5.0].map(Some).to_vec(),
            sl: [0.85, 0.88, 0.9, 0.92, 0.95].map(Some).to_vec(),
            trail: vec![None],
            trail_activation: vec![None],
            be_trigger: vec![None],
            ladder: vec![None],
            max_hold: vec![48.0],
            indicator: vec![None],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum GridError {
    #[error("grid dimension {0} has no value")]
    Empty(&'static str),
    #[error("grid dimension {dimension}: {source}")]
    Value {
        dimension: &'static str,
        source: PolicyError,
    },
    #[error("grid dimensions tp and ladder cannot both hold values: give ladders with tp [null]")]
    TpAndLadder,
    #[error("the grid has {0} policies, more than the limit of {1}")]
    TooLarge(u128, usize),
}

/// The largest grid accepted (a guard against a typo exhausting memory).
pub const MAX_GRID: usize = 50_000_000;

/// A validated grid: every point is a valid policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    spec: GridSpec,
    lens: [usize; 8],
    size: usize,
}

/// One dimension's values, as shown in results.
#[derive(Debug, Clone, PartialEq)]
pub enum DimValues {
    Numbers(Vec<Option<f64>>),
    Ladders(Vec<Option<Ladder>>),
    Rules(Vec<Option<Rule>>),
}

impl Grid {
    /// Validates every value of every dimension. `horizon_hours` bounds `max_hold`.
    pub fn new(spec: GridSpec, horizon_hours: f64) -> Result<Grid, GridError> {
        let lens = [
            spec.tp.len(),
            spec.sl.len(),
            spec.trail.len(),
            spec.trail_activation.len(),
            spec.be_trigger.len(),
            spec.ladder.len(),
            spec.max_hold.len(),
            spec.indicator.len(),
        ];
        for (k, &n) in lens.iter().enumerate() {
            if n == 0 {
                return Err(GridError::Empty(DIMENSIONS[k]));
            }
        }
        if spec.tp.iter().any(Option::is_some) && spec.ladder.iter().any(Option::is_some) {
            return Err(GridError::TpAndLadder);
        }
        let size = lens.iter().map(|&n| n as u128).product::<u128>();
        if size > MAX_GRID as u128 {
            return Err(GridError::TooLarge(size, MAX_GRID));
        }
        // Validate each value on its own, with the others off.
        let value_err = |dimension: &'static str| {
            move |source: PolicyError| GridError::Value { dimension, source }
        };
        let check = |p: PolicyParams| Policy::new(p).map(|_| ());
        for &v in &spec.tp {
            check(PolicyParams {
                tp: v,
                ..Default::default()
            })
            .map_err(value_err("tp"))?;
        }
        for &v in &spec.sl {
            check(PolicyParams {
                sl: v,
                ..Default::default()
            })
            .map_err(value_err("sl"))?;
        }
        for &v in &spec.trail {
            check(PolicyParams {
                trail: v,
                ..Default::default()
            })
            .map_err(value_err("trail"))?;
        }
        for &v in &spec.trail_activation {
            check(PolicyParams {
                trail_activation: v,
                ..Default::default()
            })
            .map_err(value_err("trail_activation"))?;
        }
        for &v in &spec.be_trigger {
            check(PolicyParams {
                be_trigger: v,
                ..Default::default()
            })
            .map_err(value_err("be_trigger"))?;
        }
        for &h in &spec.max_hold {
            check(PolicyParams {
                max_hold_hours: h,
                ..Default::default()
            })
            .map_err(value_err("max_hold"))?;
            if h > horizon_hours {
                return Err(GridError::Value {
                    dimension: "max_hold",
                    source: PolicyError::MaxHoldOverHorizon {
                        hold: h,
                        horizon: horizon_hours,
                    },
                });
            }
        }
        Ok(Grid {
            spec,
            lens,
            size: size as usize,
        })
    }

    pub fn spec(&self) -> &GridSpec {
        &self.spec
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Per-dimension value positions of a policy index (row-major, last dimension fastest).
    pub fn coords(&self, index: usize) -> [usize; 8] {
        let mut c = [0; 8];
        let mut rest = index;
        for k in (0..8).rev() {
            c[k] = rest % self.lens[k];
            rest /= self.lens[k];
        }
        c
    }

    /// The policy index of per-dimension positions.
    pub fn index_of(&self, coords: [usize; 8]) -> usize {
        let mut idx = 0;
        for k in 0..8 {
            idx = idx * self.lens[k] + coords[k];
        }
        idx
    }

    pub fn params(&self, index: usize) -> PolicyParams {
        let c = self.coords(index);
        let s = &self.spec;
        PolicyParams {
            tp: s.tp[c[0]],
            sl: s.sl[c[1]],
            trail: s.trail[c[2]],
            trail_activation: s.trail_activation[c[3]],
            be_trigger: s.be_trigger[c[4]],
            ladder: s.ladder[c[5]].clone(),
            max_hold_hours: s.max_hold[c[6]],
            indicator: s.indicator[c[7]],
        }
    }

    /// The policy at `index`. Every point was validated by [`Grid::new`].
    pub fn policy(&self, index: usize) -> Policy {
        let mut first_hold = self.coords(index);
        first_hold[6] = 0;
        Policy::new(self.params(index))
            .expect("grid values are validated in Grid::new")
            .in_family(self.index_of(first_hold))
    }

    /// All policies in index order.
    pub fn policies(&self) -> Vec<Policy> {
        (0..self.size).map(|i| self.policy(i)).collect()
    }

    /// Whether any policy reads volumes (an indicator rule on volume): without one, candles
    /// can be held without their volumes ([`crate::store::Series::drop_volume`]).
    pub fn reads_volume(&self) -> bool {
        self.spec.indicator.iter().flatten().any(Rule::reads_volume)
    }

    /// The distinct indicator rules of the grid, in dimension order.
    pub fn rules(&self) -> Vec<Rule> {
        let mut out: Vec<Rule> = Vec::new();
        for r in self.spec.indicator.iter().flatten() {
            if !out.contains(r) {
                out.push(*r);
            }
        }
        out
    }

    /// The canonical label: `tp=2 sl=0.9 trail=- trail_activation=- be_trigger=- ladder=-
    /// max_hold=48h indicator=-`.
    pub fn label(&self, index: usize) -> String {
        label(&self.params(index))
    }

    /// Each dimension with its values, in order.
    pub fn dimensions(&self) -> Vec<(&'static str, DimValues)> {
        let s = &self.spec;
        vec![
            ("tp", DimValues::Numbers(s.tp.clone())),
            ("sl", DimValues::Numbers(s.sl.clone())),
            ("trail", DimValues::Numbers(s.trail.clone())),
            (
                "trail_activation",
                DimValues::Numbers(s.trail_activation.clone()),
            ),
            ("be_trigger", DimValues::Numbers(s.be_trigger.clone())),
            ("ladder", DimValues::Ladders(s.ladder.clone())),
            (
                "max_hold",
                DimValues::Numbers(s.max_hold.iter().map(|&h| Some(h)).collect()),
            ),
            ("indicator", DimValues::Rules(s.indicator.clone())),
        ]
    }

    /// Whether the policy sits on the boundary of a numeric dimension with 3 or more non-null
    /// values (SPEC §6, §12).
    pub fn is_edge(&self, index: usize) -> bool {
        let c = self.coords(index);
        self.dimensions()
            .iter()
            .enumerate()
            .any(|(k, (_, values))| match values {
                DimValues::Numbers(vals) => {
                    let Some(best) = vals[c[k]] else { return false };
                    let present: Vec<f64> = vals.iter().flatten().copied().collect();
                    if present.len() < 3 {
                        return false;
                    }
                    let lo = present.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    best == lo || best == hi
                }
                _ => false,
            })
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), fmt_num)
}

/// The canonical label of a policy's parameters.
pub fn label(p: &PolicyParams) -> String {
    format!(
        "tp={} sl={} trail={} trail_activation={} be_trigger={} ladder={} max_hold={}h indicator={}",
        opt(p.tp),
        opt(p.sl),
        opt(p.trail),
        opt(p.trail_activation),
        opt(p.be_trigger),
        p.ladder.as_ref().map_or_else(|| "-".to_string(), Ladder::label),
        fmt_num(p.max_hold_hours),
        p.indicator.map_or_else(|| "-".to_string(), |r| r.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default grid with `f` applied to its spec, over a 48 h horizon.
    fn grid(f: impl FnOnce(&mut GridSpec)) -> Result<Grid, GridError> {
        let mut spec = GridSpec::default();
        f(&mut spec);
        Grid::new(spec, 48.0)
    }

    #[test]
    fn default_grid_indices_and_labels() {
        let g = grid(|_| {}).unwrap();
        assert_eq!(g.size(), 30);
        assert_eq!(
            g.label(0),
            "tp=1.5 sl=0.85 trail=- trail_activation=- be_trigger=- ladder=- max_hold=48h indicator=-"
        );
        // sl varies fastest among the given dimensions: index 7 = tp #1 (2), sl #2 (0.9).
        assert_eq!(
            g.label(7),
            "tp=2 sl=0.9 trail=- trail_activation=- be_trigger=- ladder=- max_hold=48h indicator=-"
        );
        for i in 0..g.size() {
            assert_eq!(g.index_of(g.coords(i)), i);
        }
    }

    #[test]
    fn adding_a_null_indicator_dimension_keeps_indices() {
        let a = grid(|s| s.trail = vec![None, Some(0.2)]).unwrap();
        let b = grid(|s| {
            s.trail = vec![None, Some(0.2)];
            s.indicator = vec![None, Some("ema_cross:9:21".parse().unwrap())];
        })
        .unwrap();
        for i in 0..a.size() {
            // Index i of the old grid is index 2i (indicator off) of the new one.
            assert_eq!(a.params(i), b.params(2 * i));
        }
        assert_eq!(
            b.label(1).rsplit(' ').next(),
            Some("indicator=ema_cross:9:21")
        );
    }

    #[test]
    fn validation_names_the_dimension() {
        let value = |dimension, source| Err(GridError::Value { dimension, source });
        assert_eq!(
            grid(|s| s.sl = vec![Some(0.9), Some(1.2)]),
            value("sl", PolicyError::Sl(1.2))
        );
        assert_eq!(
            grid(|s| s.max_hold = vec![72.0]),
            value(
                "max_hold",
                PolicyError::MaxHoldOverHorizon {
                    hold: 72.0,
                    horizon: 48.0
                }
            )
        );
        assert_eq!(
            grid(|s| s.trail = vec![Some(1.0)]),
            value("trail", PolicyError::Trail(1.0))
        );
        assert_eq!(grid(|s| s.tp = vec![]), Err(GridError::Empty("tp")));
        assert_eq!(
            grid(|s| s.ladder = vec![Some(Ladder::new(vec![(2.0, 0.5)]).unwrap())]),
            Err(GridError::TpAndLadder)
        );
    }

    #[test]
    fn edge_needs_three_values_and_a_boundary() {
        let g = grid(|_| {}).unwrap();
        // tp=1.5 is the smallest tp: edge.
        assert!(g.is_edge(0));
        // tp=2 (interior), sl=0.9 (interior).
        assert!(!g.is_edge(7));
        // tp=2, sl=0.95 (largest sl): edge.
        assert!(g.is_edge(9));
        let g = grid(|s| {
            s.tp = vec![Some(2.0), Some(3.0)];
            s.sl = vec![None, Some(0.9)];
        })
        .unwrap();
        assert!((0..g.size()).all(|i| !g.is_edge(i)));
    }
}
