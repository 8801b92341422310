//! A notice in words, in the person's language, from the Fluent files
//! (`i18n/<lang>/push.ftl`). Each cause and each deregistration reason has
//! its own text that says what to do.

use amina_domain::reminders::{MissingCause, Notice};
use fluent_bundle::{FluentArgs, FluentValue};

use crate::i18n::catalog;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub title: String,
    pub body: String,
}

fn why(cause: MissingCause) -> String {
    format!("push-why-{}", cause.as_str())
}

/// The notice's title and body in `lang`; None for a language or message
/// the catalog lacks (a defect the tests catch for every notice).
pub fn render(notice: &Notice, lang: &str) -> Option<Rendered> {
    let c = catalog();
    let (title, body) = match notice {
        Notice::Cause { cause } => (
            c.message(lang, "push-cause-title")?,
            c.message(lang, &why(*cause))?,
        ),
        Notice::NoFix { hours, cause } => {
            let mut args = FluentArgs::new();
            args.set("hours", FluentValue::from(hours.to_string()));
            (
                c.message_with(lang, "push-no-fix-title", &args)?,
                c.message(lang, &why(*cause))?,
            )
        }
        Notice::DeadlineSoon { deadline_at } => {
            let mut args = FluentArgs::new();
            args.set(
                "deadline",
                FluentValue::from(c.deadline_text(lang, *deadline_at)?),
            );
            (
                c.message(lang, "push-deadline-title")?,
                c.message_with(lang, "push-deadline-body", &args)?,
            )
        }
        Notice::CheckinReminder => (
            c.message(lang, "push-checkin-title")?,
            c.message(lang, "push-checkin-body")?,
        ),
        Notice::Deregistered { reason } => (
            c.message(lang, "push-deregistered-title")?,
            c.message(lang, &format!("push-deregistered-{}", reason.as_str()))?,
        ),
        Notice::OutsideTooLong { .. } => (
            c.message(lang, "push-outside-title")?,
            c.message(lang, "push-outside-body")?,
        ),
    };
    Some(Rendered { title, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use amina_domain::monitor::DeregistrationReason;

    fn every_notice() -> Vec<Notice> {
        let causes = MissingCause::ALL;
        let mut all: Vec<Notice> = causes.iter().map(|c| Notice::Cause { cause: *c }).collect();
        all.extend(causes.iter().map(|c| Notice::NoFix {
            hours: 24,
            cause: *c,
        }));
        all.push(Notice::DeadlineSoon {
            deadline_at: amina_domain::time::parse_moscow("2025-12-03T23:59:59.999").unwrap(),
        });
        all.push(Notice::CheckinReminder);
        for reason in [
            DeregistrationReason::NoMonitoring,
            DeregistrationReason::RegisteredElsewhere,
            DeregistrationReason::LeftCountry,
            DeregistrationReason::DocumentInvalid,
            DeregistrationReason::OfficerDecision,
        ] {
            all.push(Notice::Deregistered { reason });
        }
        all.push(Notice::OutsideTooLong {
            since: amina_domain::time::parse_moscow("2025-12-01T10:00").unwrap(),
        });
        all
    }

    #[test]
    fn every_notice_has_words_in_every_language() {
        for lang in crate::i18n::LANGS {
            for n in every_notice() {
                let r = render(&n, lang).unwrap_or_else(|| panic!("{lang}: no text for {n:?}"));
                assert!(!r.title.is_empty() && !r.body.is_empty(), "{lang}: {n:?}");
                assert!(
                    !r.title.contains('{') && !r.body.contains('{'),
                    "{lang}: {r:?}"
                );
            }
        }
    }

    #[test]
    fn arguments_are_filled_in() {
        let n = Notice::NoFix {
            hours: 30,
            cause: MissingCause::LocationOff,
        };
        let r = render(&n, "en").unwrap();
        assert!(r.title.contains("30"), "{r:?}");
        let d = Notice::DeadlineSoon {
            deadline_at: amina_domain::time::parse_moscow("2025-12-03T23:59:59.999").unwrap(),
        };
        assert!(render(&d, "ru").unwrap().body.contains("3 декабря"));
        assert!(render(&d, "en")
            .unwrap()
            .body
            .contains("Wednesday, 3 December"));
        assert!(render(&n, "xx").is_none());
    }
}
