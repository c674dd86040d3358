//! Hand-worked checks of SPEC §13's measures (acceptance 1 of issue 17): the arithmetic is in
//! the comments; reference values of Φ and Φ⁻¹ were computed with mpmath 1.3.0 at 50 digits
//! (`erfc` and a root search), independently of AS241.

use super::cscv::{Cscv, SETS};
use super::*;

#[test]
fn blocks_cut_calls_in_time_order_with_the_remainder_first() {
    // 10 = 3 × 3 + 1: the first block takes the one extra call.
    assert_eq!(blocks(10, 3), vec![0..4, 4..7, 7..10]);
    assert_eq!(
        blocks(16, 8),
        (0..8).map(|b| 2 * b..2 * b + 2).collect::<Vec<_>>()
    );
    // 19 = 8 × 2 + 3: blocks 0, 1, 2 hold 3 calls, the other five 2.
    let lens: Vec<usize> = blocks(19, 8).iter().map(|r| r.len()).collect();
    assert_eq!(lens, vec![3, 3, 3, 2, 2, 2, 2, 2]);
    // Fewer calls than blocks: the first ones hold one call each, the rest none.
    assert_eq!(blocks(2, 4), vec![0..1, 1..2, 2..2, 2..2]);
    assert_eq!(blocks(0, 2), vec![0..0, 0..0]);
    assert_eq!(blocks(7, 1), vec![0..7]);
}

/// Φ⁻¹ at p, and the exact quantile (mpmath, 50 digits, of the f64 p itself), to 22 digits.
#[allow(clippy::excessive_precision)]
const QUANTILES: [(f64, f64); 28] = [
    (1e-300, -37.04709629936119923655),
    (1e-100, -21.27345356096532429418),
    (1e-20, -9.262340089798407579572),
    (1e-15, -7.94134532617099677133),
    (1e-10, -6.3613409024040561991),
    (1e-06, -4.753424308822898957339),
    (0.001, -3.090232306167813535358),
    (0.01, -2.326347874040841093075),
    (0.025, -1.95996398454005421178),
    (0.05, -1.644853626951472687952),
    (0.1, -1.281551565544600435335),
    (0.2, -0.8416212335729141655225),
    (0.25, -0.6744897501960817432022),
    (0.3, -0.5244005127080408159695),
    (0.4, -0.2533471031357997413247),
    (0.45, -0.1256613468550740061604),
    (0.5, 0.0),
    (0.55, 0.1256613468550741464092),
    (0.6, 0.2533471031357997413247),
    (0.75, 0.6744897501960817432022),
    (0.8, 0.8416212335729143638036),
    (0.9, 1.281551565544600593487),
    (0.95, 1.644853626951472284276),
    (0.975, 1.959963984540053855604),
    (0.99, 2.326347874040840767637),
    (0.999, 3.090232306167813277758),
    // 1 − 1e-6 and 1 − 1e-10 as f64 (not exactly 1 − 1e-6 and 1 − 1e-10).
    (0.999999, 4.753424308817087765688),
    (0.9999999999, 6.361340889697421864155),
];

#[test]
fn the_quantile_is_as241_to_the_last_digits_and_the_cdf_is_erfc() {
    let z = normal::quantile(0.975);
    assert!((z - 1.959963984540054).abs() <= 1e-15, "Φ⁻¹(0.975) = {z:e}");
    for (p, exact) in QUANTILES {
        let z = normal::quantile(p);
        // AS241 promises about 1 part in 10^16; allow 4 units in the last place.
        let tolerance = 4.0 * f64::EPSILON * exact.abs().max(f64::MIN_POSITIVE);
        assert!(
            (z - exact).abs() <= tolerance,
            "Φ⁻¹({p:e}) = {z:e}, exact {exact:e}"
        );
    }
    assert_eq!(normal::quantile(0.0), f64::NEG_INFINITY);
    assert_eq!(normal::quantile(1.0), f64::INFINITY);
    assert!(normal::quantile(1.5).is_nan() && normal::quantile(-0.1).is_nan());
    // Φ(±1.96), exact: 0.97500210485177956378… and 0.02499789514822043621…
    assert!((normal::cdf(1.96) - 0.9750021048517796).abs() <= 2e-16);
    assert!((normal::cdf(-1.96) - 0.024997895148220435).abs() <= 1e-17);
    assert_eq!(normal::cdf(0.0), 0.5);
    // Round trip through the far tail: Φ(Φ⁻¹(1e-10)) = 1e-10 to 13 digits.
    assert!((normal::cdf(normal::quantile(1e-10)) / 1e-10 - 1.0).abs() < 1e-13);
}

