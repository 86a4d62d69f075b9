use crate::state::{now, ChatState};
use leptos::prelude::*;

/// "Ann is typing…", "Ann and Bo are typing…", "Several people are
/// typing…". Each typist shows for a few seconds after their last keystroke
/// news, and until their message arrives.
#[component]
pub fn TypingLine() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let tick = RwSignal::new(0u32);
    // Expire typists even when nothing else changes.
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || tick.update(|t| *t += 1),
            std::time::Duration::from_secs(1),
        );
        on_cleanup(move || {
            if let Ok(h) = handle {
                h.clear();
            }
        });
    }
    let text = move || {
        tick.track();
        let at = now();
        let names: Vec<String> = state.typing.with(|t| {
            t.iter()
                .filter(|x| x.until > at)
                .map(|x| x.who.name.clone())
                .collect()
        });
        match names.as_slice() {
            [] => String::new(),
            [a] => format!("{a} is typing…"),
            [a, b] => format!("{a} and {b} are typing…"),
            _ => "Several people are typing…".to_owned(),
        }
    };
    view! { <p class="typing" aria-live="polite">{text}</p> }
}
