//! Slack's incoming-webhook payload, as CI systems, Grafana and
//! Alertmanager send it: `{"text": …}` (or a form with `payload=` holding
//! that JSON), maybe with `attachments` or `blocks` instead of text.
//! Slack's own link form `<url|label>` becomes a Markdown link, and its
//! escapes (`&lt;`, `&gt;`, `&amp;`) are undone.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize, Default)]
pub struct Payload {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    attachments: Vec<Attachment>,
    #[serde(default)]
    blocks: Vec<Value>,
}

#[derive(Debug, Deserialize, Default)]
struct Attachment {
    #[serde(default)]
    pretext: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    title_link: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    fallback: Option<String>,
    #[serde(default)]
    fields: Vec<Field>,
}

#[derive(Debug, Deserialize, Default)]
struct Field {
    #[serde(default)]
    title: String,
    #[serde(default)]
    value: String,
}

impl Payload {
    /// The message's text: its `text`, then each attachment (pretext,
    /// title as a link, text, fields), then the blocks' texts.
    pub fn text(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(t) = self.text.as_deref().filter(|t| !t.trim().is_empty()) {
            parts.push(t.to_owned());
        }
        for a in &self.attachments {
            let mut lines: Vec<String> = Vec::new();
            lines.extend(a.pretext.clone());
            match (&a.title, &a.title_link) {
                (Some(t), Some(link)) => lines.push(format!("**[{t}]({link})**")),
                (Some(t), None) => lines.push(format!("**{t}**")),
                _ => {}
            }
            lines.extend(a.text.clone());
            for f in &a.fields {
                lines.push(format!("**{}**: {}", f.title, f.value));
            }
            if lines.is_empty() {
                lines.extend(a.fallback.clone());
            }
            parts.extend(lines.into_iter().filter(|l| !l.trim().is_empty()));
        }
        if parts.is_empty() {
            for block in &self.blocks {
                collect_block_text(block, &mut parts);
            }
        }
        from_mrkdwn(&parts.join("\n"))
    }
}

/// Texts of a block (`section`'s text and fields, `header`, `context`).
fn collect_block_text(block: &Value, out: &mut Vec<String>) {
    if let Some(t) = block.pointer("/text/text").and_then(Value::as_str) {
        out.push(t.to_owned());
    }
    for key in ["fields", "elements"] {
        if let Some(list) = block.get(key).and_then(Value::as_array) {
            for item in list {
                if let Some(t) = item.get("text").and_then(Value::as_str) {
                    out.push(t.to_owned());
                }
            }
        }
    }
}

/// Slack's `<url|label>` and `<url>` links as Markdown, and its three
/// escapes undone (the chat escapes what it shows itself).
fn from_mrkdwn(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('>') {
            Some(close) => {
                let inner = &after[..close];
                let (target, label) = inner.split_once('|').unwrap_or((inner, ""));
                let target = unescape(target);
                if target.starts_with("http://")
                    || target.starts_with("https://")
                    || target.starts_with("mailto:")
                {
                    if label.is_empty() {
                        out.push_str(&target);
                    } else {
                        out.push_str(&format!("[{}]({target})", unescape(label)));
                    }
                } else {
                    // `<!here>`, `<@U123>` and the like: their label, or as sent.
                    out.push_str(&unescape(if label.is_empty() { inner } else { label }));
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    unescape(&out)
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(json: &str) -> String {
        serde_json::from_str::<Payload>(json)
            .expect("a payload")
            .text()
    }

    #[test]
    fn plain_text_and_slack_links_read_as_markdown() {
        assert_eq!(
            text(r#"{"text": "Build <https://ci.example/b/42|#42> passed &amp; deployed"}"#),
            "Build [#42](https://ci.example/b/42) passed & deployed"
        );
        assert_eq!(
            text(r#"{"text": "see <https://x.example/>"}"#),
            "see https://x.example/"
        );
        assert_eq!(text(r#"{"text": "1 &lt; 2"}"#), "1 < 2");
    }

    /// Alertmanager's default Slack message (its `slack_configs`), as its
    /// documentation shows it.
    #[test]
    fn alertmanager_attachments_become_lines() {
        let json = r##"{
            "channel": "#alerts", "username": "Alertmanager",
            "attachments": [{
                "color": "danger",
                "title": "[FIRING:1] HighLatency api",
                "title_link": "https://alertmanager.example/#/alerts",
                "text": "p99 latency above 500ms",
                "fallback": "[FIRING:1] HighLatency api",
                "fields": [{"title": "severity", "value": "page", "short": true}]
            }]
        }"##;
        assert_eq!(
            text(json),
            "**[[FIRING:1] HighLatency api](https://alertmanager.example/#/alerts)**\n\
             p99 latency above 500ms\n**severity**: page"
        );
    }

    #[test]
    fn blocks_are_read_when_there_is_no_text() {
        let json = r#"{"blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Deploy"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*prod* is <https://app.example|up>"}}
        ]}"#;
        assert_eq!(text(json), "Deploy\n*prod* is [up](https://app.example)");
    }

    #[test]
    fn an_empty_payload_has_no_text() {
        assert_eq!(text("{}"), "");
    }
}
