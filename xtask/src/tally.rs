//! Counting a test run: the `test result:` lines of cargo and wasm-bindgen-test, the browser
//! test's `… e2e: N passed, M failed`, and the tests that recorded a skip because their input
//! was missing (`quantbot_tests::skip`), which the harness counted as passed. The closing line is
//! `tests: N passed, M failed, K skipped`, after the skipped tests by name; under `CI=true`,
//! where every input is there, a skip fails the run.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// The variable naming the skip log. `quantbot_tests::skip` (tests/src/lib.rs) appends one
/// `file<TAB>test<TAB>reason` line to the file it names; the two names must stay equal.
pub const SKIP_LOG_VAR: &str = "QUANTBOT_SKIP_LOG";

/// A test that did not run because its input is missing.
#[derive(Debug, Clone, PartialEq)]
pub struct Skip {
    /// The test's source file (or, for a step of this run, the file it would have run).
    pub file: String,
    pub test: String,
    /// What is missing.
    pub reason: String,
}

/// The counts of a whole run, summed over every test binary.
#[derive(Debug, Default, PartialEq)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
    pub skipped: Vec<Skip>,
}

/// The (passed, failed) counts of a result line: cargo's and wasm-bindgen-test's
/// `test result: ok. 3 passed; 0 failed; …` or the browser test's `lab e2e: 5 passed, 0 failed`.
pub fn result_counts(line: &str) -> Option<(u64, u64)> {
    let rest = line
        .strip_prefix("test result: ")
        .or_else(|| line.split_once(" e2e: ").map(|(_, r)| r))?;
    let count = |word: &str| -> u64 {
        rest.split([';', ','])
            .find_map(|part| part.trim().strip_suffix(word))
            .and_then(|n| n.trim().rsplit(' ').next()?.parse().ok())
            .unwrap_or(0)
    };
    Some((count(" passed"), count(" failed")))
}

impl Tally {
    /// Adds the counts of `line` when it is a result line.
    pub fn count_line(&mut self, line: &str) {
        if let Some((p, f)) = result_counts(line) {
            self.passed += p;
            self.failed += f;
        }
    }

    /// Moves the tests of a skip log from passed to skipped: each returned early, so its
    /// harness counted it as passed. A line that does not parse is an error, never ignored.
    pub fn take_skips(&mut self, log: &str) -> Result<(), String> {
        for line in log.lines().filter(|l| !l.trim().is_empty()) {
            let mut fields = line.splitn(3, '\t');
            let (Some(file), Some(test), Some(reason)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(format!("skip log: not file<TAB>test<TAB>reason: {line:?}"));
            };
            self.passed = self.passed.checked_sub(1).ok_or_else(|| {
                format!("skip log: {test} skipped, but no passed test was counted for it")
            })?;
            self.skipped.push(Skip {
                file: file.to_string(),
                test: test.to_string(),
                reason: reason.to_string(),
            });
        }
        Ok(())
    }

    /// A step of this run left out because its program is missing: skipped, never counted
    /// as passed.
    pub fn skip_step(&mut self, file: &str, test: &str, reason: &str) {
        eprintln!("==> {test}: SKIPPED ({reason})");
        self.skipped.push(Skip {
            file: file.to_string(),
            test: test.to_string(),
            reason: reason.to_string(),
        });
    }

    /// The closing lines: the skipped tests by name, then `tests: N passed, M failed, K skipped`.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        if !self.skipped.is_empty() {
            s.push_str("skipped (their input is missing):\n");
            for k in &self.skipped {
                s.push_str(&format!("  {} {}: {}\n", k.file, k.test, k.reason));
            }
        }
        s.push_str(&format!(
            "tests: {} passed, {} failed, {} skipped\n",
            self.passed,
            self.failed,
            self.skipped.len()
        ));
        s
    }

    /// The run's verdict once every step passed: under CI (which has `../shared/data` and
    /// python3) a skipped test is a failure, since it proves nothing.
    pub fn verdict(&self, ci: bool) -> Result<(), String> {
        if ci && !self.skipped.is_empty() {
            let names: Vec<&str> = self.skipped.iter().map(|k| k.test.as_str()).collect();
            return Err(format!(
                "{} skipped under CI ({}): CI must have every input the tests need (../shared/data, python3)",
                names.len(),
                names.join(", ")
            ));
        }
        Ok(())
    }
}

/// Whether the `CI` variable says this is a CI run: set to anything but empty, `0` or `false`
/// (CI services set `CI=true`; `.ci/run` does too).
pub fn is_ci(value: Option<&str>) -> bool {
    value.is_some_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"))
}

