use crate::components::chunks::load_when;
use crate::protocol::{
    ChatMessage, ClientEvent, ClientMessageId, LinkPreview, MessageId, Quote, UserId, REACTIONS,
};
use crate::state::{now, ChatState, Delivery};
use crate::time;
use futures::FutureExt;
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos::wasm_split::{wasm_split, SplitLoaderError};

/// The actions menu, shared by the rows.
#[derive(Clone, Copy)]
pub struct MenuOpen {
    /// The message whose menu is open.
    pub open: RwSignal<Option<MessageId>>,
    /// Whether the menu's code has arrived.
    pub ready: RwSignal<bool>,
}

/// A message with what it needs of its neighbours.
#[derive(Debug, Clone, PartialEq)]
pub struct RowPlace {
    pub message: ChatMessage,
    /// Starts a group: shows the sender's name line.
    pub head: bool,
    /// The label of the day divider above it, if the day changed.
    pub day: Option<String>,
    /// The "new messages" divider goes above it.
    pub divider: bool,
}

#[component]
pub fn MessageRow(place: RowPlace) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let MenuOpen {
        open: menu,
        ready: actions_ready,
    } = expect_context::<MenuOpen>();
    let m = place.message;
    let id = m.id;
    let ts = m.ts;
    let time = move || time::clock(ts, state.local_times.get());
    let author = m.user_id;
    let mine = move || state.my_id() == Some(author);
    let mentioned = state.mentions_me(&m);
    let editable = move || {
        mine() && !m.deleted && now() - (ts as f64) < (state.edit_window_secs.get() as f64) * 1000.0
    };
    let day = place
        .day
        // Items of the list like the messages (a list holds only items),
        // read out as the day they begin.
        .map(|label| view! { <li class="day-divider"><span>{label}</span></li> });
    let divider = place
        .divider
        .then(|| view! { <li class="new-divider"><span>"New messages"</span></li> });
    // Static shapes (`Either`), not `into_any`: each `AnyView` keeps
    // tachys's async hydration of its view in the WASM, which this app
    // never runs.
    let text = if m.removed || m.deleted {
        let gone = if m.removed {
            "removed by a moderator"
        } else {
            "message deleted"
        };
        EitherOf3::A(view! { <span class="text deleted-text">{gone}</span> })
    } else if let Some(html) = m.rich.clone() {
        EitherOf3::B(view! { <div class="text rich" inner_html=html></div> })
    } else {
        let jumbo = crate::rich::emoji_only(&m.msg);
        EitherOf3::C(view! { <span class="text" class:jumbo=jumbo>{m.msg.clone()}</span> })
    };
    let attachment = m
        .attachment
        .clone()
        .map(|a| view! { <AttachmentView attachment=a/> });
    let card = m
        .preview
        .clone()
        .map(|card| view! { <LinkCard card id mine=Signal::derive(mine)/> });
    let reactions = m.reactions.clone();
    let body = m.msg.clone();
    let quoted = Quote::of(&m);
    let reply = m.reply.clone().map(|q| view! { <QuoteLink quote=q/> });
    // Opened from its link: brought into view (and read out) even
    // before, or without, the page's code.
    let linked = state.focus.get_untracked() == Some(id);
    view! {
        {day}
        {divider}
        <li
            class="message"
            class:grouped=!place.head
            class:mentioned=mentioned
            class:deleted=m.deleted
            class:focused=move || state.focus.get() == Some(id)
            data-id=m.id.0
            tabindex=linked.then_some("-1")
            autofocus=linked
        >
            {reply}
            <span class="author" style:background-color=m.color.clone()>{m.user_name.clone()}</span>
            {m.bot.then(|| view! { <span class="bot-badge">"bot"</span> })}
            // Screen readers would otherwise run the name into the text.
            <span class="sr-only">": "</span>
            {text}
            {attachment}
            {card}
            {m.edited.then(|| view! { <span class="edited">"(edited)"</span> })}
            <span class="sr-only">", at "</span>
            <time class="ts">{time}</time>
            // In the server's page too, disabled (and hidden) until the
            // code is here: the row keeps its height when it comes alive.
            {(!m.deleted).then(|| view! {
                <button
                    type="button"
                    class="row-menu"
                    aria-label="Message actions"
                    aria-expanded=move || (menu.get() == Some(id)).to_string()
                    disabled=move || !state.hydrated.get()
                    on:click=move |_| menu.update(|open| *open = if *open == Some(id) { None } else { Some(id) })
                >
                    "⋯"
                </button>
            })}
            {(!reactions.is_empty()).then(|| {
                let chips = reactions
                    .into_iter()
                    .map(|r| {
                        let names = r.users.iter().map(|u| u.name.clone()).collect::<Vec<_>>().join(", ");
                        let count = r.users.len();
                        let ids: Vec<_> = r.users.iter().map(|u| u.user_id).collect();
                        let pressed = Memo::new(move |_| state.me.with(|me| me.as_ref().is_some_and(|me| ids.contains(&me.user_id))));
                        let emoji = r.emoji.clone();
                        let label = format!("{} {count}: {names}", r.emoji);
                        view! {
                            <button
                                type="button"
                                class="chip"
                                title=names.clone()
                                aria-label=label
                                aria-pressed=move || pressed.get().to_string()
                                disabled=state.nameless()
                                on:click=move |_| react(state, id, emoji.clone(), !pressed.get_untracked())
                            >
                                {r.emoji.clone()} " " {count}
                            </button>
                        }
                    })
                    .collect_view();
                view! { <span class="reactions">{chips}</span> }
            })}
            {move || {
                (menu.get() == Some(id) && actions_ready.get())
                    .then(|| {
                        row_actions(id, author, Signal::derive(editable), Signal::derive(mine), body.clone(), quoted.clone())
                            .now_or_never()
                            .and_then(Result::ok)
                    })
                    .flatten()
            }}
        </li>
    }
}

