//! Typed configuration: built-in defaults, then an optional TOML file, then
//! environment variables `AMINA_<SECTION>__<KEY>` (e.g.
//! `AMINA_RULES__WINDOW_DAYS=3`). Every setting, its default and its meaning
//! is listed here and in docs/configuration.md.

use std::path::PathBuf;

use amina_domain::rule::DayKind;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: String,
    /// Directory for the embedded database and generated keys; created on
    /// first run.
    pub data_dir: PathBuf,
    /// Database URL: `sqlite:PATH` or `postgres://…`. Empty means
    /// `sqlite:<data_dir>/amina.sqlite3`.
    pub database: String,
    pub rules: RulesConfig,
    pub scope: ScopeConfig,
    pub regions: RegionsConfig,
    pub calendar: CalendarConfig,
    pub enrolment: EnrolmentConfig,
    pub ingest: IngestConfig,
    pub scheduler: SchedulerConfig,
    pub console: ConsoleConfig,
    pub stay: StayConfig,
    pub retention: RetentionConfig,
    pub push: PushConfig,
    pub integration: IntegrationConfig,
    pub limits: LimitsConfig,
    pub tls: TlsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data-dir"),
            database: String::new(),
            rules: RulesConfig::default(),
            scope: ScopeConfig::default(),
            regions: RegionsConfig::default(),
            calendar: CalendarConfig::default(),
            enrolment: EnrolmentConfig::default(),
            ingest: IngestConfig::default(),
            scheduler: SchedulerConfig::default(),
            console: ConsoleConfig::default(),
            stay: StayConfig::default(),
            retention: RetentionConfig::default(),
            push: PushConfig::default(),
            integration: IntegrationConfig::default(),
            limits: LimitsConfig::default(),
            tls: TlsConfig::default(),
        }
    }
}

/// The monitoring rule (DESIGN.md: "3 working days" by default; officials
/// also speak of "three days in a row", hence the kind of day is a setting).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// Length of the monitoring window.
    pub window_days: u32,
    /// `working` (production calendar) or `calendar` days.
    pub window_kind: DayKind,
    /// How far a device clock may run ahead before its fixes are refused,
    /// and how old a request signature may be, in seconds.
    pub clock_skew_s: u32,
    /// Impossible-speed threshold for the implausible-fix check.
    pub max_speed_kmh: f64,
    /// Jumps shorter than this (after subtracting accuracies) are noise.
    pub min_jump_m: f64,
    /// A jump confirmed by later fixes for this long is a real move.
    pub confirm_jump_after_minutes: u32,
}

impl Default for RulesConfig {
    fn default() -> Self {
        let p = amina_domain::monitor::Plausibility::default();
        RulesConfig {
            window_days: 3,
            window_kind: DayKind::Working,
            clock_skew_s: 300,
            max_speed_kmh: p.max_speed_kmh,
            min_jump_m: p.min_jump_m,
            confirm_jump_after_minutes: p.confirm_after_minutes,
        }
    }
}

/// Who is in scope of the pilot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScopeConfig {
    /// ISO 3166-1 alpha-3 codes of the citizenships in scope.
    pub citizenships: Vec<String>,
    /// Younger people are not enrolled (their host party notifies).
    pub adult_age_years: i16,
}

impl Default for ScopeConfig {
    fn default() -> Self {
        let s = amina_domain::eligibility::Scope::default();
        ScopeConfig {
            citizenships: s
                .citizenships
                .iter()
                .map(|c| c.as_str().to_string())
                .collect(),
            adult_age_years: s.adult_age_years,
        }
    }
}

/// The pilot region's boundaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegionsConfig {
    /// GeoJSON file with the region polygons; empty means the boundaries
    /// built into the binary (data/regions, OpenStreetMap).
    pub file: Option<PathBuf>,
    /// Feature codes of the pilot regions and the slug each is reported as.
    pub pilot: Vec<PilotRegion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PilotRegion {
    pub code: String,
    pub slug: String,
}

