//! Blocks to HTML, built here from known tags alone: every piece of user
//! text is escaped, every link is checked again (http, https, mailto) and
//! opens in a new tab without a referrer. Drawn once on the server and
//! sent with the message: a view per element, or the blocks' decoder,
//! cost the browser's module 36 KB (measured) for the same result.

use super::{Block, Inline};
use std::fmt::Write;

pub fn to_html(blocks: &[Block]) -> String {
    let mut out = String::new();
    for b in blocks {
        block(b, &mut out);
    }
    out
}

fn block(b: &Block, out: &mut String) {
    match b {
        Block::P(c) => {
            out.push_str("<p>");
            inlines(c, out);
            out.push_str("</p>");
        }
        Block::Code { lang, text } => {
            out.push_str("<pre class=\"code-block\">");
            if let Some(lang) = lang {
                out.push_str("<span class=\"code-lang\">");
                escape(lang, out);
                out.push_str("</span>");
            }
            out.push_str("<code>");
            match lang
                .as_deref()
                .and_then(|l| super::highlight::highlight(l, text))
            {
                Some(runs) => {
                    for (range, class) in runs {
                        let run = text.get(range).unwrap_or_default();
                        match class {
                            Some(class) => {
                                let _ = write!(out, "<span class=\"{class}\">");
                                escape(run, out);
                                out.push_str("</span>");
                            }
                            None => escape(run, out),
                        }
                    }
                }
                None => escape(text, out),
            }
            out.push_str("</code></pre>");
        }
        Block::Quote(c) => {
            out.push_str("<blockquote>");
            for b in c {
                block(b, out);
            }
            out.push_str("</blockquote>");
        }
        Block::List { start, items } => {
            match start {
                Some(n) => {
                    let _ = write!(out, "<ol start=\"{n}\">");
                }
                None => out.push_str("<ul>"),
            }
            for item in items {
                out.push_str("<li>");
                for b in item {
                    block(b, out);
                }
                out.push_str("</li>");
            }
            out.push_str(if start.is_some() { "</ol>" } else { "</ul>" });
        }
    }
}

fn inlines(c: &[Inline], out: &mut String) {
    for i in c {
        inline(i, out);
    }
}

fn wrapped(tag: &str, c: &[Inline], out: &mut String) {
    let _ = write!(out, "<{tag}>");
    inlines(c, out);
    let _ = write!(out, "</{tag}>");
}

fn inline(i: &Inline, out: &mut String) {
    match i {
        Inline::T(text) => escape(text, out),
        Inline::Em(c) => wrapped("em", c, out),
        Inline::B(c) => wrapped("strong", c, out),
        Inline::S(c) => wrapped("del", c, out),
        Inline::Code(text) => {
            out.push_str("<code>");
            escape(text, out);
            out.push_str("</code>");
        }
        Inline::A { href, c } if safe(href) => {
            out.push_str("<a href=\"");
            escape(href, out);
            out.push_str("\" target=\"_blank\" rel=\"noopener noreferrer nofollow\">");
            inlines(c, out);
            out.push_str("</a>");
        }
        // Not a link this page follows: its words only.
        Inline::A { c, .. } => inlines(c, out),
        Inline::Br => out.push_str("<br>"),
    }
}

fn safe(href: &str) -> bool {
    let lower = href.get(..8).unwrap_or(href).to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s))
}

/// Text as HTML text or attribute value (the server's own pages use it
/// too).
pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_coloured_with_its_text_escaped() {
        let blocks = vec![Block::Code {
            lang: Some("rust".into()),
            text: "fn x() -> &'static str { \"<b>\" }\n".into(),
        }];
        let html = to_html(&blocks);
        assert!(html.contains("<span class=\"hl-k\">fn</span>"), "{html}");
        assert!(html.contains("&lt;b&gt;"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        let plain = to_html(&[Block::Code {
            lang: Some("klingon".into()),
            text: "<b>".into(),
        }]);
        assert!(plain.ends_with("<code>&lt;b&gt;</code></pre>"), "{plain}");
    }

    #[test]
    fn text_and_links_are_escaped_and_checked() {
        let blocks = vec![
            Block::P(vec![
                Inline::T("<img src=x onerror=alert(1)> & \"q\" 'a'".into()),
                Inline::A {
                    href: "https://x.example/?a=1&b=\"><script>".into(),
                    c: vec![Inline::T("<b>".into())],
                },
                Inline::A {
                    href: "javascript:alert(1)".into(),
                    c: vec![Inline::T("bad".into())],
                },
            ]),
            Block::Code {
                lang: Some("<x>".into()),
                text: "</code><script>".into(),
            },
            Block::List {
                start: Some(2),
                items: vec![vec![Block::P(vec![Inline::Br])]],
            },
        ];
        assert_eq!(
            to_html(&blocks),
            "<p>&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot; &#39;a&#39;\
             <a href=\"https://x.example/?a=1&amp;b=&quot;&gt;&lt;script&gt;\" target=\"_blank\" \
             rel=\"noopener noreferrer nofollow\">&lt;b&gt;</a>bad</p>\
             <pre class=\"code-block\"><span class=\"code-lang\">&lt;x&gt;</span>\
             <code>&lt;/code&gt;&lt;script&gt;</code></pre><ol start=\"2\"><li><p><br></p></li></ol>"
        );
    }
}
