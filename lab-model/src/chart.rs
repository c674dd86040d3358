//! Charts the page draws as SVG, as plain geometry: an equity curve with time and value axes and
//! its drawdown shaded (the area between the running peak and the equity), and a histogram with
//! a linear or logarithmic value axis. The page only writes these numbers into SVG elements.

use crate::detail::utc_minute;

/// Where the plot sits inside the SVG: margins for the axis labels.
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 28.0;

/// A tick on an axis: its position in SVG units and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub at: f64,
    pub label: String,
}

/// An equity curve ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct EquityChart {
    pub width: f64,
    pub height: f64,
    /// The plot area: `(x, y, w, h)`.
    pub plot: (f64, f64, f64, f64),
    /// The curve as a step line (the equity holds until the next close), SVG `points`.
    pub line: String,
    /// The drawdown: a polygon from the running peak down to the equity, SVG `points`
    /// (empty when the curve never falls).
    pub drawdown: String,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    /// The deepest drawdown as a fraction of its peak, and where it bottoms `(x, y)`.
    pub max_drawdown: Option<(f64, f64, f64)>,
}

/// Round tick steps: 1, 2 or 5 × a power of ten, about `n` of them over `span`.
fn nice_step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(f64::MIN_POSITIVE);
    let p = libm::pow(10.0, libm::log10(raw).floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

/// Value labels: thousands separated, no decimals above 100.
pub fn money(v: f64) -> String {
    if v.abs() >= 100.0 {
        let s = format!("{:.0}", v.abs());
        let mut out = String::new();
        for (k, ch) in s.chars().enumerate() {
            if k > 0 && (s.len() - k) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        if v < 0.0 {
            format!("-{out}")
        } else {
            out
        }
    } else {
        format!("{}", (v * 100.0).round() / 100.0)
    }
}

/// The equity chart of a wallet that starts with `initial` at `start_ms` and has `curve`
/// (`(exit_ts_ms, equity)` after each close). `None` without a close.
pub fn equity_chart(
    curve: &[(i64, f64)],
    initial: f64,
    start_ms: i64,
    width: f64,
    height: f64,
) -> Option<EquityChart> {
    let last = curve.last()?;
    let t0 = start_ms.min(curve[0].0);
    let t1 = last.0.max(t0 + 1);
    let (mut lo, mut hi) = (initial, initial);
    for &(_, e) in curve {
        lo = lo.min(e);
        hi = hi.max(e);
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    let pad = (hi - lo) * 0.05;
    let (lo, hi) = (lo - pad, hi + pad);
    let (px, py, pw, ph) = (LEFT, TOP, width - LEFT - RIGHT, height - TOP - BOTTOM);
    let x = |t: i64| px + (t - t0) as f64 / (t1 - t0) as f64 * pw;
    let y = |v: f64| py + (hi - v) / (hi - lo) * ph;
    let pt = |a: f64, b: f64| format!("{a:.1},{b:.1}");
    // The step line and the running peak at each of its vertices.
    let mut vertices = vec![(x(t0), initial)];
    let mut prev = initial;
    for &(t, e) in curve {
        vertices.push((x(t), prev));
        vertices.push((x(t), e));
        prev = e;
    }
    let line: Vec<String> = vertices.iter().map(|&(a, v)| pt(a, y(v))).collect();
    let mut peak = f64::MIN;
    let peaks: Vec<f64> = vertices
        .iter()
        .map(|&(_, v)| {
            peak = peak.max(v);
            peak
        })
        .collect();
    let falls = vertices.iter().zip(&peaks).any(|(&(_, v), &p)| v < p);
    let drawdown = if falls {
        let mut poly: Vec<String> = vertices
            .iter()
            .zip(&peaks)
            .map(|(&(a, _), &p)| pt(a, y(p)))
            .collect();
        poly.extend(vertices.iter().rev().map(|&(a, v)| pt(a, y(v))));
        poly.join(" ")
    } else {
        String::new()
    };
    let max_drawdown = vertices
        .iter()
        .zip(&peaks)
        .filter(|(&(_, v), &p)| v < p && p > 0.0)
        .map(|(&(a, v), &p)| ((p - v) / p, a, y(v)))
        // The first vertex at the deepest point (the step line holds it until the next close).
        .fold(None, |best: Option<(f64, f64, f64)>, d| match best {
            Some(b) if b.0 >= d.0 => Some(b),
            _ => Some(d),
        });
    let step = nice_step(hi - lo, 4.0);
    let mut y_ticks = Vec::new();
    let mut v = (lo / step).ceil() * step;
    while v <= hi {
        y_ticks.push(Tick {
            at: y(v),
            label: money(v),
        });
        v += step;
    }
    let x_ticks = (0..=4)
        .map(|k| {
            let t = t0 + (t1 - t0) * k / 4;
            Tick {
                at: x(t),
                label: utc_minute(t)[..10].to_string(),
            }
        })
        .collect();
    Some(EquityChart {
        width,
        height,
        plot: (px, py, pw, ph),
        line: line.join(" "),
        drawdown,
        x_ticks,
        y_ticks,
        max_drawdown,
    })
}

/// One bar of a histogram: `[lo, hi)` and how many values fall in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    pub lo: f64,
    pub hi: f64,
    pub count: usize,
}

/// A histogram of values, on a log₁₀ axis when `log` (values ≤ 0 are left out and counted).
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub bins: Vec<Bin>,
    pub log: bool,
    /// Values left out: not finite, or ≤ 0 on a log axis.
    pub left_out: usize,
}

/// `n` equal bins over the values' range (equal in log₁₀ on a log axis).
pub fn histogram(values: &[f64], n: usize, log: bool) -> Histogram {
    let n = n.max(1);
    let f = |v: f64| if log { libm::log10(v) } else { v };
    let kept: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && (!log || *v > 0.0))
        .collect();
    let left_out = values.len() - kept.len();
    if kept.is_empty() {
        return Histogram {
            bins: Vec::new(),
            log,
            left_out,
        };
    }
    let lo = kept.iter().map(|&v| f(v)).fold(f64::INFINITY, f64::min);
    let hi = kept.iter().map(|&v| f(v)).fold(f64::NEG_INFINITY, f64::max);
    let width = if hi > lo { (hi - lo) / n as f64 } else { 1.0 };
    let g = |u: f64| if log { libm::pow(10.0, u) } else { u };
    let mut bins: Vec<Bin> = (0..n)
        .map(|k| Bin {
            lo: g(lo + width * k as f64),
            hi: g(lo + width * (k + 1) as f64),
            count: 0,
        })
        .collect();
    for v in kept {
        let k = (((f(v) - lo) / width) as usize).min(n - 1);
        bins[k].count += 1;
    }
    Histogram {
        bins,
        log,
        left_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_equity_chart_has_axes_a_step_line_and_the_drawdown() {
        let day = 86_400_000;
        let curve = [(day, 1100.0), (2 * day, 900.0), (4 * day, 1200.0)];
        let c = equity_chart(&curve, 1000.0, 0, 600.0, 200.0).unwrap();
        let (px, py, pw, ph) = c.plot;
        assert_eq!((px, py, pw, ph), (64.0, 10.0, 524.0, 162.0));
        // Start, then two vertices per close: seven points, time never going back.
        let xs: Vec<f64> = c
            .line
            .split(' ')
            .map(|p| p.split(',').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(xs.len(), 7);
        assert!(xs.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!((xs[0], xs[6]), (px, px + pw));
        // The drawdown from 1100 to 900: 18.2 % at the second close.
        let (dd, at, _) = c.max_drawdown.unwrap();
        assert!((dd - 200.0 / 1100.0).abs() < 1e-12);
        assert_eq!(at, xs[4]);
        assert!(!c.drawdown.is_empty());
        // Ticks: values inside the plot, labels as money; dates from the first to the last.
        assert!(c.y_ticks.len() >= 3);
        assert!(c.y_ticks.iter().all(|t| t.at >= py && t.at <= py + ph));
        assert!(c.y_ticks.iter().any(|t| t.label == "1,000"));
        assert_eq!(c.x_ticks.first().unwrap().label, "1970-01-01");
        assert_eq!(c.x_ticks.last().unwrap().label, "1970-01-05");
        // A curve that only rises has no drawdown.
        let up = equity_chart(&[(day, 1100.0)], 1000.0, 0, 600.0, 200.0).unwrap();
        assert_eq!((up.drawdown.as_str(), up.max_drawdown), ("", None));
        assert!(equity_chart(&[], 1000.0, 0, 600.0, 200.0).is_none());
    }

    #[test]
    fn histograms_count_every_value_once_on_either_axis() {
        let v = [1.0, 1.5, 2.0, 10.0, 100.0, 0.0, f64::NAN];
        let h = histogram(&v, 4, true);
        assert_eq!(h.left_out, 2);
        assert_eq!(h.bins.iter().map(|b| b.count).sum::<usize>(), 5);
        assert!((h.bins[0].lo - 1.0).abs() < 1e-12);
        assert!((h.bins[3].hi - 100.0).abs() < 1e-9);
        assert_eq!(h.bins[3].count, 1);
        let lin = histogram(&[0.0, 1.0, 2.0, 3.0], 3, false);
        assert_eq!(
            lin.bins.iter().map(|b| b.count).collect::<Vec<_>>(),
            [1, 1, 2]
        );
        assert_eq!(histogram(&[], 3, false).bins, []);
        assert_eq!(money(12_345.6), "12,346");
        assert_eq!(money(-1_000.0), "-1,000");
        assert_eq!(money(0.125), "0.13");
    }
}