impl Default for RegionsConfig {
    fn default() -> Self {
        RegionsConfig {
            file: None,
            pilot: vec![
                PilotRegion {
                    code: "RU-MOW".into(),
                    slug: "moscow".into(),
                },
                PilotRegion {
                    code: "RU-MOS".into(),
                    slug: "moscow_oblast".into(),
                },
            ],
        }
    }
}

/// The production calendar: the built-in years plus files an admin adds
/// (same format as data/calendar/ru-production-calendar.json).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarConfig {
    pub extra_files: Vec<PathBuf>,
}

/// Enrolment with card number and activation secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnrolmentConfig {
    /// Consecutive wrong secrets that lock the card until an operator
    /// unlocks it.
    pub lock_after_failures: u32,
    /// After the k-th consecutive failure the card waits
    /// `backoff_base_s * 2^(k-1)` seconds (at most `backoff_max_s`) before
    /// the next attempt.
    pub backoff_base_s: u32,
    pub backoff_max_s: u32,
    /// Lifetime of the single-use token that binds a device after enrolment.
    pub binding_token_ttl_s: u32,
    /// Lifetime of a one-time enrolment code an operator issues (the QR
    /// code at a migration centre).
    pub code_ttl_s: u32,
    /// The app's public address, for the link an enrolment code's QR code
    /// carries (`<app_url>#code=…`). Empty means `http://<listen>/app/`.
    pub app_url: String,
}

impl Default for EnrolmentConfig {
    fn default() -> Self {
        EnrolmentConfig {
            lock_after_failures: 5,
            backoff_base_s: 2,
            backoff_max_s: 300,
            binding_token_ttl_s: 900,
            code_ttl_s: 600,
            app_url: String::new(),
        }
    }
}

/// Fix uploads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Most fixes in one upload.
    pub max_batch_fixes: usize,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long a device session lasts (one signature, then a MAC per
    /// request), in hours.
    pub device_session_hours: u32,
    /// Most device sessions one node keeps in memory.
    pub session_cache_entries: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_batch_fixes: 500,
            max_body_bytes: 256 * 1024,
            device_session_hours: 24,
            session_cache_entries: 1_000_000,
        }
    }
}

/// The background scheduler that deregisters overdue people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    pub enabled: bool,
    /// Seconds between runs.
    pub interval_s: u64,
    /// People handled per transaction.
    pub batch_size: u32,
    /// Run the daily detection job (docs/detection.md).
    pub detection_enabled: bool,
    /// Moscow hour after which yesterday's detection runs (its night must
    /// be over).
    pub detection_after_hour: i8,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            enabled: true,
            interval_s: 30,
            batch_size: 500,
            detection_enabled: true,
            detection_after_hour: 7,
        }
    }
}

/// The officers' console (docs/console.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// A session ends after this many minutes without a request.
    pub session_idle_minutes: u32,
    /// A session ends this many hours after sign-in, however active.
    pub session_absolute_hours: u32,
    /// Consecutive failed sign-ins that lock an account…
    pub lock_after_failures: u32,
    /// …for this many minutes.
    pub lock_minutes: u32,
    /// Mark cookies `Secure`. Also done for any request that arrived over
    /// TLS at a proxy (`X-Forwarded-Proto: https`). Set it in production.
    pub secure_cookies: bool,
    /// Longest case (location permission) an officer may open, in hours.
    pub case_max_hours: u32,
    /// Fixes shown as the track inside a case.
    pub track_points: u32,
    /// Largest radius of a "nearby" query, in metres.
    pub nearby_max_radius_m: f64,
    /// Optional map tile URL template (`https://tiles.example/{z}/{x}/{y}.png`)
    /// of a deployment's own tile server. Empty (the default): the map is
    /// the offline SVG of the built-in boundaries only. Set: its tiles are
    /// the map's background under the same boundaries, and the console's
    /// Content-Security-Policy allows images from exactly its origin.
    pub tile_url: String,
}

