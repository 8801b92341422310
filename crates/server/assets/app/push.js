// Web Push, the daily check-in and the permission check screen.
//
// Why here and not in app.js: notifications and permissions are their own
// concern, and app.js stays about enrolment, reporting and status. app.js
// hands this module what it needs (signed requests, strings, the queue
// count) through initPush() and tells it about each location attempt.
//
// - Check-in: opening the app sends one, with what the app can see
//   (permission states, queued fixes, the last geolocation error, battery).
//   It waits for the first location attempt (or 20 s) so the error is known.
// - Subscription: when notification permission is granted, subscribe with
//   the server's VAPID key and send the subscription (with the language,
//   which the server writes the notices in) whenever it or the language
//   changed. A browser without a reachable push service cannot subscribe:
//   the app says so and asks the person to open it daily.
// - Permission screen: why location and notifications are needed, the
//   state of each (navigator.permissions), a button to ask, and what to do
//   in the phone's settings when one is blocked.
"use strict";

const SENT_KEY = "amina-push-sent";
const CHECKIN_WAIT_MS = 20_000;
const SUBSCRIBE_TIMEOUT_MS = 10_000;

let ctx = null;
let checkin = { sent: false, timer: null, geoError: null };

function $(id) {
  return document.getElementById(id);
}

function say(el, key) {
  ctx.say(el, key);
}

function b64urlToBytes(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

// ------------------------------------------------------------ permissions

/** "granted" | "prompt" | "denied" | "unsupported" for geolocation. */
async function locationState() {
  if (!navigator.geolocation) return "unsupported";
  try {
    const p = await navigator.permissions.query({ name: "geolocation" });
    return p.state;
  } catch (e) {
    return "unsupported";
  }
}

/** The same for notifications (Notification.permission says "default"). */
function notificationState() {
  if (!("Notification" in window) || !("serviceWorker" in navigator) || !("PushManager" in window)) {
    return "unsupported";
  }
  return Notification.permission === "default" ? "prompt" : Notification.permission;
}

async function renderPermissions() {
  const states = { location: await locationState(), notifications: notificationState() };
  for (const [name, state] of Object.entries(states)) {
    const el = $(`perm-${name}-state`);
    el.dataset.state = state;
    say(el, `perm-state-${state}`);
    $(`perm-${name}-ask`).hidden = state !== "prompt";
    $(`perm-${name}-help`).hidden = state !== "denied";
  }
  const warn = states.location !== "granted" || states.notifications !== "granted";
  $("perm-warning").hidden = !warn;
  return states;
}

function openPermissions() {
  $("status").hidden = true;
  $("permissions").hidden = false;
  document.body.dataset.screen = "permissions";
  renderPermissions();
}

function closePermissions() {
  $("permissions").hidden = true;
  $("status").hidden = false;
  document.body.dataset.screen = "status";
}

function askLocation() {
  navigator.geolocation.getCurrentPosition(
    () => renderPermissions(),
    () => renderPermissions(),
    { enableHighAccuracy: true, timeout: 30_000 },
  );
}

async function askNotifications() {
  try {
    await Notification.requestPermission();
  } catch (e) {
    // Old browsers take a callback; the state is read again below.
  }
  await renderPermissions();
  await syncSubscription();
}

// ----------------------------------------------------------- subscription

async function serverKey() {
  const response = await fetch("/v1/push/key", { cache: "no-store" });
  if (!response.ok) throw new Error(`push key: ${response.status}`);
  return (await response.json()).public_key;
}

function sameKey(subscription, key) {
  const current = subscription.options && subscription.options.applicationServerKey;
  if (!current) return false;
  const a = new Uint8Array(current);
  const b = b64urlToBytes(key);
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Subscribe (if allowed) and send the subscription when it changed. */
async function syncSubscription() {
  const state = notificationState();
  const el = $("push-state");
  if (state !== "granted" || !ctx.enrolled()) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  try {
    const registration = await navigator.serviceWorker.ready;
    const key = await serverKey();
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameKey(subscription, key)) {
      await subscription.unsubscribe();
      subscription = null;
    }
    if (!subscription) {
      // A browser that cannot reach its push service may never answer.
      subscription = await Promise.race([
        registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: b64urlToBytes(key),
        }),
        new Promise((_, reject) => setTimeout(() => reject(new Error("push service timeout")), SUBSCRIBE_TIMEOUT_MS)),
      ]);
    }
    const body = { ...subscription.toJSON(), lang: ctx.lang() };
    const text = JSON.stringify(body);
    if (localStorage.getItem(SENT_KEY) !== text) {
      await ctx.signed("PUT", "/v1/push-subscription", body);
      localStorage.setItem(SENT_KEY, text);
    }
    say(el, "push-on");
    el.dataset.state = "on";
  } catch (e) {
    // No push service reachable, or the server said no: the person must
    // rely on opening the app.
    say(el, "push-unavailable");
    el.dataset.state = "unavailable";
    el.dataset.reason = String(e && e.message ? e.message : e);
  }
}

// ---------------------------------------------------------------- check-in

async function sendCheckin() {
  clearTimeout(checkin.timer);
  if (checkin.sent) return;
  checkin.sent = true;
  const body = {
    location: await locationState(),
    notifications: notificationState(),
    queued_fixes: await ctx.queueCount(),
    geo_error: checkin.geoError,
    battery_pct: await ctx.batteryPct(),
    charging: await ctx.batteryCharging(),
  };
  try {
    const answer = await ctx.signed("POST", "/v1/checkins", body);
    $("last-checkin").textContent = ctx.moscowTime(answer.recorded_at);
  } catch (e) {
    // Offline: send it when the network is back.
    checkin.sent = false;
    window.addEventListener("online", sendCheckin, { once: true });
  }
}

/** app.js reports every location attempt: null on success, else the code. */
export function noteLocationAttempt(errorCode) {
  checkin.geoError = errorCode;
  if (!checkin.sent) sendCheckin();
}

/** Called by app.js when the status screen starts (the app is opened). */
export function appOpened() {
  checkin.timer = setTimeout(sendCheckin, CHECKIN_WAIT_MS);
  renderPermissions();
  syncSubscription();
}

/** app.js switched the language: notices are written in it, re-send. */
export function languageChanged() {
  if (ctx && ctx.enrolled()) syncSubscription();
}

export function initPush(context) {
  ctx = context;
  $("perm-open").addEventListener("click", openPermissions);
  $("perm-back").addEventListener("click", closePermissions);
  $("perm-recheck").addEventListener("click", renderPermissions);
  $("perm-location-ask").addEventListener("click", askLocation);
  $("perm-notifications-ask").addEventListener("click", askNotifications);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "pushsubscriptionchange") syncSubscription();
    });
  }
}
