//! How a store marks where a search matched, whatever the engine: the
//! matched words between two control characters, which are split out
//! before anything is shown (always as text).

/// Before a matched word (FTS5's `highlight` and the shared mode's
/// marking use the same two characters).
pub const OPEN: char = '\u{1}';
/// After a matched word.
pub const CLOSE: char = '\u{2}';

/// Splits marked text into (text, matched) parts.
pub fn parts(marked: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut inside = false;
    for c in marked.chars() {
        match c {
            OPEN | CLOSE => {
                if !current.is_empty() {
                    out.push((std::mem::take(&mut current), inside));
                }
                inside = c == OPEN;
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push((current, inside));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_text_splits_into_parts() {
        assert_eq!(
            parts("say \u{1}hello\u{2} <b>"),
            vec![
                ("say ".to_owned(), false),
                ("hello".to_owned(), true),
                (" <b>".to_owned(), false)
            ]
        );
        assert_eq!(parts(""), Vec::<(String, bool)>::new());
    }
}