impl ConsoleConfig {
    /// The tile server's origin (`scheme://host[:port]`) if `tile_url` is
    /// set, or why it is not usable.
    pub fn tile_origin(&self) -> Result<Option<String>, ConfigError> {
        let url = self.tile_url.trim();
        if url.is_empty() {
            return Ok(None);
        }
        let bad = |why: &str| ConfigError(format!("console.tile_url = {url:?}: {why}"));
        let rest = url
            .strip_prefix("https://")
            .map(|r| ("https", r))
            .or_else(|| url.strip_prefix("http://").map(|r| ("http", r)));
        let Some((scheme, rest)) = rest else {
            return Err(bad("must start with https:// or http://"));
        };
        let host = rest.split('/').next().unwrap_or("");
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !host_ok {
            return Err(bad("the host is not a plain host name or address"));
        }
        if !["{z}", "{x}", "{y}"].iter().all(|p| url.contains(p)) {
            return Err(bad("must contain {z}, {x} and {y}"));
        }
        if url
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | ';' | ',' | '<' | '>'))
        {
            return Err(bad("contains characters not allowed in a URL here"));
        }
        Ok(Some(format!("{scheme}://{host}")))
    }
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            lock_after_failures: 5,
            lock_minutes: 15,
            secure_cookies: false,
            case_max_hours: 72,
            track_points: 200,
            nearby_max_radius_m: 5000.0,
            tile_url: String::new(),
        }
    }
}

/// Web Push (RFC 8030/8291/8292) and the push rules
/// (`amina_domain::reminders`). Times of day are Moscow wall-clock `HH:MM`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushConfig {
    /// Plan and send pushes in the scheduler.
    pub enabled: bool,
    /// The VAPID `sub` claim: how a push service reaches the operator
    /// (`mailto:` or `https:` URL).
    pub contact: String,
    /// "No fix received for N hours".
    pub no_fix_hours: u32,
    /// A problem the app reported (location off, no GNSS, fixes queued)
    /// is pushed when no fix followed within this many minutes.
    pub cause_grace_minutes: u32,
    /// Remind a person who has not opened the app today, from this time.
    pub checkin_reminder_at: String,
    /// Quiet hours: no push from `quiet_start` to `quiet_end` (may span
    /// midnight; equal times mean none). Notices wait, they are not dropped.
    pub quiet_start: String,
    pub quiet_end: String,
    /// Look at every subscribed person at least this often.
    pub recheck_hours: u32,
    /// How long a push service keeps an undelivered message (TTL header).
    pub ttl_s: u32,
    /// Attempts per notice before it fails (429/5xx/network errors retry).
    pub max_attempts: u32,
    /// Retry backoff: `retry_base_s * 2^(attempt-1)`, at most `retry_max_s`
    /// (a push service's Retry-After wins when longer).
    pub retry_base_s: u64,
    pub retry_max_s: u64,
    /// A notice decided longer ago than this is not sent any more.
    pub give_up_after_hours: u32,
    /// A claimed notice is claimed again after this long if its sender
    /// never recorded an answer (it crashed): at-least-once delivery.
    pub lease_s: u64,
    /// Timeout of one request to a push service.
    pub timeout_s: u64,
    /// Accept `http://` endpoints on loopback addresses (tests only: real
    /// push services are https).
    pub allow_loopback_http: bool,
    /// Notices sent per batch.
    pub batch_size: u32,
}

impl Default for PushConfig {
    fn default() -> Self {
        PushConfig {
            enabled: true,
            contact: "mailto:push-admin@amina.invalid".into(),
            no_fix_hours: 24,
            cause_grace_minutes: 60,
            checkin_reminder_at: "18:00".into(),
            quiet_start: "22:00".into(),
            quiet_end: "08:00".into(),
            recheck_hours: 6,
            ttl_s: 12 * 3600,
            max_attempts: 8,
            retry_base_s: 60,
            retry_max_s: 3600,
            give_up_after_hours: 24,
            lease_s: 120,
            timeout_s: 10,
            allow_loopback_http: false,
            batch_size: 200,
        }
    }
}

/// Place-of-stay notices and the address search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StayConfig {
    /// How many days after today a notice may start.
    pub max_days_ahead: u32,
    /// Most addresses one search returns.
    pub search_results: u32,
}

