//! The `quantbot` binary: parses the command line, runs the command, and turns errors into one
//! clear line on stderr with exit code 2 (usage) or 1 (any other failure).

mod args;
mod baseline_cmd;
mod bundle;
mod demo_db;
mod export;
mod option_flags;
mod output;
mod parquet_io;
mod parts;
mod plan;
mod publish;
mod runs;
mod source;
mod timings;
mod tui;
mod v1;

use std::process::ExitCode;

use clap::Parser;

use args::{Backtest, Cli, Command, Runs};

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Export(a) => export::run(&a),
        Command::Backtest(Backtest::V1Baseline(a)) => v1::run(&a),
        Command::Backtest(Backtest::Baseline(a)) => baseline_cmd::run(&a),
        Command::DemoData(a) => {
            let (calls, candles) = demo_db::write_demo(&a.out, a.seed)?;
            eprintln!(
                "wrote {} ({calls} calls, {candles} candles, seed {})",
                a.out.display(),
                a.seed
            );
            Ok(())
        }
        Command::Runs(Runs::Import(a)) => {
            let stderr = std::io::stderr();
            let c = runs::import(&a.dirs, &a.registry, a.dry_run, &mut stderr.lock())?;
            let what = if a.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            };
            eprintln!(
                "imported {}, unchanged {}, skipped {}, failed {}{what}",
                c.imported, c.unchanged, c.skipped, c.failed
            );
            if c.failed > 0 {
                anyhow::bail!(
                    "{} runs could not be written to {}",
                    c.failed,
                    a.registry.display()
                );
            }
            Ok(())
        }
        Command::Publish(a) => publish::run(&a),
        Command::Runs(Runs::List(a)) => {
            let stdout = std::io::stdout();
            runs::list(&a.registry, a.format, &mut stdout.lock())
        }
    }
}

/// Clap's own errors as one line (SPEC §10: errors are one clear line on stderr).
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    let text = e.render().to_string();
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect();
    eprintln!("quantbot: {}", parts.join("; "));
    ExitCode::from(2)
}

/// `text` on one line: its lines trimmed and joined by a space, blank ones dropped.
fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of causes, outermost first. A cause written over several
            // lines (a library's own message) has its lines joined, so stderr holds one line
            // whatever the error (SPEC §10).
            let msg = e
                .chain()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(": ");
            eprintln!("quantbot: {}", one_line(&msg));
            if plan::is_usage(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
