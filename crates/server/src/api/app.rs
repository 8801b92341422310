//! The migrant's app: an installable web app (PWA) served from the binary.
//!
//! Why embedded: one binary runs everything, the app can never be out of
//! step with the API it talks to, and nothing is loaded from anywhere but
//! this server (the Content-Security-Policy says so to the browser too).
//! The files in `crates/server/assets/app/` are plain HTML, CSS and
//! JavaScript with no build step; translations come from the Fluent files
//! through [`crate::i18n`].
//!
//! Caching: the service worker keeps the app shell for offline use, so the
//! HTTP cache must not keep a stale copy in front of it: code, markup and
//! translations are `no-cache` (always revalidated), only the icons and the
//! manifest may be kept for a day. `/app` redirects to `/app/` so that the
//! page lies inside the service worker's scope.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::ApiError;

/// What the browser may load: only this origin; no inline scripts or
/// styles, no framing.
const CSP: &str = "default-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

const REVALIDATE: &str = "no-cache";
const DAY: &str = "public, max-age=86400";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    cache: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:literal, $cache:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            cache: $cache,
            body: include_bytes!(concat!("../../assets/app/", $name)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8", REVALIDATE),
    asset!("app.js", "text/javascript; charset=utf-8", REVALIDATE),
    asset!("stay.js", "text/javascript; charset=utf-8", REVALIDATE),
    asset!("push.js", "text/javascript; charset=utf-8", REVALIDATE),
    asset!("owntracks.js", "text/javascript; charset=utf-8", REVALIDATE),
    asset!("app.css", "text/css; charset=utf-8", REVALIDATE),
    asset!("sw.js", "text/javascript; charset=utf-8", REVALIDATE),
    asset!("manifest.webmanifest", "application/manifest+json", DAY),
    asset!("icon-192.png", "image/png", DAY),
    asset!("icon-512.png", "image/png", DAY),
];

/// `GET /app`: the app lives under `/app/`, the service worker's scope.
pub async fn redirect() -> Redirect {
    Redirect::permanent("/app/")
}

/// `GET /app/`: the app's page.
pub async fn index() -> Response {
    file("index.html")
}

/// `GET /app/{name}`: one file of the app shell.
pub async fn asset(Path(name): Path<String>) -> Response {
    file(&name)
}

/// `GET /app/i18n/{lang}.json`: every message of one language, resolved.
pub async fn translations(Path(name): Path<String>) -> Response {
    let json = name
        .strip_suffix(".json")
        .and_then(|lang| crate::i18n::catalog().messages_json(lang));
    match json {
        Some(json) => respond(
            "application/json; charset=utf-8",
            REVALIDATE,
            json.as_bytes(),
        ),
        None => not_found(),
    }
}

fn file(name: &str) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => respond(a.content_type, a.cache, a.body),
        None => not_found(),
    }
}

fn respond(content_type: &'static str, cache: &'static str, body: &'static [u8]) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // nosniff, no referrer and no framing come with every answer
    // (`console::security_headers`); the app's pages need their own CSP.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

fn not_found() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such file in the app",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_file_the_service_worker_caches_is_served() {
        let sw = std::str::from_utf8(file_body("sw.js")).unwrap();
        for a in ASSETS {
            if a.name != "sw.js" {
                assert!(
                    sw.contains(&format!("/app/{}", a.name)),
                    "{} not cached",
                    a.name
                );
            }
        }
        for lang in crate::i18n::LANGS {
            assert!(sw.contains(&format!("\"{lang}\"")), "{lang} not cached");
        }
    }

    #[test]
    fn no_resource_from_another_origin() {
        for a in ASSETS {
            if let Ok(text) = std::str::from_utf8(a.body) {
                assert!(!text.contains("http://"), "{} names an http URL", a.name);
                assert!(!text.contains("https://"), "{} names an https URL", a.name);
            }
        }
    }

    fn file_body(name: &str) -> &'static [u8] {
        ASSETS.iter().find(|a| a.name == name).unwrap().body
    }
}
