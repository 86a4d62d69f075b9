//! The chat's shared crate: wire protocol, validation, server functions and
//! the Leptos components, compiled for the server (`ssr`) and the browser
//! (`hydrate`).

// Erasing a whole dialog's view type (`into_any`, at a lazy split point)
// nests deeper than the default limit allows.
#![recursion_limit = "256"]

pub mod api;
mod chunks;
#[cfg(feature = "hydrate")]
pub mod client;
mod components;
#[cfg(feature = "hydrate")]
mod device;
mod early;
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "hydrate")]
mod notify;
pub mod protocol;
pub mod rich;
pub mod state;
pub mod time;
#[cfg(feature = "hydrate")]
mod upload;
pub mod validate;
pub mod wire;

use api::ChatSnapshot;
use leptos::prelude::*;

/// Id of the JSON data block in the page's head that carries the
/// snapshot the page was rendered with, for hydration to start from.
pub const SNAPSHOT_ID: &str = "chat-snapshot";

/// The build's stylesheet, which the server puts in each page (when it
/// has it): on a phone's slow network a linked one costs a round trip
/// before the first paint.
#[derive(Clone)]
pub struct InlineStyle(pub std::sync::Arc<str>);

/// The HTML document around the app, rendered on the server only. The
/// server provides the `ChatSnapshot` the page is rendered from.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let stylesheet = match use_context::<InlineStyle>() {
        Some(InlineStyle(css)) => leptos::either::Either::Left(view! {
            <style nonce=leptos::nonce::use_nonce() inner_html=css></style>
        }),
        // The stylesheet carries the same content hash as the JS and WASM.
        None => {
            let href = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
            leptos::either::Either::Right(view! { <link rel="stylesheet" href=href/> })
        }
    };
    // Read in place: the snapshot holds a page of messages, and a copy
    // of it per read showed in the page's allocations.
    let title = with_context::<ChatSnapshot, _>(|s| s.chat_name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Chat".to_owned());
    let snapshot = with_context::<ChatSnapshot, _>(|s| serde_json::to_string(s).ok())
        .flatten()
        .map(|json| escape_for_script(&json))
        .unwrap_or_default();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta
                    name="viewport"
                    content="width=device-width, initial-scale=1, viewport-fit=cover"
                />
                // First, so the WASM (the long pole of a cold visit) is
                // requested before anything else the head names.
                <Hydration options/>
                <title>{title.clone()}</title>
                <meta name="color-scheme" content="light dark"/>
                <meta name="description" content="A small real-time group chat"/>
                <meta name="theme-color" media="(prefers-color-scheme: light)" content="#ffffff"/>
                <meta name="theme-color" media="(prefers-color-scheme: dark)" content="#1e2128"/>
                <meta name="mobile-web-app-capable" content="yes"/>
                <meta name="apple-mobile-web-app-capable" content="yes"/>
                <meta name="apple-mobile-web-app-title" content=title/>
                <meta name="apple-mobile-web-app-status-bar-style" content="default"/>
                <link rel="manifest" href="/manifest.webmanifest"/>
                <link rel="icon" type="image/png" href="/icons/favicon-32.png"/>
                <link rel="apple-touch-icon" href="/icons/apple-touch-icon.png"/>
                {stylesheet}
                // Nothing is painted before the composer is parsed. The
                // list sits above it in a bottom-up scroller: a frame
                // painted while the page is still being parsed (a busy
                // phone does paint one) has the list taller by the
                // composer's height, and it jumps when the composer
                // lands. Chromium holds the paint; other engines ignore it.
                <link rel="expect" href="#composer-error" blocking="render"/>
                // Without JavaScript the live status is replaced by a note.
                <noscript>
                    <link rel="stylesheet" href="/noscript.css"/>
                </noscript>
                // Data, not code: browsers never run it. It carries the
                // nonce anyway, so every script element in the page does.
                <script
                    type="application/json"
                    id=SNAPSHOT_ID
                    nonce=leptos::nonce::use_nonce()
                    inner_html=snapshot
                ></script>
            </head>
            <body>
                <App/>
                // After the app's markup, which it reads, and outside it,
                // so hydration never meets it.
                <script nonce=leptos::nonce::use_nonce() inner_html=early::SCRIPT></script>
            </body>
        </html>
    }
}

/// Leptos's hydration tags with one change: the WASM is requested by an
/// inline script, first thing in the head, and wasm-bindgen is handed that
/// very request. WebKit never gives a `<link rel=preload as=fetch>`
/// (Leptos's tag, or a `Link` header) to the `fetch` wasm-bindgen makes,
/// so Safari downloaded the largest file of the page twice
/// (`end2end/engines` counts the downloads in each engine).
#[component]
fn Hydration(options: LeptosOptions) -> impl IntoView {
    // Run for what it registers (the lazy chunks' manifest, for their
    // loader); its tags, the preload among them, are not rendered.
    let _ = HydrationScripts(
        HydrationScriptsProps::builder()
            .options(options.clone())
            .build(),
    );
    let (js, wasm) = bundle_urls(&options);
    let nonce = leptos::nonce::use_nonce();
    let early = format!("window.__chatWasm=fetch({wasm:?});");
    let start = format!(
        "import({js:?}).then(m=>m.default({{module_or_path:window.__chatWasm||{wasm:?}}})\
         .then(()=>m.hydrate()));"
    );
    view! {
        <script nonce=nonce.clone()>{early}</script>
        <link rel="modulepreload" href=js/>
        <script type="module" nonce=nonce>{start}</script>
    }
}

/// The build's JS and WASM, by Leptos's rule (`HydrationScripts`): a
/// build by cargo-leptos, which sets LEPTOS_OUTPUT_NAME, names the WASM
/// like the JS; others add `_bg`.
pub fn bundle_urls(options: &LeptosOptions) -> (String, String) {
    let (dir, name) = (&options.site_pkg_dir, &options.output_name);
    let wasm = if option_env!("LEPTOS_OUTPUT_NAME").is_some() {
        format!("/{dir}/{name}.wasm")
    } else {
        format!("/{dir}/{name}_bg.wasm")
    };
    (format!("/{dir}/{name}.js"), wasm)
}

/// JSON that cannot end the script element it sits in or open a comment:
/// `<` is written as its JSON escape, which parses to the same text.
fn escape_for_script(json: &str) -> String {
    json.replace('<', "\\u003c")
}

/// The whole page: the chat, rendered from the snapshot in context.
#[component]
pub fn App() -> impl IntoView {
    let snapshot = use_context::<ChatSnapshot>().unwrap_or_default();
    view! { <components::ChatPage snapshot/> }
}

/// The snapshot the server embedded in the page (browser only).
#[cfg(feature = "hydrate")]
pub fn read_snapshot() -> ChatSnapshot {
    document()
        .get_element_by_id(SNAPSHOT_ID)
        .and_then(|el| el.text_content())
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_json_cannot_close_its_script_element() {
        let json = r#"{"msg":"</script><script>alert(1)</script><!--"}"#;
        let safe = escape_for_script(json);
        assert!(!safe.contains('<'));
        let back: serde_json::Value = serde_json::from_str(&safe).expect("still JSON");
        assert_eq!(back["msg"], "</script><script>alert(1)</script><!--");
    }
}
