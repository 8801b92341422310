// Reporting in the background with OwnTracks (docs/app.md).
//
// A web app cannot report while it is closed; OwnTracks (Android, iOS)
// can. Here the person asks the server for an OwnTracks device
// (POST /v1/me/owntracks, signed with this app's key) and gets a link that
// configures OwnTracks in one tap (owntracks:///config?inline=…), with a
// QR code for setting up another phone. From then on OwnTracks is the one
// device that reports; this app keeps showing the status, place of stay
// and "my data", and stops taking fixes itself. "Report with this app
// again" (DELETE /v1/me/owntracks) undoes it.
//
// The link carries the device's secret and key: it is shown once, never
// stored by the app, and removed from the page when the person leaves the
// screen. Asking again makes a new one and switches the old one off.
"use strict";

let ctx = null;

function $(id) {
  return document.getElementById(id);
}

function open() {
  document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.id !== "owntracks"; });
  document.body.dataset.screen = "owntracks";
  window.scrollTo(0, 0);
  render();
}

function close() {
  $("owntracks").hidden = true;
  clearResult();
}

function clearResult() {
  $("ot-result").hidden = true;
  $("ot-link").setAttribute("href", "#");
  $("ot-qr").replaceChildren();
}

function showError(code) {
  const e = $("ot-error");
  e.hidden = !code;
  if (code) ctx.say(e, ctx.t(`error-${code}`) ? `error-${code}` : "error-generic");
}

/** True while OwnTracks, not this app, reports the location. */
export function reportingElsewhere() {
  const s = ctx && ctx.status();
  return Boolean(s && s.reporting_device === "owntracks");
}

/** Called by app.js whenever a status arrives. */
export function renderOwnTracks() {
  if (!ctx) return;
  $("ot-reporting").hidden = !reportingElsewhere();
  render();
}

function render() {
  const elsewhere = reportingElsewhere();
  $("ot-active").hidden = !elsewhere;
  $("ot-stop").hidden = !elsewhere;
}

/** The server's QR code (SVG it generated) as an element, not as markup. */
function svgElement(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.nodeName !== "svg") return null;
  return document.importNode(svg, true);
}

async function onProvision() {
  const button = $("ot-provision");
  button.disabled = true;
  showError(null);
  try {
    // Fixes this app still holds go first: afterwards it may not report.
    await ctx.flush();
    const answer = await ctx.signed("POST", "/v1/me/owntracks", {});
    $("ot-link").setAttribute("href", answer.config_link);
    const svg = svgElement(answer.qr_svg);
    $("ot-qr").replaceChildren(...(svg ? [svg] : []));
    $("ot-result").hidden = false;
    await ctx.statusArrived(answer.status);
    document.body.dataset.owntracks = "provisioned";
  } catch (e) {
    showError(ctx.errorCode(e));
  } finally {
    button.disabled = false;
  }
}

async function onStop() {
  const button = $("ot-stop");
  button.disabled = true;
  showError(null);
  try {
    const answer = await ctx.signed("DELETE", "/v1/me/owntracks");
    clearResult();
    await ctx.statusArrived(answer.status);
    document.body.dataset.owntracks = "stopped";
    ctx.resumeReporting();
  } catch (e) {
    showError(ctx.errorCode(e));
  } finally {
    button.disabled = false;
  }
}

/**
 * Wire the screen. `c` is app.js's toolkit: t, say, signed, errorCode,
 * status (the last status), statusArrived, flush, resumeReporting.
 */
export function initOwnTracks(c) {
  ctx = c;
  $("open-owntracks").addEventListener("click", open);
  $("ot-provision").addEventListener("click", onProvision);
  $("ot-stop").addEventListener("click", onStop);
  $("owntracks").querySelectorAll(".back").forEach((b) => b.addEventListener("click", close));
  renderOwnTracks();
}
