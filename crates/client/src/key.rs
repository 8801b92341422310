//! A device key pair and request signing.
//!
//! The phone's key never leaves it: in the PWA it is a non-extractable
//! WebCrypto key. This Rust implementation (ring) plays the phone in tests,
//! the simulator and benchmarks.

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

use crate::proto::{content_digest, signature_header, PublicJwk, SignatureParams, SIGNATURE_ALG};

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub struct DeviceKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

/// Headers that prove possession of the key for one request.
#[derive(Debug, Clone)]
pub struct SignedHeaders {
    pub content_digest: Option<String>,
    pub signature_input: String,
    pub signature: String,
}

impl DeviceKey {
    /// A fresh random key pair.
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("the system random source works");
        Self::from_pkcs8(pkcs8.as_ref()).expect("a freshly generated PKCS#8 key parses")
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, ring::error::KeyRejected> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)?;
        Ok(DeviceKey { pair, rng })
    }

    /// SEC1 uncompressed public point (0x04 || x || y).
    pub fn public_sec1(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    pub fn jwk(&self) -> PublicJwk {
        let p = self.public_sec1();
        PublicJwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: B64URL.encode(&p[1..33]),
            y: B64URL.encode(&p[33..65]),
        }
    }

    /// RFC 7638 thumbprint of the public key.
    pub fn thumbprint(&self) -> String {
        jwk_thumbprint(&self.jwk())
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&self.rng, message)
            .expect("ECDSA signing with a valid key does not fail")
            .as_ref()
            .to_vec()
    }

    /// Sign a request as RFC 9421 (see [`crate::proto`]).
    pub fn sign_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        keyid: &str,
        created_unix_s: i64,
    ) -> SignedHeaders {
        let params = SignatureParams {
            covers_digest: false,
            created: created_unix_s,
            keyid: keyid.to_string(),
            alg: SIGNATURE_ALG.to_string(),
            nonce: None,
        };
        proven_headers(method, path, body, params, |base| self.sign(base))
    }
}

/// The headers of one request whose RFC 9421 base (built from `params`,
/// with `covers_digest` set from `body`) is signed or tagged by `prove`.
pub(crate) fn proven_headers(
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    mut params: SignatureParams,
    prove: impl FnOnce(&[u8]) -> Vec<u8>,
) -> SignedHeaders {
    let digest = body.map(content_digest);
    params.covers_digest = digest.is_some();
    let base = params.signature_base(method, path, digest.as_deref());
    SignedHeaders {
        content_digest: digest,
        signature_input: params.header_value(),
        signature: signature_header(&prove(base.as_bytes())),
    }
}

/// RFC 7638 JWK thumbprint of an EC key: SHA-256 over the required members
/// in lexicographic order, base64url without padding.
pub fn jwk_thumbprint(jwk: &PublicJwk) -> String {
    let canonical = format!(
        r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
        jwk.crv, jwk.kty, jwk.x, jwk.y
    );
    B64URL.encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
}

/// Decode a P-256 JWK into a SEC1 uncompressed point, checking its shape.
/// (Whether the point is on the curve is checked when a signature is
/// verified with it; the server also verifies the binding request's
/// signature with it, so an invalid point can never be bound.)
pub fn jwk_to_sec1(jwk: &PublicJwk) -> Option<Vec<u8>> {
    if jwk.kty != "EC" || jwk.crv != "P-256" {
        return None;
    }
    let x = B64URL.decode(&jwk.x).ok()?;
    let y = B64URL.decode(&jwk.y).ok()?;
    if x.len() != 32 || y.len() != 32 {
        return None;
    }
    let mut out = Vec::with_capacity(65);
    out.push(4);
    out.extend_from_slice(&x);
    out.extend_from_slice(&y);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    #[test]
    fn signed_request_verifies_with_the_jwk() {
        let key = DeviceKey::generate();
        let body = br#"{"fixes":[]}"#;
        let h = key.sign_request("POST", "/v1/fixes", Some(body), "dv_1", 1_700_000_000);
        let params = SignatureParams::parse(&h.signature_input).unwrap();
        let base = params.signature_base("POST", "/v1/fixes", h.content_digest.as_deref());
        let sig = crate::proto::parse_signature_header(&h.signature).unwrap();
        let public = jwk_to_sec1(&key.jwk()).unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
            .verify(base.as_bytes(), &sig)
            .expect("valid signature");
        let tampered = params.signature_base("POST", "/v1/other", h.content_digest.as_deref());
        assert!(UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
            .verify(tampered.as_bytes(), &sig)
            .is_err());
    }

    #[test]
    fn rfc7638_thumbprint_example() {
        // RFC 7638 section 3.1 uses an RSA key; for EC we check the
        // canonical member order by recomputing by hand.
        let jwk = PublicJwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU".into(),
            y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0".into(),
        };
        let expected = B64URL.encode(
            ring::digest::digest(
                &ring::digest::SHA256,
                br#"{"crv":"P-256","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#,
            )
            .as_ref(),
        );
        assert_eq!(jwk_thumbprint(&jwk), expected);
        assert_eq!(jwk_to_sec1(&jwk).unwrap().len(), 65);
        let mut bad = jwk.clone();
        bad.crv = "P-384".into();
        assert!(jwk_to_sec1(&bad).is_none());
    }
}
