"""Build the committed seed corpus of the fuzz targets from the real formats.

Run from the repository root:  python3 fuzz/make_seeds.py
(PyNaCl is needed for the encrypted OwnTracks seeds; the venv that .ci/run
makes has it). Each seed's source is listed in fuzz/seeds/PROVENANCE.md. The
script is deterministic except for the OwnTracks nonces.
"""

import base64
import csv
import json
import os
import sys

ROOT = os.getcwd()
OUT = os.path.join(ROOT, "fuzz", "seeds")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def compact(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --- fix_batch: POST /v1/fixes bodies (crates/client/src/proto.rs FixWire).
def fix(seq, lat, lon, acc, at, source="gps", **extra):
    f = {"seq": seq, "lat": lat, "lon": lon, "accuracy_m": acc,
         "recorded_at": at, "source": source}
    f.update(extra)
    return f


write("fix_batch", "kremlin", compact({"fixes": [
    fix(1, 55.752, 37.6175, 12.5, "2025-12-01T07:30:00.123Z"),
    fix(2, 55.7521, 37.6176, 30, "2025-12-01T07:35:00Z", "network",
        mock=False, battery_pct=64)]}))
write("fix_batch", "tver_mock", compact({"fixes": [
    fix(7, 56.8587, 35.9176, 5, "2025-12-01T10:00:00+03:00", mock=True, battery_pct=3)]}))
# Real positions: the first rows of the GeoLife sample (../shared/data/traces).
rows = []
with open(os.path.join(ROOT, "..", "shared", "data", "traces",
                       "geolife_trackintel_users000-007.csv")) as f:
    for i, r in enumerate(csv.DictReader(f)):
        if i >= 5:
            break
        rows.append(fix(i + 1, float(r["latitude"]), float(r["longitude"]), 20,
                        r["tracked_at"]))
write("fix_batch", "geolife", compact({"fixes": rows}))
write("fix_batch", "bad_fields", compact({"fixes": [
    fix(-1, 91, 181, -1, "yesterday", "wifi", battery_pct=101)]}))
write("fix_batch", "unknown_field", '{"fixes":[{"seq":1,"lat":1,"lon":1,"accuracy_m":1,'
      '"recorded_at":"2025-01-01T00:00:00Z","source":"gps","speed":3}]}')
write("fix_batch", "empty", '{"fixes":[]}')

# --- signature_headers: lines of header values, then `name: value` headers
# and a body (see fuzz/src/lib.rs). Layouts from crates/client/src/proto.rs
# and crates/client/src/integration.rs.
dev_in = ('amina=("@method" "@path" "content-digest");created=1764579600;'
          'keyid="dv_AAAAAAAAAAAAAAAAAAAAAA";alg="ecdsa-p256-sha256"')
dev_in_nobody = ('amina=("@method" "@path");created=1764579600;'
                 'keyid="dv_AAAAAAAAAAAAAAAAAAAAAA";alg="ecdsa-p256-sha256"')
int_in = ('amina=("@method" "@path" "@query" "content-digest");created=1764579600;'
          'keyid="fms";alg="hmac-sha256"')
sig = "amina=:" + base64.b64encode(bytes(range(64))).decode() + ":"
body = b'{"fixes":[]}'
import hashlib
digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
write("signature_headers", "device_with_body",
      f"signature-input: {dev_in}\nsignature: {sig}\ncontent-digest: {digest}\n\n".encode() + body)
write("signature_headers", "device_no_body",
      f"signature-input: {dev_in_nobody}\nsignature: {sig}\n")
write("signature_headers", "integration",
      f"{int_in}\nsignature-input: {int_in}\nsignature: amina=:"
      + base64.b64encode(bytes(32)).decode() + ":\n")
write("signature_headers", "bare_values", f"{dev_in}\n{dev_in_nobody}\n{sig}\n")

# --- card_csv: data/demo/cards.csv, and the test files' shapes.
write("card_csv", "demo_cards", read("data/demo/cards.csv"))
write("card_csv", "hash_column",
      "card_number,activation_secret,activation_secret_hash,name_latin,name_cyrillic,"
      "citizenship,birth_date,purpose,valid_until\n"
      "AB-000 0001,,$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA,"
      "Alisher Karimov,Алишер Каримов,UZB,1994-03-12,work,2030-12-31\n"
      "AB0000002,secret,,Minor Person,Несовершеннолетний,TJK,2012-01-01,study,2024-01-01\n")

# --- address_csv: data/demo/addresses.csv.
write("address_csv", "demo_addresses", read("data/demo/addresses.csv"))

# --- region_geojson: small FeatureCollections with the pilot codes: the
# real boundaries (data/regions, OpenStreetMap, ODbL) thinned to a few
# dozen vertices per ring, and a synthetic pair of rectangles with a hole.
def thin(coords, keep):
    if isinstance(coords[0], (int, float)):
        return coords
    if isinstance(coords[0][0], (int, float)):  # a ring
        step = max(1, len(coords) // keep)
        ring = coords[::step]
        if ring[-1] != coords[-1]:
            ring.append(coords[-1])
        if len(ring) < 4:
            return coords
        ring[-1] = ring[0]
        return ring
    return [thin(c, keep) for c in coords]


real = json.loads(read("data/regions/moscow-region-boundaries.geojson"))
for f in real["features"]:
    f["geometry"]["coordinates"] = thin(f["geometry"]["coordinates"], 12)
    # Only the largest polygons, so the seed stays small.
    f["geometry"]["coordinates"] = sorted(f["geometry"]["coordinates"],
                                          key=lambda p: -len(p[0]))[:2]
    f["properties"] = {k: f["properties"][k] for k in ("code", "name_ru", "name_en")}
write("region_geojson", "moscow_thinned", compact(real))


def rect(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


synthetic = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"code": "RU-MOW", "name_en": "A"},
     "geometry": {"type": "Polygon",
                  "coordinates": [rect(37.0, 55.0, 37.2, 55.1), rect(37.05, 55.02, 37.08, 55.04)]}},
    {"type": "Feature", "properties": {"code": "RU-MOS", "name_ru": "Б"},
     "geometry": {"type": "MultiPolygon",
                  "coordinates": [[rect(37.2, 55.0, 37.3, 55.1)], [rect(37.05, 55.02, 37.08, 55.04)]]}},
    {"type": "Feature", "properties": {"code": "RU-TVE"},
     "geometry": {"type": "Point", "coordinates": [36.0, 56.0]}}]}
