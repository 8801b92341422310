"""Schemathesis hooks for amina: sign requests as a real phone and a real
integration sender do, so the generated cases reach past authentication.

Loaded with SCHEMATHESIS_HOOKS=amina_hooks (this folder on PYTHONPATH) by
tests/api_schema.rs. Environment:

- AMINA_SCHEMA_BASE: the server's base URL (http://127.0.0.1:PORT).
- AMINA_SCHEMA_SIGN: "1" to sign, anything else to send requests unsigned
  (then every device and integration endpoint must answer a clean 4xx).
- AMINA_SCHEMA_SENDER, AMINA_SCHEMA_SENDER_KEY: the integration sender id and
  its shared key (base64), as configured in the server.
- AMINA_SCHEMA_CARD, AMINA_SCHEMA_SECRET: a card to enrol the test phone
  with (a demo card of `amina serve --demo`).

Signing follows the scheme in crates/client/src/proto.rs (RFC 9421,
ecdsa-p256-sha256 over @method, @path and content-digest) and
crates/client/src/integration.rs (hmac-sha256, adding @query). It is done on
the prepared request, right before it is sent, so the signature covers the
exact bytes on the wire.
"""

import base64
import hashlib
import hmac
import json
import os
import time
import urllib.parse
import urllib.request

import requests
import schemathesis
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

BASE = os.environ.get("AMINA_SCHEMA_BASE", "")
SIGN = os.environ.get("AMINA_SCHEMA_SIGN") == "1"
SENDER = os.environ.get("AMINA_SCHEMA_SENDER", "fms")
SENDER_KEY = base64.b64decode(os.environ.get("AMINA_SCHEMA_SENDER_KEY", "") or b"")
DEVICE_PATHS = {
    "/v1/devices",
    "/v1/device-sessions",
    "/v1/addresses",
    "/v1/fixes",
    "/v1/me/status",
    "/v1/me/data",
    "/v1/notices",
    "/v1/push-subscription",
    "/v1/checkins",
    "/v1/me/owntracks",
}
INTEGRATION_PREFIX = "/v1/integration/"


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def digest_of(body):
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


