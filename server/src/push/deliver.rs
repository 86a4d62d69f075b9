//! One push, encrypted for the browser (RFC 8291), signed with the
//! server's VAPID key (RFC 8292) and POSTed to its push service (RFC 8030).

use super::collapse::Summary;
use super::registry::Target;
use app::protocol::{RoomInfo, RoomKind};
use serde::Serialize;
use std::time::Duration;
use web_push_native::jwt_simple::algorithms::ES256KeyPair;
use web_push_native::WebPushBuilder;

/// How long a push service keeps a notification for an offline device.
const TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// Characters of the message text shown in a notification.
const PREVIEW: usize = 120;

/// What the service worker shows (see `sw.js`).
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Payload {
    pub title: String,
    pub body: String,
    /// Notifications with the same tag replace each other: one per room.
    pub tag: String,
    /// Where a tap leads.
    pub url: String,
    pub count: u32,
}

impl Payload {
    pub fn new(room: &RoomInfo, summary: &Summary) -> Self {
        let latest = &summary.latest;
        let what = if let Some(blocks) = latest
            .rich
            .as_ref()
            .and_then(|_| app::rich::parse(&latest.msg))
        {
            preview(&app::rich::plain(&blocks))
        } else if !latest.msg.is_empty() {
            preview(&latest.msg)
        } else if let Some(file) = &latest.attachment {
            if file.image.is_some() {
                "sent a photo".to_owned()
            } else {
                format!("sent {}", preview(&file.name))
            }
        } else {
            String::new()
        };
        // A direct conversation's is from a person, not a room.
        let title = match (room.kind, summary.count) {
            (RoomKind::Direct, 1) => latest.user_name.clone(),
            (RoomKind::Direct, n) => format!("{n} new messages from {}", latest.user_name),
            (_, 1) => format!("#{}", room.name),
            (_, n) => format!("{n} new messages in #{}", room.name),
        };
        Self {
            title,
            body: format!("{}: {what}", latest.user_name),
            tag: format!("room-{}", room.id.0),
            url: format!("/r/{}", room.slug),
            count: summary.count,
        }
    }
}

fn preview(text: &str) -> String {
    let mut chars = text.chars();
    let start: String = chars.by_ref().take(PREVIEW).collect();
    if chars.next().is_some() {
        format!("{}…", start.trim_end())
    } else {
        start
    }
}

/// What the push service said.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// 404/410: the subscription has ended; forget it.
    Gone,
    /// Worth another try, after the service's `Retry-After` if it gave one.
    Retry(Option<Duration>, String),
    /// Refused for good (a bad request, a key the service does not accept).
    Refused(String),
}

pub struct Sender {
    pub client: reqwest::Client,
    pub key: ES256KeyPair,
    pub contact: String,
}

impl Sender {
    pub async fn send(
        &self,
        target: &Target,
        endpoint: axum::http::Uri,
        payload: &Payload,
    ) -> Outcome {
        let body = match serde_json::to_vec(payload) {
            Ok(body) => body,
            Err(e) => return Outcome::Refused(e.to_string()),
        };
        let request = WebPushBuilder::new(endpoint, target.keys.p256dh, target.keys.auth)
            .with_valid_duration(TTL)
            .with_vapid(&self.key, &self.contact)
            .build(body);
        let mut request = match request.map(reqwest::Request::try_from) {
            Ok(Ok(request)) => request,
            Ok(Err(e)) => return Outcome::Refused(e.to_string()),
            Err(e) => return Outcome::Refused(e.to_string()),
        };
        let headers = request.headers_mut();
        // Topic: an undelivered notification for the room is replaced at
        // the push service too, not only on the device.
        if let Ok(topic) = payload.tag.parse() {
            headers.insert("topic", topic);
        }
        headers.insert("urgency", axum::http::HeaderValue::from_static("normal"));
        match self.client.execute(request).await {
            Ok(res) => outcome(res.status(), res.headers()),
            Err(e) => Outcome::Retry(None, e.to_string()),
        }
    }
}

