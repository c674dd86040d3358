//! Indicator-trigger exits (SPEC §3.7): the rule type parsed from its text form, the series of
//! each rule over a call's window in the SPEC's exact order of operations, and the positions
//! where a rule fires.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::data::Candle;
use crate::num::fmt_num;

/// One indicator rule. Positions count from the entry candle (position 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// Fires where EMA(fast) − EMA(slow) of closes crosses down.
    EmaCross { fast: u32, slow: u32 },
    /// Fires where Wilder's RSI(n) crosses down through `level`.
    RsiBelow { n: u32, level: f64 },
    /// Fires where the Tenkan line (t) crosses down through the Kijun line (k).
    TkCross { t: u32, k: u32 },
    /// Fires where the volume z-score over `w` candles is at least `z`.
    VolSpike { w: u32, z: f64 },
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum RuleError {
    #[error("unknown indicator rule {0:?} (expected ema_cross:F:S, rsi_below:N:L, tk_cross:T:K or vol_spike:W:Z)")]
    UnknownName(String),
    #[error("indicator rule {0:?} needs exactly 2 parameters after its name")]
    Arity(String),
    #[error("indicator rule {text:?}: {what}")]
    Invalid { text: String, what: String },
}

impl Rule {
    /// Whether the rule reads volumes (the others read prices only).
    pub fn reads_volume(&self) -> bool {
        matches!(self, Rule::VolSpike { .. })
    }
}

impl FromStr for Rule {
    type Err = RuleError;

    fn from_str(text: &str) -> Result<Rule, RuleError> {
        let parts: Vec<&str> = text.trim().split(':').collect();
        let name = parts[0];
        if !matches!(name, "ema_cross" | "rsi_below" | "tk_cross" | "vol_spike") {
            return Err(RuleError::UnknownName(text.to_string()));
        }
        if parts.len() != 3 {
            return Err(RuleError::Arity(text.to_string()));
        }
        let invalid = |what: &str| RuleError::Invalid {
            text: text.to_string(),
            what: what.to_string(),
        };
        let int = |s: &str, what: &str| -> Result<u32, RuleError> {
            s.parse::<u32>().map_err(|_| invalid(what))
        };
        let real = |s: &str, what: &str| -> Result<f64, RuleError> {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| invalid(what))
        };
        let rule = match name {
            "ema_cross" => {
                let fast = int(parts[1], "F must be a whole number")?;
                let slow = int(parts[2], "S must be a whole number")?;
                if fast < 1 || fast >= slow {
                    return Err(invalid("needs 1 ≤ F < S"));
                }
                Rule::EmaCross { fast, slow }
            }
            "rsi_below" => {
                let n = int(parts[1], "N must be a whole number")?;
                let level = real(parts[2], "L must be a number")?;
                if n < 1 {
                    return Err(invalid("needs N ≥ 1"));
                }
                if !(level > 0.0 && level < 100.0) {
                    return Err(invalid("needs 0 < L < 100"));
                }
                Rule::RsiBelow { n, level }
            }
            "tk_cross" => {
                let t = int(parts[1], "T must be a whole number")?;
                let k = int(parts[2], "K must be a whole number")?;
                if t < 1 || t >= k {
                    return Err(invalid("needs 1 ≤ T < K"));
                }
                Rule::TkCross { t, k }
            }
            _ => {
                let w = int(parts[1], "W must be a whole number")?;
                let z = real(parts[2], "Z must be a number")?;
                if w < 2 {
                    return Err(invalid("needs W ≥ 2"));
                }
                if z <= 0.0 {
                    return Err(invalid("needs Z > 0"));
                }
                Rule::VolSpike { w, z }
            }
        };
        Ok(rule)
    }
}

