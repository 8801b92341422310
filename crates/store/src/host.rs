//! Storage for host parties (see [`amina_domain::host`]): their accounts and
//! properties, the people registered at those properties, children's
//! arrival notices and disputes of a registration.
//!
//! Every change takes its [`AuditEntry`] and writes it in the same
//! transaction (as [`crate::ConsoleStore`] does). A child's notice is decided
//! by [`amina_domain::host::decide_child_notice`] on the parent's locked row,
//! so it cannot race the parent's deregistration. A dispute raises its
//! signal in the transaction that checks the notice in force and that no
//! dispute of the same person and address is still open; on PostgreSQL the
//! person's row lock serialises two disputes at once, on SQLite the single
//! writer does.
//!
//! What a host party reads is narrowed here, not in the page: a tenant comes
//! with a masked card number and no person id.

use std::sync::Arc;

use amina_domain::geofence::Geofence;
use amina_domain::host::{ChildNoticeRefusal, IdentityDocument};
use amina_domain::stay::{Address, AddressId, NoticeRules};
use amina_domain::types::{CardNumber, Citizenship};
use async_trait::async_trait;
use jiff::civil::Date;
use jiff::Timestamp;
use serde::Serialize;

use crate::{AuditEntry, NewAccount, RaisedSignal, StoreError};

/// Why a host-party operation was refused. Each leaves the database
/// unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("unknown host party")]
    UnknownHostParty,
    #[error("a host party with this identity document exists")]
    DocumentExists,
    #[error("address {0} is not in the register")]
    UnknownProperty(String),
    #[error("no registration in force at your properties with this id")]
    NotYourTenant,
    #[error("this registration at this address is already disputed and under review")]
    DisputeOpen,
    #[error(transparent)]
    Child(#[from] ChildNoticeRefusal),
}

impl HostError {
    pub fn code(&self) -> &'static str {
        match self {
            HostError::UnknownHostParty => "unknown_host_party",
            HostError::DocumentExists => "host_party_exists",
            HostError::UnknownProperty(_) => "unknown_property",
            HostError::NotYourTenant => "not_your_tenant",
            HostError::DisputeOpen => "dispute_open",
            HostError::Child(c) => c.code(),
        }
    }
}

impl From<ChildNoticeRefusal> for StoreError {
    fn from(e: ChildNoticeRefusal) -> Self {
        StoreError::Host(HostError::Child(e))
    }
}

/// What an officer states about a new host party.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHostParty {
    pub full_name: String,
    pub document: IdentityDocument,
    pub properties: Vec<AddressId>,
}

/// A host-party account as officers see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostParty {
    pub account_id: i64,
    /// The sign-in name.
    pub name: String,
    pub full_name: String,
    pub document: String,
    pub created_at: Timestamp,
    pub created_by: String,
    pub disabled: bool,
    /// By register id.
    #[serde(skip)]
    pub properties: Vec<Address>,
}

/// A person registered at one of a host party's properties, as the host
/// party may see them.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    /// The place-of-stay notice in force (what a dispute names).
    pub notice_id: i64,
    pub name_latin: String,
    pub name_cyrillic: String,
    /// [`amina_domain::host::mask_card`].
    pub card_masked: String,
    pub address: Address,
    /// The notice's first day.
    pub since: Date,
    /// A dispute of this registration is open or in review.
    pub disputed: bool,
}

/// A child's arrival notice to decide and store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChildNotice {
    pub host_account_id: i64,
    pub parent_card: CardNumber,
    pub name: String,
    pub birth_date: Date,
    pub citizenship: Citizenship,
    pub document: IdentityDocument,
    pub address_id: AddressId,
    pub arrival_date: Date,
}

/// A stored child's arrival notice with the child and the address.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildNoticeRecord {
    pub id: i64,
    pub child_id: i64,
    pub name: String,
    pub birth_date: Date,
    pub citizenship: String,
    pub document: String,
    pub parent_person_id: i64,
    /// The parent's card, masked ([`amina_domain::host::mask_card`]).
    pub parent_card_masked: String,
    pub address: Address,
    pub arrival_date: Date,
    pub host_account_id: i64,
    pub submitted_at: Timestamp,
    /// False once a later notice for the same child replaced it.
    pub in_force: bool,
}

/// The answer to a child's notice.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildNoticeOutcome {
    pub notice: ChildNoticeRecord,
    /// False when it was the notice in force again (a retry).
    pub created: bool,
}

#[async_trait]
pub trait HostStore: Send + Sync + 'static {
    /// Create a host-party account (a console account with role
    /// `host_party`) with its identity and properties, audited in the same
    /// transaction (the entry's subject becomes `account:<id>`).
    async fn create_host_party(
        &self,
        account: NewAccount,
        host: NewHostParty,
        audit: AuditEntry,
    ) -> Result<HostParty, StoreError>;

    async fn host_party(&self, account_id: i64) -> Result<Option<HostParty>, StoreError>;

    /// All host parties, newest first, without their properties.
    async fn host_parties(&self, limit: u32) -> Result<Vec<HostParty>, StoreError>;

    /// Replace a host party's properties, audited (the entry's detail gets
    /// the lists before and after).
    async fn set_host_properties(
        &self,
        account_id: i64,
        properties: Vec<AddressId>,
        audit: AuditEntry,
    ) -> Result<HostParty, StoreError>;

    /// People whose place-of-stay notice in force, in a registration in
    /// force, is at one of the host party's properties; by address, then
    /// name.
    async fn host_tenants(&self, account_id: i64) -> Result<Vec<Tenant>, StoreError>;

    /// Decide a child's arrival notice by the domain rules and, if accepted,
    /// store the child (linked to the parent) and the notice, with a person
    /// event for the parent and the audit record (subject
    /// `person:<parent id>`), in one transaction. An unknown parent card is
    /// refused like an unregistered parent.
    async fn file_child_notice(
        &self,
        rules: NoticeRules,
        geofence: Arc<Geofence>,
        notice: NewChildNotice,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<ChildNoticeOutcome, StoreError>;

    /// The notices a host party filed, newest first.
    async fn child_notices_by_host(
        &self,
        account_id: i64,
    ) -> Result<Vec<ChildNoticeRecord>, StoreError>;

    /// The children's notices of a parent, newest first.
    async fn child_notices_of_parent(
        &self,
        person_id: i64,
    ) -> Result<Vec<ChildNoticeRecord>, StoreError>;

    /// "This person does not live here": the place-of-stay notice
    /// `notice_id` must be in force and at one of the host party's
    /// properties; raises [`amina_domain::host::dispute_signal`] about the
    /// person unless one for the same person and address is open or in
    /// review ([`HostError::DisputeOpen`]); audited (subject
    /// `person:<id>`).
    async fn dispute_registration(
        &self,
        account_id: i64,
        notice_id: i64,
        statement: String,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<RaisedSignal, StoreError>;
}

/// What the child-notice rules need to know about the parent now. As for
/// the parent's own notices, a passed deadline has ended the registration.
pub(crate) fn parent_status(
    person: &crate::PersonView,
    now: Timestamp,
) -> amina_domain::monitor::RegistrationStatus {
    crate::stay::notice_context(person, None, now).status
}
