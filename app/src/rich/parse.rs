//! Markdown to blocks, on the server. pulldown-cmark reads the text; what
//! the subset does not have (headings, images, raw HTML, rules, tables)
//! is shown as the text the writer typed, never interpreted.

use super::{Block, Inline};
use linkify::{LinkFinder, LinkKind};
use pulldown_cmark::{CodeBlockKind, Event, OffsetIter, Options, Parser, Tag};
use std::iter::Peekable;
use std::ops::Range;

/// Deepest nesting kept (quotes in lists in quotes, bold in italics…);
/// deeper, the rest shows as typed. Bounds the recursion here and in
/// every renderer.
const MAX_DEPTH: usize = 8;

/// Longest language label kept on a code block.
const MAX_LANG: usize = 20;

/// The message's blocks, or `None` when there is nothing to format.
pub fn parse(text: &str) -> Option<Vec<Block>> {
    let mut reader = Reader {
        events: Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH)
            .into_offset_iter()
            .peekable(),
        src: text,
        depth: 0,
        links: LinkFinder::new(),
    };
    let blocks = reader.blocks();
    let plain = |i: &Inline| matches!(i, Inline::T(_) | Inline::Br);
    match blocks.as_slice() {
        [] => None,
        [Block::P(inlines)] if inlines.iter().all(plain) => None,
        _ => Some(blocks),
    }
}

struct Reader<'a> {
    events: Peekable<OffsetIter<'a>>,
    src: &'a str,
    depth: usize,
    links: LinkFinder,
}

fn is_inline(tag: &Tag<'_>) -> bool {
    matches!(
        tag,
        Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript
            | Tag::Link { .. }
            | Tag::Image { .. }
    )
}