#[test]
fn deflated_sharpe_of_three_policies_and_six_trades() {
    // The best policy's six trades: r = −0.5, −0.5, 0.5, 0.5, 1.5, 1.5.
    //   μ = 3 / 6 = 0.5; r − μ = −1, −1, 0, 0, 1, 1
    //   m2 = 4/6 = 2/3, m3 = 0, m4 = 4/6 = 2/3 → skew = 0, kurt = (2/3) / (4/9) = 1.5
    //   its §5 sharpe: sample sd = √(4/5), SR = 0.5 / √0.8 = 0.5590169943749474…
    let returns = [-0.5, -0.5, 0.5, 0.5, 1.5, 1.5];
    let sr = 0.5 / 0.8f64.sqrt();
    // Three trials with sharpes SR − 0.5, SR + 0.5, SR (the best by the objective need not
    // have the highest sharpe): mean SR, squared deviations 0.25, 0.25, 0 → V = 0.5 / 2 = 0.25.
    let sharpes = [Some(sr - 0.5), Some(sr + 0.5), Some(sr), None];
    // sr0 = √V × ((1 − γ) z(1 − 1/3) + γ z(1 − 1/(3e)))
    //     = 0.5 × (0.42278433509846713 × 0.43072729929545749 + 0.5772156649015329 × 1.16195692891273270)
    //     = 0.42640224807534730…
    // radicand = 1 − 0 × SR + (1.5 − 1) / 4 × SR² = 1 + 0.125 × 0.3125 = 1.0390625
    // dsr = Φ((SR − sr0) × √5 / √1.0390625) = Φ(0.29090821484960254…) = 0.61443924081818921…
    let d = deflated_sharpe(sharpes, Some(sr), &returns);
    assert_eq!(d.trials, 3, "the policy without a sharpe is not a trial");
    let sr0 = d.sr0.expect("3 trials");
    assert!((sr0 - 0.4264022480753473).abs() < 1e-15, "sr0 {sr0:e}");
    let dsr = d.dsr.expect("6 trades");
    assert!((dsr - 0.6144392408181892).abs() < 1e-15, "dsr {dsr:e}");

    // Nulls: fewer than 2 trials (trials still counted), fewer than 2 trades, no sharpe, no
    // spread.
    let one = deflated_sharpe([Some(1.0), None], Some(1.0), &returns);
    assert_eq!((one.trials, one.sr0, one.dsr), (1, None, None));
    assert_eq!(deflated_sharpe([], None, &[]).trials, 0);
    assert_eq!(deflated_sharpe(sharpes, Some(sr), &[0.5]).dsr, None);
    assert_eq!(deflated_sharpe(sharpes, None, &returns).dsr, None);
    let flat = deflated_sharpe(sharpes, Some(sr), &[0.5, 0.5, 0.5]);
    assert!(flat.sr0.is_some() && flat.dsr.is_none());
    // (A radicand ≤ 0 needs kurt − 1 = skew², a two-point distribution, and SR = 2 / skew
    // exactly: kurt ≥ skew² + 1 makes it (1 − skew × SR / 2)² or more.)
}

/// PBO through [`Cscv`] for policies given as per-call returns in time order.
fn pbo_of(returns: &[Vec<f64>]) -> Option<f64> {
    let cscv = Cscv::new(returns[0].len())?;
    let perfs: Vec<SetPerf> = returns.iter().map(|x| cscv.perf(x)).collect();
    cscv.pbo(perfs.iter())
}

