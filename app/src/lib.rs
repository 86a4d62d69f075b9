//! The chat's shared crate: wire protocol, validation, server functions and
//! the Leptos components, compiled for the server (`ssr`) and the browser
//! (`hydrate`).

pub mod api;
#[cfg(feature = "hydrate")]
pub mod client;
mod components;
#[cfg(feature = "hydrate")]
mod device;
#[doc(hidden)]
pub mod fuzzing;
pub mod protocol;
pub mod state;
pub mod validate;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, StaticSegment};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The stylesheet carries the same content hash as the JS and WASM.
    let stylesheet = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta
                    name="viewport"
                    content="width=device-width, initial-scale=1, viewport-fit=cover"
                />
                <meta name="color-scheme" content="light dark"/>
                <meta name="description" content="A small real-time group chat"/>
                <meta name="theme-color" media="(prefers-color-scheme: light)" content="#ffffff"/>
                <meta name="theme-color" media="(prefers-color-scheme: dark)" content="#1e2128"/>
                <meta name="mobile-web-app-capable" content="yes"/>
                <meta name="apple-mobile-web-app-capable" content="yes"/>
                <meta name="apple-mobile-web-app-title" content="Chat"/>
                <meta name="apple-mobile-web-app-status-bar-style" content="default"/>
                <link rel="manifest" href="/manifest.webmanifest"/>
                <link rel="icon" type="image/png" href="/icons/favicon-32.png"/>
                <link rel="apple-touch-icon" href="/icons/apple-touch-icon.png"/>
                <link rel="stylesheet" href=stylesheet/>
                // Without JavaScript the live status is replaced by a note.
                <noscript>
                    <link rel="stylesheet" href="/noscript.css"/>
                </noscript>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Chat"/>
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                // Async: the whole page, messages included, arrives as plain
                // HTML, so it reads without JavaScript.
                <Route path=StaticSegment("") view=components::ChatPage ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}