impl Default for StayConfig {
    fn default() -> Self {
        StayConfig {
            max_days_ahead: amina_domain::stay::NoticeRules::default().max_days_ahead,
            search_results: 20,
        }
    }
}

/// Abuse limits (`crate::limits`): token buckets per client address, per
/// device, per console account and per sign-in name; a rate of 0 switches
/// that limit off. Each node counts for itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Requests per minute from one client address, and the burst allowed.
    /// Generous: carriers put many phones behind one address.
    pub address_per_minute: u32,
    pub address_burst: u32,
    /// Addresses the per-address limit does not apply to (default: the
    /// loopback addresses, where a reverse proxy on the same machine would
    /// make every client one address).
    pub exempt_addresses: Vec<std::net::IpAddr>,
    /// Signed requests (and OwnTracks reports) per minute of one device.
    /// The burst covers a phone sending its whole offline queue at once.
    pub device_per_minute: u32,
    pub device_burst: u32,
    /// Console requests per minute of one signed-in account.
    pub account_per_minute: u32,
    pub account_burst: u32,
    /// Console sign-in attempts per minute for one user name.
    pub sign_in_per_minute: u32,
    pub sign_in_burst: u32,
    /// The largest request body the server reads at all; each endpoint
    /// has its own smaller limit as well.
    pub max_request_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            address_per_minute: 6_000,
            address_burst: 1_000,
            exempt_addresses: vec![
                std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ],
            device_per_minute: 120,
            device_burst: 600,
            account_per_minute: 600,
            account_burst: 300,
            sign_in_per_minute: 30,
            sign_in_burst: 20,
            max_request_bytes: 1024 * 1024,
        }
    }
}

impl LimitsConfig {
    /// Every rate limit off (load tests and simulations that play many
    /// phones' days in minutes); the body size limit stays.
    pub fn off() -> Self {
        LimitsConfig {
            address_per_minute: 0,
            device_per_minute: 0,
            account_per_minute: 0,
            sign_in_per_minute: 0,
            ..LimitsConfig::default()
        }
    }
}

/// TLS termination in the server itself (rustls). Without a certificate the
/// server speaks plain HTTP, for a reverse proxy that terminates TLS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain; empty means plain HTTP.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// Send `Strict-Transport-Security` although TLS ends at a proxy in
    /// front of this server (with a certificate it is always sent).
    pub hsts_behind_proxy: bool,
    /// The HSTS max-age, seconds.
    pub hsts_max_age_s: u32,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert_file: PathBuf::new(),
            key_file: PathBuf::new(),
            hsts_behind_proxy: false,
            hsts_max_age_s: 31_536_000,
        }
    }
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        !self.cert_file.as_os_str().is_empty()
    }

    /// Whether responses carry `Strict-Transport-Security`.
    pub fn hsts(&self) -> bool {
        self.enabled() || self.hsts_behind_proxy
    }
}

/// How long raw locations are kept. The scheduler reduces older fixes to
/// daily presence summaries (`crate::retention`); "my data" states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days raw fixes are kept before they are reduced to summaries (at
    /// least 1: the detection job reads yesterday's fixes).
    pub fix_days: u32,
    /// Whether the scheduler enforces it (once a Moscow day).
    pub enabled: bool,
    /// People per reduction transaction.
    pub batch_size: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            fix_days: 90,
            enabled: true,
            batch_size: 200,
        }
    }
}

impl PushConfig {
    /// The domain's push rules from these settings.
    pub fn rules(&self) -> Result<amina_domain::reminders::PushRules, ConfigError> {
        use amina_domain::reminders::{PushRules, QuietHours};
        use jiff::SignedDuration;
        let time = |name: &str, v: &str| {
            v.parse::<jiff::civil::Time>()
                .map_err(|e| ConfigError(format!("push.{name} = {v:?} is not HH:MM: {e}")))
        };
        if self.no_fix_hours == 0 || self.recheck_hours == 0 {
            return Err(ConfigError(
                "push.no_fix_hours and push.recheck_hours must be positive".into(),
            ));
        }
        if !(self.contact.starts_with("mailto:") || self.contact.starts_with("https://")) {
            return Err(ConfigError(
                "push.contact must be a mailto: or https: URL".into(),
            ));
        }
        Ok(PushRules {
            no_fix_after: SignedDuration::from_hours(i64::from(self.no_fix_hours)),
            cause_grace: SignedDuration::from_mins(i64::from(self.cause_grace_minutes)),
            checkin_reminder_at: time("checkin_reminder_at", &self.checkin_reminder_at)?,
            quiet: QuietHours {
                start: time("quiet_start", &self.quiet_start)?,
                end: time("quiet_end", &self.quiet_end)?,
            },
            recheck_within: SignedDuration::from_hours(i64::from(self.recheck_hours)),
        })
    }
}