#[test]
fn pbo_of_sixteen_calls_and_two_policies() {
    // 16 calls → 8 blocks of 2 calls; every set holds 8 calls.
    // Policy 0 returns 0.25 on every call: its perf is 0.25 on every set.
    // Policy 1 returns 1 on the two calls of block 0, 0 elsewhere: perf 2/8 = 0.25 on the
    // sets holding block 0, else 0.
    let steady = vec![0.25; 16];
    let mut spike = vec![0.0; 16];
    spike[0] = 1.0;
    spike[1] = 1.0;
    // In-sample, policy 0 always wins (a tie at 0.25 goes to the lower index), o = 0.25.
    // - The 35 in-sample sets holding block 0: out of sample policy 1 has 0 < o, so
    //   ρ = 1 + 1 = 2, ω = 2/3 > 0.5: not overfit.
    // - The other 35: policy 1 has 0.25 = o out of sample, ρ = 1 + 0 + 1/2 = 1.5,
    //   ω = 1.5 / 3 = 0.5 ≤ 0.5: overfit.
    // pbo = 35 / 70 = 0.5.
    assert_eq!(pbo_of(&[steady.clone(), spike.clone()]), Some(0.5));
    // The spike doubled (2 on block 0: perf 0.5 on the sets holding it): in-sample policy 1
    // wins the 35 sets holding block 0 and scores 0 out of sample, below policy 0's 0.25:
    // ρ = 1, overfit; policy 0 wins the other 35 and policy 1 scores 0.5 > 0.25 out of
    // sample: ρ = 1, overfit. pbo = 70 / 70 = 1.
    spike[0] = 2.0;
    spike[1] = 2.0;
    assert_eq!(pbo_of(&[steady.clone(), spike]), Some(1.0));
    // Identical policies: every set is overfit (ρ = 1.5, ω = 0.5).
    assert_eq!(
        pbo_of(&[steady.clone(), steady.clone(), steady.clone()]),
        Some(1.0)
    );
    // A policy better on every call than the other: never overfit.
    assert_eq!(pbo_of(&[vec![0.0; 16], vec![0.5; 16]]), Some(0.0));
    // Nulls: fewer than 16 calls, fewer than 2 policies.
    assert_eq!(pbo_of(&[vec![0.0; 15], vec![1.0; 15]]), None);
    assert_eq!(pbo_of(&[steady]), None);
}

#[test]
fn set_perfs_are_one_running_sum_per_set_in_time_order() {
    // 19 calls (blocks of 3, 3, 3, 2, 2, 2, 2, 2) with returns whose sum depends on the order
    // of the additions: the perf of every set must be the literal running sum over its
    // calls in time order, then one division.
    let x: Vec<f64> = (0..19)
        .map(|i| [1e16, 1.0, -1e16, 3.0, 0.1, 0.7, -0.3][i % 7] * (1.0 + i as f64 / 7.0))
        .collect();
    let cscv = Cscv::new(19).unwrap();
    let perf = cscv.perf(&x);
    let blocks = blocks(19, 8);
    let mut k = 0;
    for a in 0..8 {
        for b in a + 1..8 {
            for c in b + 1..8 {
                for d in c + 1..8 {
                    let (mut sum, mut count) = (0.0, 0);
                    for blk in [a, b, c, d] {
                        for i in blocks[blk].clone() {
                            sum += x[i];
                            count += 1;
                        }
                    }
                    assert_eq!(perf[k].to_bits(), (sum / count as f64).to_bits(), "set {k}");
                    k += 1;
                }
            }
        }
    }
    assert_eq!(k, SETS);
}

fn metrics(total_return: f64) -> Metrics {
    Metrics {
        final_capital: 10_000.0 * (1.0 + total_return),
        total_return,
        trades: 10,
        skipped: [0; 4],
        win_rate: None,
        mean_return: None,
        median_return: None,
        profit_factor: None,
        sharpe: None,
        max_drawdown: 0.0,
        stop_out_rate: None,
        mean_hold_hours: None,
        capture: None,
        ambiguous_trades: 0,
    }
}

