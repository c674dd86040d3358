//! The lab's options form: one text per row of the option table (`quantbot_format::options::
//! OPTIONS`), exactly as typed, validated into the same `V1Options` the CLI builds, with every
//! problem named by its flag so the page shows it under its field.

use quantbot_format::option_table::{Kind, OptionSpec};
use quantbot_format::options::{V1Options, OPTIONS};
use quantbot_format::Error;

/// The lab's default holdout fraction (SPEC §6; the CLI's is 0).
pub const LAB_HOLDOUT: f64 = 0.3;

/// The lab's default walk-forward folds (SPEC §13.3; the CLI's is 0, off).
pub const LAB_FOLDS: usize = 4;

/// The default grid's take-profit list, written out in the lab (the CLI's `--tp-mults` is
/// unset by default, which means the same list unless ladders are given).
pub const LAB_TP_MULTS: &str = "[1.5,2,2.5,3,4,5]";

/// The form: `texts[k]` is the text of `OPTIONS[k]`; switches hold `true`/`false`.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    texts: Vec<String>,
}

impl Default for Form {
    /// The CLI's defaults, with the lab's holdout and folds and the default grid written out.
    fn default() -> Self {
        Form::from_options(&V1Options {
            tp_mults: Some(LAB_TP_MULTS.into()),
            holdout_fraction: LAB_HOLDOUT,
            folds: LAB_FOLDS,
            ..V1Options::default()
        })
    }
}

fn index_of(flag: &str) -> Option<usize> {
    OPTIONS.iter().position(|s| s.flag == flag)
}

impl Form {
    /// The form showing the given options.
    pub fn from_options(o: &V1Options) -> Form {
        Form {
            texts: OPTIONS
                .iter()
                .map(|s| o.text(s.flag).unwrap_or_default())
                .collect(),
        }
    }

    /// The text of a field by its flag (`true`/`false` for switches).
    pub fn get(&self, flag: &str) -> Option<&str> {
        index_of(flag).map(|k| self.texts[k].as_str())
    }

    /// Sets a field by its flag; `false` for a flag not in the table or a switch that is not
    /// `true`/`false` (the form keeps its value then).
    pub fn set(&mut self, flag: &str, value: &str) -> bool {
        let Some(k) = index_of(flag) else {
            return false;
        };
        if OPTIONS[k].kind == Kind::Switch && !matches!(value, "true" | "false") {
            return false;
        }
        self.texts[k] = value.to_string();
        true
    }

    /// Every field with its row of the table, in table order.
    pub fn fields(&self) -> impl Iterator<Item = (&'static OptionSpec, &str)> {
        OPTIONS.iter().zip(self.texts.iter().map(String::as_str))
    }

    /// The typed options, or every problem of the form, each naming its flag. A field that
    /// does not read keeps its default while the others are checked.
    pub fn options(&self, horizon_hours: f64, interval_s: i64) -> Result<V1Options, Vec<Error>> {
        let mut o = V1Options::default();
        let mut errs = Vec::new();
        for (spec, text) in self.fields() {
            if let Some(Err(e)) = o.set(spec.flag, text) {
                errs.push(e);
            }
        }
        errs.extend(o.problems(horizon_hours, interval_s));
        if errs.is_empty() {
            Ok(o)
        } else {
            Err(errs)
        }
    }

    /// The message for one field (by its flag), if the form has a problem there.
    pub fn problem_for(problems: &[Error], flag: &str) -> Option<String> {
        problems
            .iter()
            .find(|e| e.flag() == Some(flag))
            .map(ToString::to_string)
    }

    /// Problems that belong to no field of the form (shown under the run button).
    pub fn loose_problems(problems: &[Error]) -> Vec<String> {
        problems
            .iter()
            .filter(|e| e.flag().is_none_or(|f| index_of(f).is_none()))
            .map(ToString::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunSize;

    #[test]
    fn default_form_is_valid_with_the_default_grid() {
        let f = Form::default();
        let o = f.options(48.0, 60).unwrap();
        assert_eq!(o.holdout_fraction, LAB_HOLDOUT);
        assert_eq!(
            o,
            V1Options {
                tp_mults: Some(LAB_TP_MULTS.into()),
                holdout_fraction: LAB_HOLDOUT,
                folds: LAB_FOLDS,
                ..V1Options::default()
            }
        );
        let grid = o.grid(48.0).unwrap();
        assert_eq!(RunSize::of(&grid, 3000).grid_points, 30);
        assert_eq!(RunSize::of(&grid, 3000).evaluations, 90_000);
        // The form round-trips the options it shows.
        assert_eq!(Form::from_options(&o), f);
        assert_eq!(f.fields().count(), OPTIONS.len());
    }

    /// Sets `flag` to `text` on the default form and returns the problem named for `flag`.
    fn problem(flag: &str, text: &str) -> Option<String> {
        let mut f = Form::default();
        assert!(f.set(flag, text), "{flag}");
        let errs = f.options(48.0, 60).err().unwrap_or_default();
        Form::problem_for(&errs, flag)
    }

    #[test]
    fn form_problems_name_each_field() {
        // The same message as the CLI's (`--indicators: …` naming the bad rule).
        let cli = quantbot_format::options::rule_list(r#"[null,"ema_cross:21:9"]"#).unwrap_err();
        assert_eq!(
            problem("--indicators", r#"[null,"ema_cross:21:9"]"#),
            Some(cli.to_string())
        );
        for (flag, text, part) in [
            ("--initial-capital", "ten", "\"ten\" is not a number"),
            ("--max-concurrent-positions", "-3", "whole number"),
            ("--mode", "sideways", "not one of per-caller, grouped, both"),
            ("--min-calls", "4294967297", "whole number"),
            // A grid over the dataset's horizon is refused, naming the flag.
            ("--max-hold-hrs", "[72]", "--max-hold-hrs"),
            (
                "--from",
                "2025-13-01",
                "--from: \"2025-13-01\" is not a date",
            ),
            ("--filter-edge", "true", ""),
        ] {
            let p = problem(flag, text);
            if part.is_empty() {
                assert_eq!(p, None, "{flag}");
            } else {
                let p = p.unwrap_or_else(|| panic!("no problem for {flag}"));
                assert!(p.starts_with(flag) && p.contains(part), "{flag}: {p}");
            }
        }
        // Empty text means the default, or "not set" for an optional value.
        let mut f = Form::default();
        f.set("--initial-capital", "");
        f.set("--max-drawdown", "");
        let o = f.options(48.0, 60).unwrap();
        assert_eq!(o.initial_capital, V1Options::default().initial_capital);
        assert_eq!(o.max_drawdown, None);
        // A switch takes only true or false.
        assert!(!f.set("--filter-edge", "maybe"));
        assert!(!f.set("--threads", "4"));
        // A problem about no field of the form is shown apart.
        let both = Form {
            texts: Form::default().texts,
        };
        let mut both = both;
        both.set("--ladders", "[[[2,1]]]");
        let errs = both.options(48.0, 60).unwrap_err();
        assert!(Form::problem_for(&errs, "--ladders")
            .unwrap()
            .contains("--tp-mults"));
        assert!(Form::loose_problems(&errs).is_empty(), "{errs:?}");
    }
}
