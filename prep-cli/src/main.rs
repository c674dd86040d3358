//! The `quantbot` binary. Its commands (export, backtest, runs, demo-data) arrive with the CLI
//! issue; until then it only reports the engine version, so the workspace layout is complete.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version") | Some("-V") => {
            println!("quantbot {}", quantbot_core::VERSION);
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "quantbot {}: no command is available in this build yet (export, backtest, runs \
                 and demo-data are being built); try --version",
                quantbot_core::VERSION
            );
            ExitCode::from(2)
        }
    }
}
