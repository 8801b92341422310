// The app's service worker: keeps the app shell (page, code, styles, icons,
// every language's strings) so the app opens without network. Fixes are not
// its business: the page queues them in IndexedDB and uploads them itself.
//
// Cache-first, versioned: change VERSION whenever any shell file changes;
// the new worker then fills a new cache and deletes the old ones.
"use strict";

const VERSION = "amina-shell-v2";
const LANGS = ["ru", "en", "uz", "tg", "ky"];
const SHELL = [
  "/app/",
  "/app/index.html",
  "/app/app.js",
  "/app/stay.js",
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
