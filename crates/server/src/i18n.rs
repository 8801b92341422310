//! Translations for the migrant's app, for texts the server writes for a
//! person, and for the officers' console, from one set of Fluent files
//! (`crates/server/i18n/<lang>/*.ftl`). The app's catalog has all five app
//! languages; the console's (`console.ftl`) only Russian and English, the
//! languages of its users. Both are built by the same [`Catalog`].
//!
//! Why one mechanism on the server: the app has no build step and no
//! third-party JavaScript, so it cannot run a Fluent resolver itself; the
//! server resolves every message once at start and serves the result as a
//! flat JSON object (`GET /app/i18n/<lang>.json`). Texts that depend on
//! values — the deadline in words, with weekday and month names that each
//! language declines its own way — are formatted here with Fluent's
//! arguments and selectors and sent with the status, so the same files and
//! the same grammar rules serve both.
//!
//! The files are compiled into the binary: a missing or broken translation
//! is a failed start (and a failed test), never a blank screen on a phone.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use jiff::Timestamp;

/// Language codes, Russian first (the region's language and the fallback).
pub const LANGS: [&str; 5] = ["ru", "en", "uz", "tg", "ky"];

/// The Fluent files of one language, concatenated in this order. Each part
/// of the app keeps its messages in its own file (`app.ftl` for enrolment,
/// reporting and status; `push.ftl` for notifications; `stay.ftl` for
/// place-of-stay notices and the person's data; `owntracks.ftl` for
/// reporting with OwnTracks); message ids must be unique
/// across them.
macro_rules! language_files {
    ($lang:literal) => {
        [
            (
                "app.ftl",
                include_str!(concat!("../i18n/", $lang, "/app.ftl")),
            ),
            (
                "push.ftl",
                include_str!(concat!("../i18n/", $lang, "/push.ftl")),
            ),
            (
                "stay.ftl",
                include_str!(concat!("../i18n/", $lang, "/stay.ftl")),
            ),
            (
                "owntracks.ftl",
                include_str!(concat!("../i18n/", $lang, "/owntracks.ftl")),
            ),
        ]
    };
}

/// One catalog's sources: per language, its files (name, text).
type Sources = [(&'static str, &'static [(&'static str, &'static str)])];

const SOURCES: &Sources = &[
    ("ru", &language_files!("ru")),
    ("en", &language_files!("en")),
    ("uz", &language_files!("uz")),
    ("tg", &language_files!("tg")),
    ("ky", &language_files!("ky")),
];

/// The console's languages, Russian first (the fallback).
pub const CONSOLE_LANGS: [&str; 2] = ["ru", "en"];

const CONSOLE_SOURCES: &Sources = &[
    (
        "ru",
        &[
            ("console.ftl", include_str!("../i18n/ru/console.ftl")),
            ("host.ftl", include_str!("../i18n/ru/host.ftl")),
        ],
    ),
    (
        "en",
        &[
            ("console.ftl", include_str!("../i18n/en/console.ftl")),
            ("host.ftl", include_str!("../i18n/en/host.ftl")),
        ],
    ),
];

/// The message that puts a deadline into words; takes `$weekday` (1 =
/// Monday … 7 = Sunday), `$day` and `$month` (1 … 12).
const DEADLINE_MESSAGE: &str = "deadline-until";

/// The message that puts a calendar date into words; takes `$day`,
/// `$month` (1 … 12) and `$year`.
const DATE_MESSAGE: &str = "date-in-words";

struct Language {
    code: &'static str,
    bundle: FluentBundle<FluentResource>,
    /// Every message that needs no argument, resolved, as served to the app.
    json: String,
    /// Every message id, sorted.
    ids: Vec<String>,
}

/// All languages, parsed once.
pub struct Catalog {
    languages: Vec<Language>,
}

/// The catalog, built on first use. Panics when a bundled file does not
/// parse: that is a build defect, caught by the tests.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::build(SOURCES).expect("bundled Fluent files are valid"))
}

/// The console's catalog (ru, en), built on first use like [`catalog`].
pub fn console_catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::build(CONSOLE_SOURCES).expect("bundled Fluent files are valid"))
}

impl Catalog {
    fn build(sources: &Sources) -> Result<Catalog, String> {
        let mut languages = Vec::new();
        for &(code, files) in sources {
            let mut resources = Vec::new();
            for &(file, source) in files {
                let resource = FluentResource::try_new(source.to_string())
                    .map_err(|(_, errors)| format!("{code}/{file}: {errors:?}"))?;
                resources.push((file, resource));
            }
            let ids: Vec<String> = resources
                .iter()
                .flat_map(|(_, r)| r.entries())
                .filter_map(|e| match e {
                    fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
                    _ => None,
                })
                .collect();
            let langid: unic_langid::LanguageIdentifier =
                code.parse().map_err(|e| format!("{code}: {e}"))?;
            let mut bundle = FluentBundle::new_concurrent(vec![langid]);
            // The strings go into text nodes and JSON, not into mixed
            // bidirectional text: no Unicode isolation marks.
            bundle.set_use_isolating(false);
            for (file, resource) in resources {
                bundle
                    .add_resource(resource)
                    .map_err(|e| format!("{code}/{file}: {e:?}"))?;
            }
            let mut sorted_ids = ids.clone();
            sorted_ids.sort();
            let mut messages = BTreeMap::new();
            for id in ids {
                if let Some(text) = format(&bundle, &id, None) {
                    messages.insert(id, text);
                }
            }
            let json = serde_json::to_string(&messages).map_err(|e| e.to_string())?;
            languages.push(Language {
                code,
                bundle,
                json,
                ids: sorted_ids,
            });
        }
        Ok(Catalog { languages })
    }

