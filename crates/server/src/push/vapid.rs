//! VAPID (RFC 8292): the server identifies itself to push services with a
//! JWT signed by its P-256 key, and browsers accept pushes only from the key
//! they subscribed with (the applicationServerKey).
//!
//! The key pair is made once, on the first start, and kept in the database
//! (one row, inserted if absent and read back, so several nodes agree). The
//! private key never leaves this module's types except as the stored PKCS#8
//! document; `Debug` does not show it and nothing logs it.
//!
//! The token is an ES256 JWS (RFC 7515/7518): ring's fixed-size P-256
//! signature is exactly the JWS `r || s` encoding.

use amina_store::{SharedStore, StoreError, VapidKeys};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

/// How long a VAPID token is valid; RFC 8292 allows at most 24 hours.
pub const TOKEN_LIFETIME: SignedDuration = SignedDuration::from_hours(12);

pub struct Vapid {
    key_pair: EcdsaKeyPair,
    public_key: Vec<u8>,
    rng: SystemRandom,
}

impl std::fmt::Debug for Vapid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vapid {{ public_key: {} }}", self.public_key_b64())
    }
}

impl Vapid {
    /// The stored key pair, made and stored first if there is none.
    pub async fn load_or_create(store: &SharedStore, now: Timestamp) -> Result<Vapid, StoreError> {
        let rng = SystemRandom::new();
        let internal = |e: &dyn std::fmt::Display| StoreError::Internal(format!("VAPID key: {e}"));
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|e| internal(&e))?;
        let candidate =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .map_err(|e| internal(&e))?;
        let stored = store
            .vapid_keys(VapidKeys {
                private_pkcs8: pkcs8.as_ref().to_vec(),
                public_key: candidate.public_key().as_ref().to_vec(),
                created_at: now,
            })
            .await?;
        Self::from_pkcs8(&stored.private_pkcs8).map_err(|e| internal(&e))
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Vapid, ring::error::KeyRejected> {
        let rng = SystemRandom::new();
        let key_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)?;
        let public_key = key_pair.public_key().as_ref().to_vec();
        Ok(Vapid {
            key_pair,
            public_key,
            rng,
        })
    }

    /// The applicationServerKey: uncompressed SEC1, base64url.
    pub fn public_key_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.public_key)
    }

    /// The `Authorization` header for a push to a service at `audience`
    /// (the endpoint's origin), valid from `now` for [`TOKEN_LIFETIME`].
    pub fn authorization(
        &self,
        audience: &str,
        contact: &str,
        now: Timestamp,
    ) -> Result<String, ring::error::Unspecified> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": audience,
            "exp": (now + TOKEN_LIFETIME).as_second(),
            "sub": contact,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{claims}");
        let signature = self.key_pair.sign(&self.rng, input.as_bytes())?;
        Ok(format!(
            "vapid t={input}.{}, k={}",
            URL_SAFE_NO_PAD.encode(signature.as_ref()),
            self.public_key_b64()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    #[test]
    fn token_verifies_with_the_advertised_key() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let v = Vapid::from_pkcs8(pkcs8.as_ref()).unwrap();
        let now: Timestamp = "2025-12-01T10:00:00Z".parse().unwrap();
        let h = v
            .authorization("https://push.example:8443", "mailto:a@b.invalid", now)
            .unwrap();
        let (t, k) = h
            .strip_prefix("vapid t=")
            .unwrap()
            .split_once(", k=")
            .unwrap();
        assert_eq!(k, v.public_key_b64());
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example:8443");
        assert_eq!(claims["exp"], now.as_second() + 12 * 3600);
        let key = URL_SAFE_NO_PAD.decode(k).unwrap();
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key)
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .unwrap();
        assert!(!format!("{v:?}").contains("pkcs8"));
    }
}
