//! Compact, lossless candle storage: one token's candles in about half the bytes of
//! `Vec<Candle>`, every field readable at any position in O(1), every value bit for bit.
//!
//! Candles as the engine takes them are 48 bytes (`ts` and five f64). Market data is far from
//! random, and a [`Series`] stores only what is not implied:
//! - `ts`: nothing when the candles are evenly spaced, else an offset from the first one;
//! - `open`: nothing when it is the previous close (bit for bit), else an exception;
//! - `high` / `low`: nothing when it is the body's top / bottom, else its distance from it;
//! - `close`: always; `volume`: nothing when it is `+0.0` (flat, untraded candles).
//!
//! Exits are decided on prices alone; only an indicator rule on volume reads it. A series can
//! let its volumes go ([`Series::drop_volume`]) when nothing will read them: every volume then
//! reads NaN, and the engine refuses to run such a rule on it.
//!
//! Stored values are bit patterns packed frame-of-reference: the smallest value of the column
//! is kept once and every value as its distance from it in the fewest bits that hold the
//! column's largest distance. For positive f64 the bit pattern grows with the value, so a token's
//! prices, and the distances of highs and lows from their bodies, need few of the 64 bits.
//! Which positions hold an exception is a bitmap with a rank directory, so the k-th exception
//! of a position is found without scanning. Nothing here assumes the candles are valid: any
//! bit pattern round-trips (unusual ones just take more bits).

use crate::data::Candle;

/// A candle without its volume: what an exit is decided on.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Prices {
    pub ts: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
}

/// Candles the engine can read by position: a decoded slice or a window of a [`Series`].
pub trait Bars {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The whole candle at position `i`.
    fn bar(&self, i: usize) -> Candle;
    /// The candle at position `i` without its volume (cheaper to read from a [`Series`]).
    fn prices(&self, i: usize) -> Prices;
    fn ts(&self, i: usize) -> i64;
    fn low(&self, i: usize) -> f64;
    fn high(&self, i: usize) -> f64;
}

impl Bars for [Candle] {
    fn len(&self) -> usize {
        <[Candle]>::len(self)
    }
    #[inline]
    fn bar(&self, i: usize) -> Candle {
        self[i]
    }
    #[inline]
    fn prices(&self, i: usize) -> Prices {
        let c = &self[i];
        Prices {
            ts: c.ts,
            open: c.open,
            high: c.high,
            low: c.low,
            close: c.close,
        }
    }
    #[inline]
    fn ts(&self, i: usize) -> i64 {
        self[i].ts
    }
    #[inline]
    fn low(&self, i: usize) -> f64 {
        self[i].low
    }
    #[inline]
    fn high(&self, i: usize) -> f64 {
        self[i].high
    }
}

/// Unsigned values packed frame-of-reference: `base + (bits of width `width` at i × width)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Packed {
    base: u64,
    width: u32,
    /// Little-endian bit stream, followed by 8 zero bytes so every read is one unaligned load.
    data: Vec<u8>,
}

impl Packed {
    #[cfg(test)]
    fn new(values: &[u64]) -> Packed {
        Packed::of(|| values.iter().copied())
    }

    /// The values `values()` yields (asked for twice: the frame, then the bits), packed.
    fn of<I: Iterator<Item = u64>>(values: impl Fn() -> I) -> Packed {
        let (mut lo, mut hi, mut count) = (u64::MAX, 0u64, 0usize);
        for v in values() {
            lo = lo.min(v);
            hi = hi.max(v);
            count += 1;
        }
        if count == 0 {
            return Packed::default();
        }
        let base = lo;
        let width = u64::BITS - (hi - base).leading_zeros();
        if width == 0 {
            return Packed {
                base,
                width,
                data: Vec::new(),
            };
        }
        let bits = count * width as usize;
        let mut data = Vec::with_capacity(bits.div_ceil(8) + 9);
        // A little-endian bit stream: bits enter at the top of `acc`, whole words leave below.
        let (mut acc, mut held) = (0u128, 0u32);
        for v in values() {
            acc |= u128::from(v - base) << held;
            held += width;
            if held >= 64 {
                data.extend_from_slice(&(acc as u64).to_le_bytes());
                acc >>= 64;
                held -= 64;
            }
        }
        data.extend_from_slice(&acc.to_le_bytes()[..held.div_ceil(8) as usize]);
        data.resize(bits.div_ceil(8) + 9, 0);
        Packed { base, width, data }
    }