// The menu is a chunk of its own: it is opened far less often than a
// conversation is read, and removing a message for everyone brings in the
// moderation calls.
#[wasm_split(chat_row_actions, wasm_split_path = ::leptos::wasm_split, fallible, preload(load_row_actions))]
fn row_actions(
    id: MessageId,
    author: UserId,
    editable: Signal<bool>,
    mine: Signal<bool>,
    text: String,
    quote: Quote,
) -> Result<AnyView, SplitLoaderError> {
    Ok(view! { <RowActions id author editable mine text quote/> }.into_any())
}

/// Fetches the menu's chunk the first time any row's menu opens; a failure
/// closes the menu with a notice.
pub fn row_actions_loader(state: ChatState, menu: RwSignal<Option<MessageId>>) -> RwSignal<bool> {
    load_when(
        state,
        move || menu.get().is_some(),
        move || menu.set(None),
        load_row_actions,
    )
}

/// What can be done to a message: react, reply, copy its link, and for
/// its author edit and delete.
#[component]
fn RowActions(
    id: MessageId,
    author: UserId,
    editable: Signal<bool>,
    mine: Signal<bool>,
    text: String,
    quote: Quote,
) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let MenuOpen { open: menu, .. } = expect_context::<MenuOpen>();
    let confirming = RwSignal::new(false);
    let copied = RwSignal::new(false);
    let picks = REACTIONS
        .iter()
        .map(|emoji| {
            let emoji = emoji.to_string();
            let label = format!("React with {emoji}");
            let e = emoji.clone();
            view! {
                <button type="button" class="pick" aria-label=label on:click=move |_| {
                    react(state, id, e.clone(), true);
                    menu.set(None);
                }>{emoji}</button>
            }
        })
        .collect_view();
    view! {
        <span class="row-actions" role="group" aria-label="Message actions">
            <span class="picks">{picks}</span>
            <Show when=move || state.can_post()>
                <button type="button" class="reply" on:click={
                    let quote = quote.clone();
                    move |_| {
                        state.editing.set(None);
                        state.replying.set(Some(quote.clone()));
                        state.focus_composer();
                        menu.set(None);
                    }
                }>"Reply"</button>
            </Show>
            <button type="button" class="copy-link" on:click=move |_| {
                crate::components::copy_link(state, id, copied);
            }>{move || if copied.get() { "Link copied" } else { "Copy link" }}</button>
            <Show when=move || editable.get()>
                <button type="button" class="edit" on:click={
                    let text = text.clone();
                    move |_| {
                        state.start_editing(id, text.clone());
                        menu.set(None);
                    }
                }>"Edit"</button>
            </Show>
            <Show when=move || !mine.get() && state.my_id().is_some()>
                <button type="button" class="write-to" on:click=move |_| {
                    menu.set(None);
                    crate::components::write_to(state, author);
                }>"Message"</button>
            </Show>
            <Show when=move || !mine.get() && state.role.get().is_some_and(crate::api::Role::moderates)>
                <button type="button" class="remove danger" on:click=move |_| {
                    if !confirming.get_untracked() {
                        confirming.set(true);
                        return;
                    }
                    menu.set(None);
                    // Not an `Action`: the menu (and anything created in
                    // it) is gone at once, and the answer outlives it.
                    leptos::task::spawn_local(async move {
                        let action = crate::api::ModAction::RemoveMessage { id };
                        if let Err(e) = crate::api::moderate(action).await {
                            state.notice.set(Some(e.to_string()));
                        }
                    });
                }>{move || if confirming.get() { "Remove for everyone?" } else { "Remove" }}</button>
            </Show>
            <Show when=move || mine.get()>
                <button type="button" class="delete danger" on:click=move |_| {
                    if !confirming.get_untracked() {
                        confirming.set(true);
                        return;
                    }
                    state.send(ClientEvent::Delete { client_id: ClientMessageId::new_random(), message_id: id });
                    menu.set(None);
                }>{move || if confirming.get() { "Delete for everyone?" } else { "Delete" }}</button>
            </Show>
        </span>
    }
}

