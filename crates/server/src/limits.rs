//! Abuse limits: request rates per client address, per device and per
//! console account, and the replay guard for device proofs.
//!
//! Why here and not at a proxy: the limits that matter are per device and
//! per account, which only the server can tell after it has checked who is
//! asking. The per-address limit is a coarse first gate that runs before any
//! signature is checked, so a flood costs no ECDSA verifications. It is
//! deliberately generous: mobile carriers put thousands of phones behind one
//! address (carrier-grade NAT), and a migration centre's Wi-Fi is one
//! address for a whole queue of people.
//!
//! Limits are token buckets (GCRA, the `governor` crate) kept in memory on
//! each node: with N nodes behind a balancer a client may get up to N times
//! the rate. That is acceptable for abuse limits (their job is to bound the
//! cost of one client, not to meter it exactly); enrolment attempts per card,
//! which must hold across nodes, are counted in the database instead
//! (`amina_store`'s card lock-out).
//!
//! Every refusal is `429` with `Retry-After` and a machine-readable reason,
//! mapped in one place ([`crate::error`]).

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::LimitsConfig;

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// Requests from one client address.
    Address,
    /// Signed requests (or OwnTracks reports) of one device.
    Device,
    /// Console requests of one signed-in account.
    Account,
    /// Console sign-in attempts for one user name.
    SignIn,
}

impl LimitScope {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitScope::Address => "address",
            LimitScope::Device => "device",
            LimitScope::Account => "account",
            LimitScope::SignIn => "sign_in",
        }
    }
}

/// A request over its limit: who, and how long until one more is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub scope: LimitScope,
    pub retry_after: Duration,
}

impl Limited {
    /// Whole seconds to wait, at least one.
    pub fn retry_after_s(&self) -> u64 {
        self.retry_after.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// One keyed token bucket, or none when the configured rate is zero.
struct Bucket<K: std::hash::Hash + Eq + Clone> {
    scope: LimitScope,
    limiter: Option<DefaultKeyedRateLimiter<K>>,
}

impl<K: std::hash::Hash + Eq + Clone> Bucket<K> {
    fn new(scope: LimitScope, per_minute: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|rate| {
            let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
            RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))
        });
        Bucket { scope, limiter }
    }

    fn check(&self, key: &K) -> Result<(), Limited> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(key).map_err(|not_until| Limited {
            scope: self.scope,
            retry_after: not_until.wait_time_from(DefaultClock::default().now()),
        })
    }

    /// Forget keys whose bucket is full again (they carry no state).
    fn forget_idle(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// All request limits of one node.
pub struct Limits {
    address: Bucket<IpAddr>,
    device: Bucket<String>,
    account: Bucket<i64>,
    sign_in: Bucket<String>,
}

impl Limits {
    pub fn new(c: &LimitsConfig) -> Self {
        Limits {
            address: Bucket::new(LimitScope::Address, c.address_per_minute, c.address_burst),
            device: Bucket::new(LimitScope::Device, c.device_per_minute, c.device_burst),
            account: Bucket::new(LimitScope::Account, c.account_per_minute, c.account_burst),
            sign_in: Bucket::new(LimitScope::SignIn, c.sign_in_per_minute, c.sign_in_burst),
        }
    }

    pub fn address(&self, ip: IpAddr) -> Result<(), Limited> {
        self.address.check(&ip)
    }

    pub fn device(&self, device_id: &str) -> Result<(), Limited> {
        self.device.check(&device_id.to_string())
    }

    pub fn account(&self, account_id: i64) -> Result<(), Limited> {
        self.account.check(&account_id)
    }

    /// Sign-in attempts per user name (case-folded), whatever the outcome:
    /// a password guesser spread over many addresses still meets it.
    pub fn sign_in(&self, user: &str) -> Result<(), Limited> {
        self.sign_in.check(&user.trim().to_lowercase())
    }

    /// Drop the state of idle keys; the scheduler calls it now and then so
    /// that memory follows the active clients, not every client ever seen.
    pub fn forget_idle(&self) {
        self.address.forget_idle();
        self.device.forget_idle();
        self.account.forget_idle();
        self.sign_in.forget_idle();
    }
}

/// Middleware: the per-address limit and the request size limit, before
/// anything else runs. The address is the connection's peer
/// (`axum::extract::ConnectInfo`, which [`crate::serve`] provides); a
/// router served without it (in-process tests) has no address to limit.
pub async fn gate(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let max = state.config.limits.max_request_bytes;
    if declared.is_some_and(|n| n > max as u64) {
        return crate::error::ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body exceeds {max} bytes"),
        )
        .into_response();
    }
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = peer {
        if !state.config.limits.exempt_addresses.contains(&ip) {
            if let Err(limited) = state.limits.address(ip) {
                return crate::error::ApiError::from(limited).into_response();
            }
        }
    }
    next.run(req).await
}

