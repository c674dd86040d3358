//! The outcome of one call under one policy (SPEC §3.5).

/// Why the last part of a position was sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExitReason {
    TakeProfit,
    StopLoss,
    BreakEven,
    TrailingStop,
    IndicatorExit,
    TimeExit,
    EndOfData,
}

impl ExitReason {
    pub const ALL: [ExitReason; 7] = [
        ExitReason::TakeProfit,
        ExitReason::StopLoss,
        ExitReason::BreakEven,
        ExitReason::TrailingStop,
        ExitReason::IndicatorExit,
        ExitReason::TimeExit,
        ExitReason::EndOfData,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::TakeProfit => "take_profit",
            ExitReason::StopLoss => "stop_loss",
            ExitReason::BreakEven => "break_even",
            ExitReason::TrailingStop => "trailing_stop",
            ExitReason::IndicatorExit => "indicator_exit",
            ExitReason::TimeExit => "time_exit",
            ExitReason::EndOfData => "end_of_data",
        }
    }
}

/// One simulated trade, independent of any wallet (its size is applied later).
///
/// `net_multiple` is `M` of SPEC §3.4 for one unit of size. Under the v1 cost model the wallet
/// recomputes `M = 1 + pnl / size` from the actual size; the value here is the same formula
/// for a size of 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trade {
    pub entry_ts_ms: i64,
    /// P0, before slippage.
    pub entry_px: f64,
    /// Time of the last fill.
    pub exit_ts_ms: i64,
    pub exit_reason: ExitReason,
    /// Fills at level prices, no costs: Σ φ·X / P0.
    pub gross_multiple: f64,
    pub net_multiple: f64,
    /// Highest high from the first checked candle through the exit candle (starting at P0) / P0.
    pub peak_multiple: f64,
    /// Lowest low over the same candles (starting at P0) / P0 − 1.
    pub mae: f64,
    pub ambiguous: bool,
    /// Exit fills: one per ladder level, one for a remainder.
    pub fills: u32,
    /// Exit candle position − entry candle position.
    pub candles_held: u32,
}

impl Trade {
    /// Hours between entry and the last fill.
    pub fn hold_hours(&self) -> f64 {
        (self.exit_ts_ms - self.entry_ts_ms) as f64 / 3_600_000.0
    }
}

/// Why a call produced no trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoEntry {
    /// The window is empty or the entry price is not finite and positive.
    NoEntry,
}
