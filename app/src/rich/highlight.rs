//! Code blocks coloured by their language, on the server: the grammar
//! parses the code into scopes, and each run of text gets one of a few
//! known classes (keyword, string, comment, number, function, type), which
//! the HTML drawer wraps around the escaped text. The page's stylesheet
//! colours the classes for light and dark; nothing runs in the browser.

use std::ops::Range;
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

/// `code` in `lang` as runs of text (byte ranges of `code`) and their
/// class; `None` for a language not known (or code too long), shown
/// plain.
pub fn highlight(lang: &str, code: &str) -> Option<Vec<(Range<usize>, Option<&'static str>)>> {
    if code.len() > MAX_BYTES {
        return None;
    }
    let set = &*SYNTAXES;
    let syntax = set.find_syntax_by_token(lang)?;
    let mut state = ParseState::new(syntax);
    let mut stack = ScopeStack::new();
    let mut runs: Vec<(Range<usize>, Option<&'static str>)> = Vec::new();
    let mut start = 0;
    for line in LinesWithEndings::from(code) {
        let ops = state.parse_line(line, set).ok()?;
        for (range, op) in ScopeRangeIterator::new(&ops, line) {
            stack.apply(op).ok()?;
            if range.is_empty() {
                continue;
            }
            let class = class_of(&stack);
            let range = start + range.start..start + range.end;
            match runs.last_mut() {
                // Neighbours of one class are one run.
                Some((last, c)) if *c == class && last.end == range.start => last.end = range.end,
                _ => runs.push((range, class)),
            }
        }
        start += line.len();
    }
    Some(runs)
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

    fn classed<'a>(code: &'a str, lang: &str) -> Vec<(&'a str, Option<&'static str>)> {
        highlight(lang, code)
            .expect("known")
            .into_iter()
            .map(|(r, c)| (&code[r], c))
            .collect()
    }

    #[test]
    fn known_languages_are_coloured_and_every_byte_kept() {
        let code = "fn main() { let s = \"<b>&\"; } // done\n";
        let runs = classed(code, "rust");
        assert!(runs.contains(&("fn", Some("hl-k"))), "{runs:?}");
        assert!(runs.contains(&("main", Some("hl-f"))), "{runs:?}");
        assert!(
            runs.iter()
                .any(|(t, c)| t.contains("<b>&") && *c == Some("hl-s")),
            "{runs:?}"
        );
        assert!(
            runs.iter()
                .any(|(t, c)| t.contains("done") && *c == Some("hl-c")),
            "{runs:?}"
        );
        let joined: String = runs.iter().map(|(t, _)| *t).collect();
        assert_eq!(joined, code);
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
