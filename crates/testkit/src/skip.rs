//! Skipping a test loudly, or failing it when skipping is forbidden.
//!
//! A test that silently passes because its database or browser was missing is
//! worse than no test: it reports green for code that never ran. So a skip is
//! printed as a banner that is hard to miss, and CI turns every skip into a
//! failure by setting [`STRICT_VAR`](crate::STRICT_VAR) to `1`.

use std::ffi::OsStr;
use std::io::Write;

use crate::STRICT_VAR;

/// What to do about a test that cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Print the banner and let the test return early.
    Skip,
    /// Panic: the environment promised everything would be there.
    Fail,
}

/// Decides between skipping and failing from the value of [`STRICT_VAR`].
///
/// Unset, empty, `0`, `false`, `no` and `off` mean "skip"; `1`, `true`, `yes`
/// and `on` mean "fail". Any other value also means "fail": whoever set the
/// variable wanted something, and the stricter reading is the one that cannot
/// hide a test that did not run.
pub(crate) fn verdict(strict: Option<&OsStr>) -> Verdict {
    let Some(value) = strict else {
        return Verdict::Skip;
    };
    let value = value.to_string_lossy();
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" => Verdict::Skip,
        _ => Verdict::Fail,
    }
}

/// The banner printed for a skip, or the panic message under strict mode.
/// `test` is the running test's name, when known.
pub(crate) fn banner(verdict: Verdict, what: &str, why: &str, test: Option<&str>) -> String {
    let rule = "=".repeat(78);
    let head = match verdict {
        Verdict::Skip => "SKIPPED",
        Verdict::Fail => "CANNOT RUN",
    };
    let mut text = format!("\n{rule}\n{head}: {what}");
    if let Some(test) = test {
        text.push_str(&format!(" (in test `{test}`)"));
    }
    text.push_str(&format!("\n  because {why}\n"));
    match verdict {
        Verdict::Skip => text.push_str(&format!(
            "  This test did NOT run and proves nothing.\n\
             \x20 Set {STRICT_VAR}=1 to make this a failure (CI does).\n"
        )),
        Verdict::Fail => text.push_str(&format!("  {STRICT_VAR} is set: skipping is a failure.\n")),
    }
    text.push_str(&rule);
    text.push('\n');
    text
}

/// The name of the running test: libtest names each test's thread after it.
fn current_test_name() -> Option<String> {
    std::thread::current()
        .name()
        .filter(|name| *name != "main")
        .map(str::to_owned)
}

/// Reports that `what` (e.g. "PostgreSQL tests", "browser tests") cannot run
/// because of `why`: prints a loud banner to stderr and returns, so the caller
/// can return early; or, when [`STRICT_VAR`](crate::STRICT_VAR) is set to `1`,
/// panics with the same text.
///
/// The banner is written to the process's real stderr rather than through
/// `eprintln!`, because libtest captures `eprintln!` output of passing tests
/// and a skip must be visible precisely when the test "passes".
pub fn skip_or_fail(what: &str, why: &str) {
    let verdict = verdict(std::env::var_os(STRICT_VAR).as_deref());
    let text = banner(verdict, what, why, current_test_name().as_deref());
    match verdict {
        Verdict::Fail => panic!("{text}"),
        Verdict::Skip => {
            // Best effort: if stderr is closed there is nobody to tell.
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn verdict_of(value: Option<&str>) -> Verdict {
        verdict(value.map(OsString::from).as_deref())
    }

    #[test]
    fn unset_or_falsy_means_skip() {
        for value in [
            None,
            Some(""),
            Some("0"),
            Some("false"),
            Some(" No "),
            Some("OFF"),
        ] {
            assert_eq!(verdict_of(value), Verdict::Skip, "{value:?}");
        }
    }

    #[test]
    fn one_or_truthy_means_fail() {
        for value in [Some("1"), Some("true"), Some("YES"), Some("on")] {
            assert_eq!(verdict_of(value), Verdict::Fail, "{value:?}");
        }
    }

    #[test]
    fn unrecognised_values_err_on_the_strict_side() {
        assert_eq!(verdict_of(Some("2")), Verdict::Fail);
        assert_eq!(verdict_of(Some("strict")), Verdict::Fail);
    }

    #[test]
    fn skip_banner_names_what_why_and_the_test() {
        let text = banner(
            Verdict::Skip,
            "PostgreSQL tests",
            "initdb was not found",
            Some("store::pg::round_trip"),
        );
        assert!(text.contains("SKIPPED: PostgreSQL tests (in test `store::pg::round_trip`)"));
        assert!(text.contains("because initdb was not found"));
        assert!(text.contains(&format!("Set {STRICT_VAR}=1")));
        assert!(
            text.lines().count() >= 5,
            "the banner should be loud:\n{text}"
        );
    }

    #[test]
    fn strict_message_says_why_it_fails() {
        let text = banner(Verdict::Fail, "browser tests", "chromium is missing", None);
        assert!(text.contains("CANNOT RUN: browser tests\n"));
        assert!(text.contains("because chromium is missing"));
        assert!(text.contains(&format!("{STRICT_VAR} is set")));
        assert!(!text.contains("SKIPPED"));
    }
}