/// Refuses a device proof seen before.
///
/// A proof is valid for `created` ± the clock-skew allowance, so a captured
/// request could be sent again inside that window. Every accepted proof is
/// remembered (a keyed 64-bit hash of the device id and the signature bytes;
/// the phones sign every attempt anew, and ECDSA signatures are randomised,
/// so two genuine requests never share one) in the bucket of its `created`
/// second, until no proof with that `created` can be accepted any more. The
/// ring has 2 × skew + 2 buckets: two seconds that share a bucket are more
/// than the whole acceptance window apart, so clearing a bucket for reuse
/// never forgets a proof that could still be replayed. Memory follows the
/// request rate over one skew window (≈ 16 bytes per request), not the
/// number of devices.
///
/// Per node, like the rate limits: a replay sent to another node behind the
/// balancer is not seen here. Replaying a fix upload stores nothing twice in
/// any case (fixes are idempotent by device and sequence number).
pub struct ReplayGuard {
    hasher: RandomState,
    ring: Mutex<Vec<(i64, HashSet<u64>)>>,
}

impl ReplayGuard {
    pub fn new(skew_s: u32) -> Self {
        let n = 2 * skew_s as usize + 2;
        ReplayGuard {
            hasher: RandomState::new(),
            ring: Mutex::new((0..n).map(|_| (i64::MIN, HashSet::new())).collect()),
        }
    }

    /// Record a proof; false when the same proof was recorded before.
    /// `created` must already be within the acceptance window.
    pub fn first_use(&self, device_id: &str, created: i64, signature: &[u8]) -> bool {
        let key = self.hasher.hash_one((device_id, signature));
        let Ok(mut ring) = self.ring.lock() else {
            // A panic elsewhere poisoned the lock: refuse nothing rather
            // than everything.
            return true;
        };
        let n = ring.len() as i64;
        let slot = &mut ring[created.rem_euclid(n) as usize];
        if slot.0 != created {
            slot.0 = created;
            slot.1.clear();
        }
        slot.1.insert(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LimitsConfig {
        LimitsConfig {
            address_per_minute: 60,
            address_burst: 3,
            device_per_minute: 60,
            device_burst: 2,
            account_per_minute: 0,
            account_burst: 1,
            sign_in_per_minute: 5,
            sign_in_burst: 2,
            ..LimitsConfig::default()
        }
    }

    #[test]
    fn each_key_has_its_own_bucket_and_a_refusal_says_how_long_to_wait() {
        let l = Limits::new(&config());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            l.address(a).unwrap();
        }
        let refused = l.address(a).unwrap_err();
        assert_eq!(refused.scope, LimitScope::Address);
        // One per second refills: the wait is at most a second.
        assert!(refused.retry_after <= Duration::from_secs(1), "{refused:?}");
        assert_eq!(refused.retry_after_s(), 1);
        l.address(b).expect("another address is not affected");

        l.device("d1").unwrap();
        l.device("d1").unwrap();
        assert_eq!(l.device("d1").unwrap_err().scope, LimitScope::Device);
        l.device("d2").unwrap();
    }

    #[test]
    fn a_zero_rate_switches_a_limit_off() {
        let l = Limits::new(&config());
        for _ in 0..1000 {
            l.account(7).unwrap();
        }
    }

    #[test]
    fn sign_in_attempts_count_per_user_name_whatever_its_case() {
        let l = Limits::new(&config());
        l.sign_in("Officer1").unwrap();
        l.sign_in(" officer1 ").unwrap();
        assert_eq!(l.sign_in("OFFICER1").unwrap_err().scope, LimitScope::SignIn);
        // 5 a minute: the next attempt in 12 s.
        let wait = l.sign_in("officer1").unwrap_err().retry_after_s();
        assert!((1..=12).contains(&wait), "{wait}");
        l.sign_in("officer2").unwrap();
    }

    #[test]
    fn a_proof_is_accepted_once_and_old_seconds_are_recycled() {
        let g = ReplayGuard::new(300);
        assert!(g.first_use("d1", 1_000, b"sig-a"));
        assert!(!g.first_use("d1", 1_000, b"sig-a"), "the replay");
        assert!(g.first_use("d1", 1_000, b"sig-b"), "another proof");
        assert!(g.first_use("d2", 1_000, b"sig-a"), "another device");
        assert!(g.first_use("d1", 1_001, b"sig-c"));
        // 602 buckets: second 1_602 reuses 1_000's bucket, when no proof
        // created at 1_000 can be accepted any more.
        assert!(g.first_use("d1", 1_602, b"sig-z"));
        assert!(
            g.first_use("d1", 1_000, b"sig-a"),
            "forgotten with its bucket"
        );
        assert!(!g.first_use("d1", 1_001, b"sig-c"), "its neighbour is kept");
    }
}
