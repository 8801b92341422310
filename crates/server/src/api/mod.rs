//! The HTTP API: routes, and the conversion of wire input into domain
//! values at the edge. Handlers stay thin: parse, call the store or the
//! domain, shape the answer.

mod app;
mod device;
pub mod document;
mod enrol;
pub mod integration;
mod ops;
mod owntracks;
mod push;
mod session;
mod stay;

use amina_client::proto::*;
use amina_client::push::*;
use axum::body::{Body, Bytes};
use axum::handler::Handler;
use axum::http::Method;
use axum::http::StatusCode;
use axum::routing::{on, MethodFilter};
use axum::Router;
use serde::de::DeserializeOwned;
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::state::AppState;

/// The pure parsers behind the device and integration endpoints, callable
/// without a server (the fuzz targets and their corpus replay use them).
pub use device::{parse_fix, parse_fix_batch};

/// The OpenAPI document, served at /openapi.json.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "amina",
        description = "Migration registration with geolocation presence monitoring. \
            Device requests are signed with RFC 9421 HTTP Message Signatures \
            (ecdsa-p256-sha256 over @method, @path and content-digest) with the \
            device's P-256 key; see the `Signature-Input` and `Signature` headers. \
            Inside a device session (POST /v1/device-sessions, signed with the device \
            key, an ECDH P-256 exchange and HKDF-SHA256) the same headers carry \
            alg hmac-sha256, keyid = the session id and an HMAC-SHA256 tag with the \
            session key."
    ),
    tags(
        (name = "integration", description = "The federal migration system. Every request is \
            signed by its sender with RFC 9421 HTTP Message Signatures, alg `hmac-sha256` with \
            the sender's shared key, over @method, @path, @query and (with a body) \
            content-digest; `keyid` is the sender id. See docs/integration.md.")
    ),
    paths(
        enrol::enrol,
        device::bind,
        session::open,
        device::upload_fixes,
        device::my_status,
        stay::search_addresses,
        stay::submit_notice,
        stay::list_notices,
        stay::my_data,
        push::key,
        push::put_subscription,
        push::delete_subscription,
        push::checkin,
        ops::healthz,
        ops::metrics,
        owntracks::provision,
        owntracks::stop,
        owntracks::report,
        integration::receive_event,
        integration::feed,
        integration::rejections,
    ),
    components(schemas(
        EnrolRequest,
        EnrolResponse,
        BindRequest,
        BindResponse,
        PublicJwk,
        amina_client::session::SessionRequest,
        amina_client::session::SessionResponse,
        FixBatch,
        FixWire,
        IngestResponse,
        StatusView,
        ErrorBody,
        enrol::EnrolBody,
        amina_client::stay::CodeEnrolRequest,
        amina_client::stay::WordedDate,
        amina_client::stay::AddressView,
        amina_client::stay::AddressSearchResponse,
        amina_client::stay::NoticeRequest,
        amina_client::stay::NoticeView,
        amina_client::stay::NoticeResponse,
        amina_client::stay::NoticesResponse,
        amina_client::stay::MyDataView,
        amina_client::stay::IdentityView,
        amina_client::stay::RegistrationView,
        amina_client::stay::DeviceView,
        amina_client::stay::FixesView,
        amina_client::stay::SignalView,
        amina_client::stay::ChildView,
        amina_client::stay::AccessesView,
        PushKeyResponse,
        PushSubscriptionKeys,
        PushSubscriptionRequest,
        PushSubscriptionResponse,
        CheckinRequest,
        CheckinResponse,
        owntracks::OwnTracksProvisioned,
        owntracks::OwnTracksStopped,
        amina_client::integration::EventWire,
        amina_client::integration::EventReceipt,
        amina_client::integration::FeedEntryWire,
        amina_client::integration::FeedPage,
        amina_client::integration::RejectionWire,
        amina_client::integration::RejectionsPage
    ))
)]
pub struct ApiDoc;