impl Reader<'_> {
    /// Blocks up to the end of the enclosing element (or of the text).
    /// Inline content straight in a block (a tight list's item) becomes a
    /// paragraph.
    fn blocks(&mut self) -> Vec<Block> {
        let mut out = Vec::new();
        let mut loose = Vec::new();
        while let Some((event, range)) = self.events.next() {
            let block = match event {
                Event::End(_) => break,
                Event::Start(ref tag) if is_inline(tag) => {
                    self.inline(event, range, true, &mut loose);
                    None
                }
                Event::Start(_) if self.depth >= MAX_DEPTH => {
                    self.skip();
                    Some(self.as_typed(range))
                }
                Event::Start(Tag::Paragraph) => Some(Block::P(self.inlines(true))),
                Event::Start(Tag::BlockQuote(_)) => Some(self.nested(|r| Block::Quote(r.blocks()))),
                Event::Start(Tag::CodeBlock(kind)) => Some(self.code(kind)),
                Event::Start(Tag::List(start)) => Some(self.nested(|r| r.list(start))),
                Event::Start(_) => {
                    self.skip();
                    Some(self.as_typed(range))
                }
                Event::Rule | Event::Html(_) => Some(self.as_typed(range)),
                other => {
                    self.inline(other, range, true, &mut loose);
                    None
                }
            };
            if let Some(block) = block {
                if !loose.is_empty() {
                    out.push(Block::P(std::mem::take(&mut loose)));
                }
                out.push(block);
            }
        }
        if !loose.is_empty() {
            out.push(Block::P(loose));
        }
        out
    }

    /// A list's items, up to its end.
    fn list(&mut self, start: Option<u64>) -> Block {
        let mut items = Vec::new();
        while let Some((event, range)) = self.events.next() {
            match event {
                Event::End(_) => break,
                Event::Start(Tag::Item) => items.push(self.blocks()),
                // Nothing else comes straight in a list; shown as typed.
                Event::Start(_) => {
                    self.skip();
                    items.push(vec![self.as_typed(range)]);
                }
                _ => items.push(vec![self.as_typed(range)]),
            }
        }
        Block::List { start, items }
    }

    /// A code block's text, up to its end.
    fn code(&mut self, kind: CodeBlockKind<'_>) -> Block {
        let lang = match kind {
            CodeBlockKind::Fenced(info) => info
                .split_whitespace()
                .next()
                .filter(|l| {
                    l.len() <= MAX_LANG
                        && l.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "+-#._".contains(c))
                })
                .map(str::to_owned),
            CodeBlockKind::Indented => None,
        };
        let mut text = String::new();
        for (event, _) in self.events.by_ref() {
            match event {
                Event::End(_) => break,
                Event::Text(t) => text.push_str(&t),
                _ => {}
            }
        }
        if text.ends_with('\n') {
            text.pop();
        }
        Block::Code { lang, text }
    }

    /// Inline content up to the end of the enclosing element.
    fn inlines(&mut self, autolink: bool) -> Vec<Inline> {
        let mut out = Vec::new();
        while let Some((event, range)) = self.events.next() {
            if let Event::End(_) = event {
                break;
            }
            self.inline(event, range, autolink, &mut out);
        }
        out
    }

    /// One inline event (a container with its content).
    fn inline(
        &mut self,
        event: Event<'_>,
        range: Range<usize>,
        autolink: bool,
        out: &mut Vec<Inline>,
    ) {
        match event {
            Event::Text(t) if autolink => {
                // A URL may come in several pieces of text.
                let mut text = t.into_string();
                while let Some((Event::Text(_), _)) = self.events.peek() {
                    if let Some((Event::Text(more), _)) = self.events.next() {
                        text.push_str(&more);
                    }
                }
                self.linkify(&text, out)
            }
            Event::Text(t) | Event::InlineHtml(t) | Event::Html(t) => push_text(out, &t),
            Event::Code(t) => out.push(Inline::Code(t.into_string())),
            Event::SoftBreak | Event::HardBreak => out.push(Inline::Br),
            Event::Start(_) if self.depth >= MAX_DEPTH => {
                self.skip();
                push_text(out, self.typed(range));
            }
            Event::Start(Tag::Emphasis) => {
                let c = self.nested(|r| r.inlines(autolink));
                out.push(Inline::Em(c));
            }
            Event::Start(Tag::Strong) => {
                let c = self.nested(|r| r.inlines(autolink));
                out.push(Inline::B(c));
            }
            Event::Start(Tag::Strikethrough) => {
                let c = self.nested(|r| r.inlines(autolink));
                out.push(Inline::S(c));
            }
            Event::Start(Tag::Link { dest_url, .. }) => match safe_href(&dest_url) {
                // No links inside a link.
                Some(href) => {
                    let c = self.nested(|r| r.inlines(false));
                    out.push(Inline::A { href, c });
                }
                None => {
                    self.skip();
                    push_text(out, self.typed(range));
                }
            },
            Event::Start(_) => {
                self.skip();
                push_text(out, self.typed(range));
            }
            // Anything else in a line (a stray end, math, a footnote
            // mark) is what was typed.
            _ => push_text(out, self.typed(range)),
        }
    }

    /// Bare http(s) URLs and e-mail addresses in `text` as links.
    fn linkify(&self, text: &str, out: &mut Vec<Inline>) {
        for span in self.links.spans(text) {
            let s = span.as_str();
            let href = match span.kind() {
                Some(LinkKind::Url) => safe_href(s),
                Some(LinkKind::Email) => Some(format!("mailto:{s}")),
                _ => None,
            };
            match href {
                Some(href) => out.push(Inline::A {
                    href,
                    c: vec![Inline::T(s.to_owned())],
                }),
                None => push_text(out, s),
            }
        }
    }

    fn nested<T>(&mut self, read: impl FnOnce(&mut Self) -> T) -> T {
        self.depth += 1;
        let found = read(self);
        self.depth -= 1;
        found
    }

    /// Passes over an element's events, up to its end.
    fn skip(&mut self) {
        let mut open = 1usize;
        for (event, _) in self.events.by_ref() {
            match event {
                Event::Start(_) => open += 1,
                Event::End(_) => open -= 1,
                _ => {}
            }
            if open == 0 {
                break;
            }
        }
    }

    /// The text as typed over `range`.
    fn typed(&self, range: Range<usize>) -> &str {
        self.src.get(range).unwrap_or_default()
    }

    fn as_typed(&self, range: Range<usize>) -> Block {
        Block::P(vec![Inline::T(self.typed(range).trim_end().to_owned())])
    }
}

/// Text, joined to the text before it.
fn push_text(out: &mut Vec<Inline>, text: &str) {
    if text.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(Inline::T(last)) => last.push_str(text),
        _ => out.push(Inline::T(text.to_owned())),
    }
}

