//! Wire types for Web Push and the daily check-in, and the device client's
//! calls for them.

use serde::{Deserialize, Serialize};

use crate::device::{ClientError, DeviceClient};

/// `GET /v1/push/key`: the server's VAPID public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PushKeyResponse {
    /// The applicationServerKey for `pushManager.subscribe`: the P-256
    /// public key, uncompressed SEC1, base64url without padding.
    pub public_key: String,
}

/// The keys of a browser push subscription (`PushSubscription.toJSON()`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushSubscriptionKeys {
    /// The browser's P-256 public key, uncompressed SEC1, base64url (65 bytes).
    pub p256dh: String,
    /// The authentication secret, base64url (16 bytes).
    pub auth: String,
}

/// `PUT /v1/push-subscription`: the shape of `PushSubscription.toJSON()`
/// plus the language notices are to be written in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushSubscriptionRequest {
    /// The push service URL (https).
    pub endpoint: String,
    /// Ignored: browsers send it (usually null).
    #[serde(
        default,
        rename = "expirationTime",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json_int::optional_whole"
    )]
    pub expiration_time: Option<i64>,
    pub keys: PushSubscriptionKeys,
    /// "ru", "en", "uz", "tg" or "ky".
    pub lang: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PushSubscriptionResponse {
    /// "active".
    pub status: String,
    /// When this endpoint was first stored (RFC 3339).
    pub subscribed_at: String,
}

/// `POST /v1/checkins`: what the app can see when it is opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinRequest {
    /// Location permission: "granted", "prompt", "denied" or "unsupported".
    pub location: String,
    /// Notification permission, the same values.
    pub notifications: String,
    /// Fixes waiting in the phone's queue.
    #[serde(deserialize_with = "crate::json_int::whole")]
    pub queued_fixes: i64,
    /// The last geolocation error code the app saw (1 permission denied,
    /// 2 position unavailable, 3 timeout), if any since the last fix.
    #[serde(default, deserialize_with = "crate::json_int::optional_whole")]
    pub geo_error: Option<i64>,
    #[serde(default, deserialize_with = "crate::json_int::optional_whole")]
    pub battery_pct: Option<i64>,
    /// Whether the phone is charging (Battery Status API), when known.
    #[serde(default)]
    pub charging: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckinResponse {
    /// When the server recorded it (RFC 3339).
    pub recorded_at: String,
}

impl DeviceClient {
    pub async fn push_key(&self) -> Result<PushKeyResponse, ClientError> {
        self.unsigned_get("/v1/push/key").await
    }

    pub async fn put_push_subscription(
        &self,
        req: &PushSubscriptionRequest,
    ) -> Result<PushSubscriptionResponse, ClientError> {
        let body = serde_json::to_vec(req).expect("serialising a plain struct cannot fail");
        self.signed("PUT", "/v1/push-subscription", Some(&body))
            .await
    }

    pub async fn delete_push_subscription(&self) -> Result<(), ClientError> {
        self.signed("DELETE", "/v1/push-subscription", None).await
    }

    pub async fn checkin(&self, req: &CheckinRequest) -> Result<CheckinResponse, ClientError> {
        let body = serde_json::to_vec(req).expect("serialising a plain struct cannot fail");
        self.signed("POST", "/v1/checkins", Some(&body)).await
    }
}