/// The router under construction, with the list of its routes (method,
/// path template): every route is added through [`Routes::add`], so the
/// authorisation-matrix test can enumerate them against
/// [`crate::console::authz::RULES`].
pub struct Routes {
    router: Router<AppState>,
    list: Vec<(Method, &'static str)>,
}

impl Routes {
    fn new() -> Self {
        Routes {
            router: Router::new(),
            list: Vec::new(),
        }
    }

    pub fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter =
            MethodFilter::try_from(method.clone()).expect("invariant: routes use standard methods");
        self.router = self.router.route(path, on(filter, handler));
        self.list.push((method, path));
        self
    }
}

fn routes() -> Routes {
    let r = Routes::new()
        .add(Method::POST, "/v1/enrolments", enrol::enrol)
        .add(Method::POST, "/v1/devices", device::bind)
        .add(Method::POST, "/v1/device-sessions", session::open)
        .add(Method::POST, "/v1/fixes", device::upload_fixes)
        .add(Method::GET, "/v1/me/status", device::my_status)
        .add(Method::GET, "/v1/addresses", stay::search_addresses)
        .add(Method::POST, "/v1/notices", stay::submit_notice)
        .add(Method::GET, "/v1/notices", stay::list_notices)
        .add(Method::GET, "/v1/me/data", stay::my_data)
        .add(Method::GET, "/v1/push/key", push::key)
        .add(Method::PUT, "/v1/push-subscription", push::put_subscription)
        .add(
            Method::DELETE,
            "/v1/push-subscription",
            push::delete_subscription,
        )
        .add(Method::POST, "/v1/checkins", push::checkin)
        .add(Method::POST, "/v1/me/owntracks", owntracks::provision)
        .add(Method::DELETE, "/v1/me/owntracks", owntracks::stop)
        .add(Method::POST, "/v1/owntracks", owntracks::report)
        .add(Method::GET, "/healthz", ops::healthz)
        .add(Method::GET, "/metrics", ops::metrics)
        .add(Method::GET, "/openapi.json", ops::openapi)
        .add(Method::GET, "/app", app::redirect)
        .add(Method::GET, "/app/", app::index)
        .add(Method::GET, "/app/{name}", app::asset)
        .add(Method::GET, "/app/i18n/{name}", app::translations)
        .add(
            Method::POST,
            "/v1/integration/events",
            integration::receive_event,
        )
        .add(Method::GET, "/v1/integration/feed", integration::feed)
        .add(
            Method::GET,
            "/v1/integration/rejections",
            integration::rejections,
        );
    crate::console::routes(r)
}

/// Every route of the router: (method, path template).
pub fn route_list() -> Vec<(Method, &'static str)> {
    routes().list
}

pub fn router(state: AppState) -> Router {
    routes()
        .router
        // Runs for every matched route (not the fallback): one table decides.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::console::authz::authorize,
        ))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        // Extractors (console forms) read at most this much.
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.limits.max_request_bytes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::limits::gate,
        ))
        // Outermost, so that every answer carries them, refusals included.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::console::security_headers,
        ))
        .with_state(state)
}

#[cfg(test)]
pub(crate) fn verify_secret_for_tests(phc: &str, secret: &str) -> bool {
    enrol::verify_secret(phc, secret)
}

/// A new identifier: `prefix` and 128 random bits, base64url (device ids
/// `dv_…`, session ids `ds_…`).
pub(crate) fn random_id(prefix: &str) -> String {
    use base64::Engine as _;
    let mut raw = [0u8; 16];
    rand::fill(&mut raw);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

/// Read a request body up to `limit` bytes.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body exceeds {limit} bytes"),
        )
    })
}

/// Parse a JSON body, with a machine-readable reason on failure.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let code = if e.to_string().contains("unknown field") {
            "unknown_field"
        } else {
            "malformed_json"
        };
        ApiError::bad_request(code, format!("invalid request body: {e}"))
    })
}
