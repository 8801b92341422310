//! Wire types of the place-of-stay, "my data" and enrolment-code endpoints,
//! and the device client's calls for them.
//!
//! Dates a person reads come as [`WordedDate`]: the ISO date for machines
//! and the date in words in every app language, resolved by the server
//! from the Fluent files (the app has no Fluent resolver of its own).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::device::{ClientError, DeviceClient};
use crate::proto::{BindResponse, EnrolResponse};

/// A date, and the same date in words per language code
/// (`{"ru": "3 декабря 2025 г.", "en": "3 December 2025", …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WordedDate {
    /// `YYYY-MM-DD` (a Moscow calendar date).
    pub date: String,
    pub text: BTreeMap<String, String>,
}

/// One entry of the address register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AddressView {
    pub id: String,
    /// ISO 3166-2 code, e.g. `RU-MOW`.
    pub region: String,
    pub municipality: String,
    pub street: String,
    pub house: String,
    pub flat: Option<String>,
    /// Only residential addresses can be notified as a place of stay.
    pub residential: bool,
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AddressSearchResponse {
    /// At most the configured number of entries, by street, house, flat.
    pub addresses: Vec<AddressView>,
    /// True when more entries matched than are listed: type more.
    pub more: bool,
}

/// `POST /v1/notices`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeRequest {
    /// An id from the address register (`GET /v1/addresses`).
    pub address_id: String,
    /// First day of the stay, `YYYY-MM-DD` (Moscow calendar).
    pub date_from: String,
    /// The host party (принимающая сторона), if there is one.
    #[serde(default)]
    pub host_name: Option<String>,
}

/// A place-of-stay notice and its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NoticeView {
    pub id: i64,
    pub address: AddressView,
    pub date_from: WordedDate,
    pub host_name: Option<String>,
    /// RFC 3339 instant the notice was received.
    pub submitted_at: String,
    /// The Moscow date it was received, in words.
    pub submitted_on: WordedDate,
    /// `current` (in force), `superseded` (replaced by a later notice) or
    /// `ended` (its registration ended).
    pub state: String,
    pub superseded_at: Option<String>,
}

/// The answer to `POST /v1/notices`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NoticeResponse {
    pub notice: NoticeView,
    /// False when the same notice was already in force (a retry).
    pub created: bool,
    /// The id of the notice this one replaced.
    pub superseded: Option<i64>,
}

/// `GET /v1/notices`: the history, newest first, and the dates a new
/// notice may start on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NoticesResponse {
    pub current: Option<NoticeView>,
    pub notices: Vec<NoticeView>,
    /// Earliest and latest allowed `date_from` today (`YYYY-MM-DD`); None
    /// when the person is not registered.
    pub date_min: Option<String>,
    pub date_max: Option<String>,
}

/// `POST /v1/enrolments` with a one-time code from an operator.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeEnrolRequest {
    /// The code as shown (`7KQ2M-9XH4D`); case, dashes and spaces do not
    /// matter.
    pub code: String,
}

/// What the system holds about the card holder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IdentityView {
    pub card_number: String,
    pub name_latin: String,
    pub name_cyrillic: String,
    /// ISO 3166-1 alpha-3.
    pub citizenship: String,
    pub birth_date: WordedDate,
    pub card_valid_until: WordedDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegistrationView {
    pub started: WordedDate,
    pub ended: Option<WordedDate>,
    /// Why it ended (`no_monitoring`, …).
    pub end_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceView {
    pub id: String,
    pub kind: String,
    /// `active` or `revoked`.
    pub status: String,
    pub bound: WordedDate,
    pub revoked: Option<WordedDate>,
    /// The device that made this request.
    pub this_device: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FixesView {
    /// Locations stored for the person.
    pub count: u64,
    pub first: Option<WordedDate>,
    pub last: Option<WordedDate>,
    /// Days raw locations are to be kept before they are reduced to
    /// summaries.
    pub retention_days: u32,
    /// Whether that deletion runs yet. False until the retention job
    /// exists: the app says so.
    pub retention_enforced: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignalView {
    /// The signal kind (`outside_region`, …).
    pub kind: String,
    pub raised: WordedDate,
    /// `open`, `in_review`, `dismissed` or `confirmed`.
    pub status: String,
}

/// Accesses to the person's data by officials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccessesView {
    /// Whether officials' accesses are recorded (an empty list then means
    /// nobody looked).
    pub audit_available: bool,
    /// Newest first: `{on: WordedDate, at, role, kind: view|case|location|
    /// decision|other, legal_basis}`.
    pub entries: Vec<serde_json::Value>,
}

/// `GET /v1/me/data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MyDataView {
    pub identity: IdentityView,
    pub registrations: Vec<RegistrationView>,
    pub devices: Vec<DeviceView>,
    pub notices: Vec<NoticeView>,
    /// Minor children whose arrival a host party notified (in force).
    #[serde(default)]
    pub children: Vec<ChildView>,
    pub fixes: FixesView,
    pub signals: Vec<SignalView>,
    pub accesses: AccessesView,
}

/// A child linked to the person by a host party's arrival notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChildView {
    pub name: String,
    pub birth_date: WordedDate,
    pub arrival: WordedDate,
    /// The address of the notice, as one line.
    pub address: String,
}

impl DeviceClient {
    /// Enrol with a one-time code from an operator.
    pub async fn enrol_with_code(&self, code: &str) -> Result<EnrolResponse, ClientError> {
        self.post_json(
            "/v1/enrolments",
            &CodeEnrolRequest {
                code: code.to_string(),
            },
        )
        .await
    }

    /// Enrol with a code and bind this device's key.
    pub async fn enrol_with_code_and_bind(
        &mut self,
        code: &str,
    ) -> Result<BindResponse, ClientError> {
        let e = self.enrol_with_code(code).await?;
        self.bind(&e.binding_token).await
    }

    /// Search the address register.
    pub async fn search_addresses(
        &self,
        query: &str,
    ) -> Result<AddressSearchResponse, ClientError> {
        let mut encoded = String::new();
        for b in query.as_bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                encoded.push(char::from(*b));
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        self.signed_get(&format!("/v1/addresses?q={encoded}")).await
    }

    /// Notify a place of stay.
    pub async fn notify_stay(
        &self,
        address_id: &str,
        date_from: &str,
        host_name: Option<&str>,
    ) -> Result<NoticeResponse, ClientError> {
        let body = serde_json::to_vec(&NoticeRequest {
            address_id: address_id.into(),
            date_from: date_from.into(),
            host_name: host_name.map(String::from),
        })
        .expect("serialising a plain struct cannot fail");
        self.notify_stay_raw(&body).await
    }

    /// Send an arbitrary notice body (tests use this for malformed input).
    pub async fn notify_stay_raw(&self, body: &[u8]) -> Result<NoticeResponse, ClientError> {
        let id = self.device_id.as_deref().ok_or(ClientError::NotBound)?;
        self.signed_post("/v1/notices", body, id).await
    }

    pub async fn notices(&self) -> Result<NoticesResponse, ClientError> {
        self.signed_get("/v1/notices").await
    }

    pub async fn my_data(&self) -> Result<MyDataView, ClientError> {
        self.signed_get("/v1/me/data").await
    }
}