/// Runs a test command, streaming its output, and adds its result lines to `tally`. With a
/// `skip_log`, the tests' skips are recorded there (see [`SKIP_LOG_VAR`]) and moved from passed
/// to skipped. When the command fails, the summary so far is printed and the step's error
/// returned.
pub fn run_counting(
    step: &str,
    mut cmd: Command,
    skip_log: Option<&Path>,
    tally: &mut Tally,
) -> Result<(), String> {
    eprintln!("==> {step}: {}", crate::web::shown(&cmd));
    if let Some(log) = skip_log {
        if log.exists() {
            std::fs::remove_file(log).map_err(|e| format!("{}: {e}", log.display()))?;
        }
        cmd.env(SKIP_LOG_VAR, log);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{step}: cannot start {:?}: {e}", cmd.get_program()))?;
    let mut here = Tally::default();
    let stdout = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("{step}: reading output: {e}"))?;
        println!("{line}");
        here.count_line(&line);
    }
    let status = child.wait().map_err(|e| format!("{step}: {e}"))?;
    let ran = here.passed + here.failed;
    if let Some(log) = skip_log.filter(|l| l.exists()) {
        let text = std::fs::read_to_string(log).map_err(|e| format!("{}: {e}", log.display()))?;
        here.take_skips(&text)?;
        let _ = std::fs::remove_file(log);
    }
    tally.passed += here.passed;
    tally.failed += here.failed;
    tally.skipped.extend(here.skipped);
    if !status.success() {
        print!("{}", tally.summary());
        return Err(format!("{step} failed ({status})"));
    }
    if ran == 0 {
        return Err(format!("{step}: no test ran"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `output` (a test run's stdout) and `log` (its skip log) through a tally.
    fn check(output: &str, log: &str, want: (u64, u64, &[&str]), summary: &str) {
        let mut t = Tally::default();
        for line in output.lines() {
            t.count_line(line);
        }
        t.take_skips(log).unwrap();
        let skipped: Vec<&str> = t.skipped.iter().map(|k| k.test.as_str()).collect();
        assert_eq!((t.passed, t.failed, skipped.as_slice()), want);
        assert_eq!(t.summary(), summary);
    }

    #[test]
    fn counts_cargo_wasm_and_browser_result_lines() {
        check(
            "running 3 tests\n\
             test a ... ok\n\
             test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
             test result: FAILED. 10 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out\n\
             test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n\
             lab e2e: 5 passed, 1 failed\n\
             a line that mentions 7 passed; 1 failed but is not a result\n",
            "",
            (18, 3, &[]),
            "tests: 18 passed, 3 failed, 0 skipped\n",
        );
    }

    /// Without `../shared/data` the Brook test returns early and libtest counts it as passed:
    /// the skip log takes it back and the summary names it.
    #[test]
    fn a_test_without_its_data_is_skipped_not_passed() {
        check(
            "test real_brook_sample_exports_and_runs ... ok\n\
             test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n",
            "prep-cli/tests/cli.rs\treal_brook_sample_exports_and_runs\t../shared/data/quantbot-brook-sample does not exist\n",
            (11, 0, &["real_brook_sample_exports_and_runs"]),
            "skipped (their input is missing):\n  \
             prep-cli/tests/cli.rs real_brook_sample_exports_and_runs: ../shared/data/quantbot-brook-sample does not exist\n\
             tests: 11 passed, 0 failed, 1 skipped\n",
        );
    }

    #[test]
    fn skips_from_several_binaries_and_a_left_out_step_add_up() {
        let mut t = Tally::default();
        t.count_line("test result: ok. 4 passed; 0 failed; 0 ignored");
        t.count_line("test result: ok. 9 passed; 0 failed; 0 ignored");
        t.take_skips(
            "tests/tests/oracle.rs\tengine_agrees_with_the_independent_oracle\tpython3 is not installed, the oracle cannot run\n\
             \n\
             prep-cli/tests/cli.rs\treal_brook_sample_exports_and_runs\tno data\n",
        )
        .unwrap();
        t.skip_step(
            "tools/oracle/test_oracle.py",
            "oracle self-tests",
            "python3 is not installed",
        );
        assert_eq!((t.passed, t.failed, t.skipped.len()), (11, 0, 3));
        assert!(t
            .summary()
            .ends_with("tests: 11 passed, 0 failed, 3 skipped\n"));
        assert!(t
            .summary()
            .contains("  tools/oracle/test_oracle.py oracle self-tests: python3"));
    }

    #[test]
    fn a_bad_skip_log_is_an_error() {
        let mut t = Tally::default();
        assert!(t.take_skips("only one field\n").is_err());
        // A skip no harness counted as passed cannot be taken back from the passed count.
        assert!(t.take_skips("f.rs\tsome_test\twhy\n").is_err());
    }

    #[test]
    fn ci_fails_on_any_skip_and_only_then() {
        let mut t = Tally {
            passed: 5,
            ..Tally::default()
        };
        assert_eq!(t.verdict(true), Ok(()));
        assert_eq!(t.verdict(false), Ok(()));
        t.skip_step(
            "tools/oracle/test_oracle.py",
            "oracle self-tests",
            "no python3",
        );
        assert_eq!(t.verdict(false), Ok(()));
        let err = t.verdict(true).unwrap_err();
        assert!(
            err.starts_with("1 skipped under CI (oracle self-tests)"),
            "{err}"
        );
    }

    /// The whole path through a real process: the variable reaches the command, which appends
    /// to the log; the log is read, taken from passed, and removed.
    #[test]
    fn run_counting_takes_the_skips_a_command_records() {
        let log = std::env::temp_dir().join(format!("xtask-tally-{}.txt", std::process::id()));
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            r#"echo 'test result: ok. 3 passed; 0 failed; 0 ignored'
               printf 'a.rs\tneeds_data\tno data\n' >> "$QUANTBOT_SKIP_LOG""#,
        ]);
        let mut t = Tally::default();
        run_counting("skip log", cmd, Some(&log), &mut t).unwrap();
        assert_eq!((t.passed, t.failed), (2, 0));
        assert_eq!(t.skipped[0].test, "needs_data");
        assert!(!log.exists(), "the log is removed once read");

        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo 'test result: FAILED. 1 passed; 1 failed'; exit 101",
        ]);
        let err = run_counting("failing", cmd, None, &mut t).unwrap_err();
        assert!(err.starts_with("failing failed"), "{err}");
        assert_eq!((t.passed, t.failed, t.skipped.len()), (3, 1, 1));
    }

    #[test]
    fn ci_variable() {
        for (value, want) in [
            (None, false),
            (Some(""), false),
            (Some("0"), false),
            (Some("false"), false),
            (Some("FALSE"), false),
            (Some("true"), true),
            (Some("1"), true),
            (Some("woodpecker"), true),
        ] {
            assert_eq!(is_ci(value), want, "{value:?}");
        }
    }
}