    #[inline]
    fn get(&self, i: usize) -> u64 {
        if self.width == 0 {
            return self.base;
        }
        let bit = i * self.width as usize;
        let (byte, sh) = (bit / 8, (bit % 8) as u32);
        let word: [u8; 8] = self.data[byte..byte + 8].try_into().expect("8 bytes");
        let mut v = u64::from_le_bytes(word) >> sh;
        if sh + self.width > 64 {
            v |= u64::from(self.data[byte + 8]) << (64 - sh);
        }
        if self.width < 64 {
            v &= (1u64 << self.width) - 1;
        }
        self.base.wrapping_add(v)
    }

    fn heap_bytes(&self) -> usize {
        self.data.capacity()
    }
}

/// A bitmap with a rank directory. A bitmap whose bits are all equal keeps no words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Bits {
    /// `Some(b)`: every bit is `b` and `words` is empty.
    all: Option<bool>,
    words: Vec<u64>,
    /// Set bits before each word.
    before: Vec<u32>,
}

impl Bits {
    #[cfg(test)]
    fn new(bits: &[bool]) -> Bits {
        Bits::of(bits.len(), |i| bits[i])
    }

    /// The bitmap of positions `0..n`, position `i` set when `bit(i)`.
    fn of(n: usize, bit: impl Fn(usize) -> bool) -> Bits {
        let mut words = Vec::with_capacity(n.div_ceil(64));
        let mut before = Vec::with_capacity(n.div_ceil(64));
        let mut ones = 0u32;
        for w in 0..n.div_ceil(64) {
            let mut word = 0u64;
            for i in 64 * w..(64 * w + 64).min(n) {
                word |= u64::from(bit(i)) << (i % 64);
            }
            before.push(ones);
            ones += word.count_ones();
            words.push(word);
        }
        if ones == 0 || ones as usize == n {
            return Bits {
                all: Some(n > 0 && ones > 0),
                ..Bits::default()
            };
        }
        Bits {
            all: None,
            words,
            before,
        }
    }

    /// The set positions in order (positions below `n`).
    fn ones(&self, n: usize) -> impl Iterator<Item = usize> + '_ {
        let all = match self.all {
            Some(true) => 0..n,
            _ => 0..0,
        };
        let words = self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    64 * w + bit
                })
            })
        });
        all.chain(words)
    }

    #[inline]
    fn get(&self, i: usize) -> bool {
        match self.all {
            Some(b) => b,
            None => self.words[i / 64] >> (i % 64) & 1 == 1,
        }
    }

    /// The 64 bits of word `w` (positions `64 w ..`).
    #[inline]
    fn word(&self, w: usize) -> u64 {
        match self.all {
            Some(true) => u64::MAX,
            Some(false) => 0,
            None => self.words[w],
        }
    }

    /// Set bits before position `i`.
    #[inline]
    fn rank(&self, i: usize) -> usize {
        match self.all {
            Some(true) => i,
            Some(false) => 0,
            None => {
                let below = self.words[i / 64] & ((1u64 << (i % 64)) - 1);
                self.before[i / 64] as usize + below.count_ones() as usize
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8 + self.before.capacity() * 4
    }
}

/// Whether candles are held with their volumes (see [`Series::drop_volume`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Volumes {
    Keep,
    Drop,
}

impl Volumes {
    /// Volumes kept only when something will read them.
    pub fn needed(read: bool) -> Volumes {
        if read {
            Volumes::Keep
        } else {
            Volumes::Drop
        }
    }
}

/// The timestamps: evenly spaced, or packed offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Times {
    Even { first: i64, step: i64 },
    Packed(Packed),
}

/// One token's candles, compact and lossless (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    len: usize,
    ts: Times,
    close: Packed,
    /// The first open (there is no previous close to take it from).
    open0: u64,
    /// Set where `i ≥ 1` and the open is not the previous close.
    open_exc: Bits,
    open: Packed,
    /// Set where the high is not the body's top; `high` holds `high − top` (bit patterns).
    high_exc: Bits,
    high: Packed,
    /// Set where the low is not the body's bottom; `low` holds `bottom − low`.
    low_exc: Bits,
    low: Packed,
    /// Set where the volume is not `+0.0`.
    vol_exc: Bits,
    volume: Packed,
    /// False once the volumes were let go: every volume then reads NaN.
    volume_held: bool,
}

