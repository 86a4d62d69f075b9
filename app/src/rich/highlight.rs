//! Code blocks coloured by their language, on the server: the grammar
//! parses the code into scopes, and each run of text gets one of a few
//! known classes (keyword, string, comment, number, function, type), drawn
//! here with every piece of text escaped. The page's stylesheet colours
//! the classes for light and dark; nothing runs in the browser.

use super::html::escape;
use std::sync::LazyLock;
use syntect::easy::ScopeRangeIterator;
use syntect::parsing::{ParseState, Scope, ScopeStack, SyntaxSet};
use syntect::util::LinesWithEndings;

/// Longer code is shown plain: a message is at most a few thousand
/// characters, and this bounds the work per block.
const MAX_BYTES: usize = 16 * 1024;

static SYNTAXES: LazyLock<SyntaxSet> = LazyLock::new(SyntaxSet::load_defaults_newlines);

/// Scope prefixes and their class, most specific first.
static CLASSES: LazyLock<Vec<(Scope, &'static str)>> = LazyLock::new(|| {
    [
        ("comment", "hl-c"),
        ("string", "hl-s"),
        ("constant.character", "hl-s"),
        ("constant.numeric", "hl-n"),
        ("constant.language", "hl-n"),
        ("entity.name.function", "hl-f"),
        ("support.function", "hl-f"),
        ("entity.name.type", "hl-t"),
        ("entity.name.class", "hl-t"),
        ("entity.name.struct", "hl-t"),
        ("support.type", "hl-t"),
        ("support.class", "hl-t"),
        ("storage.type", "hl-k"),
        ("storage.modifier", "hl-k"),
        ("keyword", "hl-k"),
    ]
    .into_iter()
    .filter_map(|(name, class)| Scope::new(name).ok().map(|s| (s, class)))
    .collect()
});

/// `code` in `lang`, highlighted; `None` for a language not known (or
/// code too long), shown plain.
pub fn highlight(lang: &str, code: &str) -> Option<String> {
    if code.len() > MAX_BYTES {
        return None;
    }
    let set = &*SYNTAXES;
    let syntax = set.find_syntax_by_token(lang)?;
    let mut state = ParseState::new(syntax);
    let mut stack = ScopeStack::new();
    let mut out = String::with_capacity(code.len() * 2);
    for line in LinesWithEndings::from(code) {
        let ops = state.parse_line(line, set).ok()?;
        for (range, op) in ScopeRangeIterator::new(&ops, line) {
            stack.apply(op).ok()?;
            let Some(text) = line.get(range).filter(|t| !t.is_empty()) else {
                continue;
            };
            match class_of(&stack) {
                Some(class) => {
                    out.push_str("<span class=\"");
                    out.push_str(class);
                    out.push_str("\">");
                    escape(text, &mut out);
                    out.push_str("</span>");
                }
                None => escape(text, &mut out),
            }
        }
    }
    Some(out)
}

/// The class of the innermost scope that has one.
fn class_of(stack: &ScopeStack) -> Option<&'static str> {
    stack.as_slice().iter().rev().find_map(|scope| {
        CLASSES
            .iter()
            .find(|(prefix, _)| prefix.is_prefix_of(*scope))
            .map(|(_, class)| *class)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_languages_are_coloured_and_their_text_escaped() {
        let html = highlight("rust", "fn main() { let s = \"<b>&\"; } // done\n").expect("rust");
        assert!(html.contains("<span class=\"hl-k\">fn</span>"), "{html}");
        assert!(html.contains("<span class=\"hl-f\">main</span>"), "{html}");
        assert!(html.contains("&lt;b&gt;&amp;"), "{html}");
        assert!(html.contains("<span class=\"hl-c\">"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        for lang in [
            "python", "js", "sh", "json", "sql", "go", "c", "java", "yaml", "html", "css", "rb",
        ] {
            assert!(highlight(lang, "x = 1\n").is_some(), "{lang}");
        }
    }

    #[test]
    fn unknown_languages_and_huge_blocks_stay_plain() {
        assert_eq!(highlight("no-such-language", "x"), None);
        assert_eq!(highlight("rust", &"x".repeat(MAX_BYTES + 1)), None);
    }
}
