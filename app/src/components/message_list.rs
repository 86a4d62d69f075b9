use crate::api::older_messages;
use crate::protocol::{ChatMessage, ClientMessageId, HISTORY_PAGE};
use crate::state::{ChatState, Delivery};
use leptos::html;
use leptos::prelude::*;

/// Within this many pixels of the bottom the list follows new messages.
const STICK_PX: i32 = 80;
/// Within this many pixels of the top, older history is fetched.
const LOAD_OLDER_PX: i32 = 40;

/// The conversation. The scroller is a reversed flex column, so the
/// browser itself opens it at the newest message (with or without
/// JavaScript), keeps it there as messages arrive, and keeps the reader's
/// place when older history is added above. Its `scrollTop` is therefore 0
/// at the bottom and negative above.
#[component]
pub fn MessageList() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let scroller = NodeRef::<html::Div>::new();
    let stick = StoredValue::new(true);
    let loading = RwSignal::new(false);
    // New messages arrived below while the reader was scrolled up.
    let unseen = RwSignal::new(false);

    Effect::new(move |previous: Option<(usize, Option<i64>)>| {
        let newest = state
            .messages
            .with(|m| m.last_key_value().map(|(id, _)| id.0));
        let outgoing = state.outbox.with(Vec::len);
        if let Some((sent_before, seen_before)) = previous {
            if outgoing > sent_before {
                // Writing a message brings the reader back to the end.
                stick.set_value(true);
                unseen.set(false);
                scroll_to_bottom(scroller);
            } else if !stick.get_value() && seen_before < newest {
                unseen.set(true);
            }
        }
        (outgoing, newest)
    });

    let load_older = move || {
        let Some(before) = state.oldest() else { return };
        if loading.get_untracked() || !state.more_history.get_untracked() {
            return;
        }
        loading.set(true);
        leptos::task::spawn_local(async move {
            match older_messages(before, HISTORY_PAGE).await {
                Ok(batch) => {
                    state.more_history.set(batch.len() as u32 >= HISTORY_PAGE);
                    state.merge(batch);
                }
                Err(e) => state.notice.set(Some(e.to_string())),
            }
            loading.set(false);
        });
    };

    let on_scroll = move |_| {
        let Some(el) = scroller.get_untracked() else {
            return;
        };
        let from_bottom = (-el.scroll_top()).max(0);
        let from_top = el.scroll_height() - el.client_height() - from_bottom;
        stick.set_value(from_bottom < STICK_PX);
        if from_bottom < STICK_PX {
            unseen.set(false);
        }
        if from_top < LOAD_OLDER_PX {
            load_older();
        }
    };

    view! {
        <div class="list-wrap">
            <div class="messages" node_ref=scroller on:scroll=on_scroll>
                // Screen readers get new messages from the announcer below,
                // one at a time, not whole pages of history as they load.
                <ol class="message-log" role="log" aria-label="Messages" aria-live="off">
                    <Show when=move || state.more_history.get()>
                        <li class="older">
                            <button
                                type="button"
                                class="load-older"
                                disabled=move || loading.get() || !state.hydrated.get()
                                on:click=move |_| load_older()
                            >
                                {move || if loading.get() { "Loading…" } else { "Load older messages" }}
                            </button>
                        </li>
                    </Show>
                    <For
                        each=move || state.messages.get().into_values()
                        key=|m| m.id
                        children=move |m| view! { <MessageRow message=m/> }
                    />
                    <For
                        each=move || state.outbox.get()
                        key=|o| o.client_id
                        children=move |o| view! { <OutboxRow client_id=o.client_id text=o.text/> }
                    />
                </ol>
            </div>
            <Show when=move || unseen.get()>
                <button
                    type="button"
                    class="new-pill"
                    on:click=move |_| {
                        stick.set_value(true);
                        unseen.set(false);
                        scroll_to_bottom(scroller);
                    }
                >
                    "New messages ↓"
                </button>
            </Show>
            <div class="sr-only" aria-live="polite" aria-atomic="true">
                {move || state.announcement.get()}
            </div>
        </div>
    }
}

fn scroll_to_bottom(scroller: NodeRef<html::Div>) {
    #[cfg(feature = "hydrate")]
    if let Some(el) = scroller.get_untracked() {
        let options = web_sys::ScrollToOptions::new();
        options.set_top(0.0);
        options.set_behavior(web_sys::ScrollBehavior::Smooth);
        el.scroll_to_with_scroll_to_options(&options);
    }
    let _ = scroller;
}

#[component]
fn MessageRow(message: ChatMessage) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let ts = message.ts;
    let time = move || clock(ts, state.hydrated.get());
    view! {
        <li class="message" data-id=message.id.0>
            <span class="author" style:background-color=message.color>
                {message.user_name}
            </span>
            // Screen readers would otherwise run the name into the text.
            <span class="sr-only">": "</span>
            <span class="text">{message.msg}</span>
            <span class="sr-only">", at "</span>
            <time class="ts">{time}</time>
        </li>
    }
}

/// One of this device's messages that the server has not acknowledged.
#[component]
fn OutboxRow(client_id: ClientMessageId, text: String) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let delivery = move || {
        state.outbox.with(|o| {
            o.iter()
                .find(|i| i.client_id == client_id)
                .map(|i| i.delivery.clone())
        })
    };
    let me = move || state.me.get();
    view! {
        <li class="message outgoing" class:failed=move || matches!(delivery(), Some(Delivery::Failed(_)))>
            <span class="author" style:background-color=move || me().map(|m| m.color).unwrap_or_default()>
                {move || me().map(|m| m.name)}
            </span>
            <span class="sr-only">": "</span>
            <span class="text">{text}</span>
            <span class="delivery">
                {move || match delivery() {
                    Some(Delivery::Failed(reason)) => view! {
                        <span class="failed-reason">{reason}</span>
                        <button type="button" class="retry" on:click=move |_| state.retry(client_id)>
                            "Retry"
                        </button>
                    }
                    .into_any(),
                    _ => view! { <span class="pending">"sending…"</span> }.into_any(),
                }}
            </span>
        </li>
    }
}

/// "HH:MM": UTC while server-rendered (the server cannot know the reader's
/// zone), local time once the page is live.
fn clock(ts: i64, local: bool) -> String {
    #[cfg(feature = "hydrate")]
    if local {
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ts as f64));
        return format!("{:02}:{:02}", d.get_hours(), d.get_minutes());
    }
    let _ = local;
    let minutes = ts.div_euclid(60_000);
    format!(
        "{:02}:{:02}",
        minutes.div_euclid(60).rem_euclid(24),
        minutes.rem_euclid(60)
    )
}
