use crate::api::older_messages;
use crate::protocol::{ChatMessage, ClientMessageId, MessageId, HISTORY_PAGE};
use crate::state::{ChatState, Delivery};
use leptos::html;
use leptos::prelude::*;

/// Within this many pixels of the bottom the list follows new messages.
const STICK_PX: i32 = 80;
/// Within this many pixels of the top, older history is fetched.
const LOAD_OLDER_PX: i32 = 40;

#[component]
pub fn MessageList() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let list = NodeRef::<html::Ol>::new();
    let stick = StoredValue::new(true);
    let loading = RwSignal::new(false);
    // New messages arrived below while the reader was scrolled up.
    let unseen = RwSignal::new(false);

    // Follow new messages unless the reader scrolled up; then offer a pill.
    Effect::new(move |previous: Option<Option<MessageId>>| {
        let newest = state
            .messages
            .with(|m| m.last_key_value().map(|(id, _)| *id));
        state.outbox.track();
        let first = previous.is_none();
        if stick.get_value() {
            request_animation_frame(move || scroll_to_bottom(list, !first));
        } else if previous.flatten() < newest {
            unseen.set(true);
        }
        newest
    });

    let load_older = move || {
        let Some(before) = state.oldest() else { return };
        if loading.get_untracked() || !state.more_history.get_untracked() {
            return;
        }
        loading.set(true);
        leptos::task::spawn_local(async move {
            let old_height = list.get_untracked().map(|el| el.scroll_height());
            match older_messages(before, HISTORY_PAGE).await {
                Ok(batch) => {
                    state.more_history.set(batch.len() as u32 >= HISTORY_PAGE);
                    state.merge(batch);
                    // Keep the message the reader was looking at in place.
                    request_animation_frame(move || {
                        if let (Some(el), Some(old)) = (list.get_untracked(), old_height) {
                            el.set_scroll_top(el.scroll_top() + el.scroll_height() - old);
                        }
                    });
                }
                Err(e) => state.notice.set(Some(e.to_string())),
            }
            loading.set(false);
        });
    };

    let on_scroll = move |_| {
        let Some(el) = list.get_untracked() else {
            return;
        };
        let from_bottom = el.scroll_height() - el.scroll_top() - el.client_height();
        stick.set_value(from_bottom < STICK_PX);
        if from_bottom < STICK_PX {
            unseen.set(false);
        }
        if el.scroll_top() < LOAD_OLDER_PX {
            load_older();
        }
    };

    view! {
        <div class="list-wrap">
        <ol class="messages" node_ref=list on:scroll=on_scroll aria-live="polite">
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
        <Show when=move || unseen.get()>
            <button
                type="button"
                class="new-pill"
                on:click=move |_| {
                    stick.set_value(true);
                    unseen.set(false);
                    scroll_to_bottom(list, true);
                }
            >
                "New messages ↓"
            </button>
        </Show>
        </div>
    }
}

/// Scrolls the list to its end; smoothly for new messages, at once for
/// the first render.
fn scroll_to_bottom(list: NodeRef<html::Ol>, smooth: bool) {
    #[cfg(feature = "hydrate")]
    if let Some(el) = list.get_untracked() {
        let options = web_sys::ScrollToOptions::new();
        options.set_top(f64::from(el.scroll_height()));
        options.set_behavior(if smooth {
            web_sys::ScrollBehavior::Smooth
        } else {
            web_sys::ScrollBehavior::Instant
        });
        el.scroll_to_with_scroll_to_options(&options);
    }
    let _ = (list, smooth);
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
            <span class="text">{message.msg}</span>
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
