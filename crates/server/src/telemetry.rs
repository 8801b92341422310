//! Logs and metrics in one place.
//!
//! Logs are structured (tracing) and never carry personal data: no card
//! numbers, names or coordinates — only ids, counts and codes. Metrics are
//! Prometheus text at /metrics.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process-wide metrics recorder (installed on first use; several test
/// servers in one process share it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first, in which
            // case our handle simply renders nothing; not worth failing for.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Production logging: JSON lines when AMINA_LOG_FORMAT=json, otherwise
/// human-readable; level from RUST_LOG (default info).
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if std::env::var("AMINA_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}
