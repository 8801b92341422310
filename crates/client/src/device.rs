//! An HTTP client that plays one phone against a running server.

use std::sync::{Arc, Mutex};

use jiff::Timestamp;

use crate::key::{DeviceKey, SignedHeaders};
use crate::proto::*;
use crate::session::{DeviceSession, SessionResponse, SESSION_PATH};

/// A failed request: the HTTP status and the server's error body.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("HTTP {status}: {body:?}")]
    Api { status: u16, body: ErrorBody },
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("this device is not bound yet")]
    NotBound,
}

impl ClientError {
    /// The server's machine-readable error code, if the server answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => Some(&body.error),
            _ => None,
        }
    }
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub struct DeviceClient {
    base: String,
    http: reqwest::Client,
    pub key: DeviceKey,
    pub device_id: Option<String>,
    /// The clock used for signatures' `created` (tests move time).
    pub clock: Arc<dyn Fn() -> Timestamp + Send + Sync>,
    /// Whether requests go through a key-bound session ([`Self::with_sessions`]).
    sessions: bool,
    session: Mutex<Option<DeviceSession>>,
}

/// A session is renewed when it has less than this many seconds left.
const SESSION_RENEW_MARGIN_S: i64 = 600;

impl DeviceClient {
    /// A phone with a new key and its own HTTP client.
    pub fn new(base_url: &str) -> Self {
        Self::with_http(base_url, reqwest::Client::new())
    }

    /// A phone with a new key, sending through `http` (many simulated
    /// phones share one client: building one loads the system's
    /// certificate store, which costs milliseconds).
    pub fn with_http(base_url: &str, http: reqwest::Client) -> Self {
        DeviceClient {
            base: base_url.trim_end_matches('/').to_string(),
            http,
            key: DeviceKey::generate(),
            device_id: None,
            clock: Arc::new(Timestamp::now),
            sessions: false,
            session: Mutex::new(None),
        }
    }

    async fn decode<T: serde::de::DeserializeOwned>(
        resp: reqwest::Response,
    ) -> Result<T, ClientError> {
        let status = resp.status();
        if status.is_success() {
            let bytes = resp.bytes().await?;
            // An empty answer (204) reads as JSON null, i.e. `()`.
            let text: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
            return serde_json::from_slice(text).map_err(|e| ClientError::Api {
                status: status.as_u16(),
                body: ErrorBody {
                    error: "unparsable_answer".into(),
                    message: e.to_string(),
                    detail: None,
                },
            });
        }
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(ErrorBody {
            error: "unparsable_error".into(),
            message: text,
            detail: None,
        });
        Err(ClientError::Api {
            status: status.as_u16(),
            body,
        })
    }

