//! The Quantbot Lab engine: calls and candles in; trades, wallets, metrics and rankings out.
//!
//! Pure by design (see ARCHITECTURE.md): no I/O, no clock, no randomness, and only `+ − × ÷`
//! and `sqrt` on f64 (plus `libm`'s `erfc` and `log` for §13), so the same inputs give bit-identical results natively and in
//! WebAssembly, on any number of threads.
//!
//! Where each part of SPEC.md lives:
//! - §1, §8 calls, candles and their validity: [`data`]
//! - §2.2 windows, eligibility and exclusion reasons: [`window`]; date range and caller
//!   groups: [`select`]
//! - §3.1–§3.6 entry, intrabar order, policies, costs, trade record, both algorithms:
//!   [`policy`], [`sim`], [`trade`]
//! - §3.7 indicator triggers: [`indicator`]
//! - §4 wallet: [`wallet`]; §5 metrics, constraints, objective, ranking: [`metrics`]
//! - §6 grids and optimization modes: [`grid`], [`optimize`]
//! - §7 baseline per-alert metrics: [`baseline`]
//! - §13 robustness (deflated Sharpe, PBO, walk-forward, verdict): [`robust`], fed by
//!   [`optimize`]
//! - compact, lossless candle storage the engine reads (issue 6): [`store`]

pub mod baseline;
pub mod data;
pub mod grid;
pub mod indicator;
pub mod metrics;
pub mod num;
pub mod optimize;
pub mod policy;
pub mod robust;
pub mod select;
pub mod sim;
pub mod splitmix;
pub mod store;
pub mod trade;
pub mod wallet;
pub mod window;

/// The engine's version, carried by every result.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
