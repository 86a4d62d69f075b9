//! What a page says about itself: its OpenGraph and Twitter `<meta>` tags
//! and its `<title>`, read with html5ever's tokenizer (entities decoded,
//! script and style skipped as a browser would), without building a tree.

use app::protocol::LinkPreview;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use std::cell::RefCell;
use std::collections::HashMap;

/// Longest title, description and site name kept, in characters.
const TITLE_CHARS: usize = 200;
const DESCRIPTION_CHARS: usize = 300;
const SITE_CHARS: usize = 80;
/// `<meta>` tags kept: a page of thousands says nothing more useful.
const MAX_METAS: usize = 256;

/// The tags a card is made from.
#[derive(Debug, Default)]
pub struct Meta {
    /// `property` or `name` (lower case) to `content`, the first of each.
    tags: HashMap<String, String>,
    title: String,
}

impl Meta {
    pub fn read(html: &str) -> Self {
        let sink = Sink::default();
        let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
        let input = BufferQueue::default();
        input.push_back(StrTendril::from_slice(html));
        let _ = tokenizer.feed(&input);
        tokenizer.end();
        tokenizer.sink.found.into_inner()
    }

    fn first(&self, keys: &[&str]) -> Option<&str> {
        keys.iter()
            .filter_map(|k| self.tags.get(*k))
            .map(|v| v.trim())
            .find(|v| !v.is_empty())
    }

    /// The card for `link`, read from the page at `page` (where redirects
    /// led); `None` when the page has no title at all.
    pub fn card(&self, link: &str, page: &url::Url) -> Option<LinkPreview> {
        let title = self
            .first(&["og:title", "twitter:title"])
            .unwrap_or(&self.title);
        let title = tidy(title, TITLE_CHARS);
        if title.is_empty() {
            return None;
        }
        let description = self
            .first(&["og:description", "twitter:description", "description"])
            .map(|d| tidy(d, DESCRIPTION_CHARS))
            .unwrap_or_default();
        let host = page.host_str().unwrap_or_default();
        let site = tidy(
            self.first(&["og:site_name"])
                .unwrap_or(host.strip_prefix("www.").unwrap_or(host)),
            SITE_CHARS,
        );
        Some(LinkPreview {
            url: link.to_owned(),
            title,
            description,
            site,
            image: None,
        })
    }

    /// Where the page's picture is, made absolute; http(s) only.
    pub fn image(&self, page: &url::Url) -> Option<url::Url> {
        let src = self.first(&[
            "og:image:secure_url",
            "og:image",
            "og:image:url",
            "twitter:image",
            "twitter:image:src",
        ])?;
        let url = page.join(src).ok()?;
        matches!(url.scheme(), "http" | "https").then_some(url)
    }
}

/// A page's text in the character set its header names, or else its
/// `<meta charset>` (looked for near the top, as browsers do), or UTF-8.
pub fn decode(body: &[u8], content_type: &str) -> String {
    fn label(text: &str) -> Option<&str> {
        let after = &text[text.find("charset=")? + "charset=".len()..];
        let after = after.trim_start_matches(['"', '\'']);
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-_:.".contains(c)))
            .unwrap_or(after.len());
        Some(&after[..end])
    }
    let head = String::from_utf8_lossy(&body[..body.len().min(1024)]).to_ascii_lowercase();
    let encoding = label(content_type)
        .or_else(|| label(&head))
        .and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes()))
        .unwrap_or(encoding_rs::UTF_8);
    let (text, _, _) = encoding.decode(body);
    text.into_owned()
}

