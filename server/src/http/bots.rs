//! The bot API, for scripts and other tools, authorised by the bot's key
//! in the path (no cookie, no page):
//! - `POST /api/bot/<key>/rooms/<slug>/messages`: a plain-text body, JSON
//!   `{"text": …}`, or a multipart form with a `file` (and maybe `text`);
//! - `POST /api/bot/<key>/rooms/<slug>/slack`: a Slack-style incoming
//!   webhook (`{"text": …}`, or a form with `payload=`);
//! - `GET /api/bot/<key>/rooms/<slug>/messages?before=<id>&limit=<n>`: a
//!   page of the room, oldest first, the next (older) page in `Link`.
//!
//! A bot posts as a person would: the same checks, limits, rooms and
//! direct-message rules. Every refusal is JSON `{"error": …}`.

use super::state::AppState;
use crate::bots::slack;
use crate::chat::{ChatError, Draft};
use crate::store::{RoomKey, StoredBot};
use app::protocol::{Attachment, ChatMessage, ClientMessageId, MessageId, RoomInfo};
use app::validate::MessageText;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::header::{CONTENT_TYPE, LINK, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// A page read by a bot: at most this many.
const MAX_PAGE: u32 = 200;
const PAGE: u32 = 50;

fn error(status: StatusCode, text: &str) -> Response {
    (status, Json(serde_json::json!({ "error": text }))).into_response()
}

/// A chat refusal as the bot API's JSON, in the chat's own words.
fn refused(e: ChatError) -> Response {
    use crate::store::StoreError;
    let wait = match &e {
        ChatError::RateLimited(wait) => Some(*wait),
        _ => None,
    };
    let text = match &e {
        ChatError::Refused(t) | ChatError::Forbidden(t) => t.clone(),
        ChatError::Denied(why) => why.sentence().to_owned(),
        ChatError::RateLimited(_) => "Too many messages; slow down.".into(),
        ChatError::Store(StoreError::NotFound) => "There is no such room or message.".into(),
        ChatError::Store(StoreError::Archived) => "The room is archived.".into(),
        _ => String::new(),
    };
    let plain = e.into_response();
    let status = plain.status();
    let text = if text.is_empty() {
        match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                "The chat's database cannot be reached. Please try again in a moment.".into()
            }
            _ => "Please try again.".into(),
        }
    } else {
        text
    };
    let mut res = error(status, &text);
    if let Some(wait) = wait {
        let secs = wait.as_secs().max(1).to_string();
        if let Ok(v) = HeaderValue::from_str(&secs) {
            res.headers_mut().insert(RETRY_AFTER, v);
        }
    }
    res
}

/// The bot the key belongs to and the room it may read, or the refusal.
async fn bot_in_room(
    state: &AppState,
    key: &str,
    slug: String,
) -> Result<(StoredBot, RoomInfo), Response> {
    let bot = match state.chat.bot_by_key(key).await {
        Ok(Some(bot)) => bot,
        Ok(None) => {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "Unknown or revoked bot key.",
            ))
        }
        Err(e) => return Err(refused(e)),
    };
    if let Err(e) = state.chat.admit(bot.device).await {
        return Err(refused(e));
    }
    match state
        .chat
        .readable_room(Some(bot.device), RoomKey::Slug(slug))
        .await
    {
        Ok(Some(room)) => Ok((bot, room)),
        Ok(None) => Err(error(
            StatusCode::NOT_FOUND,
            "There is no such room, or this bot may not read it.",
        )),
        Err(e) => Err(refused(e)),
    }
}

/// Posts `text` (and a file) into the room as the bot: 201 with the
/// message.
async fn post(
    state: &AppState,
    bot: &StoredBot,
    room: &RoomInfo,
    text: &str,
    attachment: Option<Attachment>,
) -> Response {
    // A file alone is a message too; its name then stands for the text.
    let text = match (text.trim().is_empty(), &attachment) {
        (true, Some(file)) => file.name.clone(),
        _ => text.to_owned(),
    };
    let text = match MessageText::parse(&text) {
        Ok(text) => text,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    };
    if let Err(wait) = state.chat.limits().messages.check(&bot.device) {
        return refused(ChatError::RateLimited(wait));
    }
    let draft = Draft {
        room: room.id,
        client_id: ClientMessageId::new_random(),
        text,
        mentions: Vec::new(),
        attachment,
        reply_to: None,
    };
    let ticket = match state.chat.submit(bot.device, draft).await {
        Ok(ticket) => ticket,
        Err(e) => return refused(e),
    };
    match ticket.await {
        Ok(posted) => (StatusCode::CREATED, Json(posted.message)).into_response(),
        Err(e) => refused(ChatError::from(e)),
    }
}

