//! The browser lab's UI model as plain types, so every rule the page follows has a native test:
//! the options form generated from the option table ([`form`]), the share link ([`share`]),
//! whether a dataset URL opens by itself or asks first ([`origin`]), the run's size, memory
//! budget, dataset size limit and backend ([`run`]), result tables ([`table`]) and their
//! rows ([`rows`]), the caller leaderboard of SPEC §13 ([`leaderboard`]), a caller's grid as a heatmap with
//! its plateau score ([`heatmap`]), and the typed messages between the page and its one worker ([`messages`]).
//! The lab's components (`web/`) only render what these return.

pub mod baseline;
pub mod bundle;
pub mod chart;
pub mod detail;
pub mod form;
pub mod heatmap;
pub mod leaderboard;
pub mod messages;
pub mod origin;
pub mod rows;
pub mod run;
pub mod share;
pub mod table;
pub mod transfer;
