// The app's service worker: keeps the app shell (page, code, styles, icons,
// every language's strings) so the app opens without network, and shows the
// server's push notices. Fixes are not its business: the page queues them in
// IndexedDB and uploads them itself.
//
// Cache-first, versioned: change VERSION whenever any shell file changes;
// the new worker then fills a new cache and deletes the old ones.
"use strict";

const VERSION = "amina-shell-v4";
const LANGS = ["ru", "en", "uz", "tg", "ky"];
const SHELL = [
  "/app/",
  "/app/index.html",
  "/app/app.js",
  "/app/stay.js",
  "/app/push.js",
  "/app/owntracks.js",
  "/app/app.css",
  "/app/manifest.webmanifest",
  "/app/icon-192.png",
  "/app/icon-512.png",
  ...LANGS.map((l) => "/app/i18n/" + l + ".json"),
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(VERSION)
      .then((cache) => cache.addAll(SHELL.map((u) => new Request(u, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(
        keys.filter((k) => k.startsWith("amina-shell-") && k !== VERSION).map((k) => caches.delete(k)),
      ))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  // Only the shell; API calls go to the network untouched.
  if (req.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith("/app/")) {
    return;
  }
  const key = req.mode === "navigate" ? "/app/" : url.pathname;
  event.respondWith(
    caches.open(VERSION)
      .then((cache) => cache.match(key))
      .then((hit) => hit || fetch(req)),
  );
});

// ------------------------------------------------------------------ push
// The server's notice, decrypted by the browser: {title, body, tag, url}.
// The tag is the notice's occurrence key, so a repeated delivery replaces
// the notification instead of adding a second one.
self.addEventListener("push", (event) => {
  let notice = {};
  try {
    notice = event.data ? event.data.json() : {};
  } catch (e) {
    notice = {};
  }
  event.waitUntil(
    self.registration.showNotification(notice.title || "Amina", {
      body: notice.body || "",
      tag: notice.tag || "amina",
      icon: "/app/icon-192.png",
      data: { url: "/app/" },
    }),
  );
});

// A tap opens the app (or brings an open one forward).
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => new URL(w.url).pathname.startsWith("/app/"));
      return open ? open.focus() : self.clients.openWindow("/app/");
    }),
  );
});

// The browser replaced the subscription: an open page re-sends it.
self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil(
    self.clients.matchAll({ type: "window" }).then((windows) => {
      windows.forEach((w) => w.postMessage({ type: "pushsubscriptionchange" }));
    }),
  );
});