/// The integration API with the federal migration system (docs/integration.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntegrationConfig {
    /// Senders and their shared HMAC keys (base64, at least 32 bytes), by
    /// sender id: `[integration.senders] fms = "…"`, or
    /// `AMINA_INTEGRATION__SENDERS__FMS=…` (ids are lower case). `amina
    /// events new-key` makes a key. Never logged; `Debug` redacts them.
    pub senders: std::collections::BTreeMap<String, SenderKey>,
    /// Working days outside the pilot region (production calendar) after
    /// which an `outside_too_long` signal is raised and the person is told
    /// to register where they are. 7: Federal Law 109-FZ, art. 20, gives a
    /// foreign citizen seven working days to notify a place of stay.
    pub outside_working_days: u32,
    /// Largest event body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most feed entries one request returns (and the default is 100).
    pub feed_max_limit: u32,
    /// Feed rows published (given positions) per transaction.
    pub publish_batch: u32,
}

impl Default for IntegrationConfig {
    fn default() -> Self {
        IntegrationConfig {
            senders: std::collections::BTreeMap::new(),
            outside_working_days: 7,
            max_body_bytes: 16 * 1024,
            feed_max_limit: 1000,
            publish_batch: 500,
        }
    }
}

/// A sender's shared key as configured (base64). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SenderKey(pub String);

impl std::fmt::Debug for SenderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SenderKey(<redacted>)")
    }
}

