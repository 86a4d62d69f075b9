//! The WASM entry point: hydrate the server-rendered page from the
//! snapshot the server embedded in it.

use leptos::prelude::*;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    let snapshot = app::read_snapshot();
    leptos::mount::hydrate_body(move || {
        provide_context(snapshot);
        view! { <app::App/> }
    });
}