class Phone:
    """A P-256 key bound as the active device of one demo card."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        nums = self.key.public_key().public_numbers()
        self.jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(nums.x.to_bytes(32, "big")),
            "y": b64url(nums.y.to_bytes(32, "big")),
        }
        canonical = json.dumps(
            {k: self.jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":")
        )
        self.thumbprint = b64url(hashlib.sha256(canonical.encode()).digest())
        self.device_id = None

    def headers(self, keyid, method, path, body):
        components = '"@method" "@path"' + (' "content-digest"' if body is not None else "")
        params = (
            f'({components});created={int(time.time())};keyid="{keyid}";alg="ecdsa-p256-sha256"'
        )
        lines = [f'"@method": {method.upper()}', f'"@path": {path}']
        out = {}
        if body is not None:
            out["Content-Digest"] = digest_of(body)
            lines.append(f'"content-digest": {out["Content-Digest"]}')
        lines.append(f'"@signature-params": {params}')
        der = self.key.sign("\n".join(lines).encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        out["Signature-Input"] = "amina=" + params
        out["Signature"] = "amina=:" + base64.b64encode(raw).decode() + ":"
        return out

    def bind(self):
        card = os.environ.get("AMINA_SCHEMA_CARD", "DEMO000001")
        secret = os.environ.get("AMINA_SCHEMA_SECRET", "demo-secret-1")
        enrol = post(f"{BASE}/v1/enrolments", {"card_number": card, "activation_secret": secret})
        body = json.dumps(
            {"binding_token": enrol["binding_token"], "public_key": self.jwk}
        ).encode()
        headers = self.headers(self.thumbprint, "POST", "/v1/devices", body)
        bound = post(f"{BASE}/v1/devices", body, headers)
        self.device_id = bound["device_id"]


def post(url, body, headers=None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST")
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


PHONE = None


def phone():
    global PHONE
    if PHONE is None:
        PHONE = Phone()
        PHONE.bind()
    return PHONE


def integration_headers(method, path, query, body):
    components = '"@method" "@path" "@query"' + (
        ' "content-digest"' if body is not None else ""
    )
    params = f'({components});created={int(time.time())};keyid="{SENDER}";alg="hmac-sha256"'
    lines = [f'"@method": {method.upper()}', f'"@path": {path}', f'"@query": ?{query}']
    out = {}
    if body is not None:
        out["Content-Digest"] = digest_of(body)
        lines.append(f'"content-digest": {out["Content-Digest"]}')
    lines.append(f'"@signature-params": {params}')
    tag = hmac.new(SENDER_KEY, "\n".join(lines).encode(), hashlib.sha256).digest()
    out["Signature-Input"] = "amina=" + params
    out["Signature"] = "amina=:" + base64.b64encode(tag).decode() + ":"
    return out


def sign(prepared):
    url = urllib.parse.urlsplit(prepared.url)
    path, query = url.path, url.query
    method = prepared.method
    body = prepared.body
    if isinstance(body, str):
        body = body.encode()
    # The server signs what it reads: a request with a body signs its digest.
    has_body = method in ("POST", "PUT")
    signed_body = (body or b"") if has_body else None
    if path.startswith(INTEGRATION_PREFIX):
        headers = integration_headers(method, path, query, signed_body)
    elif path in DEVICE_PATHS:
        p = phone()
        if path == "/v1/devices":
            keyid = p.thumbprint
        else:
            keyid = p.device_id
        headers = p.headers(keyid, method, path, signed_body)
    else:
        return
    for name, value in headers.items():
        prepared.headers[name] = value


if SIGN:
    _send = requests.Session.send

    def _signed_send(self, request, **kwargs):
        if isinstance(request, requests.PreparedRequest) and request.url.startswith(BASE):
            sign(request)
        return _send(self, request, **kwargs)

    requests.Session.send = _signed_send


# Refusals of schema-valid requests that the document cannot prevent: they
# depend on time, on the production calendar's years, on the device's
# sequence history, on the register's contents, or on arithmetic no JSON
# Schema states (a point on the P-256 curve). Every other 4xx with a reason
# (a limit, a pattern, an enumeration) must be in the document, so a
# schema-valid request refused for one of them fails the run.
SEMANTIC_REFUSALS = {
    "POST /v1/fixes": {
        "recorded_in_future",
        "recorded_before_enrolment",
        "date_outside_calendar",
        "duplicate_sequence_in_batch",
    },
    # A query of address-kind words only ("ул", "дом") says nothing to
    # search by.
    "GET /v1/addresses": {"query_too_short"},
    "POST /v1/notices": {
        "date_before_registration",
        "date_too_far_ahead",
        "date_before_current_notice",
        "date_outside_calendar",
        "address_not_residential",
        "address_outside_region",
    },
    "PUT /v1/push-subscription": {"invalid_push_key"},
    # A pattern-valid point is almost never on the curve.
    "POST /v1/device-sessions": {"invalid_public_key"},
    "POST /v1/integration/events": {
        "occurred_in_future",
        "date_outside_calendar",
        "same_card_number",
    },
}


@schemathesis.check
def valid_data_refused_only_for_reasons_the_document_cannot_state(ctx, response, case):
    """A schema-valid request answered 4xx other than for authentication,
    existence, conflict or rate: its reason must be one the document cannot
    express (schemathesis.toml lets 422 through positive_data_acceptance for
    this check to decide)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code != 422:
        return None
    try:
        reason = json.loads(response.content).get("error")
    except ValueError:
        reason = None
    allowed = SEMANTIC_REFUSALS.get(case.operation.label, set())
    if reason not in allowed:
        raise AssertionError(
            f"a schema-valid request was refused with 422 {reason!r}; the document "
            f"should state that limit (reasons it cannot state here: {sorted(allowed)})"
        )
    return None