/// The body's top and bottom as bit patterns: for positive prices the larger pattern is the
/// larger price; for any other value the choice is still a function of the two patterns, which
/// is all that a lossless round trip needs.
#[inline]
fn body(open: u64, close: u64) -> (u64, u64) {
    if open >= close {
        (open, close)
    } else {
        (close, open)
    }
}

impl Series {
    pub fn new(candles: &[Candle]) -> Series {
        Series::build(candles, Volumes::Keep)
    }

    /// The series of `candles`, with or without their volumes: each bitmap and packed column
    /// is built straight from the candles (no column is collected first), and dropped volumes
    /// are never looked at.
    fn build(candles: &[Candle], volumes: Volumes) -> Series {
        let n = candles.len();
        let open = |i: usize| candles[i].open.to_bits();
        let close = |i: usize| candles[i].close.to_bits();
        let high = |i: usize| candles[i].high.to_bits();
        let low = |i: usize| candles[i].low.to_bits();
        let vol = |i: usize| candles[i].volume.to_bits();
        let top = |i: usize| body(open(i), close(i)).0;
        let bottom = |i: usize| body(open(i), close(i)).1;
        let ts = match candles {
            [a, b, ..]
                if candles
                    .windows(2)
                    .all(|w| w[1].ts.wrapping_sub(w[0].ts) == b.ts.wrapping_sub(a.ts)) =>
            {
                Times::Even {
                    first: a.ts,
                    step: b.ts.wrapping_sub(a.ts),
                }
            }
            [a] => Times::Even {
                first: a.ts,
                step: 0,
            },
            [] => Times::Even { first: 0, step: 0 },
            _ => Times::Packed(Packed::of(|| candles.iter().map(|c| c.ts as u64))),
        };
        let open_exc = Bits::of(n, |i| i > 0 && open(i) != close(i - 1));
        let high_exc = Bits::of(n, |i| high(i) != top(i));
        let low_exc = Bits::of(n, |i| low(i) != bottom(i));
        let (vol_exc, volume) = match volumes {
            Volumes::Keep => {
                let exc = Bits::of(n, |i| vol(i) != 0);
                let packed = Packed::of(|| exc.ones(n).map(vol));
                (exc, packed)
            }
            Volumes::Drop => (Bits::of(0, |_| false), Packed::default()),
        };
        Series {
            len: n,
            ts,
            close: Packed::of(|| (0..n).map(close)),
            open0: if n > 0 { open(0) } else { 0 },
            open: Packed::of(|| open_exc.ones(n).map(open)),
            high: Packed::of(|| high_exc.ones(n).map(|i| high(i).wrapping_sub(top(i)))),
            low: Packed::of(|| low_exc.ones(n).map(|i| bottom(i).wrapping_sub(low(i)))),
            volume,
            open_exc,
            high_exc,
            low_exc,
            vol_exc,
            volume_held: volumes == Volumes::Keep,
        }
    }

    /// [`Series::new`], letting the volumes go at once with [`Volumes::Drop`].
    pub fn with(candles: &[Candle], volumes: Volumes) -> Series {
        Series::build(candles, volumes)
    }

    /// Lets the volumes go, for a series that only prices will be read from (every exit is
    /// decided on prices; only an indicator rule on volume reads it). Volumes read NaN after.
    pub fn drop_volume(&mut self) {
        self.vol_exc = Bits::of(0, |_| false);
        self.volume = Packed::default();
        self.volume_held = false;
    }

    /// Whether the volumes are held (see [`Series::drop_volume`]).
    pub fn holds_volume(&self) -> bool {
        self.volume_held
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The candles `range` as a window the engine reads.
    pub fn window(&self, range: std::ops::Range<usize>) -> Window<'_> {
        assert!(
            range.start <= range.end && range.end <= self.len,
            "window out of range"
        );
        Window {
            series: self,
            start: range.start,
            len: range.end - range.start,
        }
    }

