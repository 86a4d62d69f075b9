use super::message_row::{row_actions_loader, MenuOpen, MessageRow, OutboxRow, RowPlace};
use crate::api::OlderMessages;
use crate::protocol::{ChatMessage, MessageId, RoomId, HISTORY_PAGE};
use crate::state::ChatState;
use crate::time;
use leptos::html;
use leptos::prelude::*;

/// Within this many pixels of the bottom the list follows new messages.
const STICK_PX: i32 = 80;
/// Within this many pixels of the top, older history is fetched.
const LOAD_OLDER_PX: i32 = 40;
/// Messages from one sender closer together than this share one name line.
const GROUP_MS: i64 = 5 * 60 * 1000;

/// The conversation. The scroller is a reversed flex column, so the
/// browser itself opens it at the newest message (with or without
/// JavaScript), keeps it there as messages arrive, and keeps the reader's
/// place when older history is added above. Its `scrollTop` is therefore 0
/// at the bottom and negative above.
#[component]
pub fn MessageList() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let scroller = NodeRef::<html::Div>::new();
    // New messages arrived below while the reader was scrolled up.
    let unseen = RwSignal::new(false);
    // The message whose actions menu is open.
    let menu = RwSignal::new(None::<MessageId>);
    provide_context(MenuOpen {
        open: menu,
        ready: row_actions_loader(state, menu),
    });

    Effect::new(move |previous: Option<(usize, Option<i64>)>| {
        let newest = state
            .messages
            .with(|m| m.last_key_value().map(|(id, _)| id.0));
        let outgoing = state.outbox.with(Vec::len);
        if let Some((sent_before, seen_before)) = previous {
            if outgoing > sent_before {
                // Writing a message brings the reader back to the end.
                state.at_bottom.set(true);
                unseen.set(false);
                scroll_to_bottom(scroller, true);
            } else if !state.at_bottom.get_untracked() && seen_before < newest {
                unseen.set(true);
            }
        }
        (outgoing, newest)
    });

    // When the reader is at the end, the end stays in view whatever the
    // list becomes (a page replaced after "back to latest", a resync).
    Effect::new(move |_| {
        state.messages.track();
        if state.at_bottom.get_untracked() && state.focus.get_untracked().is_none() {
            request_animation_frame(move || {
                if let Some(el) = scroller.get_untracked() {
                    if el.scroll_top() != 0 {
                        el.set_scroll_top(0);
                    }
                }
            });
        }
    });

    // A search result: bring it into view once it is rendered.
    Effect::new(move |_| {
        let Some(id) = state.focus.get() else { return };
        request_animation_frame(move || focus_row(scroller, id));
    });

    // Older history, a page at a time; an answer for a room the tab has
    // left meanwhile changes nothing (`merge` keeps the shown room's only).
    let older = crate::components::server_call::<OlderMessages>();
    let asked_for = StoredValue::new(None::<RoomId>);
    Effect::new(move |_| match older.value().get() {
        Some(Ok(batch)) if asked_for.get_value() == Some(state.room_id()) => {
            state.more_history.set(batch.len() as u32 >= HISTORY_PAGE);
            state.merge(batch);
        }
        Some(Err(e)) => state.notice.set(Some(e.to_string())),
        _ => {}
    });
    let load_older = move || {
        let Some(before) = state.oldest() else { return };
        if older.pending().get_untracked() || !state.more_history.get_untracked() {
            return;
        }
        let room = state.room_id();
        asked_for.set_value(Some(room));
        older.dispatch(OlderMessages {
            room,
            before,
            limit: HISTORY_PAGE,
        });
    };

    let on_scroll = move |_| {
        let Some(el) = scroller.get_untracked() else {
            return;
        };
        let from_bottom = (-el.scroll_top()).max(0);
        let from_top = el.scroll_height() - el.client_height() - from_bottom;
        let stuck = from_bottom < STICK_PX;
        if state.at_bottom.get_untracked() != stuck {
            state.at_bottom.set(stuck);
        }
        if stuck {
            unseen.set(false);
        }
        if from_top < LOAD_OLDER_PX {
            load_older();
        }
    };

    // Each row with what it needs to know of its neighbours. Before
    // hydration (and on the server) days are UTC days; once live, the
    // reader's own.
    let rows = move || {
        let local = state.local_times.get();
        let divider = state.divider.get();
        state.messages.with(|m| places(m.values(), local, divider))
    };
    let room_name = move || {
        state.room.with(|r| {
            r.as_ref()
                .map(|r| r.title(state.my_id()))
                .unwrap_or_default()
        })
    };

    view! {
        <div class="list-wrap">
            // The log is the scroller around the list, so the list keeps its
            // list semantics. Screen readers get new messages from the
            // announcer below, one at a time, not whole pages of history
            // as they load.
            <div
                class="messages"
                node_ref=scroller
                on:scroll=on_scroll
                role="log"
                aria-label=move || format!("Messages in {}", room_name())
                aria-live="off"
            >
                <ol class="message-log">
                    <Show when=move || state.more_history.get()>
                        <li class="older">
                            <button
                                type="button"
                                class="load-older"
                                disabled=move || older.pending().get() || !state.hydrated.get()
                                on:click=move |_| load_older()
                            >
                                {move || if older.pending().get() { "Loading…" } else { "Load older messages" }}
                            </button>
                        </li>
                    </Show>
                    <For
                        each=rows
                        // A reply is drawn again when the message it quotes changes.
                        key=|p| (p.message.id, p.message.seq, p.head, p.day.clone(), p.divider, p.message.reply.as_ref().map(|q| (q.line.clone(), q.deleted)))
                        children=move |p| view! { <MessageRow place=p/> }
                    />
                    <For
                        each=move || {
                            let room = state.room_id();
                            state.outbox.with(|o| o.iter().filter(|i| i.room == room).cloned().collect::<Vec<_>>())
                        }
                        key=|o| o.client_id
                        children=move |o| view! { <OutboxRow client_id=o.client_id text=o.text/> }
                    />
                </ol>
            </div>
            <Show when=move || unseen.get() || state.detached.get()>
                <button
                    type="button"
                    class="new-pill"
                    on:click=move |_| {
                        // Back from a jump the list is replaced: at once,
                        // since the scroll events of a smooth glide over
                        // the old page would say "not at the end" when the
                        // new one lands, and leave it unshown.
                        let jump = state.detached.get_untracked();
                        if jump {
                            state.back_to_latest();
                        }
                        state.at_bottom.set(true);
                        unseen.set(false);
                        scroll_to_bottom(scroller, !jump);
                    }
                >
                    {move || if state.detached.get() { "Back to latest ↓" } else { "New messages ↓" }}
                </button>
            </Show>
            <div class="sr-only announcer" aria-live="polite" aria-atomic="true">
                {move || state.announcement.get()}
            </div>
        </div>
    }
}

