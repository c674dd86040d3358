//! Helpers shared by the cross-crate tests: building candle paths and calls from compact text.