    /// Every candle as one window.
    pub fn whole(&self) -> Window<'_> {
        self.window(0..self.len)
    }

    /// Every candle, decoded.
    pub fn to_vec(&self) -> Vec<Candle> {
        let mut out = Vec::with_capacity(self.len);
        self.decode(0..self.len, &mut out);
        out
    }

    /// Appends the candles `range` to `out`, decoded in order (see [`Series::for_each`]).
    pub fn decode(&self, range: std::ops::Range<usize>, out: &mut Vec<Candle>) {
        out.reserve(range.len());
        self.for_each(range, true, |c| out.push(c));
    }

    /// Calls `f` with each candle of `range` in order: the exceptions are taken one after
    /// another instead of through the rank directory. Without `volume` every volume reads 0.
    #[inline]
    pub fn for_each(&self, range: std::ops::Range<usize>, volume: bool, mut f: impl FnMut(Candle)) {
        if range.is_empty() {
            return;
        }
        let mut k_open = self.open_exc.rank(range.start);
        let mut k_high = self.high_exc.rank(range.start);
        let mut k_low = self.low_exc.rank(range.start);
        let mut k_vol = self.vol_exc.rank(range.start);
        let mut prev_close = match range.start {
            0 => self.open0,
            s => self.close.get(s - 1),
        };
        // The bitmaps are read a word (64 candles) at a time.
        let (mut w_open, mut w_high, mut w_low, mut w_vol) = (0, 0, 0, 0);
        for i in range.clone() {
            let bit = i % 64;
            if bit == 0 || i == range.start {
                let w = i / 64;
                (w_open, w_high, w_low, w_vol) = (
                    self.open_exc.word(w),
                    self.high_exc.word(w),
                    self.low_exc.word(w),
                    self.vol_exc.word(w),
                );
            }
            let close = self.close.get(i);
            let open = if i == 0 {
                self.open0
            } else if w_open >> bit & 1 == 1 {
                k_open += 1;
                self.open.get(k_open - 1)
            } else {
                prev_close
            };
            let (top, bottom) = body(open, close);
            let high = if w_high >> bit & 1 == 1 {
                k_high += 1;
                top.wrapping_add(self.high.get(k_high - 1))
            } else {
                top
            };
            let low = if w_low >> bit & 1 == 1 {
                k_low += 1;
                bottom.wrapping_sub(self.low.get(k_low - 1))
            } else {
                bottom
            };
            let volume = if !volume {
                0
            } else if !self.volume_held {
                f64::NAN.to_bits()
            } else if w_vol >> bit & 1 == 1 {
                k_vol += 1;
                self.volume.get(k_vol - 1)
            } else {
                0
            };
            f(Candle {
                ts: self.ts_at(i),
                open: f64::from_bits(open),
                high: f64::from_bits(high),
                low: f64::from_bits(low),
                close: f64::from_bits(close),
                volume: f64::from_bits(volume),
            });
            prev_close = close;
        }
    }

    /// Bytes held: the struct and every buffer it owns.
    pub fn bytes(&self) -> usize {
        let ts = match &self.ts {
            Times::Even { .. } => 0,
            Times::Packed(p) => p.heap_bytes(),
        };
        std::mem::size_of::<Series>()
            + ts
            + [&self.close, &self.open, &self.high, &self.low, &self.volume]
                .iter()
                .map(|p| p.heap_bytes())
                .sum::<usize>()
            + [&self.open_exc, &self.high_exc, &self.low_exc, &self.vol_exc]
                .iter()
                .map(|b| b.heap_bytes())
                .sum::<usize>()
    }

    #[inline]
    fn ts_at(&self, i: usize) -> i64 {
        match &self.ts {
            Times::Even { first, step } => first.wrapping_add(step.wrapping_mul(i as i64)),
            Times::Packed(p) => p.get(i) as i64,
        }
    }

    #[inline]
    fn open_bits(&self, i: usize) -> u64 {
        if i == 0 {
            self.open0
        } else if self.open_exc.get(i) {
            self.open.get(self.open_exc.rank(i))
        } else {
            self.close.get(i - 1)
        }
    }

    #[inline]
    fn high_bits(&self, i: usize, top: u64) -> u64 {
        if self.high_exc.get(i) {
            top.wrapping_add(self.high.get(self.high_exc.rank(i)))
        } else {
            top
        }
    }

    #[inline]
    fn low_bits(&self, i: usize, bottom: u64) -> u64 {
        if self.low_exc.get(i) {
            bottom.wrapping_sub(self.low.get(self.low_exc.rank(i)))
        } else {
            bottom
        }
    }

    #[inline]
    fn body_at(&self, i: usize) -> (u64, u64) {
        body(self.open_bits(i), self.close.get(i))
    }

    #[inline]
    fn prices(&self, i: usize) -> Prices {
        let (open, close) = (self.open_bits(i), self.close.get(i));
        let (top, bottom) = body(open, close);
        Prices {
            ts: self.ts_at(i),
            open: f64::from_bits(open),
            high: f64::from_bits(self.high_bits(i, top)),
            low: f64::from_bits(self.low_bits(i, bottom)),
            close: f64::from_bits(close),
        }
    }

    #[inline]
    fn bar(&self, i: usize) -> Candle {
        let (open, close) = (self.open_bits(i), self.close.get(i));
        let (top, bottom) = body(open, close);
        let volume = if !self.volume_held {
            f64::NAN.to_bits()
        } else if self.vol_exc.get(i) {
            self.volume.get(self.vol_exc.rank(i))
        } else {
            0
        };
        Candle {
            ts: self.ts_at(i),
            open: f64::from_bits(open),
            high: f64::from_bits(self.high_bits(i, top)),
            low: f64::from_bits(self.low_bits(i, bottom)),
            close: f64::from_bits(close),
            volume: f64::from_bits(volume),
        }
    }
}

