use crate::api::{message_context, search_messages, SearchHit, SEARCH_PAGE};
use crate::protocol::MessageId;
use crate::state::ChatState;
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
    let query = RwSignal::new(String::new());
    let hits = RwSignal::new(Vec::<SearchHit>::new());
    let more = RwSignal::new(false);
    let status = RwSignal::new(None::<String>);
    // Only the latest search's answer is shown.
    let generation = StoredValue::new(0u64);
    let input = NodeRef::<leptos::html::Input>::new();

    let run = move |before: Option<MessageId>| {
        let q = query.get_untracked();
        if q.trim().is_empty() {
            hits.set(Vec::new());
            more.set(false);
            status.set(None);
            return;
        }
        let mine = generation.get_value();
        leptos::task::spawn_local(async move {
            let answer = search_messages(q, before).await;
            if generation.get_value() != mine {
                return;
            }
            match answer {
                Ok(found) => {
                    more.set(found.len() as u32 >= SEARCH_PAGE);
                    status.set(match (before, found.is_empty()) {
                        (None, true) => Some("No messages found.".to_owned()),
                        _ => None,
                    });
                    if before.is_some() {
                        hits.update(|h| h.extend(found));
                    } else {
                        hits.set(found);
                    }
                }
                Err(e) => status.set(Some(e.to_string())),
            }
        });
    };
    let on_input = move |ev| {
        query.set(event_target_value(&ev));
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        set_timeout(
            move || {
                if generation.get_value() == mine {
                    run(None);
                }
            },
            SETTLE,
        );
    };
    Effect::new(move |_| {
        if state.searching.get() {
            request_animation_frame(move || {
                if let Some(el) = input.get_untracked() {
                    let _ = el.focus();
                }
            });
        }
    });
    let open = move |id: MessageId| {
        leptos::task::spawn_local(async move {
            match message_context(id).await {
                Ok(context) => {
                    super::room_list::push_url(state, &context.room);
                    state.show_context(context, id);
                }
                Err(e) => status.set(Some(e.to_string())),
            }
        });
    };

    view! {
        <Show when=move || state.searching.get()>
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
                    <p class="hint" role="status">{move || status.get()}</p>
                    <ul class="search-results">
                        <For
                            each=move || hits.get()
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
                        <Show when=move || more.get()>
                            <button type="button" class="more-results" on:click=move |_| {
                                run(hits.with_untracked(|h| h.last().map(|h| h.message.id)));
                            }>"More results"</button>
                        </Show>
                        <button type="button" class="join" on:click=move |_| state.searching.set(false)>"Close"</button>
                    </div>
                </div>
            </div>
        </Show>
    }
}
