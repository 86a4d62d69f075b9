use crate::api::{search_messages, MessageContext, SearchHit, SearchMessages, SEARCH_PAGE};
use crate::protocol::MessageId;
use crate::state::{ChatState, Overlay, Ui};
use crate::time;
use leptos::prelude::*;
use std::time::Duration;

/// Waits this long after the last keystroke before searching.
const SETTLE: Duration = Duration::from_millis(250);

/// Finds messages by their words, newest first; a result opens the
/// message in its context.
#[component]
pub fn SearchPanel() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let ui = expect_context::<Ui>();
    let query = RwSignal::new(String::new());
    // The query once typing has paused: what is searched for.
    let settled = RwSignal::new(String::new());
    let pause = StoredValue::new(None::<TimeoutHandle>);
    let input = NodeRef::<leptos::html::Input>::new();
    // The first page, keyed on the settled query: an answer for an older
    // query is dropped by the resource, never shown over a newer one.
    let first = LocalResource::new(move || {
        let q = settled.get();
        async move {
            match q.trim().is_empty() {
                true => None,
                false => Some(search_messages(q, None).await),
            }
        }
    });
    // Later pages, appended; a page for another query than the shown one
    // is ignored.
    let more = crate::components::server_call::<SearchMessages>();
    let appended = RwSignal::new(Vec::<SearchHit>::new());
    let asked_more = StoredValue::new(None::<String>);
    Effect::new(move |_| {
        settled.track();
        appended.set(Vec::new());
    });
    Effect::new(move |_| {
        let current = settled.get_untracked();
        if let Some(Ok(found)) = more.value().get() {
            if asked_more.get_value().as_deref() == Some(current.as_str()) {
                appended.update(|h| h.extend(found));
            }
        }
    });
    let hits = move || {
        let mut hits = first
            .get()
            .flatten()
            .and_then(Result::ok)
            .unwrap_or_default();
        hits.extend(appended.get());
        hits
    };
    let has_more = move || {
        let last_page = match more.value().get() {
            Some(Ok(found)) if !appended.with(Vec::is_empty) => found.len(),
            _ => first
                .get()
                .flatten()
                .and_then(Result::ok)
                .map_or(0, |f| f.len()),
        };
        last_page as u32 >= SEARCH_PAGE
    };
    let opened = crate::components::server_call::<MessageContext>();
    let status = move || match first.get().flatten() {
        Some(Err(e)) => Some(e.to_string()),
        Some(Ok(found)) if found.is_empty() => Some("No messages found.".to_owned()),
        _ => crate::components::refusal(more).or_else(|| crate::components::refusal(opened)),
    };
    let on_input = move |ev| {
        query.set(event_target_value(&ev));
        if let Some(h) = pause.get_value() {
            h.clear();
        }
        let handle = set_timeout_with_handle(move || settled.set(query.get_untracked()), SETTLE);
        pause.set_value(handle.ok());
    };
    let load_more = move || {
        let before = hits().last().map(|h| h.message.id);
        let q = settled.get_untracked();
        asked_more.set_value(Some(q.clone()));
        more.dispatch(SearchMessages { query: q, before });
    };
    Effect::new(move |_| {
        if ui.is(Overlay::Search) {
            request_animation_frame(move || {
                if let Some(el) = input.get_untracked() {
                    let _ = el.focus();
                }
            });
        }
    });
    // A result opens in its room, around it (the newest choice wins: a
    // context that arrives for an earlier tap is not shown over it).
    let chosen = StoredValue::new(None::<MessageId>);
    Effect::new(move |_| {
        if let Some(Ok(context)) = opened.value().get() {
            let Some(id) = chosen.get_value() else { return };
            if !context.messages.iter().any(|m| m.id == id) {
                return;
            }
            state.push_url(&context.room);
            state.show_context(context, id);
            ui.close(Overlay::Search);
        }
    });
    let open = move |id: MessageId| {
        chosen.set_value(Some(id));
        opened.dispatch(MessageContext { id });
    };

    view! {
        <Show when=move || ui.is(Overlay::Search)>
            <div class="name-prompt" role="dialog" aria-modal="true" aria-labelledby="search-title">
                <div class="name-form search-panel">
                    <h2 id="search-title">"Search messages"</h2>
                    <input
                        type="search"
                        class="search-input"
                        node_ref=input
                        aria-label="Search messages"
                        placeholder="Words, or \"a phrase\""
                        enterkeyhint="search"
                        prop:value=move || query.get()
                        on:input=on_input
                    />
                    <p class="hint" role="status">{status}</p>
                    <ul class="search-results">
                        <For
                            each=hits
                            key=|h| (h.message.id, h.message.seq)
                            children=move |h| {
                                let id = h.message.id;
                                let ts = h.message.ts;
                                let parts = h
                                    .parts
                                    .into_iter()
                                    .map(|p| {
                                        if p.hit {
                                            view! { <mark>{p.text}</mark> }.into_any()
                                        } else {
                                            view! { <span>{p.text}</span> }.into_any()
                                        }
                                    })
                                    .collect_view();
                                view! {
                                    <li>
                                        <button type="button" class="search-hit" on:click=move |_| open(id)>
                                            <span class="hit-meta">
                                                <span class="hit-room">"# " {h.room.name}</span>
                                                <span class="hit-author">{h.message.user_name}</span>
                                                <time>{move || time::day_label(ts, state.local_times.get())} " " {move || time::clock(ts, state.local_times.get())}</time>
                                            </span>
                                            <span class="hit-text">{parts}</span>
                                        </button>
                                    </li>
                                }
                            }
                        />
                    </ul>
                    <div class="name-actions">
                        <Show when=has_more>
                            <button type="button" class="more-results" disabled=move || more.pending().get() on:click=move |_| load_more()>
                                "More results"
                            </button>
                        </Show>
                        <button type="button" class="join" on:click=move |_| ui.close(Overlay::Search)>"Close"</button>
                    </div>
                </div>
            </div>
        </Show>
    }
}
