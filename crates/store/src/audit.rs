//! The audit trail: append-only, hash-chained records of every read of
//! personal data in the console and every state change made there.
//!
//! Each record's `hash` is SHA-256 over the previous record's hash and a
//! canonical encoding of the record (see [`canonical`]); the first record
//! links to 32 zero bytes. Ids are gapless. So editing a row, deleting one
//! or slipping one in breaks the chain at that row, and
//! [`verify_chain`] names it. The database refuses UPDATE and DELETE on the
//! table (triggers); the chain is what still catches someone who can bypass
//! that (a database owner, a disk editor).
//!
//! A state change and its audit record are written in one transaction
//! (every console write method of [`crate::ConsoleStore`] takes the
//! [`AuditEntry`] to write); a read of personal data is recorded before the
//! data is read, so nothing is shown that was not recorded.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// The hash the first record links to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What to record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub at: Timestamp,
    /// The account name, or `system` / `cli:<what>`.
    pub actor: String,
    /// The actor's role code (`system` for the system).
    pub role: String,
    /// What was done, e.g. `person.view`, `case.open`, `registry.decide`.
    pub action: String,
    /// Whom or what it concerned, e.g. `person:12`, `case:3`, `account:7`.
    pub subject: String,
    pub case_id: Option<i64>,
    pub legal_basis: Option<String>,
    pub detail: serde_json::Value,
}

impl AuditEntry {
    pub fn new(
        at: Timestamp,
        actor: impl Into<String>,
        role: impl Into<String>,
        action: impl Into<String>,
        subject: impl Into<String>,
    ) -> Self {
        AuditEntry {
            at,
            actor: actor.into(),
            role: role.into(),
            action: action.into(),
            subject: subject.into(),
            case_id: None,
            legal_basis: None,
            detail: serde_json::Value::Object(Default::default()),
        }
    }
    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
    pub fn case(mut self, case_id: i64, legal_basis: impl Into<String>) -> Self {
        self.case_id = Some(case_id);
        self.legal_basis = Some(legal_basis.into());
        self
    }
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub subject: String,
    pub case_id: Option<i64>,
    pub legal_basis: Option<String>,
    /// The canonical JSON text of the detail, exactly as hashed.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The canonical encoding of a record's content: a JSON array of its fields
/// in a fixed order, the instant as integer milliseconds, and the detail as
/// its JSON text (serde_json writes object keys sorted, without spaces).
#[allow(clippy::too_many_arguments)] // one argument per hashed column, in column order
pub fn canonical(
    id: i64,
    at_ms: i64,
    actor: &str,
    role: &str,
    action: &str,
    subject: &str,
    case_id: Option<i64>,
    legal_basis: Option<&str>,
    detail: &str,
) -> String {
    serde_json::json!([
        id,
        at_ms,
        actor,
        role,
        action,
        subject,
        case_id,
        legal_basis,
        detail
    ])
    .to_string()
}

/// hex(SHA-256(prev_hash as text || canonical)).
pub fn chain_hash(prev_hash: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    let digest = h.finalize();
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The detail as stored: canonical JSON text.
pub fn detail_text(detail: &serde_json::Value) -> String {
    detail.to_string()
}

/// The record an entry becomes when appended after (`last_id`, `last_hash`).
pub fn seal(entry: &AuditEntry, last: Option<(i64, String)>) -> AuditRecord {
    let (prev_id, prev_hash) = last.unwrap_or((0, GENESIS_HASH.to_string()));
    let id = prev_id + 1;
    let detail = detail_text(&entry.detail);
    let at_ms = entry.at.as_millisecond();
    let c = canonical(
        id,
        at_ms,
        &entry.actor,
        &entry.role,
        &entry.action,
        &entry.subject,
        entry.case_id,
        entry.legal_basis.as_deref(),
        &detail,
    );
    AuditRecord {
        id,
        // The stored instant has millisecond precision on both backends.
        at: Timestamp::from_millisecond(at_ms).unwrap_or(entry.at),
        actor: entry.actor.clone(),
        role: entry.role.clone(),
        action: entry.action.clone(),
        subject: entry.subject.clone(),
        case_id: entry.case_id,
        legal_basis: entry.legal_basis.clone(),
        hash: chain_hash(&prev_hash, &c),
        prev_hash,
        detail,
    }
}

/// Why the chain is broken, at which record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    /// The first record that does not verify (or the id that is missing).
    pub id: i64,
    pub problem: String,
}

/// Checks records in id order, page by page.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    expected_id: i64,
    prev_hash: String,
    pub checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            expected_id: 1,
            prev_hash: GENESIS_HASH.to_string(),
            checked: 0,
        }
    }
}

