//! Storage for the daily detection job: which people to look at, their
//! fixes over a day, and the small history the job keeps per person
//! ([`amina_domain::detection::daily::PersonHistory`], stored as JSON).

use async_trait::async_trait;
use jiff::civil::Date;
use jiff::Timestamp;

use crate::{StoreError, StoredFix};

/// The kept history of one person.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionHistory {
    /// The last day the job processed for this person.
    pub last_day: Date,
    pub history: serde_json::Value,
}

#[async_trait]
pub trait DetectionStore: Send + Sync + 'static {
    /// Ids of people whose last monitoring is at or after `since`, above
    /// `after_id`, in id order, at most `limit` (for paging).
    async fn persons_reporting_since(
        &self,
        since: Timestamp,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError>;

    /// The person's fixes recorded in [from, to), oldest first.
    async fn fixes_between(
        &self,
        person_id: i64,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredFix>, StoreError>;

    async fn detection_history(
        &self,
        person_id: i64,
    ) -> Result<Option<DetectionHistory>, StoreError>;

    /// Keep the history after processing `history.last_day` (insert or
    /// replace).
    async fn save_detection_history(
        &self,
        person_id: i64,
        history: DetectionHistory,
        now: Timestamp,
    ) -> Result<(), StoreError>;
}