fn react(state: ChatState, id: MessageId, emoji: String, on: bool) {
    state.send(ClientEvent::React {
        client_id: ClientMessageId::new_random(),
        message_id: id,
        emoji,
        on,
    });
}

/// The message a reply answers: its author and first line, linking to it
/// (in place with the page's code, through its permalink without).
#[component]
fn QuoteLink(quote: Quote) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let id = quote.id;
    let href = move || {
        state
            .room
            .with(|r| r.as_ref().map(|r| format!("/r/{}/m/{}", r.slug, id.0)))
    };
    let line = if quote.deleted {
        "message deleted".to_owned()
    } else {
        quote.line
    };
    let label = format!("In reply to {}: {line}", quote.user_name);
    view! {
        <a
            class="quote"
            class:deleted=quote.deleted
            href=href
            aria-label=label
            on:click=move |ev| {
                ev.prevent_default();
                crate::components::jump_to(state, id);
            }
        >
            <span class="quote-author" style:border-color=quote.color>{quote.user_name}</span>
            " "
            <span class="quote-line">{line}</span>
        </a>
    }
}

/// One of this device's messages that the server has not acknowledged.
#[component]
pub fn OutboxRow(client_id: ClientMessageId, text: String) -> impl IntoView {
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
                    Some(Delivery::Failed(reason)) => Either::Left(view! {
                        <span class="failed-reason">{reason}</span>
                        <button type="button" class="retry" on:click=move |_| state.retry(client_id)>
                            "Retry"
                        </button>
                    }),
                    _ => Either::Right(view! { <span class="pending">"sending…"</span> }),
                }}
            </span>
        </li>
    }
}

/// A photo (its thumbnail, opening the full picture) or a file to download.
/// A link's preview: the page's picture (from this server), site, title
/// and description, all one link to the page; its author may take it away.
#[component]
fn LinkCard(card: LinkPreview, id: MessageId, mine: Signal<bool>) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let image = card.image.map(|i| {
        let src = format!("/files/{}", i.id);
        view! { <img src=src alt="" width=i.width height=i.height loading="lazy"/> }
    });
    let site =
        (!card.site.is_empty()).then(|| view! { <span class="card-site">{card.site}</span> });
    let description = (!card.description.is_empty())
        .then(|| view! { <span class="card-description">{card.description}</span> });
    view! {
        <div class="link-card">
            <a href=card.url target="_blank" rel="noopener noreferrer nofollow">
                {image}
                <span class="card-words">
                    {site}
                    <span class="card-title">{card.title}</span>
                    {description}
                </span>
            </a>
            <Show when=move || mine.get() && state.hydrated.get()>
                <button
                    type="button"
                    class="card-remove"
                    aria-label="Remove the preview"
                    title="Remove the preview"
                    on:click=move |_| {
                        state.send(ClientEvent::HidePreview {
                            client_id: ClientMessageId::new_random(),
                            message_id: id,
                        });
                    }
                >
                    "×"
                </button>
            </Show>
        </div>
    }
}

