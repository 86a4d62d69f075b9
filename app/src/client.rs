//! The browser's side of the live connection: one WebSocket per tab,
//! reconnected with backoff, with a heartbeat so a silently dead socket is
//! noticed. Only compiled into the WASM.

use crate::protocol::{ClientEvent, ConnectParams, RoomId, ServerEvent};
use crate::state::{ChatState, Connection, OutgoingMessage, Snapshot};
use futures::channel::mpsc;
use futures::{FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use gloo_timers::future::{IntervalStream, TimeoutFuture};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// How long a socket may take to deliver the server's `Welcome`.
const CONNECT_TIMEOUT_MS: u32 = 8_000;
const HEARTBEAT_MS: u32 = 15_000;
/// Silence longer than this means the socket is dead even if it looks open.
const DEAD_AFTER_MS: f64 = 35_000.0;
/// A message sent on a live socket and not acknowledged within this long
/// is shown as failed.
const ACK_TIMEOUT_MS: f64 = 30_000.0;
const BACKOFF_FIRST_MS: f64 = 500.0;
/// Browser storage key of the outbox, so unsent messages survive a reload.
const OUTBOX_KEY: &str = "chat.outbox";
/// Browser storage key of the latest identity and messages (see `Snapshot`).
const SNAPSHOT_KEY: &str = "chat.snapshot";
/// The server epoch the saved snapshot's cursor belongs to.
const EPOCH_KEY: &str = "chat.epoch";
const BACKOFF_CAP_MS: f64 = 12_000.0;
/// After a resume, a socket that does not answer a ping this fast is
/// presumed dead (iOS drops sockets of suspended pages without a close).
const RESUME_PROBE_MS: u32 = 4_000;

/// Page events that concern a live socket.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nudge {
    /// The browser went offline: drop the socket now.
    Offline,
    /// The page came back to the foreground: check the socket still works.
    Resumed,
}

/// Starts the connection loop for this tab. Events that mean "the network
/// may be back" cut the current backoff short.
pub fn start(state: ChatState) {
    // Browser storage is read only once the page is hydrated: rows built
    // from it during hydration would not match the server's HTML.
    Effect::new(move |ran: Option<()>| {
        if ran.is_none() {
            untrack(|| restore(state));
            connect(state);
        }
    });
}

fn connect(state: ChatState) {
    Effect::new(move |_| state.outbox.with(save_outbox));
    Effect::new(move |_| {
        if state.connection.get().refused() {
            return;
        }
        let snapshot = state.snapshot();
        save(SNAPSHOT_KEY, &snapshot);
    });
    // Read marks follow what the reader can see: new messages at the
    // bottom of a visible page, or scrolling back down to them.
    Effect::new(move |_| {
        state.messages.track();
        state.at_bottom.track();
        state.hidden.track();
        state.mark_read_if_seen();
    });
    // The server counts a tab in the background as present for a while
    // only; tell it.
    Effect::new(move |previous: Option<bool>| {
        let hidden = state.hidden.get();
        if previous.is_some_and(|p| p != hidden) {
            state.send(ClientEvent::Visibility { visible: !hidden });
        }
        hidden
    });
    // Back and forward between rooms.
    let _ = window_event_listener(leptos::ev::popstate, move |_| {
        let path = window().location().pathname().unwrap_or_default();
        let slug = path.strip_prefix("/r/").unwrap_or("general").to_owned();
        let known = state.rooms.with_untracked(|list| {
            list.iter()
                .find(|s| s.room.slug == slug)
                .map(|s| s.room.clone())
        });
        match known {
            Some(room) => state.open_room(room),
            // An archived room or one this tab never listed: let the
            // server render it.
            None => {
                let _ = window().location().reload();
            }
        }
    });
    let (nudge_tx, nudge_rx) = mpsc::unbounded::<Nudge>();
    {
        let nudge_tx = nudge_tx.clone();
        let _ = window_event_listener(leptos::ev::offline, move |_| {
            let _ = nudge_tx.unbounded_send(Nudge::Offline);
        });
    }
    let (wake_tx, wake_rx) = mpsc::unbounded::<()>();
    // "The network or the page may be back": retry now if waiting, and
    // probe the socket if connected.
    let wake = move || {
        let _ = wake_tx.unbounded_send(());
        let _ = nudge_tx.unbounded_send(Nudge::Resumed);
    };
    // The handles are dropped on purpose: the listeners live as long as the tab.
    {
        let wake = wake.clone();
        let _ = window_event_listener(leptos::ev::online, move |_| wake());
    }
    {
        let wake = wake.clone();
        let _ = window_event_listener(leptos::ev::pageshow, move |_| wake());
    }
    let on_visible = Closure::<dyn Fn()>::new(move || {
        if document().visibility_state() == web_sys::VisibilityState::Visible {
            wake();
        }
    });
    let _ = document()
        .add_event_listener_with_callback("visibilitychange", on_visible.as_ref().unchecked_ref());
    on_visible.forget();
    spawn_local(run(state, wake_rx, nudge_rx));
}

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

