//! Shared server state and how it is built from configuration.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use amina_domain::calendar::ProductionCalendar;
use amina_domain::geofence::Geofence;
use amina_domain::monitor::{Monitor, Plausibility};
use amina_domain::rule::MonitoringWindow;
use amina_store::SharedStore;
use jiff::{SignedDuration, Timestamp};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::clock::Clock;
use crate::config::Config;

/// Everything a request handler or the scheduler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: SharedStore,
    pub monitor: Monitor,
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    /// Device public keys by device id. A device's key never changes, so
    /// caching it is safe on every node; whether the device is still active
    /// is checked by the store inside each transaction.
    pub device_keys: RwLock<HashMap<String, Arc<DeviceKeyEntry>>>,
    /// Device sessions this node has seen (see `crate::proof`).
    pub sessions: SessionCache,
    pub metrics: PrometheusHandle,
    /// Web Push: rules, VAPID key, HTTP client.
    pub push: crate::push::PushRuntime,
    /// Request rate limits of this node.
    pub limits: crate::limits::Limits,
    /// Device proofs already accepted on this node.
    pub replay: crate::limits::ReplayGuard,
}

pub struct DeviceKeyEntry {
    pub person_id: i64,
    pub public_key: Vec<u8>,
}

/// A device session as the proof check needs it.
pub struct SessionEntry {
    pub id: String,
    pub device_id: String,
    pub person_id: i64,
    pub mac_key: Vec<u8>,
    pub expires_at: Timestamp,
}

impl From<amina_store::DeviceSessionRecord> for SessionEntry {
    fn from(r: amina_store::DeviceSessionRecord) -> Self {
        SessionEntry {
            id: r.id,
            device_id: r.device_id,
            person_id: r.person_id,
            mac_key: r.mac_key,
            expires_at: r.expires_at,
        }
    }
}

/// Device sessions by id, at most `capacity` of them. When full, expired
/// sessions go first, then an arbitrary tenth: an evicted session is read
/// from the store again on its next request.
pub struct SessionCache {
    map: RwLock<HashMap<String, Arc<SessionEntry>>>,
    capacity: usize,
}

impl SessionCache {
    pub fn new(capacity: usize) -> Self {
        SessionCache {
            map: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    pub fn get(&self, id: &str) -> Option<Arc<SessionEntry>> {
        self.map.read().ok().and_then(|m| m.get(id).cloned())
    }

    pub fn insert(&self, entry: SessionEntry) -> Arc<SessionEntry> {
        let entry = Arc::new(entry);
        if let Ok(mut m) = self.map.write() {
            if m.len() >= self.capacity {
                let now = Timestamp::now();
                m.retain(|_, e| e.expires_at > now);
                if m.len() >= self.capacity {
                    let drop: Vec<String> =
                        m.keys().take(self.capacity / 10 + 1).cloned().collect();
                    for id in drop {
                        m.remove(&id);
                    }
                }
            }
            m.insert(entry.id.clone(), Arc::clone(&entry));
        }
        entry
    }

    pub fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        store: SharedStore,
        monitor: Monitor,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let push = crate::push::PushRuntime::new(&config.push);
        let limits = crate::limits::Limits::new(&config.limits);
        let replay = crate::limits::ReplayGuard::new(config.rules.clock_skew_s);
        let sessions = SessionCache::new(config.ingest.session_cache_entries);
        AppState(Arc::new(Inner {
            store,
            monitor,
            push,
            limits,
            replay,
            config,
            clock,
            device_keys: RwLock::new(HashMap::new()),
            sessions,
            metrics: crate::telemetry::metrics_handle(),
        }))
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("calendar: {0}")]
    Calendar(String),
    #[error("regions: {0}")]
    Regions(String),
    #[error("rules: {0}")]
    Rules(String),
    #[error("storage: {0}")]
    Store(#[from] amina_store::StoreError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// The production calendar: the built-in years plus the configured files.
pub fn build_calendar(config: &Config) -> Result<ProductionCalendar, StartError> {
    let mut calendar = ProductionCalendar::embedded();
    for file in &config.calendar.extra_files {
        let fail =
            |e: &dyn std::fmt::Display| StartError::Calendar(format!("{}: {e}", file.display()));
        let text = std::fs::read_to_string(file).map_err(|e| fail(&e))?;
        let extra = ProductionCalendar::from_json(&text).map_err(|e| fail(&e))?;
        calendar.extend(extra).map_err(|e| fail(&e))?;
    }
    Ok(calendar)
}

/// The pilot region's geofence from the built-in or the configured polygons.
pub fn build_geofence(config: &Config) -> Result<Geofence, StartError> {
    let pilot: Vec<(&str, &str)> = config
        .regions
        .pilot
        .iter()
        .map(|r| (r.code.as_str(), r.slug.as_str()))
        .collect();
    match &config.regions.file {
        None => Geofence::from_embedded(&pilot).map_err(|e| StartError::Regions(e.to_string())),
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| StartError::Regions(format!("{}: {e}", file.display())))?;
            Geofence::from_geojson(&text, &pilot)
                .map_err(|e| StartError::Regions(format!("{}: {e}", file.display())))
        }
    }
}

/// The configured monitoring window.
pub fn build_window(config: &Config) -> Result<MonitoringWindow, StartError> {
    MonitoringWindow::new(config.rules.window_days, config.rules.window_kind)
        .map_err(|e| StartError::Rules(e.to_string()))
}

/// Load calendar and regions and build the rule engine the configuration
/// describes.
pub fn build_monitor(config: &Config) -> Result<Monitor, StartError> {
    Ok(Monitor {
        calendar: Arc::new(build_calendar(config)?),
        geofence: Arc::new(build_geofence(config)?),
        window: build_window(config)?,
        plausibility: Plausibility {
            max_speed_kmh: config.rules.max_speed_kmh,
            min_jump_m: config.rules.min_jump_m,
            confirm_after_minutes: config.rules.confirm_jump_after_minutes,
        },
        clock_skew: SignedDuration::from_secs(i64::from(config.rules.clock_skew_s)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, expires_at: &str) -> SessionEntry {
        SessionEntry {
            id: id.into(),
            device_id: "dv_x".into(),
            person_id: 1,
            mac_key: vec![0; 32],
            expires_at: expires_at.parse().unwrap(),
        }
    }

    #[test]
    fn a_full_session_cache_drops_expired_sessions_first_then_some_others() {
        let cache = SessionCache::new(3);
        cache.insert(entry("old", "2000-01-01T00:00:00Z"));
        cache.insert(entry("a", "2999-01-01T00:00:00Z"));
        cache.insert(entry("b", "2999-01-01T00:00:00Z"));
        cache.insert(entry("c", "2999-01-01T00:00:00Z"));
        assert_eq!(cache.len(), 3);
        assert!(cache.get("old").is_none(), "the expired one went first");
        assert!(["a", "b", "c"].iter().all(|id| cache.get(id).is_some()));
        // Nothing expired: a tenth (at least one) makes room.
        cache.insert(entry("d", "2999-01-01T00:00:00Z"));
        assert_eq!(cache.len(), 3);
        assert!(cache.get("d").is_some());
    }
}
