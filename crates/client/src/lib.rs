//! The device side of amina's protocol, and the wire types both sides share.
//!
//! - [`proto`]: JSON request/response bodies and the RFC 9421 signature base,
//!   used by the server to verify and by clients to sign, so the two can
//!   never drift apart.
//! - [`key`]: a device key pair (P-256), its JWK and RFC 7638 thumbprint,
//!   and request signing.
//! - [`session`]: key-bound device sessions (one signature, then a MAC
//!   per request).
//! - [`push`]: Web Push subscription and check-in bodies.
//! - [`device`]: an HTTP client that plays one phone (tests, the simulator,
//!   benchmarks).
//! - [`stay`]: wire types and calls for place-of-stay notices, "my data"
//!   and enrolment codes.
//! - [`integration`]: the federal migration system's integration API (wire
//!   types and the HMAC request signature).

pub mod device;
pub mod integration;
pub mod json_int;
pub mod key;
pub mod proto;
pub mod push;
pub mod session;
pub mod stay;
