//! amina's server: the HTTP API, device proofs, the scheduler, card import,
//! configuration and telemetry — thin shells around `amina_domain` and
//! `amina_store`.

pub mod addresses;
pub mod api;
pub mod cards;
pub mod clock;
pub mod config;
pub mod console;
pub mod detection_job;
pub mod error;
pub mod file_modes;
pub mod i18n;
pub mod integration_job;
pub mod limits;
pub mod owntracks;
pub mod proof;
pub mod push;
pub mod retention;
pub mod scheduler;
pub mod state;
pub mod telemetry;

use std::future::Future;

use tokio::net::TcpListener;

pub use state::AppState;

/// Serve the API on `listener` until `shutdown` resolves; in-flight requests
/// finish first. The scheduler runs beside it when enabled.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The VAPID key pair is made on the first start and stored (see
    // `push::vapid`); a failure here is retried on first use.
    if let Err(e) = push::vapid(&state).await {
        tracing::warn!(error = %e, "VAPID key not ready yet");
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let scheduler = if state.config.scheduler.enabled {
        let s = state.clone();
        let mut rx = stop_rx.clone();
        Some(tokio::spawn(async move {
            scheduler::run_forever(s, async move {
                let _ = rx.wait_for(|stop| *stop).await;
            })
            .await
        }))
    } else {
        None
    };
    let tls = state.config.tls.clone();
    let app = api::router(state);
    // The peer address feeds the per-address limit (`limits::gate`).
    let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = if tls.enabled() {
        serve_tls(listener, &tls, service, shutdown).await
    } else {
        axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await
    };
    let _ = stop_tx.send(true);
    if let Some(s) = scheduler {
        let _ = s.await;
    }
    result
}

/// How long in-flight requests may take to finish at shutdown over TLS.
const TLS_DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The rustls server configuration from the PEM files of `[tls]`.
pub fn tls_config(c: &config::TlsConfig) -> std::io::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("tls.{what} {}: {e}", path.display()),
        )
    };
    let certs = CertificateDer::pem_file_iter(&c.cert_file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad("cert_file", &c.cert_file, &e))?;
    if certs.is_empty() {
        return Err(bad(
            "cert_file",
            &c.cert_file,
            &"no certificate in the file",
        ));
    }
    let key =
        PrivateKeyDer::from_pem_file(&c.key_file).map_err(|e| bad("key_file", &c.key_file, &e))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("cert_file", &c.cert_file, &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("key_file", &c.key_file, &e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

async fn serve_tls(
    listener: TcpListener,
    tls: &config::TlsConfig,
    service: axum::extract::connect_info::IntoMakeServiceWithConnectInfo<
        axum::Router,
        std::net::SocketAddr,
    >,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let rustls =
        axum_server::tls_rustls::RustlsConfig::from_config(std::sync::Arc::new(tls_config(tls)?));
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(TLS_DRAIN));
    });
    axum_server::from_tcp_rustls(listener.into_std()?, rustls)?
        .handle(handle)
        .serve(service)
        .await
}
