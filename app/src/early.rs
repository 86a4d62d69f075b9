//! The hand-over from the page's early script (`early.js`), which takes
//! and sends messages before the WASM arrives, to the app.

/// The early script's code, put in the page by the server.
pub const SCRIPT: &str = include_str!("early.js");

/// Called once hydrated: the box's text typed before becomes the draft,
/// the early script stops answering the box, and leaves the screen once
/// the app's own socket is live (its sent messages come back on it).
#[cfg(feature = "hydrate")]
pub fn take_over(state: crate::state::ChatState) {
    use crate::state::Connection;
    use js_sys::Reflect;
    use leptos::prelude::*;
    use wasm_bindgen::JsValue;
    let window = window();
    let typed = Reflect::get(&window, &JsValue::from_str("__chatEarlyDraft"))
        .ok()
        .and_then(|v| v.as_string())
        .filter(|t| !t.is_empty());
    if let Some(text) = typed {
        state.draft.set(text);
    }
    let _ = Reflect::set(
        &window,
        &JsValue::from_str("__chatHydrated"),
        &JsValue::TRUE,
    );
    announce("chat:hydrated");
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let live = state.connection.get() == Connection::Online;
        if live {
            announce("chat:live");
        }
        live
    });
}

#[cfg(feature = "hydrate")]
fn announce(name: &str) {
    if let Ok(event) = web_sys::Event::new(name) {
        let _ = leptos::prelude::window().dispatch_event(&event);
    }
}

#[cfg(test)]
mod tests {
    /// The script refuses what the app would: one limit, written twice.
    #[test]
    fn the_early_script_has_the_apps_message_limit() {
        let line = format!("const MAX = {};", crate::validate::MESSAGE_MAX_CHARS);
        assert!(super::SCRIPT.contains(&line), "early.js must say `{line}`");
    }
}
