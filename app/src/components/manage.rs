use crate::api::{
    admin_overview, create_invite, moderate, Admin, ModAction, NewInvite, Person, Role,
};
use crate::state::ChatState;
use leptos::prelude::*;

const DAY: u64 = 24 * 60 * 60;
const EXPIRIES: [(u64, &str); 4] = [
    (60 * 60, "1 hour"),
    (DAY, "1 day"),
    (7 * DAY, "7 days"),
    (30 * DAY, "30 days"),
];
const USES: [u32; 4] = [1, 5, 25, 100];

/// The owner's and moderators' dialog: who may join, invites, people
/// (roles and blocks) and, for the owner, the log. The server checks
/// every action again; this only leaves out what the role cannot do.
#[component]
pub fn ManageDialog() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let admin = RwSignal::new(None::<Admin>);
    let error = RwSignal::new(None::<String>);
    let invite = RwSignal::new(None::<NewInvite>);
    Effect::new(move |_| {
        if state.managing.get() {
            invite.set(None);
            error.set(None);
            leptos::task::spawn_local(async move {
                match admin_overview().await {
                    Ok(a) => admin.set(Some(a)),
                    Err(e) => error.set(Some(e.to_string())),
                }
            });
        }
    });
    let act = move |action: ModAction| {
        error.set(None);
        leptos::task::spawn_local(async move {
            match moderate(action).await {
                Ok(a) => admin.set(Some(a)),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let owner = move || admin.with(|a| a.as_ref().and_then(|a| a.role) == Some(Role::Owner));
    let expiry = RwSignal::new(DAY);
    let uses = RwSignal::new(1u32);
    let make_invite = move |_| {
        error.set(None);
        let (ttl, n) = (expiry.get_untracked(), uses.get_untracked());
        leptos::task::spawn_local(async move {
            match create_invite(ttl, n).await {
                Ok(made) => {
                    invite.set(Some(made));
                    if let Ok(a) = admin_overview().await {
                        admin.set(Some(a));
                    }
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let name_input = NodeRef::<leptos::html::Input>::new();

    view! {
        <Show when=move || state.managing.get()>
            <div class="name-prompt" role="dialog" aria-modal="true" aria-labelledby="manage-title">
                <div class="name-form manage">
                    <h2 id="manage-title">"Manage chat"</h2>
                    <p class="name-error" role="alert" hidden=move || error.get().is_none()>{move || error.get()}</p>
                    <Show when=owner>
                        <section class="manage-access" aria-label="Who may join">
                            <h3>"Who may join"</h3>
                            <label>
                                <input
                                    type="radio"
                                    name="access"
                                    value="open"
                                    prop:checked=move || admin.with(|a| a.as_ref().is_some_and(|a| !a.invite_only))
                                    on:change=move |_| act(ModAction::SetAccess { invite_only: false })
                                />
                                "Anyone with the address"
                            </label>
                            <label>
                                <input
                                    type="radio"
                                    name="access"
                                    value="invite"
                                    prop:checked=move || admin.with(|a| a.as_ref().is_some_and(|a| a.invite_only))
                                    on:change=move |_| act(ModAction::SetAccess { invite_only: true })
                                />
                                "Only people with an invite (everyone here now stays)"
                            </label>
                            <form class="chat-name" on:submit=move |ev| {
                                ev.prevent_default();
                                if let Some(el) = name_input.get_untracked() {
                                    act(ModAction::SetChatName { name: el.value() });
                                }
                            }>
                                <label for="chat-name-input">"Chat name"</label>
                                <input
                                    id="chat-name-input"
                                    type="text"
                                    maxlength="48"
                                    node_ref=name_input
                                    prop:value=move || admin.with(|a| a.as_ref().map(|a| a.chat_name.clone()).unwrap_or_default())
                                />
                                <button type="submit" class="cancel">"Save"</button>
                            </form>
                        </section>
                    </Show>
                    <section class="manage-invites" aria-label="Invites">
                        <h3>"Invites"</h3>
                        <div class="invite-form">
                            <label>
                                "Works for "
                                <select on:change=move |ev| expiry.set(event_target_value(&ev).parse().unwrap_or(DAY))>
                                    {EXPIRIES.into_iter().map(|(secs, label)| view! {
                                        <option value=secs.to_string() selected=secs == DAY>{label}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <label>
                                " for "
                                <select class="invite-uses" on:change=move |ev| uses.set(event_target_value(&ev).parse().unwrap_or(1))>
                                    {USES.into_iter().map(|n| view! {
                                        <option value=n.to_string()>{if n == 1 { "1 person".to_owned() } else { format!("{n} people") }}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <button type="button" class="join create-invite" on:click=make_invite>"Create invite"</button>
                        </div>
                        {move || invite.get().map(|made| view! {
                            <div class="new-invite">
                                // Server-drawn SVG of squares; it carries no user text.
                                <div class="qr" inner_html=made.qr_svg></div>
                                <a class="invite-link transfer-link" href=made.url.clone()>{made.url.clone()}</a>
                                <p class="hint">"Send this link to the person you invite. It is shown only now."</p>
                            </div>
                        })}
                        <ul class="invite-list">
                            <For
                                each=move || admin.with(|a| a.as_ref().map(|a| a.invites.clone()).unwrap_or_default())
                                key=|i| (i.id, i.uses)
                                children=move |i| {
                                    let id = i.id;
                                    let when = crate::time::clock(i.expires_at, true);
                                    view! {
                                        <li>
                                            <span>{format!("By {} · used {} of {} · until {when}", i.by, i.uses, i.max_uses)}</span>
                                            <button type="button" class="cancel revoke" on:click=move |_| act(ModAction::RevokeInvite { id })>"Revoke"</button>
                                        </li>
                                    }
                                }
                            />
                        </ul>
                    </section>
                    <section class="manage-people" aria-label="People">
                        <h3>"People"</h3>
                        <ul class="people-list">
                            <For
                                each=move || admin.with(|a| a.as_ref().map(|a| a.people.clone()).unwrap_or_default())
                                key=|p| (p.who.user_id, p.role, p.blocked, p.who.name.clone())
                                children=move |p| view! { <PersonRow person=p admin=admin act=act/> }
                            />
                        </ul>
                    </section>
                    <Show when=owner>
                        <section class="manage-log" aria-label="Moderation log">
                            <h3>"Moderation log"</h3>
                            <ul class="mod-log">
                                {move || admin.with(|a| a.as_ref().map(|a| a.log.clone()).unwrap_or_default())
                                    .into_iter()
                                    .map(|e| {
                                        let when = crate::time::clock(e.at, true);
                                        let target = e.target.map(|t| format!(" {t}")).unwrap_or_default();
                                        let detail = if e.detail.is_empty() { String::new() } else { format!(" ({})", e.detail) };
                                        view! { <li>{format!("{when} · {} {}{target}{detail}", e.actor, e.action)}</li> }
                                    })
                                    .collect_view()}
                            </ul>
                        </section>
                    </Show>
                    <div class="name-actions">
                        <button type="button" class="join" on:click=move |_| state.managing.set(false)>"Done"</button>
                    </div>
                </div>
            </div>
        </Show>
    }
}

/// One person with what the viewer may do to them.
#[component]
fn PersonRow(
    person: Person,
    admin: RwSignal<Option<Admin>>,
    act: impl Fn(ModAction) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let user = person.who.user_id;
    let me = state.my_id() == Some(user);
    let viewer = admin.with_untracked(|a| a.as_ref().and_then(|a| a.role));
    // The server's rule (roles::may_touch), so only offered buttons work.
    let touchable = !me
        && person.role != Some(Role::Owner)
        && match viewer {
            Some(Role::Owner) => true,
            Some(Role::Moderator) => person.role != Some(Role::Moderator),
            _ => false,
        };
    let badge = match (person.role, person.blocked) {
        (_, true) => "blocked",
        (Some(Role::Owner), _) => "owner",
        (Some(Role::Moderator), _) => "moderator",
        _ => "",
    };
    let moderator = person.role == Some(Role::Moderator);
    let blocked = person.blocked;
    view! {
        <li class="person" data-user=user.0>
            <span class="author" style:background-color=person.who.color.clone()>{person.who.name.clone()}</span>
            {(!badge.is_empty()).then(|| view! { <span class="role-badge">{badge}</span> })}
            <span class="spacer"></span>
            {(touchable && viewer == Some(Role::Owner) && !blocked).then(|| view! {
                <button type="button" class="cancel set-moderator" on:click=move |_| act(ModAction::SetModerator { user, moderator: !moderator })>
                    {if moderator { "Remove moderator" } else { "Make moderator" }}
                </button>
            })}
            {(touchable && !blocked).then(|| view! {
                <button type="button" class="danger block" on:click=move |_| act(ModAction::Block { user, remove_messages: false })>"Block"</button>
                <button type="button" class="danger block-remove" on:click=move |_| act(ModAction::Block { user, remove_messages: true })>"Block and remove messages"</button>
            })}
            {(touchable && blocked).then(|| view! {
                <button type="button" class="cancel unblock" on:click=move |_| act(ModAction::Unblock { user })>"Unblock"</button>
            })}
        </li>
    }
}