/// Whitespace runs as one space, control characters dropped, cut at
/// `max` characters with an ellipsis.
fn tidy(text: &str, max: usize) -> String {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let joined = words.join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut cut: String = joined.chars().take(max - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

#[derive(Default)]
struct Sink {
    found: RefCell<Meta>,
    in_title: RefCell<bool>,
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::TagToken(tag) if tag.kind == TagKind::StartTag => match &*tag.name {
                "meta" => {
                    let attr = |name: &str| {
                        tag.attrs
                            .iter()
                            .find(|a| &*a.name.local == name)
                            .map(|a| a.value.to_string())
                    };
                    let key = attr("property").or_else(|| attr("name"));
                    if let (Some(key), Some(content)) = (key, attr("content")) {
                        let mut found = self.found.borrow_mut();
                        if found.tags.len() < MAX_METAS {
                            found
                                .tags
                                .entry(key.trim().to_ascii_lowercase())
                                .or_insert(content);
                        }
                    }
                }
                "title" => {
                    // The first title only (an SVG's come later).
                    *self.in_title.borrow_mut() = self.found.borrow().title.is_empty();
                    return TokenSinkResult::RawData(RawKind::Rcdata);
                }
                "textarea" => return TokenSinkResult::RawData(RawKind::Rcdata),
                "script" => return TokenSinkResult::RawData(RawKind::ScriptData),
                "style" | "xmp" | "iframe" | "noembed" | "noframes" => {
                    return TokenSinkResult::RawData(RawKind::Rawtext)
                }
                _ => {}
            },
            Token::TagToken(tag) if &*tag.name == "title" => *self.in_title.borrow_mut() = false,
            Token::CharacterTokens(text) if *self.in_title.borrow() => {
                let mut found = self.found.borrow_mut();
                if found.title.len() < 4 * TITLE_CHARS {
                    found.title.push_str(&text);
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> url::Url {
        url::Url::parse("https://www.example.com/a/b").expect("a url")
    }

    #[test]
    fn opengraph_comes_first_then_twitter_then_the_title() {
        let html = r#"<!doctype html><html><head>
            <title>Plain &amp; simple</title>
            <meta name="twitter:title" content="Tweet title">
            <meta property="og:title" content="OG &quot;title&quot; &amp; more">
            <meta name="description" content="  A   page
               about things.  ">
            <meta property="og:site_name" content="Example">
            <meta property="og:image" content="/img/card.png">
            </head><body></body></html>"#;
        let meta = Meta::read(html);
        let card = meta.card("https://example.com/x", &page()).expect("a card");
        assert_eq!(card.title, r#"OG "title" & more"#);
        assert_eq!(card.description, "A page about things.");
        assert_eq!(card.site, "Example");
        assert_eq!(card.url, "https://example.com/x");
        assert_eq!(
            meta.image(&page()).map(|u| u.to_string()).as_deref(),
            Some("https://www.example.com/img/card.png")
        );
    }

    #[test]
    fn a_page_with_only_a_title_gets_its_host_as_the_site() {
        let meta = Meta::read("<title>\n  Just a title\n</title><p>text</p>");
        let card = meta.card("https://example.com/", &page()).expect("a card");
        assert_eq!(card.title, "Just a title");
        assert_eq!(card.site, "example.com");
        assert_eq!(card.description, "");
        assert!(meta.image(&page()).is_none());
    }

    #[test]
    fn scripts_comments_and_untitled_pages_give_nothing_false() {
        let html = r#"<script>var s = "<title>not it</title><meta property='og:title' content='no'>";</script>
            <!-- <meta property="og:title" content="commented"> -->
            <style>title { color: red }</style><body>no title here</body>"#;
        assert!(Meta::read(html).card("https://e.com/", &page()).is_none());
        let js = r#"<meta property="og:image" content="javascript:alert(1)"><title>t</title>"#;
        assert!(Meta::read(js).image(&page()).is_none());
    }

    #[test]
    fn the_character_set_comes_from_the_header_or_the_page() {
        // "Café" in Latin-1 and in Windows-1252 (the label browsers use
        // for both).
        let latin1 = b"<title>Caf\xe9</title>";
        assert_eq!(
            decode(latin1, "text/html; charset=ISO-8859-1"),
            "<title>Café</title>"
        );
        let tagged = b"<meta charset=\"windows-1252\"><title>Caf\xe9</title>";
        assert!(decode(tagged, "text/html").ends_with("<title>Café</title>"));
        assert_eq!(
            decode("<title>Café</title>".as_bytes(), "text/html"),
            "<title>Café</title>"
        );
    }

    #[test]
    fn long_text_is_cut_at_a_word_count_of_characters() {
        let long = format!("<title>{}</title>", "word ".repeat(100));
        let card = Meta::read(&long)
            .card("https://e.com/", &page())
            .expect("a card");
        assert_eq!(card.title.chars().count(), TITLE_CHARS);
        assert!(card.title.ends_with('…'));
    }
}