fn content_type(req: &Request) -> String {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/plain")
        .to_ascii_lowercase()
}

/// `POST /api/bot/<key>/rooms/<slug>/messages`.
pub async fn post_message(
    State(state): State<AppState>,
    Path((key, slug)): Path<(String, String)>,
    req: Request,
) -> Response {
    let (bot, room) = match bot_in_room(&state, &key, slug).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let kind = content_type(&req);
    if kind.starts_with("multipart/form-data") {
        return post_file(&state, &bot, &room, req).await;
    }
    let body = match Bytes::from_request(req, &()).await {
        Ok(body) => body,
        Err(e) => return error(e.status(), &e.body_text()),
    };
    let text = if kind.starts_with("application/json") {
        #[derive(serde::Deserialize)]
        struct Text {
            text: String,
        }
        match serde_json::from_slice::<Text>(&body) {
            Ok(t) => t.text,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("Expected {{\"text\": \"…\"}}: {e}"),
                )
            }
        }
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => text,
            Err(_) => return error(StatusCode::BAD_REQUEST, "The text is not UTF-8."),
        }
    };
    post(&state, &bot, &room, &text, None).await
}

/// A multipart post: its `file` stored as an upload of the bot's, with
/// the `text` (or `body`) field as the message.
async fn post_file(state: &AppState, bot: &StoredBot, room: &RoomInfo, req: Request) -> Response {
    let mut form = match Multipart::from_request(req, &()).await {
        Ok(form) => form,
        Err(e) => return error(e.status(), &e.body_text()),
    };
    let mut text = String::new();
    let mut file: Option<(Option<String>, Bytes)> = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                let file_name = field.file_name().map(str::to_owned);
                let bytes = match field.bytes().await {
                    Ok(bytes) => bytes,
                    Err(e) => return error(e.status(), &e.body_text()),
                };
                match name.as_str() {
                    "file" => file = Some((file_name, bytes)),
                    "text" | "body" => text = String::from_utf8_lossy(&bytes).into_owned(),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(e) => return error(e.status(), &e.body_text()),
        }
    }
    let Some((name, bytes)) = file else {
        return error(
            StatusCode::BAD_REQUEST,
            "A multipart post needs a \"file\" field.",
        );
    };
    let uploaded = match state
        .files
        .take(bot.device, name.as_deref(), bytes.to_vec())
        .await
    {
        Ok(uploaded) => uploaded,
        Err(e) => return e.into_response(),
    };
    post(state, bot, room, &text, Some(uploaded.attachment)).await
}

/// `POST /api/bot/<key>/rooms/<slug>/slack`: answers `ok` as Slack does.
pub async fn slack_hook(
    State(state): State<AppState>,
    Path((key, slug)): Path<(String, String)>,
    req: Request,
) -> Response {
    let (bot, room) = match bot_in_room(&state, &key, slug).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let form = content_type(&req).starts_with("application/x-www-form-urlencoded");
    let body = match Bytes::from_request(req, &()).await {
        Ok(body) => body,
        Err(e) => return error(e.status(), &e.body_text()),
    };
    let json: Vec<u8> = if form {
        let payload = url::form_urlencoded::parse(&body).find(|(k, _)| k == "payload");
        match payload {
            Some((_, v)) => v.into_owned().into_bytes(),
            None => return error(StatusCode::BAD_REQUEST, "Expected payload=<JSON>."),
        }
    } else {
        body.to_vec()
    };
    let payload = match serde_json::from_slice::<slack::Payload>(&json) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid_payload: {e}")),
    };
    let res = post(&state, &bot, &room, &payload.text(), None).await;
    if res.status() == StatusCode::CREATED {
        (StatusCode::OK, "ok").into_response()
    } else {
        res
    }
}

#[derive(serde::Deserialize)]
pub struct PageQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

/// `GET /api/bot/<key>/rooms/<slug>/messages`.
pub async fn read_messages(
    State(state): State<AppState>,
    Path((key, slug)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Response {
    let (bot, room) = match bot_in_room(&state, &key, slug).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let limit = q.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let page: Vec<ChatMessage> = match state
        .chat
        .page_before(Some(bot.device), room.id, q.before.map(MessageId), limit)
        .await
    {
        Ok(page) => page,
        Err(e) => return refused(e),
    };
    let next = (page.len() == limit as usize)
        .then(|| page.first().map(|m| m.id.0))
        .flatten();
    let mut res = Json(page).into_response();
    if let Some(oldest) = next {
        let link = format!(
            "</api/bot/{key}/rooms/{}/messages?before={oldest}&limit={limit}>; rel=\"next\"",
            room.slug
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            res.headers_mut().insert(LINK, v);
        }
    }
    res
}