impl fmt::Display for Rule {
    /// The canonical text, numbers in shortest round-trip form: `ema_cross:9:21`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Rule::EmaCross { fast, slow } => write!(f, "ema_cross:{fast}:{slow}"),
            Rule::RsiBelow { n, level } => write!(f, "rsi_below:{n}:{}", fmt_num(level)),
            Rule::TkCross { t, k } => write!(f, "tk_cross:{t}:{k}"),
            Rule::VolSpike { w, z } => write!(f, "vol_spike:{w}:{}", fmt_num(z)),
        }
    }
}

/// A rule's series over one window: named lines (`None` where undefined), the signal and the
/// firing positions. (Not to be confused with [`crate::store::Series`], a token's candles.)
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSeries {
    pub lines: Vec<(String, Vec<Option<f64>>)>,
    /// The difference (or z-score) whose crossing fires the rule.
    pub signal: Vec<Option<f64>>,
    pub fires: Vec<u32>,
}

/// EMA(n) of closes: defined from position n − 1, seeded with the mean of the first n closes.
pub fn ema(candles: &[Candle], n: u32) -> Vec<Option<f64>> {
    let n = n as usize;
    let mut out = vec![None; candles.len()];
    if n == 0 || candles.len() < n {
        return out;
    }
    let k = 2.0 / (n as f64 + 1.0);
    let mut sum = 0.0;
    for c in &candles[..n] {
        sum += c.close;
    }
    let mut e = sum / n as f64;
    out[n - 1] = Some(e);
    for j in n..candles.len() {
        e = e + k * (candles[j].close - e);
        out[j] = Some(e);
    }
    out
}

/// Wilder's RSI(n) of close changes, defined from position n.
pub fn rsi(candles: &[Candle], n: u32) -> Vec<Option<f64>> {
    let n = n as usize;
    let mut out = vec![None; candles.len()];
    if n == 0 || candles.len() <= n {
        return out;
    }
    let ch = |j: usize| candles[j].close - candles[j - 1].close;
    let value = |gain: f64, loss: f64| {
        if loss == 0.0 {
            100.0
        } else {
            100.0 - 100.0 / (1.0 + gain / loss)
        }
    };
    let (mut gain_sum, mut loss_sum) = (0.0, 0.0);
    for j in 1..=n {
        gain_sum += ch(j).max(0.0);
        loss_sum += (-ch(j)).max(0.0);
    }
    let nf = n as f64;
    let (mut gain, mut loss) = (gain_sum / nf, loss_sum / nf);
    out[n] = Some(value(gain, loss));
    for j in n + 1..candles.len() {
        gain = (gain * (nf - 1.0) + ch(j).max(0.0)) / nf;
        loss = (loss * (nf - 1.0) + (-ch(j)).max(0.0)) / nf;
        out[j] = Some(value(gain, loss));
    }
    out
}

/// Ichimoku line(n): (max high + min low) / 2 over the last n positions, from position n − 1.
pub fn midline(candles: &[Candle], n: u32) -> Vec<Option<f64>> {
    let n = n as usize;
    (0..candles.len())
        .map(|j| {
            if n == 0 || j + 1 < n {
                return None;
            }
            let span = &candles[j + 1 - n..=j];
            let hi = span
                .iter()
                .map(|c| c.high)
                .fold(f64::NEG_INFINITY, f64::max);
            let lo = span.iter().map(|c| c.low).fold(f64::INFINITY, f64::min);
            Some((hi + lo) / 2.0)
        })
        .collect()
}

/// Volume z-score over the last w positions (population deviation), from position w − 1.
pub fn volume_z(candles: &[Candle], w: u32) -> Vec<Option<f64>> {
    let w = w as usize;
    (0..candles.len())
        .map(|j| {
            if w == 0 || j + 1 < w {
                return None;
            }
            let span = &candles[j + 1 - w..=j];
            let mut sum = 0.0;
            for c in span {
                sum += c.volume;
            }
            let mean = sum / w as f64;
            let mut sq = 0.0;
            for c in span {
                let d = c.volume - mean;
                sq += d * d;
            }
            let std = (sq / w as f64).sqrt();
            Some(if std == 0.0 {
                0.0
            } else {
                (candles[j].volume - mean) / std
            })
        })
        .collect()
}

