//! The property the fuzzer checks, shared with a unit test that replays
//! the committed corpus (`app/fuzz/corpus/protocol`) on every test run.

use crate::protocol::{ClientEvent, ConnectParams, DeviceId};
use crate::validate::{is_invisible, MessageText, UserName, MESSAGE_MAX_CHARS, NAME_MAX_CHARS};

/// Feeds arbitrary bytes through everything that reads untrusted input and
/// asserts what must hold for any input: no panic, validated values obey
/// their rules, accepted events survive a round trip.
pub fn check(data: &[u8]) {
    if let Ok(event) = serde_json::from_slice::<ClientEvent>(data) {
        let json = serde_json::to_string(&event).expect("a parsed event serialises");
        let back: ClientEvent = serde_json::from_str(&json).expect("and parses again");
        assert_eq!(back, event);
        if let ClientEvent::Send { text, .. } = &event {
            check_text(text);
        }
    }
    let _ = serde_json::from_slice::<ConnectParams>(data);
    if let Ok(s) = std::str::from_utf8(data) {
        check_text(s);
        if let Ok(name) = UserName::parse(s) {
            let n = name.as_str();
            assert!(!n.is_empty() && n.chars().count() <= NAME_MAX_CHARS);
            assert_eq!(n, n.trim());
            assert!(!n.chars().any(char::is_control));
            assert!(visible(n));
        }
        if let Some(id) = DeviceId::parse(s) {
            assert_eq!(DeviceId::parse(&id.to_string()), Some(id));
        }
    }
}

fn check_text(s: &str) {
    if let Ok(text) = MessageText::parse(s) {
        let t = text.as_str();
        assert!(!t.is_empty() && t.chars().count() <= MESSAGE_MAX_CHARS);
        assert_eq!(t, t.trim());
        assert!(visible(t));
    }
}

fn visible(s: &str) -> bool {
    s.chars().any(|c| !c.is_whitespace() && !is_invisible(c))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fuzz_corpus_replays_cleanly() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/protocol");
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).expect("corpus directory") {
            let path = entry.expect("entry").path();
            super::check(&std::fs::read(&path).expect("corpus file"));
            count += 1;
        }
        assert!(count >= 10, "corpus has only {count} inputs");
    }
}