impl SenderKey {
    /// The key's bytes; None when it is not base64 of at least 32 bytes.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        amina_client::integration::decode_key(&self.0)
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Defaults, then `file` (if given), then `AMINA_*` environment
    /// variables.
    pub fn load(file: Option<&std::path::Path>) -> Result<Config, ConfigError> {
        use figment::providers::{Env, Format, Serialized, Toml};
        let mut fig = figment::Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(ConfigError(format!("{} does not exist", f.display())));
            }
            fig = fig.merge(Toml::file(f));
        }
        // Only the sections of this file: AMINA_CONFIG, AMINA_LOG_FORMAT and
        // the test variables are read elsewhere.
        const SECTIONS: &[&str] = &[
            "listen",
            "data_dir",
            "database",
            "rules",
            "scope",
            "regions",
            "calendar",
            "enrolment",
            "ingest",
            "scheduler",
            "console",
            "stay",
            "retention",
            "push",
            "integration",
            "limits",
            "tls",
        ];
        let env = Env::prefixed("AMINA_").split("__").filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            SECTIONS
                .iter()
                .any(|s| key == *s || key.starts_with(&format!("{s}.")))
        });
        fig = fig.merge(env);
        let config: Config = fig.extract().map_err(|e| ConfigError(e.to_string()))?;
        config.console.tile_origin()?;
        if config.retention.fix_days == 0 {
            return Err(ConfigError(
                "retention.fix_days must be at least 1 (the detection job reads yesterday's fixes)"
                    .into(),
            ));
        }
        let body_max = config.limits.max_request_bytes;
        if config.ingest.max_body_bytes > body_max || config.integration.max_body_bytes > body_max {
            return Err(ConfigError(format!(
                "limits.max_request_bytes ({body_max}) must be at least ingest.max_body_bytes and \
                 integration.max_body_bytes"
            )));
        }
        if config.tls.enabled() == config.tls.key_file.as_os_str().is_empty() {
            return Err(ConfigError(
                "tls.cert_file and tls.key_file go together".into(),
            ));
        }
        Ok(config)
    }

    /// The app's public address, ending in `/`.
    pub fn app_url(&self) -> String {
        let url = if self.enrolment.app_url.is_empty() {
            format!("http://{}/app/", self.listen)
        } else {
            self.enrolment.app_url.clone()
        };
        if url.ends_with('/') {
            url
        } else {
            format!("{url}/")
        }
    }

    /// The database URL, defaulting to SQLite in the data directory.
    pub fn database_url(&self) -> String {
        if self.database.is_empty() {
            format!("sqlite:{}", self.data_dir.join("amina.sqlite3").display())
        } else {
            self.database.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_design_defaults() {
        let c = Config::default();
        assert_eq!(c.rules.window_days, 3);
        assert_eq!(c.rules.window_kind, DayKind::Working);
        assert_eq!(c.scope.citizenships.len(), 9);
        assert!(c.database_url().starts_with("sqlite:"));
        let push = c.push.rules().unwrap();
        assert_eq!(push, amina_domain::reminders::PushRules::default());
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the closure's error type
    fn sender_keys_come_from_the_environment_and_are_redacted() {
        figment::Jail::expect_with(|jail| {
            let key = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMg==";
            jail.set_env("AMINA_INTEGRATION__SENDERS__FMS", key);
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let k = c.integration.senders.get("fms").expect("sender fms");
            assert_eq!(k.0, key);
            assert!(k.bytes().is_some_and(|b| b.len() >= 32));
            let shown = format!("{c:?}");
            assert!(!shown.contains(key), "key in Debug output");
            assert!(shown.contains("<redacted>"));
            Ok(())
        });
    }

    #[test]
    fn bad_push_times_are_refused() {
        let mut c = Config::default();
        c.push.quiet_start = "25:00".into();
        assert!(c.push.rules().is_err());
        let mut c = Config::default();
        c.push.contact = "push-admin".into();
        assert!(c.push.rules().is_err());
    }

    #[test]
    fn tile_url_gives_its_origin_or_is_refused() {
        let mut c = ConsoleConfig::default();
        assert_eq!(c.tile_origin().unwrap(), None);
        c.tile_url = "https://tiles.example.org:8443/osm/{z}/{x}/{y}.png".into();
        assert_eq!(
            c.tile_origin().unwrap().as_deref(),
            Some("https://tiles.example.org:8443")
        );
        for bad in [
            "ftp://tiles/{z}/{x}/{y}",
            "https://tiles.example.org/tile.png",
            "https://a b/{z}/{x}/{y}",
            "https://x; script-src */{z}/{x}/{y}",
            "https:///{z}/{x}/{y}",
        ] {
            c.tile_url = bad.into();
            assert!(c.tile_origin().is_err(), "{bad}");
        }
    }

    #[test]
    fn file_overrides_defaults_and_unknown_keys_fail() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("amina.toml");
        std::fs::write(&f, "[rules]\nwindow_days = 5\nwindow_kind = \"calendar\"\n").unwrap();
        let c = Config::load(Some(&f)).unwrap();
        assert_eq!(c.rules.window_days, 5);
        assert_eq!(c.rules.window_kind, DayKind::Calendar);
        std::fs::write(&f, "[rules]\nwindow_dayz = 5\n").unwrap();
        assert!(Config::load(Some(&f)).is_err());
        assert!(Config::load(Some(&dir.path().join("missing.toml"))).is_err());
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the closure's error type
    fn environment_overrides_and_foreign_variables_are_ignored() {
        // Variables read elsewhere (AMINA_CONFIG, AMINA_LOG_FORMAT,
        // AMINA_TEST_*) must not make the configuration invalid.
        figment::Jail::expect_with(|jail| {
            jail.set_env("AMINA_RULES__WINDOW_DAYS", "4");
            jail.set_env("AMINA_LOG_FORMAT", "json");
            jail.set_env("AMINA_TEST_STRICT", "1");
            jail.set_env("AMINA_DATABASE", "postgres://x/y");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.rules.window_days, 4);
            assert_eq!(c.database, "postgres://x/y");
            Ok(())
        });
    }
}