/// A link target that is safe to follow: http, https or mailto, whatever
/// the case or entities it was written with, and nothing that could hide
/// another scheme.
fn safe_href(dest: &str) -> Option<String> {
    let dest = dest.trim();
    let lower = dest.to_ascii_lowercase();
    let scheme_ok = ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s));
    let clean = !dest.chars().any(|c| c.is_control() || c.is_whitespace());
    (scheme_ok && clean && dest.len() > "mailto:".len()).then(|| dest.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Block::*;
    use Inline::*;

    fn t(s: &str) -> Inline {
        T(s.into())
    }

    fn a(href: &str, text: &str) -> Inline {
        A {
            href: href.into(),
            c: vec![t(text)],
        }
    }

    #[test]
    fn the_subset_reads_as_people_expect() {
        let cases: Vec<(&str, Option<Vec<Block>>)> = vec![
            ("just words", None),
            ("two\nlines", None),
            (
                "*it* **bold** ~~gone~~ `x < y`",
                Some(vec![P(vec![
                    Em(vec![t("it")]),
                    t(" "),
                    B(vec![t("bold")]),
                    t(" "),
                    S(vec![t("gone")]),
                    t(" "),
                    Inline::Code("x < y".into()),
                ])]),
            ),
            (
                "see https://example.com/a_(b). ok",
                Some(vec![P(vec![
                    t("see "),
                    a("https://example.com/a_(b)", "https://example.com/a_(b)"),
                    t(". ok"),
                ])]),
            ),
            (
                "(https://example.com/x)",
                Some(vec![P(vec![
                    t("("),
                    a("https://example.com/x", "https://example.com/x"),
                    t(")"),
                ])]),
            ),
            (
                "mail ann@example.com",
                Some(vec![P(vec![
                    t("mail "),
                    a("mailto:ann@example.com", "ann@example.com"),
                ])]),
            ),
            (
                "[docs](https://docs.rs)",
                Some(vec![P(vec![a("https://docs.rs", "docs")])]),
            ),
            (
                "```rust\nfn main() {}\n```",
                Some(vec![Block::Code {
                    lang: Some("rust".into()),
                    text: "fn main() {}".into(),
                }]),
            ),
            (
                "> quoted\n\nreply",
                Some(vec![Quote(vec![P(vec![t("quoted")])]), P(vec![t("reply")])]),
            ),
            (
                "- one\n- two",
                Some(vec![List {
                    start: None,
                    items: vec![vec![P(vec![t("one")])], vec![P(vec![t("two")])]],
                }]),
            ),
            (
                "3. three\n4. four",
                Some(vec![List {
                    start: Some(3),
                    items: vec![vec![P(vec![t("three")])], vec![P(vec![t("four")])]],
                }]),
            ),
            // Outside the subset: as typed, so nothing to format.
            ("# not a heading", None),
            ("---", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), want, "{input}");
        }
    }

    #[test]
    fn nothing_typed_becomes_markup_or_a_dangerous_link() {
        let cases: Vec<(&str, Option<Vec<Block>>)> = vec![
            ("<b>hi</b>", None),
            ("<script>alert(1)</script>", None),
            ("<div>\nblock\n</div>", None),
            ("[x](javascript:alert(1))", None),
            ("[x](JaVaScRiPt:alert(1))", None),
            ("[x](&#106;avascript:alert(1))", None),
            ("[x](data:text/html,<script>alert(1)</script>)", None),
            ("[x](vbscript:msgbox(1))", None),
            ("![img](https://example.com/x.png)", None),
            ("javascript:alert(1)", None),
            ("<b>x</b> **y**", Some(Vec::new())),
            ("[[[x]]](https://example.com)", Some(Vec::new())),
            (
                "[a](https://example.com \"t\") [b](<javascript:x>)",
                Some(Vec::new()),
            ),
            (
                "**<img src=x onerror=alert(1)>** `<script>`",
                Some(Vec::new()),
            ),
        ];
        for (input, plain) in cases {
            if plain.is_none() {
                assert_eq!(parse(input), None, "{input}: shown as typed");
            }
            let html = crate::rich::render(input)
                .unwrap_or_default()
                .to_lowercase();
            for bad in [
                "href=\"javascript",
                "href=\"data",
                "href=\"vbscript",
                "<script",
                "<img",
                "<b>",
                "<svg",
            ] {
                assert!(!html.contains(bad), "{input}: {html}");
            }
        }
    }

    #[test]
    fn deep_nesting_is_cut_off_and_shown_as_typed() {
        let quotes = format!("{} deep", ">".repeat(5_000));
        let blocks = parse(&quotes).expect("quotes");
        fn depth(b: &[Block]) -> usize {
            b.iter()
                .map(|b| match b {
                    Quote(inner) => 1 + depth(inner),
                    List { items, .. } => 1 + items.iter().map(|i| depth(i)).max().unwrap_or(0),
                    _ => 0,
                })
                .max()
                .unwrap_or(0)
        }
        assert!(depth(&blocks) <= MAX_DEPTH, "{}", depth(&blocks));
        assert!(crate::rich::to_html(&blocks).contains("deep"));
        let stars = format!("{}x{}", "*".repeat(3_000), "*".repeat(3_000));
        let _ = parse(&stars);
        let brackets = "[".repeat(10_000);
        assert_eq!(parse(&brackets), None);
    }
}
