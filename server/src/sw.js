// The chat's service worker, rendered by the server with its build version
// so a new release installs a new worker (and a new cache).
const VERSION = '__VERSION__';
const CACHE = `chat-${VERSION}`;
// This release's JS, WASM and CSS, named by their content: never stale.
const ASSETS = __ASSETS__;
const SHELL = [
  '/',
  ...ASSETS,
  '/manifest.webmanifest',
  '/icons/icon-192.png',
  '/icons/icon-512.png',
  '/icons/maskable-512.png',
  '/icons/apple-touch-icon.png',
  '/icons/favicon-32.png',
];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(
        keys.filter((k) => k.startsWith('chat-') && k !== CACHE).map((k) => caches.delete(k)),
      ))
      .then(() => self.clients.claim()),
  );
});

// The hashed assets come from the cache first: their names change with
// their content, so a cached copy is always right and a repeat visit
// downloads nothing. The page and the rest of the shell come from the
// network when online, so the page and its assets belong to one release;
// the cache is their offline fallback and only ever holds one release's
// files (a page from another release is not stored in it).
self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  if (ASSETS.includes(url.pathname)) {
    event.respondWith(
      caches.open(CACHE).then((c) => c.match(url.pathname).then((hit) => hit || fetch(req).then((res) => {
        if (res.ok) event.waitUntil(c.put(url.pathname, res.clone()));
        return res;
      }))),
    );
    return;
  }
  const navigation = req.mode === 'navigate' && url.pathname === '/';
  if (!navigation && !SHELL.includes(url.pathname)) return;
  const key = navigation ? '/' : url.pathname;
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok && res.headers.get('x-chat-version') === VERSION) {
          const copy = res.clone();
          event.waitUntil(caches.open(CACHE).then((c) => c.put(key, copy)));
        }
        return res;
      })
      .catch(() => caches.open(CACHE)
        .then((c) => c.match(key))
        .then((hit) => hit || Response.error())),
  );
});