    fn language(&self, code: &str) -> Option<&Language> {
        self.languages.iter().find(|l| l.code == code)
    }

    /// The app's messages for `lang` as a JSON object (id → text), or None
    /// for a language we do not have.
    pub fn messages_json(&self, lang: &str) -> Option<&str> {
        self.language(lang).map(|l| l.json.as_str())
    }

    /// One message without arguments.
    pub fn message(&self, lang: &str, id: &str) -> Option<String> {
        format(&self.language(lang)?.bundle, id, None)
    }

    /// One message with arguments; None when it is missing or an argument
    /// it needs was not given.
    pub fn message_with(&self, lang: &str, id: &str, args: &FluentArgs) -> Option<String> {
        format(&self.language(lang)?.bundle, id, Some(args))
    }

    /// The ids of every message of `lang`, sorted (for completeness tests).
    pub fn message_ids(&self, lang: &str) -> Vec<String> {
        self.language(lang)
            .map(|l| l.ids.clone())
            .unwrap_or_default()
    }

    /// `deadline` (an instant) in words in `lang`, on its Moscow calendar
    /// day: "until the end of Wednesday, 3 December".
    pub fn deadline_text(&self, lang: &str, deadline: Timestamp) -> Option<String> {
        let day = amina_domain::time::moscow_date(deadline);
        let mut args = FluentArgs::new();
        args.set(
            "weekday",
            FluentValue::from(day.weekday().to_monday_one_offset()),
        );
        // The day as text: Fluent must not apply number formatting to it.
        args.set("day", FluentValue::from(day.day().to_string()));
        args.set("month", FluentValue::from(day.month()));
        format(&self.language(lang)?.bundle, DEADLINE_MESSAGE, Some(&args))
    }
}

impl Catalog {
    /// A calendar date in words in `lang`: "3 December 2025".
    pub fn date_text(&self, lang: &str, date: jiff::civil::Date) -> Option<String> {
        let mut args = FluentArgs::new();
        args.set("day", FluentValue::from(date.day().to_string()));
        args.set("month", FluentValue::from(date.month()));
        // As text: no digit grouping ("2 025").
        args.set("year", FluentValue::from(date.year().to_string()));
        format(&self.language(lang)?.bundle, DATE_MESSAGE, Some(&args))
    }
}

/// A date in words in every language.
pub fn date_texts(date: jiff::civil::Date) -> BTreeMap<String, String> {
    let c = catalog();
    LANGS
        .iter()
        .filter_map(|l| Some((l.to_string(), c.date_text(l, date)?)))
        .collect()
}

/// The deadline in words in every language, for the status.
///
/// Every answer to an upload carries it, and resolving five Fluent
/// messages per answer took 4.7 % of the single-fix benchmark's process
/// (server and simulated phones together;
/// docs/performance.md#index-lookups-at-every-table-size). The texts
/// depend only on the deadline's Moscow day, and the deadlines of a day's
/// uploads fall on a handful of days, so each day's texts are resolved once
/// and kept.
pub fn deadline_texts(deadline: Timestamp) -> BTreeMap<String, String> {
    /// Days kept; past it the cache starts again (days move on slowly).
    const DAYS_KEPT: usize = 64;
    static BY_DAY: Mutex<BTreeMap<jiff::civil::Date, BTreeMap<String, String>>> =
        Mutex::new(BTreeMap::new());
    let day = amina_domain::time::moscow_date(deadline);
    if let Some(texts) = lock_cache(&BY_DAY).get(&day) {
        return texts.clone();
    }
    let c = catalog();
    let texts: BTreeMap<String, String> = LANGS
        .iter()
        .filter_map(|l| Some((l.to_string(), c.deadline_text(l, deadline)?)))
        .collect();
    let mut cache = lock_cache(&BY_DAY);
    if cache.len() >= DAYS_KEPT {
        cache.clear();
    }
    cache.insert(day, texts.clone());
    texts
}

