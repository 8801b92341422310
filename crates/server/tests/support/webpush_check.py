"""Decrypt and verify Web Push requests captured by the test stand-in.

An implementation independent of the server's: RFC 8291 (aes128gcm) with the
`http-ece` package, the VAPID JWT (RFC 8292) with `cryptography`.

stdin: a JSON list of requests, each
  {"private_pkcs8": b64, "auth": b64, "body": b64, "authorization": str,
   "expected_aud": str, "expected_key": b64url, "now": unix seconds}
stdout: a JSON list of results, each
  {"plaintext": str or null, "claims": object or null, "errors": [str]}
An empty error list means the request decrypted and its token verified.
"""

import base64
import json
import sys

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def check_vapid(header, expected_aud, expected_key, now, errors):
    if not header.startswith("vapid "):
        errors.append("Authorization is not the vapid scheme")
        return None
    params = {}
    for part in header[len("vapid "):].split(","):
        name, _, value = part.strip().partition("=")
        params[name] = value
    token, key = params.get("t"), params.get("k")
    if not token or not key:
        errors.append("vapid needs t= and k=")
        return None
    if key != expected_key:
        errors.append("k is not the advertised applicationServerKey")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url(key))
    head_b64, claims_b64, sig_b64 = token.split(".")
    head = json.loads(b64url(head_b64))
    if head.get("alg") != "ES256":
        errors.append("alg is not ES256")
    sig = b64url(sig_b64)
    if len(sig) != 64:
        errors.append("signature is not 64 bytes (r||s)")
        return None
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        public.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        errors.append("the JWT signature does not verify")
    claims = json.loads(b64url(claims_b64))
    if claims.get("aud") != expected_aud:
        errors.append(f"aud {claims.get('aud')!r} is not {expected_aud!r}")
    exp = claims.get("exp")
    if not isinstance(exp, int) or not (now < exp <= now + 24 * 3600):
        errors.append(f"exp {exp!r} is not within 24 h after {now}")
    if not claims.get("sub"):
        errors.append("sub is missing")
    return claims


def check(req):
    errors = []
    private = serialization.load_der_private_key(base64.b64decode(req["private_pkcs8"]), None)
    plaintext = None
    try:
        plaintext = http_ece.decrypt(
            base64.b64decode(req["body"]),
            private_key=private,
            auth_secret=base64.b64decode(req["auth"]),
            version="aes128gcm",
        ).decode("utf-8")
    except Exception as e:  # any failure to decrypt is the answer
        errors.append(f"decryption failed: {e!r}")
    claims = check_vapid(
        req["authorization"], req["expected_aud"], req["expected_key"], req["now"], errors
    )
    return {"plaintext": plaintext, "claims": claims, "errors": errors}


if __name__ == "__main__":
    json.dump([check(r) for r in json.load(sys.stdin)], sys.stdout)