/// Candles `start..start + len` of a [`Series`]; position 0 is the series' `start`.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    series: &'a Series,
    start: usize,
    len: usize,
}

impl<'a> Window<'a> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The window's candles, decoded.
    pub fn to_vec(&self) -> Vec<Candle> {
        let mut out = Vec::with_capacity(self.len);
        self.series
            .decode(self.start..self.start + self.len, &mut out);
        out
    }

    /// The series this window reads.
    pub fn series(&self) -> &'a Series {
        self.series
    }

    /// Calls `f(position, candle)` for every candle in order, volumes read as 0 (a cheaper
    /// pass for what needs prices only).
    #[inline]
    pub fn for_each_prices(&self, mut f: impl FnMut(usize, Candle)) {
        let mut i = 0;
        self.series
            .for_each(self.start..self.start + self.len, false, |c| {
                f(i, c);
                i += 1;
            });
    }
}

impl Bars for Window<'_> {
    fn len(&self) -> usize {
        self.len
    }
    #[inline]
    fn bar(&self, i: usize) -> Candle {
        debug_assert!(i < self.len);
        self.series.bar(self.start + i)
    }
    #[inline]
    fn prices(&self, i: usize) -> Prices {
        debug_assert!(i < self.len);
        self.series.prices(self.start + i)
    }
    #[inline]
    fn ts(&self, i: usize) -> i64 {
        debug_assert!(i < self.len);
        self.series.ts_at(self.start + i)
    }
    #[inline]
    fn low(&self, i: usize) -> f64 {
        debug_assert!(i < self.len);
        let j = self.start + i;
        f64::from_bits(self.series.low_bits(j, self.series.body_at(j).1))
    }
    #[inline]
    fn high(&self, i: usize) -> f64 {
        debug_assert!(i < self.len);
        let j = self.start + i;
        f64::from_bits(self.series.high_bits(j, self.series.body_at(j).0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::splitmix::SplitMix64 as Rng;

    fn same(a: &Candle, b: &Candle) -> bool {
        a.ts == b.ts
            && [a.open, a.high, a.low, a.close, a.volume]
                .iter()
                .zip([b.open, b.high, b.low, b.close, b.volume])
                .all(|(x, y)| x.to_bits() == y.to_bits())
    }

    fn round_trips(candles: &[Candle]) -> Series {
        let s = Series::new(candles);
        assert_eq!(s.len(), candles.len());
        for (i, c) in candles.iter().enumerate() {
            let w = s.window(0..candles.len());
            let got = w.bar(i);
            assert!(same(&got, c), "candle {i}: {got:?} != {c:?}");
            assert_eq!(w.ts(i), c.ts);
            let (p, q) = (w.prices(i), candles[..].prices(i));
            assert_eq!(
                (p.ts, [p.open, p.high, p.low, p.close].map(f64::to_bits)),
                (q.ts, [q.open, q.high, q.low, q.close].map(f64::to_bits))
            );
            assert_eq!(w.low(i).to_bits(), c.low.to_bits());
            assert_eq!(w.high(i).to_bits(), c.high.to_bits());
        }
        // A window reads the same candles from any start, by position and decoded in order.
        for start in [0, 1, 2, candles.len() / 2] {
            if start < candles.len() {
                let w = s.window(start..candles.len() - 1);
                let all = w.to_vec();
                assert_eq!(all.len(), w.len());
                for i in 0..w.len() {
                    assert!(same(&w.bar(i), &candles[i + start]));
                    assert!(same(&all[i], &candles[i + start]));
                }
            }
        }
        s
    }

    /// A realistic path: open at the previous close, wicks or none, flat untraded stretches.
    fn market(rng: &mut Rng, n: usize) -> Vec<Candle> {
        let mut price = 1e-5 + rng.unit() * 1e-3;
        (0..n)
            .map(|i| {
                let open = price;
                let flat = rng.unit() < 0.2;
                let close = if flat {
                    open
                } else {
                    open * (0.95 + rng.unit() * 0.1)
                };
                let top = if open > close { open } else { close };
                let bottom = if open < close { open } else { close };
                let high = if flat || rng.unit() < 0.4 {
                    top
                } else {
                    top * (1.0 + rng.unit() * 0.05)
                };
                let low = if flat || rng.unit() < 0.4 {
                    bottom
                } else {
                    bottom * (1.0 - rng.unit() * 0.05)
                };
                price = close;
                Candle {
                    ts: 1_700_000_000 + 60 * i as i64,
                    open,
                    high,
                    low,
                    close,
                    volume: if flat { 0.0 } else { rng.unit() * 1e9 },
                }
            })
            .collect()
    }

    /// The series as it was first built, column by column (every column collected, then
    /// packed; volumes dropped after): the one-pass builder must give the same series, field
    /// for field.
    fn series_by_columns(candles: &[Candle], volumes: Volumes) -> Series {
        let n = candles.len();
        let bits = |f: fn(&Candle) -> f64| -> Vec<u64> {
            candles.iter().map(|c| f(c).to_bits()).collect()
        };
        let (open, close) = (bits(|c| c.open), bits(|c| c.close));
        let (high, low, vol) = (bits(|c| c.high), bits(|c| c.low), bits(|c| c.volume));
        let ts = match candles {
            [a, b, ..]
                if candles
                    .windows(2)
                    .all(|w| w[1].ts.wrapping_sub(w[0].ts) == b.ts.wrapping_sub(a.ts)) =>
            {
                Times::Even {
                    first: a.ts,
                    step: b.ts.wrapping_sub(a.ts),
                }
            }
            [a] => Times::Even {
                first: a.ts,
                step: 0,
            },
            [] => Times::Even { first: 0, step: 0 },
            _ => Times::Packed(Packed::new(
                &candles.iter().map(|c| c.ts as u64).collect::<Vec<_>>(),
            )),
        };
        let open_exc: Vec<bool> = (0..n).map(|i| i > 0 && open[i] != close[i - 1]).collect();
        let tops: Vec<(u64, u64)> = (0..n).map(|i| body(open[i], close[i])).collect();
        let high_exc: Vec<bool> = (0..n).map(|i| high[i] != tops[i].0).collect();
        let low_exc: Vec<bool> = (0..n).map(|i| low[i] != tops[i].1).collect();
        let vol_exc: Vec<bool> = vol.iter().map(|&v| v != 0).collect();
        let pick = |exc: &[bool], value: &dyn Fn(usize) -> u64| -> Packed {
            let v: Vec<u64> = (0..n).filter(|&i| exc[i]).map(value).collect();
            Packed::new(&v)
        };
        let mut s = Series {
            len: n,
            ts,
            close: Packed::new(&close),
            open0: open.first().copied().unwrap_or(0),
            open: pick(&open_exc, &|i| open[i]),
            high: pick(&high_exc, &|i| high[i].wrapping_sub(tops[i].0)),
            low: pick(&low_exc, &|i| tops[i].1.wrapping_sub(low[i])),
            volume: pick(&vol_exc, &|i| vol[i]),
            open_exc: Bits::new(&open_exc),
            high_exc: Bits::new(&high_exc),
            low_exc: Bits::new(&low_exc),
            vol_exc: Bits::new(&vol_exc),
            volume_held: true,
        };
        if volumes == Volumes::Drop {
            s.vol_exc = Bits::new(&[]);
            s.volume = Packed::default();
            s.volume_held = false;
        }
        s
    }

    #[test]
    fn the_one_pass_builder_gives_the_column_by_column_series() {
        let mut rng = Rng::new(23);
        let mut cases: Vec<Vec<Candle>> = vec![Vec::new(), market(&mut rng, 1)];
        for n in [2, 63, 64, 65, 200, 2880] {
            cases.push(market(&mut rng, n));
        }
        // Every candle an exception, none, uneven times, odd bit patterns.
        let mut wild = market(&mut rng, 300);
        for (i, c) in wild.iter_mut().enumerate() {
            c.open = f64::from_bits(rng.next_u64());
            c.ts += (i * i) as i64;
            if i % 3 == 0 {
                c.volume = -0.0;
            }
        }
        cases.push(wild);
        let flat: Vec<Candle> = (0..130)
            .map(|i| Candle {
                ts: 60 * i,
                open: 2.0,
                high: 2.0,
                low: 2.0,
                close: 2.0,
                volume: 0.0,
            })
            .collect();
        cases.push(flat);
        for (k, candles) in cases.iter().enumerate() {
            for volumes in [Volumes::Keep, Volumes::Drop] {
                let got = Series::with(candles, volumes);
                assert_eq!(
                    got,
                    series_by_columns(candles, volumes),
                    "case {k}, {volumes:?}"
                );
                assert_eq!(got.bytes(), series_by_columns(candles, volumes).bytes());
            }
            let mut dropped = Series::new(candles);
            dropped.drop_volume();
            assert_eq!(dropped, Series::with(candles, Volumes::Drop), "case {k}");
        }
    }

    #[test]
    fn market_data_round_trips_in_under_half_the_bytes() {
        let mut rng = Rng::new(7);
        let candles = market(&mut rng, 2880);
        let s = round_trips(&candles);
        let per = s.bytes() as f64 / candles.len() as f64;
        assert!(per < 24.0, "{per} bytes per candle");
    }

    #[test]
    fn dropping_volumes_keeps_every_price_and_reads_volumes_as_nan() {
        let mut rng = Rng::new(5);
        let candles = market(&mut rng, 1000);
        let mut s = round_trips(&candles);
        let before = s.bytes();
        assert!(s.holds_volume());
        s.drop_volume();
        assert!(!s.holds_volume());
        assert!(s.bytes() < before, "{} bytes, {before} before", s.bytes());
        let w = s.whole();
        let decoded = w.to_vec();
        for (i, c) in candles.iter().enumerate() {
            let got = [w.bar(i), decoded[i]];
            for g in got {
                assert_eq!(
                    (g.ts, [g.open, g.high, g.low, g.close].map(f64::to_bits)),
                    (c.ts, [c.open, c.high, c.low, c.close].map(f64::to_bits)),
                    "candle {i}"
                );
                assert!(g.volume.is_nan(), "candle {i}: volume {}", g.volume);
            }
            assert_eq!(w.low(i).to_bits(), c.low.to_bits());
            assert_eq!(w.high(i).to_bits(), c.high.to_bits());
        }
    }

    #[test]
    fn any_bit_patterns_round_trip() {
        let mut rng = Rng::new(11);
        let specials = [
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            -1.0,
            f64::MAX,
        ];
        for case in 0..300 {
            let n = (rng.next_u64() % 200) as usize;
            let mut candles = market(&mut rng, n);
            for c in &mut candles {
                for f in [
                    &mut c.open,
                    &mut c.high,
                    &mut c.low,
                    &mut c.close,
                    &mut c.volume,
                ] {
                    match rng.next_u64() % 8 {
                        0 => *f = specials[(rng.next_u64() % 8) as usize],
                        1 => *f = f64::from_bits(rng.next_u64()),
                        _ => {}
                    }
                }
                if case % 3 == 0 {
                    c.ts = rng.next_u64() as i64;
                }
            }
            round_trips(&candles);
        }
        round_trips(&[]);
    }

    #[test]
    fn uneven_times_round_trip() {
        let mut rng = Rng::new(3);
        let mut candles = market(&mut rng, 500);
        candles.remove(100);
        candles.remove(300);
        round_trips(&candles);
        assert!(matches!(Series::new(&candles).ts, Times::Packed(_)));
        assert!(matches!(Series::new(&candles[..90]).ts, Times::Even { .. }));
    }

    #[test]
    fn packed_widths_cover_every_bit_count() {
        for width in 0..=64u32 {
            let max = if width == 64 {
                u64::MAX
            } else {
                (1u64 << width).wrapping_sub(1)
            };
            let values: Vec<u64> = (0..70u64).map(|i| max / 70 * i).chain([max, 0]).collect();
            let p = Packed::new(&values);
            assert!(p.width <= width);
            for (i, &v) in values.iter().enumerate() {
                assert_eq!(p.get(i), v, "width {width}, value {i}");
            }
        }
    }
}
