//! Notifications in this browser: whether it can have them, its push
//! subscription, and the service worker telling the page which room a
//! tapped notification is for. Only compiled into the WASM.

use crate::state::ChatState;
use js_sys::{Promise, Reflect};
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Notification, NotificationPermission, PushSubscription, PushSubscriptionOptionsInit,
    ServiceWorkerRegistration,
};

/// What this browser can do about notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    Ready,
    /// An iPhone or iPad outside the home-screen app: Safari only pushes
    /// to web apps added to the Home Screen (iOS 16.4 and later).
    NeedsHomeScreen,
    /// The person said no; only the browser's site settings undo that.
    Blocked,
    Unsupported,
}

pub fn support() -> Support {
    let window = window();
    let has = |name: &str| Reflect::has(&window, &JsValue::from_str(name)).unwrap_or(false);
    let navigator = window.navigator();
    let worker = Reflect::has(&navigator, &JsValue::from_str("serviceWorker")).unwrap_or(false);
    if !(has("Notification") && has("PushManager") && worker) {
        return if apple_mobile(&navigator) {
            Support::NeedsHomeScreen
        } else {
            Support::Unsupported
        };
    }
    if Notification::permission() == NotificationPermission::Denied {
        return Support::Blocked;
    }
    Support::Ready
}

/// iPhone, iPad (which calls itself a Mac with touch) or iPod.
fn apple_mobile(navigator: &web_sys::Navigator) -> bool {
    let agent = navigator.user_agent().unwrap_or_default();
    agent.contains("iPhone")
        || agent.contains("iPad")
        || agent.contains("iPod")
        || (agent.contains("Macintosh") && navigator.max_touch_points() > 1)
}

/// A subscription as the server stores it.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct BrowserSubscription {
    pub endpoint: String,
    pub keys: Keys,
}

#[derive(Clone, Debug, serde::Deserialize)]
pub struct Keys {
    pub p256dh: String,
    pub auth: String,
}

/// The service worker's registration, once it is running.
pub async fn registration() -> Result<ServiceWorkerRegistration, String> {
    let ready = window()
        .navigator()
        .service_worker()
        .ready()
        .map_err(describe)?;
    let reg = JsFuture::from(ready).await.map_err(describe)?;
    reg.dyn_into().map_err(describe)
}

/// This browser's current subscription, if it has one.
pub async fn current(
    reg: &ServiceWorkerRegistration,
) -> Result<Option<BrowserSubscription>, String> {
    let promise = reg
        .push_manager()
        .and_then(|m| m.get_subscription())
        .map_err(describe)?;
    let found = JsFuture::from(promise).await.map_err(describe)?;
    if found.is_null() || found.is_undefined() {
        return Ok(None);
    }
    parse(&found).map(Some)
}

/// Asks the browser to subscribe. Called straight from the click, so the
/// permission prompt belongs to the person's gesture (Safari insists).
pub fn start_subscribe(reg: &ServiceWorkerRegistration, key: &[u8]) -> Result<Promise, String> {
    let options = PushSubscriptionOptionsInit::new();
    options.set_user_visible_only(true);
    options.set_application_server_key(&js_sys::Uint8Array::from(key).into());
    reg.push_manager()
        .and_then(|m| m.subscribe_with_options(&options))
        .map_err(describe)
}

pub async fn finish_subscribe(promise: Promise) -> Result<BrowserSubscription, String> {
    let sub = JsFuture::from(promise).await.map_err(|e| {
        if error_name(&e).as_deref() == Some("NotAllowedError") {
            "Notifications are blocked for this site.".to_owned()
        } else {
            describe(e)
        }
    })?;
    parse(&sub)
}

/// Ends this browser's subscription; its endpoint, if there was one.
pub async fn unsubscribe(reg: &ServiceWorkerRegistration) -> Result<Option<String>, String> {
    let promise = reg
        .push_manager()
        .and_then(|m| m.get_subscription())
        .map_err(describe)?;
    let found = JsFuture::from(promise).await.map_err(describe)?;
    let Ok(sub) = found.dyn_into::<PushSubscription>() else {
        return Ok(None);
    };
    let endpoint = sub.endpoint();
    if let Ok(done) = sub.unsubscribe() {
        JsFuture::from(done).await.map_err(describe)?;
    }
    Ok(Some(endpoint))
}

/// `toJSON()` gives the endpoint and the keys as base64url text.
fn parse(sub: &JsValue) -> Result<BrowserSubscription, String> {
    let json = js_sys::JSON::stringify(sub)
        .map_err(describe)?
        .as_string()
        .unwrap_or_default();
    serde_json::from_str(&json).map_err(|_| "The browser gave an unusable subscription.".into())
}

/// A tapped notification names a room; the service worker passes it on
/// and this tab switches to it without a reload.
pub fn follow_notification_taps(state: ChatState) {
    let listener =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            let data = ev.data();
            let field = |name: &str| {
                Reflect::get(&data, &JsValue::from_str(name))
                    .ok()
                    .and_then(|v| v.as_string())
            };
            if field("type").as_deref() != Some("open-room") {
                return;
            }
            let Some(url) = field("url") else { return };
            let Some(slug) = url.strip_prefix("/r/") else {
                return;
            };
            let room = state.rooms.with_untracked(|rooms| {
                rooms
                    .iter()
                    .find(|r| r.room.slug == slug)
                    .map(|r| r.room.clone())
            });
            match room {
                Some(room) => state.go_to(room),
                // A room this tab does not know yet: load it.
                None => {
                    let _ = window().location().assign(&url);
                }
            }
        });
    let navigator = window().navigator();
    if Reflect::has(&navigator, &JsValue::from_str("serviceWorker")).unwrap_or(false) {
        let _ = navigator
            .service_worker()
            .add_event_listener_with_callback("message", listener.as_ref().unchecked_ref());
    }
    listener.forget();
}

fn error_name(e: &JsValue) -> Option<String> {
    Reflect::get(e, &JsValue::from_str("name"))
        .ok()
        .and_then(|v| v.as_string())
}

/// A browser error in words: its message, else its name.
fn describe(e: JsValue) -> String {
    Reflect::get(&e, &JsValue::from_str("message"))
        .ok()
        .and_then(|v| v.as_string())
        .filter(|m| !m.is_empty())
        .or_else(|| error_name(&e))
        .unwrap_or_else(|| "The browser refused.".into())
}