#[component]
fn AttachmentView(attachment: crate::protocol::Attachment) -> impl IntoView {
    let full = format!("/files/{}", attachment.id);
    match attachment.image {
        Some(image) => {
            let thumb = format!("/files/{}", image.thumb);
            // The thumbnail's own size, from the photo's, so the row does not jump.
            let scale = f64::from(480u32) / f64::from(image.width.max(image.height).max(1));
            let scale = scale.min(1.0);
            let w = (f64::from(image.width) * scale).round() as u32;
            let h = (f64::from(image.height) * scale).round() as u32;
            let label = format!("Photo: {}", attachment.name);
            Either::Left(view! {
                <a class="photo" href=full target="_blank" rel="noopener" aria-label=label>
                    <img src=thumb alt=attachment.name width=w height=h loading="lazy"/>
                </a>
            })
        }
        None => {
            let size = human_size(attachment.size);
            Either::Right(view! {
                <a class="file" href=full download=attachment.name.clone()>
                    "📎 " {attachment.name.clone()} " (" {size} ")"
                </a>
            })
        }
    }
}

/// Integer arithmetic only: formatting a float pulls the float printing
/// code into the WASM.
fn human_size(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    match bytes {
        b if b >= MB => {
            let tenths = (b * 10 + MB / 2) / MB;
            format!("{}.{} MB", tenths / 10, tenths % 10)
        }
        b if b >= 1024 => format!("{} KB", b / 1024),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(900), "900 bytes");
        assert_eq!(human_size(2048), "2 KB");
        assert_eq!(human_size(1024 * 1024), "1.0 MB");
        assert_eq!(human_size(1024 * 1024 * 5 / 2), "2.5 MB");
        assert_eq!(human_size(1024 * 1024 * 10 - 1), "10.0 MB");
    }
}

/// The row rendered to HTML, as the server sends it.
#[cfg(all(test, feature = "ssr"))]
mod rendered {
    use super::*;
    use crate::protocol::{ChatMessage, RoomId, Seq, UserId};
    use leptos::reactive::owner::Owner;

    fn message(text: &str) -> ChatMessage {
        ChatMessage {
            id: MessageId(7),
            user_id: UserId(2),
            user_name: "Bo <b>".into(),
            color: "rgb(210,150,150)".into(),
            msg: text.into(),
            ts: 1_700_000_000_000,
            room: RoomId::DEFAULT,
            seq: Seq(7),
            edited: false,
            deleted: false,
            removed: false,
            reactions: Vec::new(),
            mentions: Vec::new(),
            attachment: None,
            rich: None,
            reply: None,
            preview: None,
            bot: false,
        }
    }

    /// The row as the server renders it.
    fn html(message: ChatMessage) -> String {
        let owner = Owner::new();
        owner.set();
        provide_context(ChatState::new());
        provide_context(MenuOpen {
            open: RwSignal::new(None),
            ready: RwSignal::new(false),
        });
        let place = RowPlace {
            message,
            day: None,
            divider: false,
            head: true,
        };
        view! { <MessageRow place/> }.to_html()
    }

    #[test]
    fn a_plain_message_shows_its_author_and_text() {
        let row = html(message("hello there"));
        assert!(
            row.contains(r#"<span class="text">hello there</span>"#),
            "{row}"
        );
        assert!(row.contains("Bo &lt;b&gt;"), "the name is text: {row}");
        assert!(!row.contains("(edited)"));
    }

    #[test]
    fn an_edited_message_says_so() {
        let mut m = message("better now");
        m.edited = true;
        let row = html(m);
        assert!(
            row.contains("better now") && row.contains("(edited)"),
            "{row}"
        );
    }

    #[test]
    fn a_deleted_message_shows_no_text() {
        let mut m = message("");
        m.deleted = true;
        let row = html(m);
        assert!(row.contains("message deleted"), "{row}");
        let classes = row.split("class=\"").nth(1).unwrap_or_default();
        assert!(
            classes
                .split('"')
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .any(|c| c == "deleted"),
            "{row}"
        );
    }

    #[test]
    fn a_removed_message_says_a_moderator_removed_it() {
        let mut m = message("");
        m.deleted = true;
        m.removed = true;
        let row = html(m);
        assert!(row.contains("removed by a moderator"), "{row}");
        assert!(!row.contains("message deleted"), "{row}");
    }

    #[test]
    fn hostile_text_stays_text() {
        let evil = r#"<img src=x onerror="alert(1)"><script>alert(2)</script>&amp;"#;
        let row = html(message(evil));
        assert!(!row.contains("<img") && !row.contains("<script"), "{row}");
        assert!(
            row.contains("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;")
                || row.contains("&lt;img src=x onerror=\"alert(1)\"&gt;"),
            "{row}"
        );
        assert!(row.contains("&amp;amp;"), "entities are not decoded: {row}");
    }
}
