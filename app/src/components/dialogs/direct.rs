use crate::api::{people_of_room, ActOnRoom, ApiError, RoomAction};
use crate::protocol::{Identity, UserId};
use crate::state::{ChatState, Overlay, Ui};
use leptos::prelude::*;

/// Most people one may write to at once (the server's limit, the writer
/// not counted).
const MAX_OTHERS: usize = 9;

/// "New message": choose one person or a few, then open the conversation
/// with exactly them (the one there is, or a new one).
#[component]
pub fn NewDirect() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let ui = expect_context::<Ui>();
    let start = crate::components::server_call::<ActOnRoom>();
    let chosen = RwSignal::new(Vec::<UserId>::new());
    let filter = RwSignal::new(String::new());
    let people = LocalResource::new(move || {
        let open = ui.is(Overlay::NewDirect);
        async move {
            match open {
                true => Some(people_of_room(None).await),
                false => None,
            }
        }
    });
    let close = move || {
        ui.close(Overlay::NewDirect);
        chosen.set(Vec::new());
        filter.set(String::new());
        start.value().set(None);
    };
    Effect::new(move |_| {
        if let Some(Ok(Some(room))) = start.value().get() {
            close();
            state.go_to(room);
        }
    });
    let me = move || state.my_id();
    let shown = move || -> Vec<Identity> {
        let wanted = filter.get().to_lowercase();
        people
            .get()
            .flatten()
            .and_then(Result::ok)
            .map(|p| {
                p.known
                    .into_iter()
                    .filter(|i| Some(i.user_id) != me())
                    .filter(|i| wanted.is_empty() || i.name.to_lowercase().contains(&wanted))
                    .collect()
            })
            .unwrap_or_default()
    };
    let error = move || {
        people
            .get()
            .flatten()
            .and_then(|r| r.err().map(|e: ApiError| e.to_string()))
            .or_else(|| crate::components::refusal(start))
    };
    let full = move || chosen.with(|c| c.len() >= MAX_OTHERS);

    view! {
        <Show when=move || ui.is(Overlay::NewDirect)>
            <div class="name-prompt" role="dialog" aria-modal="true" aria-labelledby="new-direct-title">
                <form class="name-form new-direct-form" on:submit=move |ev| {
                    ev.prevent_default();
                    let people = chosen.get_untracked();
                    if !people.is_empty() {
                        start.dispatch(ActOnRoom { action: RoomAction::StartDirect { people } });
                    }
                }>
                    <h2 id="new-direct-title">"New message"</h2>
                    <label class="hint" for="direct-filter">"To"</label>
                    <input
                        id="direct-filter"
                        type="search"
                        placeholder="Find someone"
                        autocomplete="off"
                        prop:value=move || filter.get()
                        on:input=move |ev| filter.set(event_target_value(&ev))
                    />
                    <ul class="pick-list" aria-label="People">
                        <For
                            each=shown
                            key=|p| (p.user_id, p.name.clone())
                            children=move |p| {
                                let id = p.user_id;
                                let picked = move || chosen.with(|c| c.contains(&id));
                                view! {
                                    <li>
                                        <label>
                                            <input
                                                type="checkbox"
                                                prop:checked=picked
                                                disabled=move || full() && !picked()
                                                on:change=move |_| chosen.update(|c| match c.iter().position(|u| *u == id) {
                                                    Some(i) => { c.remove(i); }
                                                    None => c.push(id),
                                                })
                                            />
                                            <span class="author" style:background-color=p.color>{p.name}</span>
                                        </label>
                                    </li>
                                }
                            }
                        />
                    </ul>
                    <p class="hint" hidden=move || !full()>"A conversation holds at most 10 people."</p>
                    <p class="name-error" role="alert" hidden=move || error().is_none()>{error}</p>
                    <div class="name-actions">
                        <button type="button" class="cancel" on:click=move |_| close()>"Cancel"</button>
                        <button
                            type="submit"
                            class="join"
                            disabled=move || chosen.with(Vec::is_empty) || start.pending().get()
                        >
                            "Start"
                        </button>
                    </div>
                </form>
            </div>
        </Show>
    }
}
