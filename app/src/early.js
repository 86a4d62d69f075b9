// The message box before the app's code arrives. On a phone on a slow
// network the WASM takes seconds; the page the server rendered already
// shows new messages and takes and sends text on a socket of its own
// (opened when the app is slow to come, or at the first message): each
// message sent goes into the app's outbox in browser storage too. The
// app, once running, takes over the outbox and sends what is still there
// under the same client id, which the server recognises: never lost,
// never stored twice.
// Text only: everything the user wrote is shown with textContent.
(() => {
  const data = document.getElementById('chat-snapshot');
  const form = document.querySelector('form.composer');
  const box = form && form.querySelector('.composer-input');
  const button = form && form.querySelector('.send');
  const scroller = document.querySelector('.messages');
  if (!data || !box || !button || !scroller || window.__chatHydrated) return;
  if (!window.WebSocket || !window.crypto || !crypto.randomUUID) return;
  let snap;
  try {
    snap = JSON.parse(data.textContent);
  } catch (e) {
    return;
  }
  const me = snap.me;
  const room = snap.room;
  if (!me || !room || room.archived) return;

  const OUTBOX = 'chat.outbox';
  // validate.rs's MESSAGE_MAX_CHARS, in characters (a test in early.rs
  // keeps the two equal): longer text stays in the box for the app.
  const MAX = 2000;
  const outbox = () => {
    try {
      return JSON.parse(localStorage.getItem(OUTBOX) || '[]');
    } catch (e) {
      return [];
    }
  };
  const store = (items) => {
    try {
      if (items.length) localStorage.setItem(OUTBOX, JSON.stringify(items));
      else localStorage.removeItem(OUTBOX);
      return true;
    } catch (e) {
      return false;
    }
  };

  // Rows of their own after the app's list: the app's rows are left as
  // the server wrote them, for hydration to find.
  const list = document.createElement('ol');
  list.className = 'message-log early-log';
  scroller.appendChild(list);
  const rows = new Map();
  const shown = new Set();
  const row = (author, color, text) => {
    const li = document.createElement('li');
    li.className = 'message';
    const who = document.createElement('span');
    who.className = 'author';
    who.style.backgroundColor = color;
    who.textContent = author;
    const body = document.createElement('span');
    body.className = 'text';
    body.textContent = text;
    li.append(who, body);
    list.appendChild(li);
    // The scroller runs bottom up: 0 is the newest end.
    scroller.scrollTop = 0;
    return li;
  };
  const mine = (id, text) => {
    const li = row(me.name, me.color, text);
    li.classList.add('outgoing');
    const state = document.createElement('span');
    state.className = 'delivery';
    const note = document.createElement('span');
    note.className = 'pending';
    note.textContent = 'sending…';
    state.appendChild(note);
    li.appendChild(state);
    rows.set(id, { li, note });
  };
  // Someone else's new message in this room (this device's own come back
  // as acknowledgements; changes to older ones wait for the app).
  const theirs = (m) => {
    if (!m || m.room !== room.id || m.user_id === me.user_id || m.deleted || m.removed) return;
    if (shown.has(m.id) || document.querySelector(`li.message[data-id="${Number(m.id)}"]`)) return;
    shown.add(m.id);
    row(m.user_name, m.color, m.msg || (m.attachment ? 'sent a file' : '')).classList.add('early-theirs');
  };

  let socket = null;
  let welcomed = false;
  const waiting = [];
  const flush = () => {
    while (welcomed && waiting.length) socket.send(waiting.shift());
  };
  const connect = () => {
    if (socket) return;
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    socket = new WebSocket(`${scheme}${location.host}/ws?room=${room.id}&last_seen=${snap.seq}`);
    socket.onmessage = (e) => {
      let ev;
      try {
        ev = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      if (ev.type === 'welcome') {
        welcomed = true;
        flush();
      } else if (ev.type === 'message') {
        theirs(ev.message);
      } else if (ev.type === 'ack' && rows.has(ev.client_id)) {
        rows.get(ev.client_id).note.textContent = 'sent';
        if (!window.__chatHydrated) store(outbox().filter((i) => i.client_id !== ev.client_id));
      } else if (ev.type === 'error' && rows.has(ev.client_id)) {
        // Left in the outbox: the app shows the reason and retries.
        rows.get(ev.client_id).note.textContent = ev.message || 'not sent';
      }
    };
    // Not opened again: the app sends whatever is still in the outbox.
    socket.onclose = () => {
      welcomed = false;
    };
  };

  const send = () => {
    const text = box.value.trim();
    if (!text || [...text].length > MAX) return;
    const id = crypto.randomUUID();
    const items = outbox();
    items.push({ client_id: id, room: room.id, text, mentions: [], delivery: 'Pending', sent_at: 0 });
    if (!store(items)) return; // Without storage the app could not take it over: wait for it.
    box.value = '';
    window.__chatEarlyDraft = '';
    mine(id, text);
    waiting.push(JSON.stringify({ type: 'send', client_id: id, text, room: room.id }));
    connect();
    flush();
  };

  // Where the app comes within a moment (most visits), it alone connects:
  // a socket's welcome costs the server a look at every room.
  const soon = setTimeout(connect, 800);
  const early = () => !window.__chatHydrated;
  box.disabled = false;
  button.disabled = false;
  box.addEventListener('input', () => {
    if (early()) window.__chatEarlyDraft = box.value;
  });
  box.addEventListener('keydown', (e) => {
    if (early() && e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
  form.addEventListener('submit', (e) => {
    if (early()) {
      e.preventDefault();
      send();
    }
  });
  // Hydrated, the app shows what is still in the outbox itself; what
  // was sent stays here until the app's own socket brings it.
  window.addEventListener('chat:hydrated', () => {
    clearTimeout(soon);
    const kept = new Set(outbox().map((i) => i.client_id));
    for (const [id, r] of rows) if (kept.has(id)) r.li.remove();
  });
  window.addEventListener('chat:live', () => {
    list.remove();
    if (socket) socket.close();
  });
})();