fn fold(j: usize, best: usize, oos_return: f64) -> Fold {
    Fold {
        fold: j,
        best,
        in_sample: metrics(0.1),
        out_of_sample: metrics(oos_return),
        out_of_sample_equity: Vec::new(),
    }
}

#[test]
fn walk_forward_compounds_the_folds_and_counts_policy_changes() {
    // (1 + 0.5) × (1 − 0.5) × (1 + 1) − 1 = 0.5; choices 3, 3, 7: one change.
    let wf = WalkForward::new(vec![fold(1, 3, 0.5), fold(2, 3, -0.5), fold(3, 7, 1.0)]);
    assert_eq!(wf.compounded_oos_return, 0.5);
    assert_eq!(wf.policy_changes, 1);
    assert!(!WalkForward::applies(100, 0));
    assert!(WalkForward::applies(10, 4) && !WalkForward::applies(9, 4));
    // Any K a user can type, on any word size: no overflow, no walk-forward.
    assert!(!WalkForward::applies(usize::MAX, usize::MAX));
    assert!(!WalkForward::applies(1000, u32::MAX as usize));
    assert!(WalkForward::applies(usize::MAX, usize::MAX / 2 - 1));
}

#[test]
fn the_verdict_follows_the_rule_in_order() {
    let strong = Deflated {
        trials: 30,
        sr0: Some(0.2),
        dsr: Some(0.95),
    };
    let weak = Deflated {
        dsr: Some(0.9499),
        ..strong
    };
    let gain = metrics(0.2);
    let verdict = |d: Deflated, pbo: Option<f64>, wf: Option<WalkForward>, best, folds| {
        Robustness::new(d, pbo, wf, best, folds).verdict
    };
    assert_eq!(
        verdict(strong, Some(0.2), None, (&gain, true), 0),
        Verdict::Edge
    );
    // overfit first, whatever the dsr.
    assert_eq!(
        verdict(strong, Some(0.5001), None, (&gain, true), 0),
        Verdict::Overfit
    );
    assert_eq!(
        verdict(strong, Some(0.5), None, (&gain, true), 0),
        Verdict::Inconclusive
    );
    assert_eq!(
        verdict(weak, Some(0.0), None, (&gain, true), 0),
        Verdict::Inconclusive
    );
    assert_eq!(
        verdict(strong, Some(0.2001), None, (&gain, true), 0),
        Verdict::Inconclusive
    );
    assert_eq!(
        verdict(strong, Some(0.1), None, (&gain, false), 0),
        Verdict::Inconclusive
    );
    let flat = metrics(0.0);
    assert_eq!(
        verdict(strong, Some(0.1), None, (&flat, true), 0),
        Verdict::Inconclusive
    );
    let no_dsr = Deflated {
        dsr: None,
        ..strong
    };
    assert_eq!(
        verdict(no_dsr, Some(0.1), None, (&gain, true), 0),
        Verdict::Inconclusive
    );
    assert_eq!(
        verdict(strong, None, None, (&gain, true), 0),
        Verdict::Inconclusive
    );
    // With folds: a null walk-forward is not edge, a losing one neither.
    assert_eq!(
        verdict(strong, Some(0.1), None, (&gain, true), 2),
        Verdict::Inconclusive
    );
    let won = WalkForward::new(vec![fold(1, 0, 0.1), fold(2, 0, 0.1)]);
    let lost = WalkForward::new(vec![fold(1, 0, 0.1), fold(2, 0, -0.2)]);
    assert_eq!(
        verdict(strong, Some(0.1), Some(won), (&gain, true), 2),
        Verdict::Edge
    );
    assert_eq!(
        verdict(strong, Some(0.1), Some(lost), (&gain, true), 2),
        Verdict::Inconclusive
    );
}