fn places<'a>(
    messages: impl Iterator<Item = &'a ChatMessage>,
    local: bool,
    divider: Option<MessageId>,
) -> Vec<RowPlace> {
    let mut out: Vec<RowPlace> = Vec::new();
    let mut previous: Option<&ChatMessage> = None;
    for m in messages {
        let day = time::day(m.ts, local);
        let new_day = previous.is_none_or(|p| time::day(p.ts, local) != day);
        let divided = divider == Some(m.id);
        let continues = previous.is_some_and(|p| {
            p.user_id == m.user_id
                && p.user_name == m.user_name
                && m.ts - p.ts < GROUP_MS
                && !p.deleted
        });
        out.push(RowPlace {
            message: m.clone(),
            head: new_day || divided || !continues,
            day: new_day.then(|| time::day_label(m.ts, local)),
            divider: divided,
        });
        previous = Some(m);
    }
    out
}

fn focus_row(scroller: NodeRef<html::Div>, id: MessageId) {
    #[cfg(feature = "hydrate")]
    if let Some(el) = scroller.get_untracked() {
        if let Ok(Some(row)) = el.query_selector(&format!("[data-id=\"{}\"]", id.0)) {
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Center);
            row.scroll_into_view_with_scroll_into_view_options(&options);
        }
    }
    let _ = (scroller, id);
}

fn scroll_to_bottom(scroller: NodeRef<html::Div>, smooth: bool) {
    #[cfg(feature = "hydrate")]
    if let Some(el) = scroller.get_untracked() {
        let options = web_sys::ScrollToOptions::new();
        options.set_top(0.0);
        options.set_behavior(if smooth {
            web_sys::ScrollBehavior::Smooth
        } else {
            web_sys::ScrollBehavior::Instant
        });
        el.scroll_to_with_scroll_to_options(&options);
    }
    let _ = (scroller, smooth);
}