    /// POST a JSON body proven with this device's key (or its session,
    /// when `keyid` is the device id and sessions are on).
    pub async fn signed_post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &[u8],
        keyid: &str,
    ) -> Result<T, ClientError> {
        self.send_proven("POST", path, Some(body), keyid).await
    }

    /// GET `path_and_query`, proven by the bound device. The signature
    /// covers the path without the query (RFC 9421 `@path`).
    pub async fn signed_get<T: serde::de::DeserializeOwned>(
        &self,
        path_and_query: &str,
    ) -> Result<T, ClientError> {
        let id = self.device_id.as_deref().ok_or(ClientError::NotBound)?;
        self.send_proven("GET", path_and_query, None, id).await
    }

    /// Use key-bound sessions for this phone's requests: one signed
    /// `POST /v1/device-sessions`, then a MAC per request (see
    /// [`crate::session`]).
    pub fn with_sessions(mut self) -> Self {
        self.sessions = true;
        self
    }

    /// The current session, opened anew if there is none or it is about
    /// to expire.
    pub async fn session(&self) -> Result<DeviceSession, ClientError> {
        let now = (self.clock)();
        if let Some(s) = self.current_session() {
            if s.usable_at(now, SESSION_RENEW_MARGIN_S) {
                return Ok(s);
            }
        }
        let id = self.device_id.as_deref().ok_or(ClientError::NotBound)?;
        let (private, offer) = crate::session::offer();
        let body = serde_json::to_vec(&offer).expect("serialising a plain struct cannot fail");
        let h = self
            .key
            .sign_request("POST", SESSION_PATH, Some(&body), id, now.as_second());
        let answer: SessionResponse = self.send(h, "POST", SESSION_PATH, Some(&body)).await?;
        let session =
            DeviceSession::accept(private, &answer, id).map_err(|e| ClientError::Api {
                status: 201,
                body: ErrorBody {
                    error: "unparsable_answer".into(),
                    message: e.to_string(),
                    detail: None,
                },
            })?;
        if let Ok(mut slot) = self.session.lock() {
            *slot = Some(session.clone());
        }
        Ok(session)
    }

    fn current_session(&self) -> Option<DeviceSession> {
        self.session.lock().ok().and_then(|s| s.clone())
    }

    fn forget_session(&self) {
        if let Ok(mut slot) = self.session.lock() {
            *slot = None;
        }
    }

    /// Send a request proven with the device key under `keyid`, or inside
    /// the session when sessions are on and `keyid` is the device id. A
    /// session the server no longer knows or has let expire is replaced
    /// once.
    async fn send_proven<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&[u8]>,
        keyid: &str,
    ) -> Result<T, ClientError> {
        let path = path_and_query.split('?').next().unwrap_or(path_and_query);
        let in_session = self.sessions && self.device_id.as_deref() == Some(keyid);
        let mut renewed = false;
        loop {
            let created = (self.clock)().as_second();
            let h = if in_session {
                self.session()
                    .await?
                    .sign_request(method, path, body, created)
            } else {
                self.key.sign_request(method, path, body, keyid, created)
            };
            let result = self.send(h, method, path_and_query, body).await;
            match result {
                Err(e)
                    if in_session
                        && !renewed
                        && matches!(e.code(), Some("session_expired" | "unknown_session")) =>
                {
                    self.forget_session();
                    renewed = true;
                }
                other => return other,
            }
        }
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        h: SignedHeaders,
        method: &str,
        path_and_query: &str,
        body: Option<&[u8]>,
    ) -> Result<T, ClientError> {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .expect("callers pass a valid method name");
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path_and_query))
            .header(SIGNATURE_INPUT, h.signature_input)
            .header(SIGNATURE, h.signature);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_vec());
        }
        if let Some(d) = h.content_digest {
            req = req.header(CONTENT_DIGEST, d);
        }
        Self::decode(req.send().await?).await
    }

    /// POST an unsigned JSON body (enrolment).
    pub async fn post_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, ClientError> {
        let resp = self
            .http
            .post(format!("{}{}", self.base, path))
            .json(body)
            .send()
            .await?;
        Self::decode(resp).await
    }

    /// A request of any method proven by the bound device.
    pub async fn signed<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<T, ClientError> {
        let id = self.device_id.as_deref().ok_or(ClientError::NotBound)?;
        self.send_proven(method, path, body, id).await
    }

    /// An unsigned GET.
    pub async fn unsigned_get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, ClientError> {
        let resp = self
            .http
            .get(format!("{}{}", self.base, path))
            .send()
            .await?;
        Self::decode(resp).await
    }

    pub async fn enrol(
        &self,
        card_number: &str,
        activation_secret: &str,
    ) -> Result<EnrolResponse, ClientError> {
        let resp = self
            .http
            .post(format!("{}/v1/enrolments", self.base))
            .json(&EnrolRequest {
                card_number: card_number.into(),
                activation_secret: activation_secret.into(),
            })
            .send()
            .await?;
        Self::decode(resp).await
    }

    /// Bind this device's key with a binding token.
    pub async fn bind(&mut self, binding_token: &str) -> Result<BindResponse, ClientError> {
        let body = serde_json::to_vec(&BindRequest {
            binding_token: binding_token.into(),
            public_key: self.key.jwk(),
            kind: Some("pwa".into()),
        })
        .expect("serialising a plain struct cannot fail");
        let thumbprint = self.key.thumbprint();
        let resp: BindResponse = self.signed_post("/v1/devices", &body, &thumbprint).await?;
        self.device_id = Some(resp.device_id.clone());
        Ok(resp)
    }

    /// Enrol and bind in one go.
    pub async fn enrol_and_bind(
        &mut self,
        card_number: &str,
        activation_secret: &str,
    ) -> Result<BindResponse, ClientError> {
        let e = self.enrol(card_number, activation_secret).await?;
        self.bind(&e.binding_token).await
    }

    pub async fn upload(&self, fixes: &[FixWire]) -> Result<IngestResponse, ClientError> {
        let body = serde_json::to_vec(&FixBatch {
            fixes: fixes.to_vec(),
        })
        .expect("serialising a plain struct cannot fail");
        self.upload_raw(&body).await
    }

    /// Upload an arbitrary body (tests use this for malformed input).
    pub async fn upload_raw(&self, body: &[u8]) -> Result<IngestResponse, ClientError> {
        let id = self.device_id.as_deref().ok_or(ClientError::NotBound)?;
        self.signed_post("/v1/fixes", body, id).await
    }

    pub async fn status(&self) -> Result<StatusView, ClientError> {
        self.signed_get("/v1/me/status").await
    }
}

/// A fix at `recorded_at` for the wire.
pub fn fix(seq: i64, lat: f64, lon: f64, accuracy_m: f64, recorded_at: Timestamp) -> FixWire {
    FixWire {
        seq,
        lat,
        lon,
        accuracy_m,
        recorded_at: recorded_at.to_string(),
        source: "gps".into(),
        mock: false,
        battery_pct: Some(80),
    }
}
