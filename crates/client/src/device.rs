//! An HTTP client that plays one phone against a running server.

use std::sync::Arc;

use jiff::Timestamp;

use crate::key::DeviceKey;
use crate::proto::*;

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
}

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

    /// POST a JSON body signed with this device's key.
    pub async fn signed_post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &[u8],
        keyid: &str,
    ) -> Result<T, ClientError> {
        let created = (self.clock)().as_second();
        let h = self
            .key
            .sign_request("POST", path, Some(body), keyid, created);
        let mut req = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("content-type", "application/json")
            .header(SIGNATURE_INPUT, h.signature_input)
            .header(SIGNATURE, h.signature)
            .body(body.to_vec());
        if let Some(d) = h.content_digest {
            req = req.header(CONTENT_DIGEST, d);
        }
        Self::decode(req.send().await?).await
    }

    /// GET `path_and_query`, signed with this device's key. The signature
    /// covers the path without the query (RFC 9421 `@path`).
    pub async fn signed_get<T: serde::de::DeserializeOwned>(
        &self,
        path_and_query: &str,
    ) -> Result<T, ClientError> {
        let id = self.device_id.as_deref().ok_or(ClientError::NotBound)?;
        let path = path_and_query.split('?').next().unwrap_or(path_and_query);
        let created = (self.clock)().as_second();
        let h = self.key.sign_request("GET", path, None, id, created);
        let resp = self
            .http
            .get(format!("{}{}", self.base, path_and_query))
            .header(SIGNATURE_INPUT, h.signature_input)
            .header(SIGNATURE, h.signature)
            .send()
            .await?;
        Self::decode(resp).await
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

    /// A request of any method signed by the bound device.
    pub async fn signed<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<T, ClientError> {
        let id = self.device_id.as_deref().ok_or(ClientError::NotBound)?;
        let created = (self.clock)().as_second();
        let h = self.key.sign_request(method, path, body, id, created);
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .expect("callers pass a valid method name");
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
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
        let id = self.device_id.as_deref().ok_or(ClientError::NotBound)?;
        let created = (self.clock)().as_second();
        let h = self
            .key
            .sign_request("GET", "/v1/me/status", None, id, created);
        let resp = self
            .http
            .get(format!("{}/v1/me/status", self.base))
            .header(SIGNATURE_INPUT, h.signature_input)
            .header(SIGNATURE, h.signature)
            .send()
            .await?;
        Self::decode(resp).await
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
