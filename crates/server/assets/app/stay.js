// The person's place of stay, their data, enrolment with an operator's
// code, and what to do about a lost phone. Loaded by app.js, which hands
// over its signing, translation and screen functions (initStay); nothing
// here talks to the server except through them.
//
// Place of stay: the address is always picked from the register (search,
// then choose), never typed free: the server accepts only a residential
// address inside the region and says why otherwise, and that reason is
// shown in the person's language. Dates the server sends come in words in
// every language (`{date, text: {lang: …}}`); elements showing one keep
// the texts in data-words and follow a language change by themselves.
"use strict";

let ctx = null;

const state = {
  /** The address chosen from the search results. */
  chosen: null,
  /** The notice in force (null: none; undefined: not known yet). */
  place: undefined,
};

function $(id) {
  return document.getElementById(id);
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// On every line that shows a message (say, msg) the double-quoted strings
// are message ids: the i18n unit test reads them from these lines. Other
// text on such lines is written in backticks.

/** A span showing message `key`, re-rendered on a language change. */
function msg(key) {
  const e = document.createElement("span");
  ctx.say(e, key);
  return e;
}

function strong(child) {
  const e = el("strong");
  e.append(child);
  return e;
}

/** A span showing a date in words in the current language. */
function words(worded) {
  const e = document.createElement("span");
  e.dataset.words = JSON.stringify(worded.text);
  e.textContent = worded.text[ctx.lang()] || worded.date;
  return e;
}

function renderWords() {
  document.querySelectorAll("[data-words]").forEach((e) => {
    const text = JSON.parse(e.dataset.words);
    e.textContent = text[ctx.lang()] || "";
  });
}

/** "улица Тверская, 19, кв. 12" with "кв." in the person's language. */
function addressLine(a) {
  const line = el("span", "address");
  line.append(`${a.street}, ${a.house}`);
  if (a.flat) {
    line.append(", ");
    line.append(msg("flat-short"));
    line.append(` ${a.flat}`);
  }
  return line;
}

function showStayError(target, code) {
  const e = $(target);
  if (!code) {
    e.hidden = true;
    return;
  }
  const key = ctx.t(`error-${code}`) ? `error-${code}` : "error-generic";
  ctx.say(e, key);
  e.hidden = false;
}

// ---------------------------------------------------------------- screens

const SCREENS = ["stay", "mydata", "help"];

function open(name) {
  document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.id !== name; });
  document.body.dataset.screen = name;
  window.scrollTo(0, 0);
}

function back() {
  SCREENS.forEach((s) => { $(s).hidden = true; });
  ctx.showScreen(ctx.enrolled() ? "status" : "enrol");
  window.scrollTo(0, 0);
}

// ------------------------------------------------------ enrolment by code