write("region_geojson", "synthetic", compact(synthetic))

# --- calendar_json: the shipped calendar (data/calendar), whole and one year.
cal_raw = read("data/calendar/ru-production-calendar.json")
write("calendar_json", "ru_2024_2027", cal_raw)
cal = json.loads(cal_raw)
one = dict(cal)
one["years"] = {"2025": cal["years"]["2025"]}
write("calendar_json", "ru_2025", compact(one))

# --- integration_event: docs/integration.md.
ev = {"event_id": "fms-2025-12-01-000123", "type": "registered_in_region",
      "occurred_at": "2025-12-01T07:30:00Z", "card_number": "AB0000001", "region": "RU-TVE"}
write("integration_event", "registered_in_region", compact(ev))
write("integration_event", "left_country", compact(
    {"event_id": "e-2", "type": "left_country", "occurred_at": "2025-11-28T23:59:59.999+03:00",
     "card_number": "AB0000002"}))
write("integration_event", "document_invalidated", compact(
    {"event_id": "e-3", "type": "document_invalidated",
     "occurred_at": "2025-11-30T12:00:00Z", "card_number": "AB0000003"}))
write("integration_event", "card_reissued", compact(
    {"event_id": "e-4", "type": "card_reissued", "occurred_at": "2025-12-01T06:00:00Z",
     "card_number": "AB0000001", "new_card_number": "AB0000009",
     "new_card_valid_until": "2030-01-01"}))

# --- owntracks: first byte even = raw request body, odd = plaintext the
# harness seals with its key. Messages from the OwnTracks JSON
# documentation's fields, as crates/server/tests/api/owntracks.rs sends them.
KEY = b"AbCdEfGhIjKlMnOpQrStUvWxYz012345"  # fuzz/src/lib.rs
loc = {"_type": "location", "lat": 55.752, "lon": 37.6175, "tst": 1764574200, "acc": 12,
       "alt": 160, "batt": 64, "bs": 1, "conn": "m", "tid": "AM", "vac": 4, "vel": 0,
       "created_at": 1764574201, "topic": "owntracks/user/phone", "inregions": []}
plain = {
    "location": loc,
    "transition": {"_type": "transition", "wtst": 1764570600, "lat": 55.75, "lon": 37.61,
                   "tst": 1764574200, "acc": 10, "tid": "AM", "event": "leave", "desc": "home",
                   "t": "c"},
    "lwt": {"_type": "lwt", "tst": 1764574200},
    "status": {"_type": "status", "android": {"hib": 0, "bo": 1, "loc": 0, "ps": 0, "wifi": 1}},
    "waypoints": {"_type": "waypoints", "_creator": "test", "waypoints": []},
}
for name, msg in plain.items():
    write("owntracks", "plain_" + name, b"\x01" + compact(msg).encode())
write("owntracks", "unencrypted", b"\x00" + compact(loc).encode())
try:
    import nacl.secret
    import nacl.utils
    box = nacl.secret.SecretBox(KEY)
    sealed = box.encrypt(compact(loc).encode(), nacl.utils.random(24))
    env = {"_type": "encrypted", "data": base64.b64encode(bytes(sealed)).decode()}
    write("owntracks", "encrypted_location", b"\x00" + compact(env).encode())
except ImportError:
    print("PyNaCl missing: encrypted OwnTracks seed not written", file=sys.stderr)