fn outcome(status: reqwest::StatusCode, headers: &reqwest::header::HeaderMap) -> Outcome {
    use reqwest::StatusCode as S;
    match status {
        s if s.is_success() => Outcome::Delivered,
        S::NOT_FOUND | S::GONE => Outcome::Gone,
        S::TOO_MANY_REQUESTS | S::REQUEST_TIMEOUT => {
            Outcome::Retry(retry_after(headers), status.to_string())
        }
        s if s.is_server_error() => Outcome::Retry(retry_after(headers), status.to_string()),
        s => Outcome::Refused(s.to_string()),
    }
}

/// `Retry-After` in seconds (push services do not send dates).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::protocol::{Attachment, ChatMessage, ImageInfo, MessageId, RoomId, Seq, UserId};

    fn room() -> RoomInfo {
        RoomInfo::open(RoomId(3), "general".into(), "general".into(), false)
    }

    fn summary(count: u32, text: &str, attachment: Option<Attachment>) -> Summary {
        Summary {
            count,
            latest: ChatMessage {
                id: MessageId(1),
                user_id: UserId(1),
                user_name: "Ann".into(),
                color: String::new(),
                msg: text.into(),
                ts: 0,
                room: RoomId(3),
                seq: Seq(1),
                edited: false,
                deleted: false,
                removed: false,
                reactions: Vec::new(),
                mentions: Vec::new(),
                attachment,
                rich: None,
                reply: None,
                preview: None,
                bot: false,
            },
        }
    }

    #[test]
    fn a_notification_names_the_room_the_sender_and_the_start_of_the_text() {
        let p = Payload::new(&room(), &summary(1, "lunch at noon?", None));
        assert_eq!(p.title, "#general");
        assert_eq!(p.body, "Ann: lunch at noon?");
        assert_eq!((p.tag.as_str(), p.url.as_str()), ("room-3", "/r/general"));
        let p = Payload::new(&room(), &summary(3, &"long ".repeat(100), None));
        assert_eq!(p.title, "3 new messages in #general");
        assert!(p.body.ends_with('…'));
        assert!(p.body.chars().count() < PREVIEW + 10);
    }

    #[test]
    fn photos_and_files_are_described() {
        let file = |image| Attachment {
            id: "abc".into(),
            name: "plan.pdf".into(),
            mime: "application/pdf".into(),
            size: 10,
            image,
        };
        let photo = ImageInfo {
            width: 1,
            height: 1,
            thumb: "t".into(),
        };
        let p = Payload::new(&room(), &summary(1, "", Some(file(Some(photo)))));
        assert_eq!(p.body, "Ann: sent a photo");
        let p = Payload::new(&room(), &summary(1, "", Some(file(None))));
        assert_eq!(p.body, "Ann: sent plan.pdf");
    }

    #[test]
    fn statuses_decide_what_happens_next() {
        use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
        let none = HeaderMap::new();
        assert_eq!(
            outcome(reqwest::StatusCode::CREATED, &none),
            Outcome::Delivered
        );
        assert_eq!(outcome(reqwest::StatusCode::GONE, &none), Outcome::Gone);
        assert_eq!(
            outcome(reqwest::StatusCode::NOT_FOUND, &none),
            Outcome::Gone
        );
        let mut later = HeaderMap::new();
        later.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert!(matches!(
            outcome(reqwest::StatusCode::TOO_MANY_REQUESTS, &later),
            Outcome::Retry(Some(d), _) if d == Duration::from_secs(7)
        ));
        assert!(matches!(
            outcome(reqwest::StatusCode::BAD_GATEWAY, &none),
            Outcome::Retry(None, _)
        ));
        assert!(matches!(
            outcome(reqwest::StatusCode::FORBIDDEN, &none),
            Outcome::Refused(_)
        ));
    }
}