fn difference(a: &[Option<f64>], b: &[Option<f64>]) -> Vec<Option<f64>> {
    a.iter().zip(b).map(|(x, y)| Some((*x)? - (*y)?)).collect()
}

/// Positions `j ≥ 1` where `d` is defined at `j − 1` and `j`, `d[j−1] > 0` and `d[j] ≤ 0`.
fn crosses_down(d: &[Option<f64>]) -> Vec<u32> {
    (1..d.len())
        .filter(|&j| matches!((d[j - 1], d[j]), (Some(p), Some(c)) if p > 0.0 && c <= 0.0))
        .map(|j| j as u32)
        .collect()
}

impl Rule {
    /// The rule's series over a window that starts at the entry candle.
    pub fn series(&self, window: &[Candle]) -> RuleSeries {
        match *self {
            Rule::EmaCross { fast, slow } => {
                let f = ema(window, fast);
                let s = ema(window, slow);
                let d = difference(&f, &s);
                RuleSeries {
                    fires: crosses_down(&d),
                    lines: vec![(format!("ema{fast}"), f), (format!("ema{slow}"), s)],
                    signal: d,
                }
            }
            Rule::RsiBelow { n, level } => {
                let r = rsi(window, n);
                let d: Vec<Option<f64>> = r.iter().map(|v| v.map(|v| v - level)).collect();
                RuleSeries {
                    fires: crosses_down(&d),
                    lines: vec![(format!("rsi{n}"), r)],
                    signal: d,
                }
            }
            Rule::TkCross { t, k } => {
                let tl = midline(window, t);
                let kl = midline(window, k);
                let d = difference(&tl, &kl);
                RuleSeries {
                    fires: crosses_down(&d),
                    lines: vec![(format!("tenkan{t}"), tl), (format!("kijun{k}"), kl)],
                    signal: d,
                }
            }
            Rule::VolSpike { w, z } => {
                let zs = volume_z(window, w);
                let fires = zs
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| matches!(v, Some(v) if *v >= z))
                    .map(|(j, _)| j as u32)
                    .collect();
                RuleSeries {
                    lines: vec![(format!("volume_z{w}"), zs.clone())],
                    signal: zs,
                    fires,
                }
            }
        }
    }

    /// The positions where the rule fires on this window, ascending.
    pub fn fire_positions(&self, window: &[Candle]) -> Vec<u32> {
        self.series(window).fires
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print_round_trip() {
        for text in [
            "ema_cross:9:21",
            "rsi_below:14:70",
            "tk_cross:9:26",
            "vol_spike:30:4",
            "rsi_below:14:32.5",
            "vol_spike:2:0.5",
        ] {
            assert_eq!(text.parse::<Rule>().unwrap().to_string(), text);
        }
        assert_eq!(
            "rsi_below:14:70.0".parse::<Rule>().unwrap().to_string(),
            "rsi_below:14:70"
        );
    }

    #[test]
    fn malformed_rules_are_named() {
        let bad = [
            ("macd:1:2", "unknown indicator rule"),
            ("ema_cross:9", "exactly 2 parameters"),
            ("ema_cross:21:9", "1 ≤ F < S"),
            ("ema_cross:0:9", "1 ≤ F < S"),
            ("rsi_below:14:100", "0 < L < 100"),
            ("rsi_below:0:50", "N ≥ 1"),
            ("tk_cross:26:9", "1 ≤ T < K"),
            ("vol_spike:1:3", "W ≥ 2"),
            ("vol_spike:20:0", "Z > 0"),
            ("vol_spike:20:-1", "Z > 0"),
            ("ema_cross:a:9", "whole number"),
        ];
        for (text, want) in bad {
            let err = text.parse::<Rule>().unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
            assert!(err.contains(text.split(':').next().unwrap()), "{err}");
        }
    }
}
