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
/// No parent: a prefix of one block starts its sum at 0.
const ROOT: u8 = u8::MAX;

/// The block layout of one caller's calls, shared by every policy.
///
/// Each set's running sum is built along the prefixes of its blocks: the sum over `{0, 2}`
/// is the sum over `{0}` continued through block 2's calls, so `{0, 2, 3, 5}` and
/// `{0, 2, 4, 6}` share it. The 125 prefixes that extend to a set of 4 (5 + 15 + 35 + 70) each
/// add one block's calls, 15.6 additions per call instead of the 35 of adding each call to
/// every set holding it, and every addition is the one the set's own running sum makes.
#[derive(Debug, Clone)]
pub struct Cscv {
    blocks: Vec<Range<usize>>,
    /// `lanes[b]`: the prefixes that end with block `b`, as (prefix, its parent prefix).
    lanes: Vec<Vec<(u8, u8)>>,
    /// `leaf[s]`: the prefix that is set `s` whole.
    leaf: [u8; SETS],
    prefixes: usize,
    /// Calls in each set.
    counts: [f64; SETS],
    /// `complement[s]`: the set of the other four blocks.
    complement: [u8; SETS],
}

/// The most prefixes ending in one block: the sets of 4 whose last block is 7, C(7, 3).
const MAX_LANES: usize = 35;

impl Cscv {
    /// The layout for `n` calls; `None` when `n < 16` (PBO is null).
    pub fn new(n: usize) -> Option<Cscv> {
        if n < MIN_CALLS {
            return None;
        }
        let blocks = blocks(n, BLOCKS);
        let mut lanes: Vec<Vec<(u8, u8)>> = vec![Vec::new(); BLOCKS];
        let mut masks: Vec<u8> = Vec::new();
        // (prefix, its mask, its last block + 1); depth by depth, a prefix of k blocks
        // ending at block c extends to 4 blocks only if c ≤ 3 + k.
        let mut frontier: Vec<(u8, u8, usize)> = vec![(ROOT, 0, 0)];
        for depth in 1..=4 {
            let mut next = Vec::new();
            for &(parent, mask, from) in &frontier {
                for c in from..=(3 + depth) {
                    let node = masks.len() as u8;
                    masks.push(mask | (1 << c));
                    lanes[c].push((node, parent));
                    next.push((node, mask | (1 << c), c + 1));
                }
            }
            frontier = next;
        }
        let mut leaf = [0u8; SETS];
        let mut counts = [0.0; SETS];
        let mut complement = [0u8; SETS];
        for s in 0..SETS {
            leaf[s] = masks
                .iter()
                .rposition(|&m| m == MASKS[s])
                .expect("a set is a prefix") as u8;
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
            lanes,
            leaf,
            prefixes: masks.len(),
            counts,
            complement,
        })
    }

    /// One policy's perf on every set: `x[i]` is `M − 1` of the `i`-th call in time order (0
    /// without a trade). Each set's sum is one running sum over its calls in time order, as
    /// the SPEC prescribes, then one division by its count. Block by block, the prefixes that
    /// end with the block continue their parents' sums through its calls, side by side
    /// (independent sums, so they vectorize).
    pub fn perf(&self, x: &[f64]) -> SetPerf {
        let mut sums = [0.0; 125];
        debug_assert_eq!(self.prefixes, sums.len());
        for (block, lanes) in self.blocks.iter().zip(&self.lanes) {
            let mut local = [0.0; MAX_LANES];
            let local = &mut local[..lanes.len()];
            for (l, &(_, parent)) in local.iter_mut().zip(lanes) {
                *l = if parent == ROOT {
                    0.0
                } else {
                    sums[parent as usize]
                };
            }
            for &v in &x[block.clone()] {
                for l in local.iter_mut() {
                    *l += v;
                }
            }
            for (&l, &(node, _)) in local.iter().zip(lanes) {
                sums[node as usize] = l;
            }
        }
        let mut perf = [0.0; SETS];
        for s in 0..SETS {
            perf[s] = sums[self.leaf[s] as usize] / self.counts[s];
        }
        perf
    }

    /// PBO over every policy's perfs, in policy-index order; `None` with fewer than 2. Both
    /// passes read the perfs policy by policy (all 70 sets at once), in memory order; the perfs
    /// may come in pieces (a search's blocks), never gathered into one list.
    pub fn pbo<'a>(&self, perfs: impl Iterator<Item = &'a SetPerf> + Clone) -> Option<f64> {
        let mut all = perfs.clone();
        let mut top = *all.next()?;
        all.next()?;
        let oos: [usize; SETS] = std::array::from_fn(|s| self.complement[s] as usize);
        // n* of every set: the highest in-sample perf, ties to the lower index; and o, n*'s
        // out-of-sample perf.
        let mut star = [0usize; SETS];
        let mut o: [f64; SETS] = std::array::from_fn(|s| top[oos[s]]);
        for (p, perf) in perfs.clone().enumerate().skip(1) {
            for s in 0..SETS {
                if perf[s] > top[s] {
                    top[s] = perf[s];
                    star[s] = p;
                    o[s] = perf[oos[s]];
                }
            }
        }
        // Who falls below o, or ties it.
        let (mut below, mut equal) = ([0u32; SETS], [0u32; SETS]);
        let mut n = 0usize;
        for (p, perf) in perfs.enumerate() {
            for s in 0..SETS {
                let v = perf[oos[s]];
                below[s] += u32::from(v < o[s]);
                equal[s] += u32::from(v == o[s] && p != star[s]);
            }
            n += 1;
        }
        let n = n as f64;
        let mut overfit = 0u32;
        for s in 0..SETS {
            let rho = 1.0 + f64::from(below[s]) + f64::from(equal[s]) / 2.0;
            if rho / (n + 1.0) <= 0.5 {
                overfit += 1;
            }
        }
        Some(f64::from(overfit) / SETS as f64)
    }
}
