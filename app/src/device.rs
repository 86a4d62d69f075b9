//! The page as an app on the device: service worker, unread count in the
//! title and the app badge, and a layout that follows the on-screen
//! keyboard. Only compiled into the WASM.

use crate::state::ChatState;
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

pub fn start(state: ChatState) {
    register_service_worker();
    track_visibility(state);
    Effect::new(move |_| show_unread(state.unread_total(), &state.chat_name.get()));
    follow_visual_viewport();
}

fn register_service_worker() {
    let navigator = window().navigator();
    // Absent on plain-HTTP origins other than localhost.
    if !js_sys::Reflect::has(&navigator, &JsValue::from_str("serviceWorker")).unwrap_or(false) {
        return;
    }
    let container = navigator.service_worker();
    let updating = container.controller().is_some();
    // Refused where the certificate is not trusted (a LAN address before
    // the local CA is installed): the chat works on without offline use.
    let on_error = Closure::<dyn FnMut(JsValue)>::new(|e: JsValue| {
        leptos::logging::warn!("service worker not registered: {e:?}");
    });
    let _ = container.register("/sw.js").catch(&on_error);
    on_error.forget();
    if updating {
        // A new release took over: reload so page, JS and WASM match it.
        // Unsent messages survive in the outbox.
        let reload = Closure::<dyn Fn()>::new(|| {
            let _ = window().location().reload();
        });
        let _ = container
            .add_event_listener_with_callback("controllerchange", reload.as_ref().unchecked_ref());
        reload.forget();
    }
}

/// Asks the service worker to drop its cached pages (the offline shell
/// holds messages and names): the server refused this device.
pub fn forget_offline_copy() {
    tell_service_worker("forget");
}

/// Asks the service worker to drop its offline shell, which lists a room
/// this identity may no longer read.
pub fn offline_shell_stale() {
    tell_service_worker("stale");
}

fn tell_service_worker(kind: &str) {
    let navigator = window().navigator();
    if !js_sys::Reflect::has(&navigator, &JsValue::from_str("serviceWorker")).unwrap_or(false) {
        return;
    }
    if let Some(worker) = navigator.service_worker().controller() {
        let message = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&message, &"type".into(), &kind.into());
        let _ = worker.post_message(&message);
    }
}

fn track_visibility(state: ChatState) {
    let update = move || {
        let hidden = document().visibility_state() != web_sys::VisibilityState::Visible;
        state.hidden.set(hidden);
    };
    update();
    let listener = Closure::<dyn Fn()>::new(update);
    let _ = document()
        .add_event_listener_with_callback("visibilitychange", listener.as_ref().unchecked_ref());
    listener.forget();
}

fn show_unread(count: u32, name: &str) {
    let name = if name.is_empty() { "Chat" } else { name };
    let title = if count == 0 {
        name.to_owned()
    } else {
        format!("({count}) {name}")
    };
    document().set_title(&title);
    // The Badging API exists on installed apps in some browsers only.
    let navigator = window().navigator();
    let (method, args) = if count == 0 {
        ("clearAppBadge", js_sys::Array::new())
    } else {
        ("setAppBadge", js_sys::Array::of1(&JsValue::from(count)))
    };
    if let Ok(f) = js_sys::Reflect::get(&navigator, &JsValue::from_str(method)) {
        if let Some(f) = f.dyn_ref::<js_sys::Function>() {
            let _ = f.apply(&navigator, &args);
        }
    }
}

/// On iOS the keyboard shrinks the visual viewport, not the layout one; the
/// chat takes the visual height so the message box stays above the keyboard.
fn follow_visual_viewport() {
    let Some(viewport) = window().visual_viewport() else {
        return;
    };
    let apply = move || {
        let Some(viewport) = window().visual_viewport() else {
            return;
        };
        if let Some(root) = document().document_element() {
            if let Some(root) = root.dyn_ref::<web_sys::HtmlElement>() {
                let _ = root.style().set_property(
                    "--app-height",
                    &format!("{}px", viewport.height().round() as i32),
                );
            }
        }
    };
    apply();
    let listener = Closure::<dyn Fn()>::new(apply);
    let _ = viewport.add_event_listener_with_callback("resize", listener.as_ref().unchecked_ref());
    listener.forget();
}