impl ChainVerifier {
    /// The id after the last one checked (where the next page starts).
    pub fn next_id(&self) -> i64 {
        self.expected_id
    }

    /// Check the next record; the first failure is final.
    pub fn check(&mut self, r: &AuditRecord) -> Result<(), ChainBreak> {
        let fail = |id: i64, problem: String| Err(ChainBreak { id, problem });
        if r.id != self.expected_id {
            return fail(
                self.expected_id.min(r.id),
                format!(
                    "record {} is missing (found {} next)",
                    self.expected_id, r.id
                ),
            );
        }
        if r.prev_hash != self.prev_hash {
            return fail(
                r.id,
                "its link to the previous record does not match".into(),
            );
        }
        let c = canonical(
            r.id,
            r.at.as_millisecond(),
            &r.actor,
            &r.role,
            &r.action,
            &r.subject,
            r.case_id,
            r.legal_basis.as_deref(),
            &r.detail,
        );
        if chain_hash(&r.prev_hash, &c) != r.hash {
            return fail(r.id, "its content does not match its hash".into());
        }
        self.expected_id += 1;
        self.prev_hash = r.hash.clone();
        self.checked += 1;
        Ok(())
    }
}

/// Check a whole chain held in memory.
pub fn verify_chain(records: &[AuditRecord]) -> Result<u64, ChainBreak> {
    let mut v = ChainVerifier::default();
    for r in records {
        v.check(r)?;
    }
    Ok(v.checked)
}

/// Which records the auditor wants; every field narrows. Newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    /// Exact action, or a prefix ending in '.' (e.g. `case.`).
    pub action: Option<String>,
    pub subject: Option<String>,
    pub case_id: Option<i64>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Only records with an id below this (paging backwards).
    pub before_id: Option<i64>,
    pub limit: u32,
}

#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Append one record on its own (reads of personal data, sign-in
    /// attempts); returns it.
    async fn append_audit(&self, entry: AuditEntry) -> Result<AuditRecord, StoreError>;

    /// Records matching `query`, newest first.
    async fn audit_records(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;

    /// Up to `limit` records with id >= `from_id`, in id order (for
    /// verification).
    async fn audit_chain(&self, from_id: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;
}

/// Walk the whole stored chain; Ok(number of records) or the first break.
pub async fn verify_store<S: AuditStore + ?Sized>(
    store: &S,
) -> Result<Result<u64, ChainBreak>, StoreError> {
    const PAGE: u32 = 2000;
    let mut v = ChainVerifier::default();
    loop {
        let page = store.audit_chain(v.next_id(), PAGE).await?;
        let n = page.len();
        for r in &page {
            if let Err(b) = v.check(r) {
                return Ok(Err(b));
            }
        }
        if n < PAGE as usize {
            return Ok(Ok(v.checked));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: i64) -> AuditEntry {
        AuditEntry::new(
            Timestamp::from_millisecond(1_764_000_000_000 + i).unwrap(),
            "anna",
            "police_officer",
            "person.view",
            format!("person:{i}"),
        )
        .detail(serde_json::json!({"b": 1, "a": "x"}))
    }

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for i in 0..n {
            let last = out.last().map(|r| (r.id, r.hash.clone()));
            out.push(seal(&entry(i), last));
        }
        out
    }

    #[test]
    fn a_sealed_chain_verifies_and_any_change_is_named() {
        let c = chain(5);
        assert_eq!(c[0].prev_hash, GENESIS_HASH);
        assert_eq!(c[0].detail, r#"{"a":"x","b":1}"#, "keys sorted");
        assert_eq!(verify_chain(&c), Ok(5));

        let mut edited = c.clone();
        edited[2].subject = "person:99".into();
        assert_eq!(verify_chain(&edited).unwrap_err().id, 3);

        let mut rehashed = c.clone();
        // Recomputing the edited row's own hash breaks the next link.
        rehashed[2].actor = "mallory".into();
        let last = Some((rehashed[1].id, rehashed[1].hash.clone()));
        let mut e = entry(2);
        e.actor = "mallory".into();
        rehashed[2] = seal(&e, last);
        assert_eq!(verify_chain(&rehashed).unwrap_err().id, 4);

        let mut removed = c.clone();
        removed.remove(1);
        assert_eq!(verify_chain(&removed).unwrap_err().id, 2);
    }
}