/** A code from the link the operator's QR code carries: /app/#code=… */
function codeFromLink() {
  const m = /(?:^#|&)code=([^&]+)/.exec(location.hash);
  return m ? decodeURIComponent(m[1]) : null;
}

async function takeCodeFromLink() {
  const code = codeFromLink();
  if (!code) return;
  // The code is used once: keep it out of the address bar and history.
  history.replaceState(null, "", location.pathname);
  if (ctx.enrolled()) return;
  $("code").value = code;
  await enrolWithCode(code);
}

async function onCodeSubmit(event) {
  event.preventDefault();
  await enrolWithCode($("code").value.trim());
}

async function enrolWithCode(code) {
  const button = $("code-button");
  button.disabled = true;
  ctx.say(button, "working");
  ctx.showError(null);
  try {
    await ctx.enrol({ code });
    $("code").value = "";
    ctx.afterEnrol();
    refreshNotices().catch(() => {});
  } catch (e) {
    ctx.showError(ctx.errorCode(e));
  } finally {
    button.disabled = false;
    ctx.say(button, "code-button");
  }
}

// ---------------------------------------------------------- place of stay

/** The place line of the status screen; `s` is a status from the server. */
export function renderPlace(s) {
  if (s && s.place_of_stay !== undefined) state.place = s.place_of_stay;
  // A saved status is rendered while the app starts, before initStay.
  if (ctx) drawPlace();
}

function drawPlace() {
  for (const id of ["place", "stay-current"]) {
    const target = $(id);
    if (!target) continue;
    target.replaceChildren();
    if (state.place) {
      target.append(addressLine(state.place.address));
      target.append(` (${state.place.address.municipality}), `);
      target.append(msg("notice-from"));
      target.append(" ");
      target.append(words(state.place.date_from));
    } else {
      target.append(msg("place-none"));
    }
  }
}

function noticeItem(n) {
  const li = el("li", `notice state-${n.state}`);
  li.dataset.id = String(n.id);
  const head = el("div");
  head.append(addressLine(n.address));
  li.append(head);
  li.append(el("div", "muted", n.address.municipality));
  const when = el("div");
  when.append(msg("notice-from"));
  when.append(" ");
  when.append(words(n.date_from));
  when.append(" · ");
  when.append(strong(msg(`notice-state-${n.state}`)));
  li.append(when);
  if (n.host_name) {
    const host = el("div");
    host.append(msg("notice-host"));
    host.append(`: ${n.host_name}`);
    li.append(host);
  }
  const sent = el("div", "muted");
  sent.append(msg("notice-sent"));
  sent.append(" ");
  sent.append(words(n.submitted_on));
  li.append(sent);
  return li;
}

function renderHistory(list, target, empty) {
  $(target).replaceChildren(...list.map(noticeItem));
  $(empty).hidden = list.length > 0;
}

/** Today in Moscow (UTC+3 all year), YYYY-MM-DD. */
function moscowToday() {
  return new Date(Date.now() + 3 * 3600_000).toISOString().slice(0, 10);
}

async function refreshNotices() {
  const r = await ctx.signed("GET", "/v1/notices");
  state.place = r.current;
  drawPlace();
  renderHistory(r.notices, "stay-history", "stay-history-empty");
  const date = $("stay-date");
  date.min = r.date_min || "";
  date.max = r.date_max || "";
  if (!date.value && r.date_min) {
    const today = moscowToday();
    date.value = today < r.date_min ? r.date_min : today > r.date_max ? r.date_max : today;
  }
  return r;
}

async function onSearch(event) {
  event.preventDefault();
  showStayError("stay-error", null);
  $("stay-message").hidden = true;
  const q = $("addr-q").value.trim();
  const button = $("addr-find");
  button.disabled = true;
  try {
    const r = await ctx.signed("GET", `/v1/addresses?q=${encodeURIComponent(q)}`);
    renderResults(r);
  } catch (e) {
    showStayError("stay-error", ctx.errorCode(e));
  } finally {
    button.disabled = false;
  }
}

function renderResults(r) {
  const list = $("addr-results");
  list.replaceChildren(...r.addresses.map((a) => {
    const li = el("li");
    const b = el("button", "choice");
    b.type = "button";
    b.dataset.id = a.id;
    b.append(addressLine(a));
    b.append(el("span", "muted", ` — ${a.municipality}`));
    if (!a.residential) {
      b.append(" ");
      const tag = msg("stay-non-residential");
      tag.className = "tag";
      b.append(tag);
    }
    b.addEventListener("click", () => choose(a));
    li.append(b);
    return li;
  }));
  $("addr-empty").hidden = r.addresses.length > 0;
  $("addr-more").hidden = !r.more;
}

function choose(a) {
  state.chosen = a;
  const chosen = $("stay-chosen");
  chosen.replaceChildren(addressLine(a));
  chosen.append(` (${a.municipality})`);
  document.querySelectorAll("#addr-results .choice").forEach((b) => {
    b.classList.toggle("chosen", b.dataset.id === a.id);
  });
}

async function onNotice(event) {
  event.preventDefault();
  showStayError("stay-error", null);
  $("stay-message").hidden = true;
  if (!state.chosen) {
    ctx.say($("stay-error"), "stay-choose-first");
    $("stay-error").hidden = false;
    return;
  }
  const button = $("stay-submit");
  button.disabled = true;
  try {
    const host = $("stay-host").value.trim();
    const r = await ctx.signed("POST", "/v1/notices", {
      address_id: state.chosen.id,
      date_from: $("stay-date").value,
      host_name: host || null,
    });
    const message = $("stay-message");
    ctx.say(message, r.created ? "stay-sent" : "stay-same");
    message.hidden = false;
    state.chosen = null;
    $("stay-chosen").replaceChildren();
    $("addr-results").replaceChildren();
    $("stay-date").value = "";
    await refreshNotices();
  } catch (e) {
    showStayError("stay-error", ctx.errorCode(e));
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- my data

async function refreshMyData() {
  showStayError("mydata-error", null);
  try {
    renderMyData(await ctx.signed("GET", "/v1/me/data"));
  } catch (e) {
    showStayError("mydata-error", ctx.errorCode(e));
  }
}

function item(...parts) {
  const li = el("li");
  parts.forEach((p) => li.append(p));
  return li;
}

function renderMyData(d) {
  const id = d.identity;
  $("md-card").textContent = id.card_number;
  $("md-name").textContent = `${id.name_cyrillic} / ${id.name_latin}`;
  $("md-citizenship").textContent = id.citizenship;
  $("md-birth").replaceChildren(words(id.birth_date));
  $("md-valid").replaceChildren(words(id.card_valid_until));

  $("md-registrations").replaceChildren(...d.registrations.map((r) => {
    const parts = [msg("notice-from"), ` `, words(r.started), ` `];
    if (r.ended) {
      parts.push(msg("mydata-until"), ` `, words(r.ended));
      const known = ctx.t(`reason-${r.end_reason}`);
      parts.push(` · `, msg(known ? `reason-${r.end_reason}` : "reason-other"));
    } else {
      parts.push(`· `, strong(msg("mydata-active")));
    }
    return item(...parts);
  }));

  $("md-devices").replaceChildren(...d.devices.map((v) => {
    const parts = [
      strong(msg(`mydata-device-${v.status}`)),
      ` · ${v.kind} …${v.id.slice(-6)} · `,
      msg("mydata-bound"), ` `, words(v.bound),
    ];
    if (v.revoked) parts.push(`, `, msg("mydata-revoked"), ` `, words(v.revoked));
    if (v.this_device) parts.push(` · `, strong(msg("mydata-device-this")));
    return item(...parts);
  }));

  renderHistory(d.notices, "md-notices", "md-notices-none");

  // Children whose arrival a host party notified (never tracked).
  const children = d.children || [];
  $("md-children").replaceChildren(...children.map((c) => item(
    strong(c.name), ` · `, words(c.birth_date), ` · `,
    msg("mydata-children-arrived"), ` `, words(c.arrival), ` · ${c.address}`,
  )));
  $("md-children-none").hidden = children.length > 0;

  const f = d.fixes;
  $("md-fix-count").textContent = String(f.count);
  const period = $("md-fix-period");
  period.replaceChildren();
  if (f.first) {
    period.append(words(f.first), " — ", words(f.last));
  } else {
    period.append(msg("mydata-none"));
  }
  $("md-retention").textContent = String(f.retention_days);
  $("md-retention-note").hidden = f.retention_enforced;

  $("md-signals").replaceChildren(...d.signals.map((s) => item(
    strong(msg(`signal-kind-${s.kind}`)), ` · `, words(s.raised), ` · `,
    msg(`signal-status-${s.status}`),
  )));
  $("md-signals-none").hidden = d.signals.length > 0;

  // Where accesses are not recorded the app says so rather than showing an
  // empty list that would read "nobody".
  $("md-accesses-none").hidden = d.accesses.audit_available;
  $("md-accesses-empty").hidden =
    !d.accesses.audit_available || d.accesses.entries.length > 0;
  $("md-accesses").replaceChildren(...d.accesses.entries.map((a) => {
    const parts = [
      words(a.on), ` · `, strong(msg(`mydata-role-${a.role}`)), ` · `,
      msg(`mydata-access-${a.kind}`),
    ];
    if (a.legal_basis) parts.push(` · `, msg("mydata-legal-basis"), `: ${a.legal_basis}`);
    return item(...parts);
  }));
  document.body.dataset.mydata = "1";
}

// ---------------------------------------------------------------- start-up

/**
 * Wire the screens. `c` is app.js's toolkit: t, say, signed, enrol,
 * afterEnrol, showScreen, showError, errorCode, enrolled, lang.
 */
export function initStay(c) {
  ctx = c;
  $("code-form").addEventListener("submit", onCodeSubmit);
  document.querySelectorAll(".help-link").forEach((b) => b.addEventListener("click", () => open("help")));
  document.querySelectorAll("main .back").forEach((b) => b.addEventListener("click", back));
  $("open-stay").addEventListener("click", () => {
    open("stay");
    refreshNotices().catch((e) => showStayError("stay-error", ctx.errorCode(e)));
  });
  $("open-mydata").addEventListener("click", () => {
    open("mydata");
    refreshMyData();
  });
  $("stay-search-form").addEventListener("submit", onSearch);
  $("stay-form").addEventListener("submit", onNotice);
  // app.js sets <html lang> on every language change.
  new MutationObserver(renderWords).observe(document.documentElement, {
    attributes: true,
    attributeFilter: ["lang"],
  });
  window.addEventListener("hashchange", () => { takeCodeFromLink(); });
  drawPlace();
  if (ctx.enrolled()) refreshNotices().catch(() => {});
  takeCodeFromLink();
}
