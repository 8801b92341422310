//! The page shell: head, navigation by role, language switch.

use amina_domain::console::Role;
use maud::{html, Markup, DOCTYPE};

use super::auth::Officer;
use super::t;

/// Which navigation entries each role sees (the authorisation table still
/// decides; this only hides links that would be refused).
fn nav(lang: &str, role: Role) -> Markup {
    use Role::*;
    let casework = matches!(role, MigrationOfficer | PoliceOfficer | Supervisor);
    html! {
        a href="/console/" { (t(lang, "nav-home")) }
        @if casework {
            a href="/console/search" { (t(lang, "nav-search")) }
            a href="/console/alerts" { (t(lang, "nav-alerts")) }
            a href="/console/map" { (t(lang, "nav-map")) }
        }
        @if matches!(role, MigrationOfficer | Supervisor) {
            a href="/console/registry" { (t(lang, "nav-registry")) }
        }
        @if role == Auditor {
            a href="/console/audit" { (t(lang, "nav-audit")) }
        }
        @if role == PoliceOfficer {
            a href="/console/spot-checks" { (t(lang, "nav-spot-checks")) }
        }
        @if role == Admin {
            a href="/console/accounts" { (t(lang, "nav-accounts")) }
        }
        @if role == EnrolmentOperator {
            a href="/console/enrolment" { (t(lang, "nav-enrolment")) }
        }
        (super::host::nav(lang, role))
    }
}

/// A whole page.
pub fn page(lang: &str, officer: Option<&Officer>, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — amina" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                header {
                    strong.brand { (t(lang, "brand")) }
                    @if let Some(o) = officer {
                        nav { (nav(lang, o.role)) }
                        span.who data-role=(o.role.code()) {
                            (o.name) " · " (t(lang, &format!("role-{}", o.role.code())))
                        }
                        form.inline method="post" action="/console/logout" {
                            input type="hidden" name="csrf" value=(o.csrf);
                            button type="submit" { (t(lang, "logout")) }
                        }
                    }
                    span.langs {
                        a href="/console/lang/ru" lang="ru" { "RU" }
                        " "
                        a href="/console/lang/en" lang="en" { "EN" }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}
