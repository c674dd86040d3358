//! The flags of `backtest v1-baseline`'s options, generated from the one option table
//! (`quantbot_format::options::OPTIONS`): each row becomes a flag with its help and default, a
//! switch that is on by default also gets its `--no-` form. Values are kept as typed and read
//! by the table's own parsers (`V1Options::set`), so the CLI and the lab accept the same texts
//! with the same messages, and the defaults are the engine's by construction.

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use quantbot_format::option_table::{Kind, OptionSpec};
use quantbot_format::options::{V1Options, OPTIONS};

/// The options given on the command line, as `(flag, text)` in table order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionFlags {
    pub given: Vec<(&'static str, String)>,
}

impl OptionFlags {
    /// The options: the defaults, with every given flag read over them.
    pub fn options(&self) -> quantbot_format::Result<V1Options> {
        let mut o = V1Options::default();
        for (flag, text) in &self.given {
            if let Some(r) = o.set(flag, text) {
                r?;
            }
        }
        Ok(o)
    }
}

/// The `--no-` form of a switch that is on by default.
fn negation(spec: &OptionSpec) -> Option<String> {
    (spec.kind == Kind::Switch && spec.default_text() == "true")
        .then(|| format!("no-{}", spec.key()))
}

/// The help of a flag: the table's text, its choices and its default (when the text does not
/// already say it).
fn help(spec: &OptionSpec) -> String {
    let mut h = spec.help();
    if let Kind::Choice(words) = spec.kind {
        h.push_str(&format!(" [possible values: {}]", words.join(", ")));
    }
    let default = spec.default_text();
    if !default.is_empty() && spec.kind != Kind::Switch && !h.contains("[default") {
        h.push_str(&format!(" [default: {default}]"));
    }
    h
}

fn arg(spec: &'static OptionSpec) -> Arg {
    let a = Arg::new(spec.name).long(spec.key()).help(help(spec));
    match spec.kind {
        Kind::Switch => a.action(ArgAction::SetTrue).overrides_with(spec.name),
        kind => a
            .value_name(kind.value_name())
            .action(ArgAction::Set)
            .allow_negative_numbers(kind.numeric()),
    }
}

impl Args for OptionFlags {
    fn augment_args(mut cmd: Command) -> Command {
        for spec in OPTIONS {
            cmd = cmd.arg(arg(spec));
            if let Some(no) = negation(spec) {
                // The last of `--x` and `--no-x` wins.
                let id: &'static str = Box::leak(no.clone().into_boxed_str());
                cmd = cmd.arg(
                    Arg::new(id)
                        .long(id)
                        .action(ArgAction::SetTrue)
                        .help(format!("Turn --{} off.", spec.key()))
                        .overrides_with(spec.name),
                );
                cmd = cmd.mut_arg(spec.name, |a| a.overrides_with(id));
            }
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for OptionFlags {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut given = Vec::new();
        for spec in OPTIONS {
            if spec.kind == Kind::Switch {
                let on = m.get_flag(spec.name);
                let off = negation(spec).is_some_and(|no| m.get_flag(&no));
                if on || off {
                    given.push((spec.flag, on.to_string()));
                }
            } else if let Some(v) = m.get_one::<String>(spec.name) {
                given.push((spec.flag, v.clone()));
            }
        }
        Ok(OptionFlags { given })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Backtest, Cli, Command as Cmd};

    fn parse(extra: &[&str]) -> Result<V1Options, String> {
        let mut argv = vec!["quantbot", "backtest", "v1-baseline"];
        argv.extend(extra);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        match cli.command {
            Cmd::Backtest(Backtest::V1Baseline(a)) => {
                a.options.options().map_err(|e| e.to_string())
            }
            _ => unreachable!("parsed as v1-baseline"),
        }
    }

    #[test]
    fn the_command_lines_defaults_are_the_engines() {
        assert_eq!(parse(&[]), Ok(V1Options::default()));
        // The wallet's defaults come from the engine (SPEC §4).
        let w = quantbot_core::wallet::WalletParams::default();
        let d = V1Options::default();
        assert_eq!(
            (
                d.initial_capital,
                d.max_allocation_pct,
                d.max_risk_per_trade
            ),
            (
                w.initial_capital,
                w.max_allocation_pct,
                w.max_risk_per_trade
            )
        );
        assert_eq!(
            (
                d.max_concurrent_positions,
                d.min_executable_size,
                d.allow_same_token
            ),
            (
                w.max_concurrent_positions,
                w.min_executable_size,
                w.allow_same_token
            )
        );
        // Every flag of the table is on the command line, with its default in its help.
        let cmd = OptionFlags::augment_args(Command::new("t"));
        for spec in OPTIONS {
            let a = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(spec.key()))
                .unwrap_or_else(|| panic!("{} is not a flag", spec.flag));
            let h = a.get_help().map(ToString::to_string).unwrap_or_default();
            let d = spec.default_text();
            if spec.kind != Kind::Switch && !d.is_empty() && !spec.help().contains("[default") {
                assert!(
                    h.ends_with(&format!("[default: {d}]")),
                    "{}: {h}",
                    spec.flag
                );
            }
        }
    }

    #[test]
    fn flags_are_read_by_the_tables_parsers() {
        let o = parse(&[
            "--sl-mults",
            "[null,0.9]",
            "--taker-fee-bps",
            "-5",
            "--no-filter-edge",
            "--allow-same-token",
            "--intrabar",
            "tp_first",
            "--min-trades",
            "3",
        ])
        .unwrap();
        assert_eq!(o.sl_mults, "[null,0.9]");
        assert_eq!(o.taker_fee_bps, -5.0);
        assert!(!o.filter_edge && o.filter_collapsed && o.allow_same_token);
        assert_eq!(o.intrabar, quantbot_core::policy::Intrabar::TpFirst);
        assert_eq!(o.min_trades, Some(3));
        // The last of --x and --no-x wins.
        assert!(
            parse(&["--no-filter-edge", "--filter-edge"])
                .unwrap()
                .filter_edge
        );
        assert!(
            !parse(&["--filter-edge", "--no-filter-edge"])
                .unwrap()
                .filter_edge
        );
        for (args, want) in [
            (
                &["--initial-capital", "ten"][..],
                "--initial-capital: \"ten\" is not a number",
            ),
            (
                &["--cost-model", "v2"],
                "--cost-model: \"v2\" is not one of fills, v1",
            ),
            (
                &["--min-calls", "-1"],
                "--min-calls: \"-1\" is not a whole number",
            ),
        ] {
            let e = parse(args).unwrap_err();
            assert!(e.starts_with(want), "{args:?}: {e}");
        }
    }
}
