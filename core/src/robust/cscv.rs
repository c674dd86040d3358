//! The probability of backtest overfitting by combinatorially symmetric cross-validation
//! (SPEC §13.2): 8 blocks of calls, the 70 ways to pick 4 of them as in-sample, per policy the
//! mean return per call of each half, and how often the in-sample winner lands in the bottom
//! half out of sample.

use std::ops::Range;

use super::blocks;

/// Blocks of CSCV (`S` of SPEC §13.2).
pub const BLOCKS: usize = 8;
/// Sets of 4 blocks out of 8.
pub const SETS: usize = 70;
/// Sets holding a given block: C(7, 3).
const SETS_PER_BLOCK: usize = 35;
/// The fewest calls PBO is computed on.
pub const MIN_CALLS: usize = 16;

/// The 70 sets of 4 block indices in lexicographic order, as bit masks.
const fn set_masks() -> [u8; SETS] {
    let mut masks = [0u8; SETS];
    let mut k = 0;
    let mut a = 0;
    while a < BLOCKS {
        let mut b = a + 1;
        while b < BLOCKS {
            let mut c = b + 1;
            while c < BLOCKS {
                let mut d = c + 1;
                while d < BLOCKS {
                    masks[k] = (1 << a) | (1 << b) | (1 << c) | (1 << d);
                    k += 1;
                    d += 1;
                }
                c += 1;
            }
            b += 1;
        }
        a += 1;
    }
    masks
}

const MASKS: [u8; SETS] = set_masks();

/// A policy's mean return per call over the calls of each of the 70 sets.
pub type SetPerf = [f64; SETS];

/// The block layout of one caller's calls, shared by every policy.
#[derive(Debug, Clone)]
pub struct Cscv {
    blocks: Vec<Range<usize>>,
    /// `holding[b]`: the sets that hold block `b`, ascending.
    holding: [[u8; SETS_PER_BLOCK]; BLOCKS],
    /// Calls in each set.
    counts: [f64; SETS],
    /// `complement[s]`: the set of the other four blocks.
    complement: [u8; SETS],
}

impl Cscv {
    /// The layout for `n` calls; `None` when `n < 16` (PBO is null).
    pub fn new(n: usize) -> Option<Cscv> {
        if n < MIN_CALLS {
            return None;
        }
        let blocks = blocks(n, BLOCKS);
        let mut holding = [[0u8; SETS_PER_BLOCK]; BLOCKS];
        let mut counts = [0.0; SETS];
        let mut complement = [0u8; SETS];
        for (b, row) in holding.iter_mut().enumerate() {
            let sets = (0..SETS).filter(|&s| MASKS[s] & (1 << b) != 0);
            for (slot, s) in row.iter_mut().zip(sets) {
                *slot = s as u8;
            }
        }
        for s in 0..SETS {
            let calls: usize = (0..BLOCKS)
                .filter(|&b| MASKS[s] & (1 << b) != 0)
                .map(|b| blocks[b].len())
                .sum();
            counts[s] = calls as f64;
            let other = !MASKS[s];
            complement[s] = MASKS.iter().position(|&m| m == other).expect("4 of 8") as u8;
        }
        Some(Cscv {
            blocks,
            holding,
            counts,
            complement,
        })
    }

    /// One policy's perf on every set: `x(i)` is `M − 1` of the `i`-th call in time order (0
    /// without a trade). Each set's sum is one running sum over its calls in time order, as
    /// the SPEC prescribes: calls arrive in time order and each is added to the 35 sets that
    /// hold its block (independent sums, so they vectorize); then one division per set.
    pub fn perf(&self, x: impl Fn(usize) -> f64) -> SetPerf {
        let mut sums = [0.0; SETS];
        for (block, sets) in self.blocks.iter().zip(&self.holding) {
            let mut local = [0.0; SETS_PER_BLOCK];
            for (l, &s) in local.iter_mut().zip(sets) {
                *l = sums[s as usize];
            }
            for i in block.clone() {
                let v = x(i);
                for l in &mut local {
                    *l += v;
                }
            }
            for (&l, &s) in local.iter().zip(sets) {
                sums[s as usize] = l;
            }
        }
        for (s, c) in sums.iter_mut().zip(&self.counts) {
            *s /= c;
        }
        sums
    }

    /// PBO over every policy's perfs, in policy-index order; `None` with fewer than 2.
    pub fn pbo(&self, perfs: &[SetPerf]) -> Option<f64> {
        if perfs.len() < 2 {
            return None;
        }
        let n = perfs.len() as f64;
        let mut overfit = 0u32;
        for s in 0..SETS {
            let mut star = 0;
            for (p, perf) in perfs.iter().enumerate().skip(1) {
                if perf[s] > perfs[star][s] {
                    star = p;
                }
            }
            let oos = self.complement[s] as usize;
            let o = perfs[star][oos];
            let (mut below, mut equal) = (0u32, 0u32);
            for (p, perf) in perfs.iter().enumerate() {
                if perf[oos] < o {
                    below += 1;
                } else if perf[oos] == o && p != star {
                    equal += 1;
                }
            }
            let rho = 1.0 + f64::from(below) + f64::from(equal) / 2.0;
            if rho / (n + 1.0) <= 0.5 {
                overfit += 1;
            }
        }
        Some(f64::from(overfit) / SETS as f64)
    }
}
