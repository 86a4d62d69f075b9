use crate::api::{
    admin_overview, Admin, ApiError, BotAction, BotInfo, CreateInvite, ManageBots, ModAction,
    Moderate, NewInvite, Person, Role,
};
use crate::state::{ChatState, Overlay, Ui};
use leptos::prelude::*;

const DAY: u64 = 24 * 60 * 60;
const EXPIRIES: [(u64, &str); 4] = [
    (60 * 60, "1 hour"),
    (DAY, "1 day"),
    (7 * DAY, "7 days"),
    (30 * DAY, "30 days"),
];
const USES: [u32; 4] = [1, 5, 25, 100];

/// What the sections of the dialog share: the overview and the action
/// that changes it.
#[derive(Clone, Copy)]
struct Managing {
    /// The latest overview (roles, people, invites, log), reread after
    /// every action.
    admin: Signal<Option<Admin>>,
    act: crate::components::ServerCall<Moderate>,
}

impl Managing {
    fn act(self, action: ModAction) {
        self.act.dispatch(Moderate { action });
    }

    fn owner(self) -> bool {
        self.admin
            .with(|a| a.as_ref().and_then(|a| a.role) == Some(Role::Owner))
    }

    fn with<T: Default>(self, f: impl FnOnce(&Admin) -> T) -> T {
        self.admin.with(|a| a.as_ref().map(f).unwrap_or_default())
    }
}

/// The owner's and moderators' dialog: who may join, invites, people
/// (roles and blocks) and, for the owner, the log. The server checks
/// every action again; this only leaves out what the role cannot do.
#[component]
pub fn ManageDialog() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let act = crate::components::server_call::<Moderate>();
    let invite = crate::components::server_call::<CreateInvite>();
    // Read when the dialog opens and again after each action.
    let overview = LocalResource::new(move || {
        let open = ui.is(Overlay::Manage);
        act.version().track();
        invite.version().track();
        async move {
            match open {
                true => Some(admin_overview().await),
                false => None,
            }
        }
    });
    let admin = Signal::derive(move || overview.get().flatten().and_then(Result::ok));
    let error = move || {
        overview
            .get()
            .flatten()
            .and_then(|r| r.err().map(|e: ApiError| e.to_string()))
            .or_else(|| crate::components::refusal(act))
            .or_else(|| crate::components::refusal(invite))
    };
    let managing = Managing { admin, act };
    provide_context(managing);
    Effect::new(move |_| {
        if ui.is(Overlay::Manage) {
            invite.value().set(None);
            act.value().set(None);
        }
    });

    view! {
        <Show when=move || ui.is(Overlay::Manage)>
            <div class="name-prompt" role="dialog" aria-modal="true" aria-labelledby="manage-title">
                <div class="name-form manage">
                    <h2 id="manage-title">"Manage chat"</h2>
                    <p class="name-error" role="alert" hidden=move || error().is_none()>{error}</p>
                    <AccessSection/>
                    <InviteSection invite=invite/>
                    <BotsSection/>
                    <PeopleSection/>
                    <LogSection/>
                    <div class="name-actions">
                        <button type="button" class="join" on:click=move |_| ui.close(Overlay::Manage)>"Done"</button>
                    </div>
                </div>
            </div>
        </Show>
    }
}