fn load<T: serde::de::DeserializeOwned>(key: &str) -> Option<T> {
    let json = storage()?.get_item(key).ok().flatten()?;
    serde_json::from_str(&json).ok()
}

fn save<T: serde::Serialize>(key: &str, value: &T) {
    if let (Some(storage), Ok(json)) = (storage(), serde_json::to_string(value)) {
        let _ = storage.set_item(key, &json);
    }
}

/// Unsent messages and the latest known state, from before a reload or
/// from the last visit (the offline shell may be older than both).
fn restore(state: ChatState) {
    if let Some(snapshot) = load::<Snapshot>(SNAPSHOT_KEY) {
        state.restore(snapshot);
    }
    if let Some(items) = load::<Vec<OutgoingMessage>>(OUTBOX_KEY).filter(|i| !i.is_empty()) {
        state.outbox.set(items);
    }
}

/// Drops what this browser kept of the conversation. The outbox stays: it
/// holds only what this device wrote.
fn forget_the_chat() {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(SNAPSHOT_KEY);
        let _ = storage.remove_item(EPOCH_KEY);
    }
    crate::device::forget_offline_copy();
}

fn save_outbox(items: &Vec<OutgoingMessage>) {
    if items.is_empty() {
        if let Some(storage) = storage() {
            let _ = storage.remove_item(OUTBOX_KEY);
        }
    } else {
        save(OUTBOX_KEY, items);
    }
}

async fn run(
    state: ChatState,
    mut wake: mpsc::UnboundedReceiver<()>,
    mut nudges: mpsc::UnboundedReceiver<Nudge>,
) {
    let mut failures: u32 = 0;
    loop {
        state.connection.set(Connection::Connecting);
        while nudges.try_recv().is_ok() {}
        let welcomed = session(state, &mut nudges).await;
        state.attach(None);
        let connection = state.connection.get_untracked();
        if connection.refused() {
            // Trying again would only be refused. Nothing of the chat stays
            // on the device: not the saved copy, not the offline shell.
            forget_the_chat();
            if connection == Connection::Private {
                // The server's own page says why, and the service worker
                // sees the refusal too.
                let _ = window().location().reload();
            }
            return;
        }
        if welcomed {
            failures = 0;
        }
        let delay = backoff_ms(failures);
        failures = failures.saturating_add(1);
        state
            .connection
            .set(Connection::Offline((delay / 1000.0).ceil() as u32));
        // Drain wake-ups that arrived while connected, then wait.
        while wake.try_recv().is_ok() {}
        futures::select! {
            _ = TimeoutFuture::new(delay as u32).fuse() => {},
            _ = wake.next() => {},
        }
    }
}

/// Exponential backoff with full jitter, sub-second at first.
fn backoff_ms(failures: u32) -> f64 {
    let ceiling = (BACKOFF_FIRST_MS * 2f64.powi(failures.min(8) as i32)).min(BACKOFF_CAP_MS);
    ceiling / 2.0 + js_sys::Math::random() * ceiling / 2.0
}

