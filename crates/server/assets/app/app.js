// The migrant's app: enrolment, location reporting with an offline queue,
// and the person's status. Plain JavaScript, no build step, no libraries:
// the device API (docs/api.md) is small enough to speak directly, and
// nothing may be loaded from another origin.
//
// What must never happen is losing a fix through a fault of ours. So every
// fix is first written to IndexedDB together with its sequence number (one
// transaction, so a number is never reused), and only then uploaded; it
// leaves the queue only when the server has said it is stored (accepted or
// duplicate), or when the server refused exactly that fix (4xx naming it).
// Network failures and 5xx keep everything for the next try.
//
// Every visible string comes from the server's Fluent files via
// /app/i18n/<lang>.json (see docs/app.md); elements carry their message id
// in data-i18n and are re-rendered when the language changes.
"use strict";

// stay.js: place of stay, my data, enrolment by code, lost-phone help.
import { initStay, renderPlace } from "./stay.js";
// push.js: notifications, the daily check-in, the permission screen.
import { initPush, appOpened, noteLocationAttempt, languageChanged } from "./push.js";
// owntracks.js: reporting in the background with the OwnTracks app.
import { initOwnTracks, renderOwnTracks, reportingElsewhere } from "./owntracks.js";

/** How often a fix is taken while the app is open. */
const FIX_INTERVAL_MS = 60_000;
/** How often a non-empty queue is retried after a failure. */
const RETRY_MS = 30_000;
/** Fixes per upload (the server takes up to 500). */
const MAX_BATCH = 100;
const LANGS = ["ru", "en", "uz", "tg", "ky"];
const ALG = "ecdsa-p256-sha256";
/** Requests inside a device session carry an HMAC tag (docs/api.md). */
const SESSION_ALG = "hmac-sha256";
const SESSION_PATH = "/v1/device-sessions";
const SESSION_KDF_INFO = "amina device session v1 ";
/** A session is renewed when it has less than this left. */
const SESSION_RENEW_MS = 10 * 60_000;
const LANG_KEY = "amina-lang";

// ---------------------------------------------------------------- storage

let dbPromise = null;

/** The app's database: "meta" (key → value) and "queue" (fixes by seq). */
function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const open = indexedDB.open("amina", 1);
      open.onupgradeneeded = () => {
        open.result.createObjectStore("meta");
        open.result.createObjectStore("queue", { keyPath: "seq" });
      };
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }
  return dbPromise;
}

/** Run `work(stores)` in one transaction; resolves with its result on commit. */
async function transact(names, mode, work) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction(names, mode);
    const stores = Object.fromEntries(names.map((n) => [n, tx.objectStore(n)]));
    let result;
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
    work(stores, (r) => { result = r; });
  });
}

function metaGet(key) {
  return transact(["meta"], "readonly", (s, done) => {
    const r = s.meta.get(key);
    r.onsuccess = () => done(r.result);
  });
}

function metaSet(key, value) {
  return transact(["meta"], "readwrite", (s) => { s.meta.put(value, key); });
}

/** Append a fix with the next sequence number; both in one transaction. */
function enqueueFix(fix) {
  return transact(["meta", "queue"], "readwrite", (s, done) => {
    const r = s.meta.get("nextSeq");
    r.onsuccess = () => {
      const seq = r.result || 1;
      s.queue.put({ seq, ...fix });
      s.meta.put(seq + 1, "nextSeq");
      done(seq);
    };
  });
}

/** The oldest `limit` queued fixes, in sequence order. */
function queuedFixes(limit) {
  return transact(["queue"], "readonly", (s, done) => {
    const r = s.queue.getAll(null, limit);
    r.onsuccess = () => done(r.result);
  });
}

function queueCount() {
  return transact(["queue"], "readonly", (s, done) => {
    const r = s.queue.count();
    r.onsuccess = () => done(r.result);
  });
}

function removeFixes(seqs) {
  return transact(["queue"], "readwrite", (s) => { seqs.forEach((q) => s.queue.delete(q)); });
}

// ------------------------------------------------------------ server clock

// Signatures carry `created`, which must be within a few minutes of the
// server's clock; a phone's clock may be wrong. We keep the difference to
// the server (from its Date header, or from a signature_expired error) and
// use it for `created` and for the time a fix was recorded.
let clockOffsetMs = 0;

function serverNow() {
  return Date.now() + clockOffsetMs;
}

