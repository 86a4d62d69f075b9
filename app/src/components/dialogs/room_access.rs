use crate::api::{people_of_room, ActOnRoom, ApiError, RoomAction, RoomPeople};
use crate::protocol::{Identity, RoomId, RoomKind, UserId};
use crate::state::{ChatState, Overlay, Ui};
use leptos::prelude::*;

/// Who may read the shown room, and one's own list: make a room private
/// or open, add and remove members, leave, hide it, block a person's
/// direct messages. The server checks every action again; this leaves out
/// only what cannot apply to the room.
#[component]
pub fn RoomAccess() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let ui = expect_context::<Ui>();
    let act = crate::components::server_call::<ActOnRoom>();
    let people = LocalResource::new(move || {
        let open = ui.is(Overlay::RoomSettings);
        let room = state.room_id();
        act.version().track();
        async move {
            match open {
                true => Some(people_of_room(Some(room)).await),
                false => None,
            }
        }
    });
    let seen = move || -> RoomPeople {
        people
            .get()
            .flatten()
            .and_then(Result::ok)
            .unwrap_or_default()
    };
    let error = move || {
        people
            .get()
            .flatten()
            .and_then(|r| r.err().map(|e: ApiError| e.to_string()))
            .or_else(|| crate::components::refusal(act))
    };
    Effect::new(move |_| {
        if ui.is(Overlay::RoomSettings) {
            act.value().set(None);
        }
    });
    // Once left, the room's settings are no one's to show.
    let leaving = RwSignal::new(false);
    Effect::new(move |_| {
        if act.value().with(|v| matches!(v, Some(Ok(_)))) && leaving.get_untracked() {
            leaving.set(false);
            ui.close(Overlay::RoomSettings);
        }
    });
    let kind = move || {
        state
            .room
            .with(|r| r.as_ref().map_or(RoomKind::Open, |r| r.kind))
    };
    let room = move || state.room_id();
    let send = move |action: RoomAction| {
        act.dispatch(ActOnRoom { action });
    };
    let listed = move || {
        let id = room();
        state.rooms.with(|l| l.iter().any(|s| s.room.id == id))
    };
    // A conversation with one other person: whose messages to block.
    let other = move || -> Option<Identity> {
        let me = state.my_id();
        state.room.with(|r| {
            let r = r.as_ref()?;
            let others: Vec<_> = r.members.iter().filter(|m| Some(m.user_id) != me).collect();
            (r.kind == RoomKind::Direct && others.len() == 1).then(|| others[0].clone())
        })
    };
    let add_choice = RwSignal::new(String::new());
    let addable = move || -> Vec<Identity> {
        let p = seen();
        p.known
            .into_iter()
            .filter(|k| !p.members.iter().any(|m| m.user_id == k.user_id))
            .collect()
    };

    view! {
        <section class="room-access" aria-label="Who may read this room">
            <h3>"Who may read it"</h3>
            {move || match kind() {
                RoomKind::Open => view! {
                    <p class="hint">"Everyone in the chat."</p>
                    <Show when=move || room() != RoomId::DEFAULT>
                        <button type="button" class="make-private" on:click=move |_| send(RoomAction::SetPrivate {
                            room: room(),
                            private: true,
                            members: Vec::new(),
                        })>"Make private (only you, then add people)"</button>
                    </Show>
                }.into_any(),
                RoomKind::Private => view! {
                    <p class="hint">"Only its members."</p>
                    <button type="button" class="make-open" on:click=move |_| send(RoomAction::SetPrivate {
                        room: room(),
                        private: false,
                        members: Vec::new(),
                    })>"Open to everyone"</button>
                }.into_any(),
                RoomKind::Direct => view! {
                    <p class="hint">"The people it was started with."</p>
                }.into_any(),
            }}
            <Show when=move || kind() != RoomKind::Open>
                <ul class="member-list" aria-label="Members">
                    <For
                        each=move || seen().members
                        key=|m| (m.user_id, m.name.clone())
                        children=move |m| {
                            let user = m.user_id;
                            let label = format!("Remove {}", m.name);
                            view! {
                                <li>
                                    <span class="author" style:background-color=m.color>{m.name}</span>
                                    <Show when=move || kind() == RoomKind::Private && state.my_id() != Some(user)>
                                        <button type="button" class="cancel remove-member" aria-label=label.clone() on:click=move |_| send(RoomAction::RemoveMember {
                                            room: room(),
                                            user,
                                        })>"Remove"</button>
                                    </Show>
                                </li>
                            }
                        }
                    />
                </ul>
            </Show>
            <Show when=move || kind() == RoomKind::Private>
                <form class="add-member" on:submit=move |ev| {
                    ev.prevent_default();
                    if let Ok(id) = add_choice.get_untracked().parse::<i64>() {
                        send(RoomAction::AddMember { room: room(), user: UserId(id) });
                        add_choice.set(String::new());
                    }
                }>
                    <label for="add-member-choice">"Add"</label>
                    <select id="add-member-choice" on:change=move |ev| add_choice.set(event_target_value(&ev)) prop:value=move || add_choice.get()>
                        <option value="">"Choose someone"</option>
                        <For
                            each=addable
                            key=|k| (k.user_id, k.name.clone())
                            children=move |k| view! { <option value=k.user_id.0.to_string()>{k.name}</option> }
                        />
                    </select>
                    <button type="submit" class="join" disabled=move || add_choice.with(String::is_empty)>"Add"</button>
                </form>
            </Show>
            {move || other().map(|o| {
                let user = o.user_id;
                let blocked = move || seen().blocked.contains(&user);
                view! {
                    <button type="button" class="block-direct danger" on:click=move |_| send(RoomAction::BlockDirect {
                        user,
                        blocked: !blocked(),
                    })>
                        {move || if blocked() {
                            format!("Take direct messages from {} again", o.name)
                        } else {
                            format!("Block direct messages from {}", o.name)
                        }}
                    </button>
                }
            })}
            <div class="own-list">
                <Show when=move || kind() != RoomKind::Open>
                    <button type="button" class="leave danger" on:click=move |_| {
                        leaving.set(true);
                        send(RoomAction::Leave { room: room() });
                    }>"Leave"</button>
                </Show>
                <Show when=move || room() != RoomId::DEFAULT>
                    <button type="button" class="hide-room cancel" on:click=move |_| send(RoomAction::Hide {
                        room: room(),
                        hidden: listed(),
                    })>{move || if listed() { "Hide from my list" } else { "Show in my list" }}</button>
                </Show>
            </div>
            <p class="name-error" role="alert" hidden=move || error().is_none()>{error}</p>
        </section>
    }
}