/// The owner's: open to anyone or by invite only, and the chat's name.
#[component]
fn AccessSection() -> impl IntoView {
    let m = expect_context::<Managing>();
    let name_input = NodeRef::<leptos::html::Input>::new();
    view! {
        <Show when=move || m.owner()>
        <section class="manage-access" aria-label="Who may join">
            <h3>"Who may join"</h3>
            <label>
                <input
                    type="radio"
                    name="access"
                    value="open"
                    prop:checked=move || m.with(|a| !a.invite_only)
                    on:change=move |_| m.act(ModAction::SetAccess { invite_only: false })
                />
                "Anyone with the address"
            </label>
            <label>
                <input
                    type="radio"
                    name="access"
                    value="invite"
                    prop:checked=move || m.with(|a| a.invite_only)
                    on:change=move |_| m.act(ModAction::SetAccess { invite_only: true })
                />
                "Only people with an invite (everyone here now stays)"
            </label>
            <form class="chat-name" on:submit=move |ev| {
                ev.prevent_default();
                if let Some(el) = name_input.get_untracked() {
                    m.act(ModAction::SetChatName { name: el.value() });
                }
            }>
                <label for="chat-name-input">"Chat name"</label>
                <input
                    id="chat-name-input"
                    type="text"
                    maxlength="48"
                    node_ref=name_input
                    prop:value=move || m.with(|a| a.chat_name.clone())
                />
                <button type="submit" class="cancel">"Save"</button>
            </form>
            <label class="previews-setting">
                <input
                    type="checkbox"
                    name="previews"
                    prop:checked=move || m.with(|a| a.previews)
                    on:change=move |ev| m.act(ModAction::SetPreviews { on: event_target_checked(&ev) })
                />
                "Show previews of links (the server fetches each linked page)"
            </label>
            <p class="hint export-all">
                "Export the whole chat, every room: "
                <a href="/export.html?all=1" download>"as a page"</a>
                " · "
                <a href="/export.json?all=1" download>"as JSON"</a>
            </p>
        </section>
    </Show>
    }
}

/// Bots: made with a name (and a webhook for mentions and direct
/// messages), their key shown once with how to use it; renewed, revoked.
#[component]
fn BotsSection() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let action = crate::components::server_call::<ManageBots>();
    let name = NodeRef::<leptos::html::Input>::new();
    let hook = NodeRef::<leptos::html::Input>::new();
    let color = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if ui.is(Overlay::Manage) {
            action.dispatch(ManageBots {
                action: BotAction::List,
            });
        }
    });
    let latest = move || action.value().get().and_then(Result::ok);
    let bots = move || latest().map(|b| b.bots).unwrap_or_default();
    let error = move || crate::components::refusal(action);
    view! {
        <section class="manage-bots" aria-label="Bots">
            <h3>"Bots"</h3>
            <form class="bot-form" on:submit=move |ev| {
                ev.prevent_default();
                let value = |n: NodeRef<leptos::html::Input>| n.get_untracked().map(|el| el.value()).unwrap_or_default();
                action.dispatch(ManageBots {
                    action: BotAction::Create { name: value(name), webhook: value(hook), color: value(color) },
                });
            }>
                <label for="bot-name">"Name"</label>
                <input id="bot-name" type="text" maxlength="32" node_ref=name required/>
                <label for="bot-color">"Colour"</label>
                <input id="bot-color" type="color" value="#ffd28c" node_ref=color/>
                <label for="bot-hook">"Webhook (optional): called when it is mentioned or messaged"</label>
                <input id="bot-hook" type="url" placeholder="https://" node_ref=hook/>
                <button type="submit" class="join create-bot" disabled=move || action.pending().get()>"Create bot"</button>
            </form>
            <p class="name-error" role="alert" hidden=move || error().is_none()>{error}</p>
            {move || latest().and_then(|b| b.new_key).map(|key| {
                // This page's own address goes before the path.
                let post = format!("https://<this chat>/api/bot/{}/rooms/general/messages", key.key);
                view! {
                    <div class="new-bot-key">
                        <p class="hint">"Its key, shown only now:"</p>
                        <code class="bot-key">{key.key.clone()}</code>
                        <p class="hint">"Post as the bot:"</p>
                        <code class="bot-curl">{format!("curl -d 'Build passed' {post}")}</code>
                        <p class="hint">"Webhook calls are signed with this secret (X-Chat-Signature: sha256=HMAC of the body):"</p>
                        <code class="bot-secret">{key.secret}</code>
                    </div>
                }
            })}
            <ul class="bot-list">
                <For
                    each=bots
                    key=|b: &BotInfo| (b.who.user_id, b.revoked, b.webhook.clone())
                    children=move |b: BotInfo| {
                        let user = b.who.user_id;
                        let revoked = b.revoked;
                        let status = if revoked {
                            "revoked".to_owned()
                        } else {
                            b.webhook.clone().map_or("no webhook".to_owned(), |w| format!("webhook {w}"))
                        };
                        view! {
                            <li>
                                <span class="author" style:background-color=b.who.color.clone()>{b.who.name.clone()}</span>
                                <span class="bot-status">{status}</span>
                                <Show when=move || !revoked>
                                    <button type="button" class="cancel renew-bot" on:click=move |_| {
                                        action.dispatch(ManageBots { action: BotAction::RenewKey { user } });
                                    }>"New key"</button>
                                    <button type="button" class="cancel revoke-bot" on:click=move |_| {
                                        action.dispatch(ManageBots { action: BotAction::Revoke { user } });
                                    }>"Revoke"</button>
                                </Show>
                            </li>
                        }
                    }
                />
            </ul>
        </section>
    }
}

