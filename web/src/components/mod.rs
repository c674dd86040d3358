//! The lab's components, one per file, each rendering plain state (`crate::lab::Lab` and the
//! types of `quantbot_lab_model`); none holds a rule of its own.

pub mod baseline_tab;
pub mod bundle_view;
pub mod caller_detail;
pub mod data_panel;
pub mod data_table;
pub mod header;
pub mod heatmap;
pub mod leaderboard;
pub mod options_form;
pub mod policy_view;
pub mod results;
pub mod run_bar;