function noteServerTime(serverMs) {
  if (!Number.isFinite(serverMs)) return;
  const measured = serverMs - Date.now();
  // The Date header has one-second resolution: ignore small differences.
  if (Math.abs(measured - clockOffsetMs) > 2000) {
    clockOffsetMs = measured;
    metaSet("clockOffset", clockOffsetMs).catch(() => {});
  }
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(status, code, detail) {
    super(code);
    this.status = status;
    this.code = code;
    this.detail = detail || {};
  }
}

class NetworkError extends Error {}

/** fetch, with the server's time noted and errors turned into exceptions. */
async function api(path, init) {
  let response;
  try {
    response = await fetch(path, { ...init, cache: "no-store", credentials: "omit" });
  } catch (e) {
    throw new NetworkError(String(e));
  }
  noteServerTime(Date.parse(response.headers.get("Date") || ""));
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, (body && body.error) || "unknown", body && body.detail);
  }
  return body;
}

function b64(bytes) {
  let s = "";
  new Uint8Array(bytes).forEach((b) => { s += String.fromCharCode(b); });
  return btoa(s);
}

function b64url(bytes) {
  return b64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function sha256(bytes) {
  return crypto.subtle.digest("SHA-256", bytes);
}

/** RFC 7638 thumbprint of a P-256 public JWK. */
async function thumbprint(jwk) {
  const canonical = `{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
  return b64url(await sha256(new TextEncoder().encode(canonical)));
}

function fromB64url(text) {
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** Proof with the device key: an ECDSA P-256 signature. */
function deviceProver(keys, keyid) {
  return {
    keyid,
    alg: ALG,
    sign: (base) => crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, base),
  };
}

/** Proof inside a device session: an HMAC-SHA256 tag with the session key. */
function sessionProver(session) {
  return {
    keyid: session.id,
    alg: SESSION_ALG,
    // A tag is deterministic: the nonce keeps two equal requests in one
    // second from reading as a replay.
    nonce: () => b64url(crypto.getRandomValues(new Uint8Array(12))),
    sign: (base) => crypto.subtle.sign("HMAC", session.key, base),
  };
}

/**
 * A request proven per RFC 9421 as docs/api.md describes: @method, @path
 * and, with a body, content-digest, signed or tagged by `prover`. A
 * signature_expired answer corrects the clock from detail.server_time and
 * is retried once.
 */
async function proven(method, path, payload, prover, retried) {
  const body = payload === undefined ? null : new TextEncoder().encode(JSON.stringify(payload));
  const created = Math.floor(serverNow() / 1000);
  const components = body ? '"@method" "@path" "content-digest"' : '"@method" "@path"';
  const nonce = prover.nonce ? `;nonce="${prover.nonce()}"` : "";
  const params = `(${components});created=${created};keyid="${prover.keyid}";alg="${prover.alg}"${nonce}`;
  const headers = { "Signature-Input": `amina=${params}` };
  // RFC 9421 @path is the path without the query.
  let base = `"@method": ${method}\n"@path": ${path.split("?")[0]}\n`;
  if (body) {
    const digest = `sha-256=:${b64(await sha256(body))}:`;
    headers["Content-Type"] = "application/json";
    headers["Content-Digest"] = digest;
    base += `"content-digest": ${digest}\n`;
  }
  base += `"@signature-params": ${params}`;
  const signature = await prover.sign(new TextEncoder().encode(base));
  headers.Signature = `amina=:${b64(signature)}:`;
  try {
    return await api(path, { method, headers, body });
  } catch (e) {
    if (!retried && e instanceof ApiError && e.code === "signature_expired" && e.detail.server_time) {
      noteServerTime(Date.parse(e.detail.server_time));
      return proven(method, path, payload, prover, true);
    }
    throw e;
  }
}

/** A request signed with the device key (binding, opening a session). */
function signed(method, path, payload, keys, keyid) {
  return proven(method, path, payload, deviceProver(keys, keyid));
}

/**
 * Open a device session: an ephemeral ECDH key pair, its public half sent
 * in one request signed with the device key, and the session key derived
 * from the shared secret with HKDF-SHA256 (salt: the session id; info: the
 * label and the device id). The key is a non-extractable HMAC CryptoKey,
 * kept in IndexedDB; it never crosses the network.
 */
async function openSession() {
  const deviceId = current.deviceId;
  const ecdh = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
  const mine = await crypto.subtle.exportKey("raw", ecdh.publicKey);
  const answer = await signed("POST", SESSION_PATH, { ecdh_public: b64url(mine) }, current.keys, deviceId);
  const theirs = await crypto.subtle.importKey(
    "raw",
    fromB64url(answer.server_public),
    { name: "ECDH", namedCurve: "P-256" },
    false,
    [],
  );
  const shared = await crypto.subtle.deriveBits({ name: "ECDH", public: theirs }, ecdh.privateKey, 256);
  const ikm = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
  const encode = (text) => new TextEncoder().encode(text);
  const key = await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: encode(answer.session_id), info: encode(SESSION_KDF_INFO + deviceId) },
    ikm,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign"],
  );
  const session = { id: answer.session_id, key, deviceId, expiresAt: Date.parse(answer.expires_at) };
  await metaSet("session", session);
  current.session = session;
  return session;
}

/** The device session, opened when there is none or it is about to end. */
async function currentSession() {
  if (!current.session) current.session = (await metaGet("session")) || null;
  const s = current.session;
  if (s && s.deviceId === current.deviceId && s.expiresAt - SESSION_RENEW_MS > serverNow()) return s;
  // Requests that start together share one opening.
  if (!current.sessionOpening) {
    current.sessionOpening = openSession().finally(() => {
      current.sessionOpening = null;
    });
  }
  return current.sessionOpening;
}

/**
 * A request of the bound device, inside its session. A session the server
 * no longer honours (expired, or unknown) is replaced once.
 */
async function deviceRequest(method, path, payload) {
  for (let renewed = false; ; renewed = true) {
    const session = await currentSession();
    try {
      return await proven(method, path, payload, sessionProver(session));
    } catch (e) {
      const ended = e instanceof ApiError && (e.code === "session_expired" || e.code === "unknown_session");
      if (!ended || renewed) throw e;
      if (current.session === session) current.session = null;
      await metaSet("session", null);
    }
  }
}

// ------------------------------------------------------------------ i18n

let lang = "ru";
let strings = {};

function t(key) {
  return strings[key] || "";
}

/** Show message `key` in `el` (and remember it for a language change). */
function say(el, key) {
  el.dataset.i18n = key;
  el.textContent = t(key);
}

function renderStrings() {
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.title = t("app-title");
}

function initialLanguage() {
  const saved = localStorage.getItem(LANG_KEY);
  if (LANGS.includes(saved)) return saved;
  for (const l of navigator.languages || []) {
    const base = l.slice(0, 2).toLowerCase();
    if (LANGS.includes(base)) return base;
  }
  return "ru";
}

async function setLanguage(l) {
  const response = await fetch(`/app/i18n/${l}.json`);
  if (!response.ok) throw new Error(`no strings for ${l}`);
  strings = await response.json();
  lang = l;
  localStorage.setItem(LANG_KEY, l);
  document.documentElement.lang = l;
  $("lang").value = l;
  renderStrings();
  if (current.status) renderStatus();
  languageChanged(); // push.js
}

// ------------------------------------------------------------------ state

const current = {
  keys: null,
  deviceId: null,
  status: null,
  flushing: false,
  offlineSince: null,
  retryTimer: null,
  fixTimer: null,
  /** The device session ({id, key, deviceId, expiresAt}) and its opening. */
  session: null,
  sessionOpening: null,
};

function $(id) {
  return document.getElementById(id);
}

function showError(code) {
  const el = $("error");
  if (!code) {
    el.hidden = true;
    return;
  }
  say(el, strings[`error-${code}`] ? `error-${code}` : "error-generic");
  el.hidden = false;
}

function errorCode(e) {
  if (e instanceof NetworkError) return "network";
  if (e instanceof ApiError) return e.code;
  return "generic";
}

function showScreen(name) {
  $("enrol").hidden = name !== "enrol";
  $("status").hidden = name !== "status";
  document.body.dataset.screen = name;
}

// -------------------------------------------------------------- enrolment

/** `request`: {card_number, activation_secret}, or {code} (stay.js). */
async function enrol(request) {
  const e = await api("/v1/enrolments", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(request),
  });
  // The private key never leaves the browser: not extractable, kept in
  // IndexedDB as a CryptoKey object.
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const jwk = await crypto.subtle.exportKey("jwk", keys.publicKey);
  const publicKey = { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y };
  const bound = await signed(
    "POST",
    "/v1/devices",
    { binding_token: e.binding_token, public_key: publicKey },
    keys,
    await thumbprint(publicKey),
  );
  await metaSet("keys", keys);
  await metaSet("deviceId", bound.device_id);
  await metaSet("session", null);
  current.keys = keys;
  current.deviceId = bound.device_id;
  current.session = null;
  await showStatus(bound.status);
}

async function onEnrolSubmit(event) {
  event.preventDefault();
  const button = $("enrol-button");
  button.disabled = true;
  say(button, "working");
  showError(null);
  try {
    await enrol({
      card_number: $("card").value.trim().toUpperCase(),
      activation_secret: $("secret").value.trim(),
    });
    $("secret").value = "";
    showScreen("status");
    startReporting();
  } catch (e) {
    showError(errorCode(e));
  } finally {
    button.disabled = false;
    say(button, "enrol-button");
  }
}

// --------------------------------------------------------------- location

// Whether the phone is charging; null where the browser cannot tell.
async function batteryCharging() {
  try {
    if (!navigator.getBattery) return null;
    const b = await navigator.getBattery();
    return Boolean(b.charging);
  } catch (e) {
    return null;
  }
}

async function batteryPct() {
  try {
    if (!navigator.getBattery) return null;
    const b = await navigator.getBattery();
    return Math.round(b.level * 100);
  } catch (e) {
    return null;
  }
}

function takeFix() {
  // owntracks.js: OwnTracks is the person's reporting device now.
  if (reportingElsewhere()) return;
  if (!navigator.geolocation) {
    showGeoProblem("location-unavailable");
    return;
  }
  navigator.geolocation.getCurrentPosition(onPosition, onGeoError, {
    enableHighAccuracy: true,
    maximumAge: 0,
    timeout: 30_000,
  });
}

async function onPosition(pos) {
  showGeoProblem(null);
  noteLocationAttempt(null); // push.js
  const c = pos.coords;
  await enqueueFix({
    lat: c.latitude,
    lon: c.longitude,
    // The server takes 0 < accuracy <= 100 km.
    accuracy_m: Math.min(Math.max(c.accuracy || 1, 1), 100_000),
    // On the server's clock, so a phone with a wrong clock is not refused.
    recorded_at: new Date(pos.timestamp + clockOffsetMs).toISOString(),
    source: "gps",
    mock: false,
    battery_pct: await batteryPct(),
  });
  await renderQueue();
  flush();
}

function onGeoError(err) {
  showGeoProblem(err.code === 1 ? "location-off" : "location-unavailable");
  noteLocationAttempt(err.code); // push.js
}

function showGeoProblem(key) {
  const el = $("geo");
  el.hidden = !key;
  if (key) say(el, key);
}

/** Upload the queue in batches, oldest first, until it is empty or fails. */
async function flush() {
  if (current.flushing || !current.keys || reportingElsewhere()) return;
  current.flushing = true;
  clearTimeout(current.retryTimer);
  renderSync("sync-sending");
  let failed = false;
  try {
    for (;;) {
      const batch = await queuedFixes(MAX_BATCH);
      if (batch.length === 0) break;
      let answer;
      try {
        answer = await deviceRequest("POST", "/v1/fixes", { fixes: batch });
      } catch (e) {
        if (e instanceof ApiError && e.status >= 400 && e.status < 500 && Number.isInteger(e.detail.index)) {
          // The server names the fix it refuses; the batch stored nothing.
          const bad = batch[e.detail.index];
          if (bad) {
            await removeFixes([bad.seq]);
            $("refused").hidden = false;
            $("refused").dataset.code = e.code;
            continue;
          }
        }
        failed = true;
        if (!(e instanceof NetworkError) && !(e instanceof ApiError && e.status >= 500)) {
          showError(errorCode(e));
        }
        break;
      }
      const done = [...answer.accepted, ...answer.duplicates];
      await removeFixes(done);
      await showStatus(answer.status);
      if (done.length === 0) {
        failed = true; // the server stored nothing: do not spin
        break;
      }
    }
  } finally {
    current.flushing = false;
  }
  const left = await renderQueue();
  if (left > 0) {
    renderSync("sync-waiting");
    // Failed: try again later. Otherwise a fix arrived while this run was
    // finishing: send it now.
    current.retryTimer = setTimeout(flush, failed ? RETRY_MS : 0);
  } else {
    renderSync("sync-sent");
  }
}

function startReporting() {
  appOpened(); // push.js: check-in, subscription, permission warning
  takeFix();
  refreshStatus();
  clearInterval(current.fixTimer);
  current.fixTimer = setInterval(takeFix, FIX_INTERVAL_MS);
}

// ----------------------------------------------------------------- status

async function refreshStatus() {
  try {
    const s = await deviceRequest("GET", "/v1/me/status");
    await showStatus(s);
    showError(null);
  } catch (e) {
    if (!(e instanceof NetworkError)) showError(errorCode(e));
  }
}

async function showStatus(s) {
  current.status = s;
  await metaSet("status", s);
  renderStatus();
}

/** A UTC instant as Moscow time (UTC+3 all year), "25.11.2026 18:42". */
function moscowTime(iso) {
  const d = new Date(Date.parse(iso) + 3 * 3600_000);
  const two = (n) => String(n).padStart(2, "0");
  return `${two(d.getUTCDate())}.${two(d.getUTCMonth() + 1)}.${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`;
}

function renderStatus() {
  const s = current.status;
  const registered = $("registered");
  say(registered, s.registered ? "status-registered" : "status-deregistered");
  registered.className = s.registered ? "big ok" : "big bad";
  if (s.last_monitoring_at) {
    delete $("last-fix").dataset.i18n;
    $("last-fix").textContent = moscowTime(s.last_monitoring_at);
  } else {
    say($("last-fix"), "last-fix-none");
  }
  const deadline = (s.deadline_text && s.deadline_text[lang]) || (s.deadline_moscow ? moscowTime(s.deadline_at) : "");
  $("deadline").textContent = deadline;
  $("deadline").dataset.value = s.deadline_at || "";
  $("deadline").hidden = !deadline;
  $("deadline-label").hidden = !deadline;
  say($("presence"), `presence-${s.presence}`);
  $("presence").dataset.value = s.presence;
  const reason = !s.registered && s.deregistration_reason;
  $("reason").hidden = !reason;
  $("reason-label").hidden = !reason;
  if (reason) say($("reason"), strings[`reason-${reason}`] ? `reason-${reason}` : "reason-other");
  say($("what-now"), s.registered ? "what-now-registered" : "what-now-deregistered");
  renderPlace(s); // stay.js
  $("last-checkin").textContent = s.last_checkin_at ? moscowTime(s.last_checkin_at) : "—"; // push.js
  $("send-now").hidden = reportingElsewhere(); // owntracks.js
  renderOwnTracks(); // owntracks.js
}

async function renderQueue() {
  const n = await queueCount();
  $("queue").textContent = String(n);
  return n;
}

function renderSync(key) {
  say($("sync"), key);
}

function onConnectivity() {
  $("offline").hidden = navigator.onLine;
  if (navigator.onLine) flush();
}

// ---------------------------------------------------------------- start-up

async function main() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
  }
  $("lang").addEventListener("change", (e) => {
    setLanguage(e.target.value).catch(() => showError("network"));
  });
  await setLanguage(initialLanguage());
  if (!window.crypto || !crypto.subtle || !window.indexedDB) {
    showError(null);
    const el = $("error");
    say(el, "no-crypto");
    el.hidden = false;
    document.body.dataset.ready = "1";
    return;
  }
  $("enrol-form").addEventListener("submit", onEnrolSubmit);
  $("send-now").addEventListener("click", takeFix);
  $("refresh").addEventListener("click", refreshStatus);
  // push.js gets what it needs from here.
  initPush({
    signed: deviceRequest,
    say,
    lang: () => lang,
    enrolled: () => Boolean(current.keys && current.deviceId),
    queueCount,
    batteryPct,
    batteryCharging,
    moscowTime,
  });
  // owntracks.js: its screen, and whether this app reports at all.
  initOwnTracks({
    t,
    say,
    signed: deviceRequest,
    errorCode,
    status: () => current.status,
    statusArrived: showStatus,
    flush,
    resumeReporting: takeFix,
  });
  window.addEventListener("online", onConnectivity);
  window.addEventListener("offline", onConnectivity);
  $("offline").hidden = navigator.onLine;
  clockOffsetMs = (await metaGet("clockOffset")) || 0;
  current.keys = (await metaGet("keys")) || null;
  current.deviceId = (await metaGet("deviceId")) || null;
  if (current.keys && current.deviceId) {
    const saved = await metaGet("status");
    if (saved) {
      current.status = saved;
      renderStatus();
    }
    await renderQueue();
    showScreen("status");
    startReporting();
  } else {
    showScreen("enrol");
  }
  // stay.js: its screens, and enrolment with a code from a QR link.
  initStay({
    t,
    say,
    signed: deviceRequest,
    enrol,
    afterEnrol: () => {
      showScreen("status");
      startReporting();
    },
    showScreen,
    showError,
    errorCode,
    enrolled: () => Boolean(current.keys && current.deviceId),
    lang: () => lang,
  });
  document.body.dataset.ready = "1";
}

main();
