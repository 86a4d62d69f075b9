//! The `@` list under the message box: the room's people whose names
//! start with what follows the `@` being typed, chosen with the arrows and
//! Enter or a tap.

use crate::protocol::{Identity, UserId};
use crate::state::{fold, ChatState};
use leptos::ev::KeyboardEvent;
use leptos::prelude::*;

/// Suggestions shown for an @mention.
const MAX_SUGGESTIONS: usize = 6;

/// The people offered for the `@word` being typed, and which one the
/// arrows are on.
#[derive(Clone, Copy)]
pub struct Mentions {
    pub offered: RwSignal<Vec<Identity>>,
    pub active: RwSignal<usize>,
}

impl Mentions {
    pub fn new() -> Self {
        Self {
            offered: RwSignal::new(Vec::new()),
            active: RwSignal::new(0),
        }
    }

    pub fn open(&self) -> bool {
        self.offered.with(|s| !s.is_empty())
    }

    pub fn close(&self) {
        self.offered.set(Vec::new());
    }

    /// Offers the people whose names start with the `@word` at the caret.
    pub fn follow(&self, state: ChatState, text: &str, caret: usize) {
        let found = match mention_at(text, caret) {
            Some((start, end)) => {
                let query = fold(&text[start + 1..end]);
                state
                    .members()
                    .into_iter()
                    .filter(|p| fold(&p.name).starts_with(&query))
                    .take(MAX_SUGGESTIONS)
                    .collect()
            }
            None => Vec::new(),
        };
        self.active.set(0);
        self.offered.set(found);
    }

    /// Puts `@Name ` in place of the `@word` at the caret.
    pub fn pick(&self, state: ChatState, who: Identity) {
        if let Some(el) = state.composer.get_untracked() {
            let caret = el.selection_start().ok().flatten().unwrap_or(0) as usize;
            let text = state.draft.get_untracked();
            if let Some((start, end)) = mention_at(&text, caret) {
                let inserted = format!("@{} ", who.name);
                let next = format!("{}{}{}", &text[..start], inserted, &text[end..]);
                let caret = (start + inserted.len()) as u32;
                state.draft.set(next);
                request_animation_frame(move || {
                    if let Some(el) = state.composer.get_untracked() {
                        let _ = el.set_selection_range(caret, caret);
                        let _ = el.focus();
                    }
                });
            }
        }
        self.close();
    }

    /// Opens a direct conversation with `who` instead of naming them: the
    /// `@word` at the caret goes, the rest of the draft stays.
    pub fn write_to(&self, state: ChatState, who: Identity) {
        if let Some(el) = state.composer.get_untracked() {
            let caret = el.selection_start().ok().flatten().unwrap_or(0) as usize;
            let text = state.draft.get_untracked();
            if let Some((start, end)) = mention_at(&text, caret) {
                state
                    .draft
                    .set(format!("{}{}", &text[..start], &text[end..]));
            }
        }
        self.close();
        crate::components::write_to(state, who.user_id);
    }

    /// Handles the list's keys while it is open; whether the key was its.
    pub fn key(&self, state: ChatState, ev: &KeyboardEvent) -> bool {
        let open = self.offered.with_untracked(|s| s.len());
        if open == 0 {
            return false;
        }
        match ev.key().as_str() {
            "ArrowDown" => {
                ev.prevent_default();
                self.active.update(|a| *a = (*a + 1) % open);
            }
            "ArrowUp" => {
                ev.prevent_default();
                self.active.update(|a| *a = (*a + open - 1) % open);
            }
            "Enter" | "Tab" => {
                ev.prevent_default();
                let who = self
                    .offered
                    .with_untracked(|s| s.get(self.active.get_untracked()).cloned());
                if let Some(who) = who {
                    self.pick(state, who);
                }
            }
            "Escape" => self.close(),
            _ => return false,
        }
        true
    }
}

/// The list itself, above the box.
#[component]
pub fn MentionSuggestions(mentions: Mentions) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let Mentions { offered, active } = mentions;
    // The highlighted person, unless it is oneself: a direct message to
    // them is offered beside the list (not in it: an option holds no
    // control of its own).
    let other = move || {
        offered
            .with(|o| o.get(active.get()).cloned())
            .filter(|who| state.my_id() != Some(who.user_id))
    };
    view! {
        <Show when=move || mentions.open()>
          <div class="mention-panel">
            <ul id="mention-list" class="mention-list" role="listbox" aria-label="People to mention">
                {move || {
                    offered
                        .get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, who)| {
                            let name = who.name.clone();
                            let color = who.color.clone();
                            view! {
                                <li
                                    id=format!("mention-{i}")
                                    role="option"
                                    class="mention-option"
                                    aria-selected=move || (active.get() == i).to_string()
                                    on:mousedown=move |ev| {
                                        // Keep the focus (and the caret) in the box.
                                        ev.prevent_default();
                                        mentions.pick(state, who.clone());
                                    }
                                >
                                    <span class="author" style:background-color=color>{name}</span>
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
            {move || other().map(|who| {
                let label = format!("Message {} directly", who.name);
                view! {
                    <button
                        type="button"
                        class="mention-direct"
                        // Keep the focus (and the caret) in the box.
                        on:mousedown=|ev| ev.prevent_default()
                        on:click=move |_| mentions.write_to(state, who.clone())
                    >
                        {label}
                    </button>
                }
            })}
          </div>
        </Show>
    }
}

/// The `@word` the caret is in or just after: its byte range, `@`
/// included. An `@` counts only at the start or after a space.
pub fn mention_at(text: &str, caret: usize) -> Option<(usize, usize)> {
    let caret = caret.min(text.len());
    let before = text.get(..caret)?;
    let start = before.rfind('@')?;
    let word = &before[start + 1..];
    let starts_word = start == 0 || before[..start].ends_with(char::is_whitespace);
    (starts_word && !word.contains(char::is_whitespace)).then_some((start, caret))
}

/// The people the text names as `@Name`.
pub fn mentioned(text: &str, people: &[Identity]) -> Vec<UserId> {
    people
        .iter()
        .filter(|p| text.contains(&format!("@{}", p.name)))
        .map(|p| p.user_id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mention_being_typed_is_found() {
        assert_eq!(mention_at("hi @An", 6), Some((3, 6)));
        assert_eq!(mention_at("@", 1), Some((0, 1)));
        assert_eq!(mention_at("mail a@b", 8), None, "not after a letter");
        assert_eq!(mention_at("hi @Ann and", 11), None, "a space ended it");
        assert_eq!(mention_at("no at here", 5), None);
    }

    #[test]
    fn mentions_come_from_the_text() {
        let ann = Identity {
            user_id: UserId(1),
            name: "Ann".into(),
            color: String::new(),
        };
        let bo = Identity {
            user_id: UserId(2),
            name: "Bo".into(),
            color: String::new(),
        };
        assert_eq!(
            mentioned("hey @Ann!", &[ann.clone(), bo.clone()]),
            vec![UserId(1)]
        );
        assert!(mentioned("hey Ann", &[ann, bo]).is_empty());
    }
}
