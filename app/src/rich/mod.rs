//! How a message looks: a small Markdown subset (emphasis, bold, strike,
//! code, fenced code, quotes, lists, line breaks) and bare links. The
//! server reads the text (`parse`, with pulldown-cmark) into blocks and
//! draws them (`to_html`: known tags, every piece of text escaped, links
//! checked); the HTML travels with the message, so the page and the live
//! view show the same, no user text is ever HTML, and the browser carries
//! neither a Markdown parser nor the blocks' decoder. A message with
//! nothing to format carries nothing and shows as its text.

#[cfg(feature = "ssr")]
mod highlight;
#[cfg(feature = "ssr")]
mod html;
#[cfg(feature = "ssr")]
mod parse;

#[cfg(feature = "ssr")]
pub use html::{escape, to_html};
#[cfg(feature = "ssr")]
pub use parse::parse;

/// A message's formatted text as HTML, or `None` when plain. Pages read
/// the same messages over and over, so what was drawn is kept, by the
/// text itself, for the most recent texts.
#[cfg(feature = "ssr")]
pub fn render(text: &str) -> Option<String> {
    if surely_plain(text) {
        return None;
    }
    use std::num::NonZeroUsize;
    use std::sync::{LazyLock, Mutex};
    const TEXTS: NonZeroUsize = NonZeroUsize::new(2048).expect("not zero");
    type Drawn = lru::LruCache<String, Option<String>>;
    static DRAWN: LazyLock<Mutex<Drawn>> = LazyLock::new(|| Mutex::new(lru::LruCache::new(TEXTS)));
    if let Some(found) = DRAWN.lock().ok().and_then(|mut d| d.get(text).cloned()) {
        return found;
    }
    let drawn = parse(text).map(|blocks| to_html(&blocks));
    if let Ok(mut d) = DRAWN.lock() {
        d.put(text.to_owned(), drawn.clone());
    }
    drawn
}

/// Text in which nothing can be formatted or linked: no mark, no
/// link-like part, no line that could open a block. Most messages are
/// like this, and skip the reader (a parse per stored message cost the
/// busiest scenarios several percent). When unsure, it says no.
#[cfg(feature = "ssr")]
fn surely_plain(text: &str) -> bool {
    const MARKS: &[char] = &[
        '*', '_', '~', '`', '<', '>', '[', ']', '\\', '&', '@', '|', '!', '#', '\t',
    ];
    // Links need a scheme (`://`) or, for mail, an `@`.
    if text.contains(MARKS) || text.contains("://") {
        return false;
    }
    text.lines().all(|line| {
        let rest = line.trim_start_matches(' ');
        // Four spaces open code; a list item, or a rule, starts so.
        line.len() - rest.len() < 4
            && !rest.starts_with([
                '-', '+', '=', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
            ])
    })
}

#[cfg(feature = "ssr")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A paragraph.
    P(Vec<Inline>),
    /// A fenced or indented code block, with its language if named.
    Code {
        lang: Option<String>,
        text: String,
    },
    Quote(Vec<Block>),
    /// A list; numbered from `start` if ordered.
    List {
        start: Option<u64>,
        items: Vec<Vec<Block>>,
    },
}

#[cfg(feature = "ssr")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inline {
    /// Text.
    T(String),
    Em(Vec<Inline>),
    /// Bold.
    B(Vec<Inline>),
    /// Struck through.
    S(Vec<Inline>),
    Code(String),
    /// A link: http, https or mailto only.
    A {
        href: String,
        c: Vec<Inline>,
    },
    /// A line break.
    Br,
}

/// The words of formatted text without its marks, for places that show
/// plain text (a notification).
#[cfg(feature = "ssr")]
pub fn plain(blocks_in: &[Block]) -> String {
    fn inlines(c: &[Inline], out: &mut String) {
        for i in c {
            match i {
                Inline::T(t) | Inline::Code(t) => out.push_str(t),
                Inline::Em(c) | Inline::B(c) | Inline::S(c) | Inline::A { c, .. } => {
                    inlines(c, out)
                }
                Inline::Br => out.push(' '),
            }
        }
    }
    fn blocks(b: &[Block], out: &mut String) {
        for block in b {
            if !out.is_empty() {
                out.push(' ');
            }
            match block {
                Block::P(c) => inlines(c, out),
                Block::Code { text, .. } => out.push_str(text),
                Block::Quote(b) => blocks(b, out),
                Block::List { items, .. } => {
                    for item in items {
                        blocks(item, out);
                    }
                }
            }
        }
    }
    let mut out = String::new();
    blocks(blocks_in, &mut out);
    out
}

