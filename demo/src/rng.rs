//! The demo's random numbers and arithmetic-only math: a xoshiro256** generator seeded through
//! the workspace's SplitMix64 (`quantbot_core::splitmix`, the generator of the tests and the
//! benchmark), and `exp_det`, e^x from `+ − × ÷` alone so every platform gets the same bits.

use quantbot_core::splitmix::SplitMix64;

/// xoshiro256** seeded through SplitMix64. The demo keeps its own generator on top of the
/// shared SplitMix64 (the tests and the benchmark draw from SplitMix64 directly) because its
/// draws, `below` by multiply-high included, fix every byte of the published demo data.
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        let mut seeder = SplitMix64::new(seed);
        let s = [
            seeder.next_u64(),
            seeder.next_u64(),
            seeder.next_u64(),
            seeder.next_u64(),
        ];
        Rng { s }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform integer in [0, n) (n > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform integer in [lo, hi) (hi > lo).
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo) as u64) as i64
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// An approximately standard normal draw: the sum of four uniforms, centred and scaled to
    /// unit variance (bounded tails at ±3.46, which suits per-minute noise).
    pub(crate) fn normal(&mut self) -> f64 {
        let s = self.uniform() + self.uniform() + self.uniform() + self.uniform();
        (s - 2.0) * 1.732_050_807_568_877_2
    }
}

/// e^x with only `+ − × ÷`: Cody–Waite reduction by ln 2 and a degree-13 Taylor polynomial
/// (|r| ≤ 0.35, error far below an ulp of the result's use here). Bit-identical everywhere;
/// `exp_det(0.0) == 1.0` exactly.
pub(crate) fn exp_det(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const INV_LN2: f64 = std::f64::consts::LOG2_E;
    let x = x.clamp(-700.0, 700.0);
    let t = x * INV_LN2;
    let k = if t >= 0.0 {
        (t + 0.5) as i64
    } else {
        (t - 0.5) as i64
    };
    let kf = k as f64;
    let r = (x - kf * LN2_HI) - kf * LN2_LO;
    let mut p = 1.0;
    let mut i = 13;
    while i > 0 {
        p = 1.0 + r * p / i as f64;
        i -= 1;
    }
    p * f64::from_bits(((k + 1023) as u64) << 52)
}
