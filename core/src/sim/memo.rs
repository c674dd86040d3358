//! What the fast evaluator remembers across the policies of one call: first-passage answers
//! keyed by exact level prices ([`Memo`]), deadlines, and what a trade takes from its exit
//! candle. Grid neighbours share most parameter values, so most questions repeat.

use crate::store::Prices;

/// A few remembered answers of one kind, keyed exactly; the oldest is replaced when full.
/// Keys and answers are kept apart, so a lookup reads the keys' single cache line.
#[derive(Debug)]
pub(super) struct Recall<K, V> {
    keys: [K; 8],
    vals: [V; 8],
    len: usize,
    next: usize,
}

impl<K: PartialEq + Copy + Default, V: Copy + Default> Default for Recall<K, V> {
    fn default() -> Self {
        Recall {
            keys: [K::default(); 8],
            vals: [V::default(); 8],
            len: 0,
            next: 0,
        }
    }
}

impl<K: PartialEq + Copy + Default, V: Copy + Default> Recall<K, V> {
    #[inline(always)]
    pub(super) fn get_or(&mut self, key: K, compute: impl FnOnce() -> V) -> V {
        // Newest first: neighbouring grid points usually repeat the latest answer.
        let n = self.keys.len();
        for i in 1..=self.len {
            let at = (self.next + n - i) % n;
            if self.keys[at] == key {
                return self.vals[at];
            }
        }
        let v = compute();
        self.keys[self.next] = key;
        self.vals[self.next] = v;
        self.next = (self.next + 1) % n;
        self.len = (self.len + 1).min(n);
        v
    }
}

/// First-passage answers of one call, remembered across the policies evaluated on it.
#[derive(Debug, Default)]
pub(super) struct Memo {
    /// One policy only: walks may stop at the earliest event found so far.
    pub(super) single: bool,
    /// Deadline (ms) → last traded position.
    pub(super) last: Deadlines,
    /// Level price bits → first record reaching it.
    pub(super) tp: Recall<u64, usize>,
    /// Stop-loss price bits → first candle touching it.
    pub(super) sl: Recall<u64, usize>,
    /// (trail factor, activation price) bits → first candle touching the trailing stop.
    pub(super) trail: Recall<(u64, u64), usize>,
    /// (arming price, break-even price) bits → first candle touching the break-even stop.
    pub(super) be: Recall<(u64, u64), usize>,
    /// Event position → what the trade record takes from the exit candle.
    pub(super) at: Recall<usize, At>,
}

/// Deadline (ms) → last traded position: the time stop changes from one grid point to the
/// next, so this is asked for every policy; a few deadlines are answered from a small table
/// indexed by a hash of the deadline (one multiplication), without a search.
#[derive(Debug, Default)]
pub(super) struct Deadlines {
    slots: [Option<(i64, usize)>; 16],
}

impl Deadlines {
    #[inline(always)]
    pub(super) fn get_or(&mut self, tmax: i64, compute: impl FnOnce() -> usize) -> usize {
        let h = ((tmax as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize;
        match self.slots[h] {
            Some((k, v)) if k == tmax => v,
            _ => {
                let v = compute();
                self.slots[h] = Some((tmax, v));
                v
            }
        }
    }
}

/// The peak before an exit candle, and `peak_multiple` and `mae` of a trade exiting there.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct At {
    /// The exit candle's prices.
    pub(super) prices: Prices,
    pub(super) peak: f64,
    pub(super) peak_multiple: f64,
    pub(super) mae: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asks `recall` for each key in turn; `true` where the answer was computed.
    fn check(recall: &mut Recall<u64, usize>, keys: &[u64], computed: &[bool]) {
        let got: Vec<bool> = keys
            .iter()
            .map(|&k| {
                let mut ran = false;
                let v = recall.get_or(k, || {
                    ran = true;
                    k as usize * 10
                });
                assert_eq!(v, k as usize * 10, "key {k}");
                ran
            })
            .collect();
        assert_eq!(got, computed, "keys {keys:?}");
    }

    #[test]
    fn recall_remembers_eight_answers_and_replaces_the_oldest() {
        let mut r = Recall::default();
        check(&mut r, &[1, 2, 1, 2], &[true, true, false, false]);
        // 0 is the default key of the empty slots: it is not remembered before it is asked.
        check(&mut r, &[0, 0], &[true, false]);
        check(&mut r, &[3, 4, 5, 6, 7], &[true; 5]);
        // Full (0..=7); the ninth key replaces the oldest, 1.
        check(&mut r, &[8, 2, 1], &[true, false, true]);
    }

    #[test]
    fn deadlines_answer_the_latest_deadline_of_each_slot() {
        let mut d = Deadlines::default();
        let mut ask = |tmax: i64, v: usize| {
            let mut ran = false;
            let got = d.get_or(tmax, || {
                ran = true;
                v
            });
            (got, ran)
        };
        assert_eq!(ask(3_600_000, 1), (1, true));
        assert_eq!(ask(3_600_000, 2), (1, false));
        assert_eq!(ask(7_200_000, 3), (3, true));
        assert_eq!(ask(3_600_000, 4), (1, false));
    }
}