/// The first web link of a message (http or https, not in code), the
/// one a preview card is made for.
#[cfg(feature = "ssr")]
pub fn first_link(text: &str) -> Option<String> {
    fn in_inlines(c: &[Inline]) -> Option<&str> {
        c.iter().find_map(|i| match i {
            Inline::A { href, .. } => {
                let lower = href.get(..8).unwrap_or(href).to_ascii_lowercase();
                (lower.starts_with("http://") || lower.starts_with("https://"))
                    .then_some(href.as_str())
            }
            Inline::Em(c) | Inline::B(c) | Inline::S(c) => in_inlines(c),
            _ => None,
        })
    }
    fn in_blocks(b: &[Block]) -> Option<&str> {
        b.iter().find_map(|block| match block {
            Block::P(c) => in_inlines(c),
            Block::Code { .. } => None,
            Block::Quote(b) => in_blocks(b),
            Block::List { items, .. } => items.iter().find_map(|item| in_blocks(item)),
        })
    }
    if surely_plain(text) {
        return None;
    }
    in_blocks(&parse(text)?).map(str::to_owned)
}

/// Most emoji a message may hold and still be shown large.
const JUMBO_MAX: usize = 5;

/// Whether a message is a few emoji and nothing else (shown large).
pub fn emoji_only(text: &str) -> bool {
    let mut pictures = 0;
    for c in text.chars() {
        match c as u32 {
            // Joiners, variation selectors, skin tones and keycaps
            // belong to the emoji before them.
            0x200D | 0xFE0E | 0xFE0F | 0x1F3FB..=0x1F3FF | 0x20E3 | 0xE0020..=0xE007F => {}
            0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2300..=0x23FF => {
                pictures += 1
            }
            _ if c.is_whitespace() => {}
            _ => return false,
        }
    }
    // A flag is two regional indicators.
    let flags = text
        .chars()
        .filter(|c| (0x1F1E6..=0x1F1FF).contains(&(*c as u32)))
        .count();
    let shown = pictures - flags / 2;
    (1..=JUMBO_MAX).contains(&shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "ssr")]
    #[test]
    fn the_first_web_link_is_the_one_previewed() {
        assert_eq!(
            first_link("see https://a.example/x, and http://b.example").as_deref(),
            Some("https://a.example/x")
        );
        assert_eq!(
            first_link("mail ann@example.com or read **[this](http://c.example/y)**").as_deref(),
            Some("http://c.example/y")
        );
        assert_eq!(first_link("`https://in.code/` only"), None);
        assert_eq!(first_link("```\nhttps://in.block/\n```"), None);
        assert_eq!(first_link("no link at all"), None);
        assert_eq!(first_link("javascript:alert(1) ftp://x.example/"), None);
    }

    /// Whatever the shortcut calls plain, the reader finds nothing in.
    #[cfg(feature = "ssr")]
    #[test]
    fn what_is_surely_plain_has_nothing_to_format() {
        let pieces = [
            "a",
            "word",
            " ",
            "  ",
            "    ",
            "\n",
            "\n\n",
            "-",
            "+",
            "1.",
            "2)",
            "=",
            "*",
            "_",
            "~",
            "`",
            ">",
            "#",
            "[x]",
            "(y)",
            "<b>",
            "&amp;",
            "@ann",
            "a@b.co",
            "http://e.com",
            "www.e.com",
            "mailto:a@b.co",
            "é",
            "🎉",
            ":",
            ".",
            ",",
            "x:y",
            "lg:1:2:3:",
            "|",
            "!",
            "\\",
            "\t",
            "  \n",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut plain = 0;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(seed % 9) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            if surely_plain(&text) {
                plain += 1;
                assert_eq!(parse(&text), None, "{text:?}");
            }
        }
        assert!(plain > 1_000, "the shortcut is taken: {plain}");
        assert!(surely_plain("lg:0:12:1733500000:xxxxxxxx"));
        assert!(surely_plain("see you at noon, ok?\nsure"));
        assert!(!surely_plain("**bold**") && !surely_plain("see https://e.com"));
    }

    #[test]
    fn a_few_emoji_alone_are_large() {
        for yes in ["👍", "🎉🎉🎉", " 😀 ", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️"]
        {
            assert!(emoji_only(yes), "{yes}");
        }
        for no in ["", "ok 👍", "👍!", "🎉🎉🎉🎉🎉🎉", "1", "#"] {
            assert!(!emoji_only(no), "{no}");
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn plain_text_drops_the_marks() {
        let blocks = vec![
            Block::P(vec![
                Inline::B(vec![Inline::T("Ship".into())]),
                Inline::T(" it".into()),
                Inline::Br,
                Inline::A {
                    href: "https://x.example".into(),
                    c: vec![Inline::T("here".into())],
                },
            ]),
            Block::Code {
                lang: Some("sh".into()),
                text: "make".into(),
            },
        ];
        assert_eq!(plain(&blocks), "Ship it here make");
    }
}