fn socket_url(params: &ConnectParams) -> Option<String> {
    let location = window().location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    let host = location.host().ok()?;
    let mut query = format!("?room={}", params.room.unwrap_or(RoomId::DEFAULT).0);
    if let Some(seq) = params.last_seen {
        query.push_str(&format!("&last_seen={}", seq.0));
    }
    if let Some(epoch) = &params.epoch {
        query.push_str(&format!("&epoch={}", js_sys::encode_uri_component(epoch)));
    }
    Some(format!("{scheme}://{host}/ws{query}"))
}

/// One connection's life. Returns whether the server welcomed us, which
/// resets the backoff.
async fn session(state: ChatState, nudges: &mut mpsc::UnboundedReceiver<Nudge>) -> bool {
    let params = ConnectParams {
        room: Some(state.room_id()),
        last_seen: state.last_seen(),
        // Kept across reloads with the saved room, whose cursor it dates.
        epoch: state.epoch().or_else(|| load::<String>(EPOCH_KEY)),
    };
    let Some(url) = socket_url(&params) else {
        return false;
    };
    let Ok(socket) = WebSocket::open(&url) else {
        return false;
    };
    let (mut sink, mut stream) = socket.split();

    // The server always speaks first; no Welcome in time means a stuck connect.
    let first = futures::select! {
        frame = stream.next().fuse() => frame,
        _ = TimeoutFuture::new(CONNECT_TIMEOUT_MS).fuse() => None,
    };
    let Some(Ok(Message::Text(text))) = first else {
        return false;
    };
    let Ok(event @ ServerEvent::Welcome { .. }) = crate::wire::server_event(&text) else {
        return false;
    };
    state.apply(event);
    if let Some(epoch) = state.epoch() {
        save(EPOCH_KEY, &epoch);
    }

    let (tx, mut outgoing) = mpsc::unbounded::<ClientEvent>();
    state.attach(Some(tx));
    state.connection.set(Connection::Online);
    if state.hidden.get_untracked() {
        state.send(ClientEvent::Visibility { visible: false });
    }
    state.flush_outbox();
    state.mark_read_if_seen();

    let mut last_heard = js_sys::Date::now();
    let mut nonce = 0u64;
    let mut ticks = IntervalStream::new(HEARTBEAT_MS).fuse();
    let mut probe = futures::future::Fuse::terminated();
    let mut probe_sent = 0.0;
    loop {
        futures::select! {
            nudge = nudges.next() => match nudge {
                Some(Nudge::Resumed) => {
                    probe_sent = js_sys::Date::now();
                    probe = TimeoutFuture::new(RESUME_PROBE_MS).fuse();
                    nonce += 1;
                    let Ok(json) = serde_json::to_string(&ClientEvent::Ping { nonce }) else { continue };
                    if sink.send(Message::Text(json)).await.is_err() {
                        return true;
                    }
                }
                _ => return true,
            },
            _ = probe => {
                if last_heard < probe_sent {
                    return true;
                }
            },
            frame = stream.next().fuse() => match frame {
                Some(Ok(Message::Text(text))) => {
                    last_heard = js_sys::Date::now();
                    match crate::wire::server_event(&text) {
                        Ok(event) => state.apply(event),
                        Err(e) => leptos::logging::warn!("unreadable server event: {e}"),
                    }
                }
                Some(Ok(Message::Bytes(_))) => last_heard = js_sys::Date::now(),
                _ => return true,
            },
            event = outgoing.next() => {
                let Some(event) = event else { return true };
                let Ok(json) = serde_json::to_string(&event) else { continue };
                if sink.send(Message::Text(json)).await.is_err() {
                    return true;
                }
                if let ClientEvent::Send { client_id, .. } = event {
                    state.mark_sent(client_id, js_sys::Date::now());
                }
            },
            _ = ticks.next() => {
                let now = js_sys::Date::now();
                if now - last_heard > DEAD_AFTER_MS {
                    return true;
                }
                state.expire_unacked(now - ACK_TIMEOUT_MS);
                nonce += 1;
                let Ok(json) = serde_json::to_string(&ClientEvent::Ping { nonce }) else { continue };
                if sink.send(Message::Text(json)).await.is_err() {
                    return true;
                }
            },
        }
    }
}