/// Nothing panics while holding a cache's lock; a poisoned one is intact.
fn lock_cache<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Resolve a message; None when it is missing or resolving it reported an
/// error (e.g. it needs an argument that was not given).
fn format(
    bundle: &FluentBundle<FluentResource>,
    id: &str,
    args: Option<&FluentArgs>,
) -> Option<String> {
    let pattern = bundle.get_message(id)?.value()?;
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, args, &mut errors);
    errors.is_empty().then(|| text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moscow(s: &str) -> Timestamp {
        amina_domain::time::parse_moscow(s).unwrap()
    }

    fn ids(lang: &str) -> Vec<String> {
        let json = catalog().messages_json(lang).unwrap();
        let map: BTreeMap<String, String> = serde_json::from_str(json).unwrap();
        map.into_keys().collect()
    }

    #[test]
    fn every_language_has_every_message() {
        let reference = ids("ru");
        assert!(reference.len() > 30, "{reference:?}");
        for lang in LANGS {
            assert_eq!(ids(lang), reference, "messages of {lang} differ from ru");
            assert!(catalog()
                .deadline_text(lang, Timestamp::UNIX_EPOCH)
                .is_some());
            assert!(catalog()
                .date_text(lang, jiff::civil::date(2025, 12, 3))
                .is_some());
        }
    }

    #[test]
    fn every_key_the_app_uses_exists() {
        let html = include_str!("../assets/app/index.html");
        // Every script of the app; a new module is added here.
        let scripts = [
            include_str!("../assets/app/app.js"),
            include_str!("../assets/app/stay.js"),
            include_str!("../assets/app/push.js"),
            include_str!("../assets/app/owntracks.js"),
        ];
        let mut used = Vec::new();
        for part in html.split("data-i18n=\"").skip(1) {
            used.push(part.split('"').next().unwrap().to_string());
        }
        // In the code, message ids are literals on the lines that show a
        // message; element ids there are written `$("id")`.
        let shows = ["say(", "renderSync(", "showGeoProblem(", " t(\"", "msg("];
        let lines = scripts.iter().flat_map(|js| js.lines());
        for line in lines.filter(|l| shows.iter().any(|m| l.contains(m))) {
            let parts: Vec<&str> = line.split('"').collect();
            for (i, literal) in parts.iter().enumerate().skip(1).step_by(2) {
                if !parts[i - 1].ends_with("$(") && !literal.is_empty() {
                    used.push(literal.to_string());
                }
            }
        }
        assert!(used.len() > 20, "{used:?}");
        let known = ids("ru");
        for key in used {
            assert!(
                known.contains(&key),
                "the app uses {key:?}, missing in the Fluent files"
            );
        }
    }

    #[test]
    fn dates_in_words() {
        let d = jiff::civil::date(2025, 12, 3);
        let t = date_texts(d);
        assert_eq!(t["en"], "3 December 2025");
        assert_eq!(t["ru"], "3 декабря 2025 г.");
        assert_eq!(t["uz"], "2025-yil 3-dekabr");
        assert_eq!(t["tg"], "3 декабри соли 2025");
        assert_eq!(t["ky"], "2025-жылдын 3-декабры");
    }

    #[test]
    fn deadline_in_words() {
        // The example in DESIGN.md: last fix Friday 28 Nov 2025 -> Wednesday 3 Dec.
        let d = moscow("2025-12-03T23:59:59.999");
        let c = catalog();
        assert_eq!(
            c.deadline_text("en", d).unwrap(),
            "until the end of Wednesday, 3 December"
        );
        assert_eq!(
            c.deadline_text("ru", d).unwrap(),
            "до конца среды, 3 декабря"
        );
        // The Moscow day decides, not the UTC one: 23:59 Moscow is 20:59 UTC.
        let sunday = moscow("2026-01-11T23:59:59.999");
        assert_eq!(
            c.deadline_text("en", sunday).unwrap(),
            "until the end of Sunday, 11 January"
        );
        let texts = deadline_texts(d);
        assert_eq!(texts.len(), LANGS.len());
        assert!(texts["uz"].contains("dekabr"), "{}", texts["uz"]);
        assert!(texts["tg"].contains("декабр"), "{}", texts["tg"]);
        assert!(texts["ky"].contains("декабр"), "{}", texts["ky"]);
    }

    /// The texts as resolved without the cache.
    fn resolved(deadline: Timestamp) -> BTreeMap<String, String> {
        LANGS
            .iter()
            .map(|l| (l.to_string(), catalog().deadline_text(l, deadline).unwrap()))
            .collect()
    }

    #[test]
    fn kept_deadline_texts_are_those_of_the_moscow_day() {
        // Two instants of one UTC day (20:59 and 21:30 UTC) on two Moscow days.
        let sunday = moscow("2026-01-11T23:59:59.999");
        let monday = moscow("2026-01-12T00:30:00");
        assert_eq!(deadline_texts(sunday), resolved(sunday));
        assert_eq!(deadline_texts(monday), resolved(monday));
        assert_ne!(deadline_texts(sunday), deadline_texts(monday));
        // More days than are kept, then the first again.
        let first = moscow("2027-03-01T23:59:59.999");
        for k in 0..100 {
            let d = first + jiff::SignedDuration::from_hours(24 * k);
            assert_eq!(deadline_texts(d), resolved(d), "day {k}");
        }
        assert_eq!(deadline_texts(first), resolved(first));
    }
}
