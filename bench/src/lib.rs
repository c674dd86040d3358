//! The benchmark's deterministic workload and search options as a library, so the browser
//! benchmark (`web/tests/bench.rs`) runs exactly the work the native `quantbot-bench` binary
//! runs, and a digest of the results to show both computed the same thing.

pub mod workload;

use quantbot_core::optimize::{CallWindow, Mode, SearchOptions, SearchResult};
use quantbot_core::policy::ExecConfig;
use quantbot_core::wallet::WalletConfig;

use workload::Workload;

/// The benchmark's search options: per-caller mode, default execution (1-minute candles),
/// default wallet and costs.
pub fn options() -> SearchOptions {
    let exec = ExecConfig::defaults(60).expect("defaults");
    let mut opts = SearchOptions::new(exec, WalletConfig::default());
    opts.mode = Mode::PerCaller;
    opts
}

/// The first `n` calls of the workload with their candle windows.
pub fn windows(w: &Workload, n: usize) -> Vec<CallWindow<'_>> {
    w.calls[..n]
        .iter()
        .zip(&w.paths)
        .map(|(call, s)| CallWindow {
            call,
            candles: s.whole(),
        })
        .collect()
}

/// FNV-1a over every caller's name, best policy and every grid point's final capital and trade
/// count (exact bits): equal digests mean the same per-caller results.
pub fn digest(result: &SearchResult) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for c in &result.per_caller {
        eat(c.caller.as_bytes());
        eat(&(c.best as u64).to_le_bytes());
        for s in &c.scored {
            eat(&s.metrics.final_capital.to_bits().to_le_bytes());
            eat(&s.metrics.trades.to_le_bytes());
        }
    }
    h
}