/// Invite links: made for a time and a number of people, listed while
/// they work, revoked.
#[component]
fn InviteSection(invite: crate::components::ServerCall<CreateInvite>) -> impl IntoView {
    let m = expect_context::<Managing>();
    let expiry = RwSignal::new(DAY);
    let uses = RwSignal::new(1u32);
    let make_invite = move |_| {
        invite.dispatch(CreateInvite {
            expires_in_secs: expiry.get_untracked(),
            max_uses: uses.get_untracked(),
        });
    };
    let made = move || -> Option<NewInvite> { invite.value().get().and_then(Result::ok) };
    view! {
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
            <button type="button" class="join create-invite" disabled=move || invite.pending().get() on:click=make_invite>"Create invite"</button>
        </div>
        {move || made().map(|made| view! {
            <div class="new-invite">
                // Server-drawn SVG of squares; it carries no user text.
                <div class="qr" inner_html=made.qr_svg></div>
                <a class="invite-link transfer-link" href=made.url.clone()>{made.url.clone()}</a>
                <p class="hint">"Send this link to the person you invite. It is shown only now."</p>
            </div>
        })}
        <ul class="invite-list">
            <For
                each=move || m.with(|a| a.invites.clone())
                key=|i| (i.id, i.uses)
                children=move |i| {
                    let id = i.id;
                    let when = crate::time::clock(i.expires_at, true);
                    view! {
                        <li>
                            <span>{format!("By {} · used {} of {} · until {when}", i.by, i.uses, i.max_uses)}</span>
                            <button type="button" class="cancel revoke" on:click=move |_| m.act(ModAction::RevokeInvite { id })>"Revoke"</button>
                        </li>
                    }
                }
            />
        </ul>
    </section>
    }
}

/// Everyone with a name, with what the viewer may do to each.
#[component]
fn PeopleSection() -> impl IntoView {
    let m = expect_context::<Managing>();
    view! {
        <section class="manage-people" aria-label="People">
        <h3>"People"</h3>
        <ul class="people-list">
            <For
                each=move || m.with(|a| a.people.clone())
                key=|p| (p.who.user_id, p.role, p.blocked, p.who.name.clone())
                children=move |p| view! { <PersonRow person=p/> }
            />
        </ul>
    </section>
    }
}

/// The owner's: who did what, to whom, when.
#[component]
fn LogSection() -> impl IntoView {
    let m = expect_context::<Managing>();
    view! {
        <Show when=move || m.owner()>
        <section class="manage-log" aria-label="Moderation log">
            <h3>"Moderation log"</h3>
            <ul class="mod-log">
                {move || m.with(|a| a.log.clone())
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
    }
}

/// One person with what the viewer may do to them.
#[component]
fn PersonRow(person: Person) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let m = expect_context::<Managing>();
    let act = move |action| m.act(action);
    let user = person.who.user_id;
    let me = state.my_id() == Some(user);
    let viewer = m.admin.with_untracked(|a| a.as_ref().and_then(|a| a.role));
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
