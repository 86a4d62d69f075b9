use crate::api::StartTransfer;
use crate::state::{ChatState, Overlay, Ui};
use leptos::prelude::*;

/// "Use on another device": a fresh one-time link and its QR code.
#[component]
pub fn TransferDialog() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let ui = expect_context::<Ui>();
    let link = crate::components::server_call::<StartTransfer>();
    // Every opening makes a new link; an old one may already be used.
    Effect::new(move |_| {
        if ui.is(Overlay::Link) {
            link.value().set(None);
            link.dispatch(StartTransfer {});
        }
    });
    let name = move || state.me.get().map(|m| m.name).unwrap_or_default();

    view! {
        <Show when=move || ui.is(Overlay::Link)>
            <div class="name-prompt" role="dialog" aria-modal="true" aria-labelledby="transfer-title">
                <div class="name-form transfer">
                    <h2 id="transfer-title">"Use on another device"</h2>
                    <p class="hint">
                        "Scan the code or open the link on your phone, another browser or the "
                        "home-screen app to chat there as " <strong>{name}</strong> "."
                    </p>
                    {move || match link.value().get() {
                        None => view! { <p class="hint">"Creating a link…"</p> }.into_any(),
                        Some(Ok(link)) => {
                            let minutes = link.expires_in_secs.div_ceil(60);
                            view! {
                                // Server-drawn SVG of squares; it carries no user text.
                                <div class="qr" inner_html=link.qr_svg></div>
                                <a class="transfer-link" href=link.url.clone()>{link.url.clone()}</a>
                                <p class="hint">{format!("It works once, within {minutes} minutes.")}</p>
                            }
                                .into_any()
                        }
                        Some(Err(e)) => view! { <p class="name-error" role="alert">{e.to_string()}</p> }.into_any(),
                    }}
                    <p class="hint export-links">
                        "Take your history with you, every room you can read: "
                        <a href="/export.html" download>"as a page"</a>
                        " · "
                        <a href="/export.json" download>"as JSON"</a>
                    </p>
                    <div class="name-actions">
                        <button type="button" class="join" on:click=move |_| ui.close(Overlay::Link)>
                            "Done"
                        </button>
                    </div>
                </div>
            </div>
        </Show>
    }
}
