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
  const navigation = req.mode === 'navigate';
  if (!navigation && !SHELL.includes(url.pathname)) return;
  // Pages kept as the offline shell: the default room's and each room's
  // own (`/r/<slug>`, what the address bar shows after a room switch and
  // what a home-screen app reopens). Offline, a page not kept falls back
  // to its room's page, then to the default room's.
  const room = (url.pathname.match(/^\/r\/[^/]+/) || [null])[0];
  const key = navigation
    ? (url.pathname === '/' || url.pathname === room ? url.pathname : null)
    : url.pathname;
  const fallbacks = navigation ? [key, room, '/'].filter((k) => k) : [key];
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.headers.get('x-chat-access') === 'refused') {
          // The server will show this browser nothing of the chat (it
          // turned private, or this device was blocked): nothing of it
          // stays in the offline shell either.
          event.waitUntil(forget());
        } else if (key && res.ok && res.headers.get('x-chat-version') === VERSION) {
          const copy = res.clone();
          event.waitUntil(caches.open(CACHE).then((c) => c.put(key, copy)));
        }
        return res;
      })
      .catch(() => caches.open(CACHE)
        .then((c) => fallbacks.reduce(
          (found, k) => found.then((hit) => hit || c.match(k)),
          Promise.resolve(undefined),
        ))
        .then((hit) => hit || Response.error())),
  );
});

// Drops the kept pages (they list rooms, and hold a room's messages),
// keeping the release's files.
function forgetPages() {
  return caches.open(CACHE).then((c) => c.keys().then((reqs) => Promise.all(
    reqs
      .filter((r) => { const p = new URL(r.url).pathname; return p === '/' || p.startsWith('/r/'); })
      .map((r) => c.delete(r)),
  )));
}

// Drops every cached page and file of the chat.
function forget() {
  return caches.keys().then((keys) => Promise.all(
    keys.filter((k) => k.startsWith('chat-')).map((k) => caches.delete(k)),
  ));
}

// The page was told its device may read nothing more ('forget'), or no
// more of a room ('stale': the offline shell lists it; it is fetched
// afresh on the next visit).
self.addEventListener('message', (event) => {
  const type = event.data && event.data.type;
  if (type === 'forget') event.waitUntil(forget());
  if (type === 'stale') event.waitUntil(forgetPages());
});

// A push from the chat's server: one notification per room, replaced as
// more messages arrive ("3 new messages in #general"). The text is shown
// as text by the system; nothing in it is markup.
self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = {};
  }
  const text = (v, fallback) => (typeof v === 'string' && v ? v : fallback);
  event.waitUntil(self.registration.showNotification(text(data.title, 'New message'), {
    body: text(data.body, ''),
    tag: text(data.tag, 'chat'),
    // A replacement still alerts: it stands for newer messages.
    renotify: true,
    icon: '/icons/icon-192.png',
    data: { url: text(data.url, '/') },
  }));
});

// Tapping a notification opens the chat on its room: an open window is
// brought forward and told which room to show (it switches without a
// reload); with none open, a new one starts there.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = new URL(event.notification.data?.url || '/', self.location.origin);
  if (target.origin !== self.location.origin) return;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const open = windows.find((w) => new URL(w.url).origin === self.location.origin);
    if (!open) {
      await self.clients.openWindow(target.href);
      return;
    }
    open.postMessage({ type: 'open-room', url: target.pathname });
    try {
      await open.focus();
    } catch (e) {
      // Only a real tap may focus a window; the room is switched anyway.
    }
  })());
});

// The push service replaced the subscription (keys rotated, or it
// expired): store the new one so notifications keep coming.
self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil((async () => {
    const old = event.oldSubscription;
    const fresh = event.newSubscription
      || (old && await self.registration.pushManager.subscribe(old.options));
    if (!fresh) return;
    const { endpoint, keys } = fresh.toJSON();
    await fetch('/api/push_subscribe', {
      method: 'POST',
      credentials: 'same-origin',
      body: new URLSearchParams({ endpoint, p256dh: keys.p256dh, auth: keys.auth }),
    });
    if (old && old.endpoint !== endpoint) {
      await fetch('/api/push_unsubscribe', {
        method: 'POST',
        credentials: 'same-origin',
        body: new URLSearchParams({ endpoint: old.endpoint }),
      });
    }
  })());
});
