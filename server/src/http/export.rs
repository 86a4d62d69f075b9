//! Taking one's history along: `GET /export.json` and `GET /export.html`
//! give every room the device can read, oldest message first; the owner
//! adds `?all=1` for the whole chat (every room, private and direct ones
//! included). The answer is streamed page by page, so a long history never
//! sits in memory; photos and files are links to `/files/<id>`.

use super::state::AppState;
use crate::chat::{Chat, ChatError};
use crate::store::RoomKey;
use app::protocol::{ChatMessage, DeviceId, MessageId, RoomInfo};
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use tokio::sync::mpsc;

/// Messages read (and written out) at a time.
const PAGE: u32 = 500;

#[derive(serde::Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    all: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Html,
}

pub async fn json(
    state: State<AppState>,
    device: Extension<DeviceId>,
    q: Query<ExportQuery>,
) -> Response {
    export(state, device, q, Format::Json).await
}

pub async fn html(
    state: State<AppState>,
    device: Extension<DeviceId>,
    q: Query<ExportQuery>,
) -> Response {
    export(state, device, q, Format::Html).await
}

async fn export(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceId>,
    Query(q): Query<ExportQuery>,
    format: Format,
) -> Response {
    let all = q.all.as_deref().is_some_and(|v| v == "1" || v == "true");
    let rooms = match rooms(&state.chat, device, all).await {
        Ok(rooms) => rooms,
        Err(e) => return e.into_response(),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(2);
    let chat = state.chat.clone();
    tokio::spawn(async move {
        if let Err(e) = write(&chat, device, rooms, format, &tx).await {
            tracing::warn!(error = %e, "an export stopped");
        }
    });
    // Fused: the compression layer may poll again after the end.
    let stream = futures::StreamExt::fuse(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    }));
    let (kind, name) = match format {
        Format::Json => ("application/json", "chat-export.json"),
        Format::Html => ("text/html; charset=utf-8", "chat-export.html"),
    };
    (
        [
            (CONTENT_TYPE, kind.to_owned()),
            (CACHE_CONTROL, "no-store".to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// The rooms exported: those the device reads, or for the owner asking
/// for all, every room.
async fn rooms(chat: &Chat, device: DeviceId, all: bool) -> Result<Vec<RoomInfo>, ChatError> {
    let standing = chat.admit(device).await?;
    if all {
        if standing.role != Some(app::api::Role::Owner) {
            return Err(ChatError::Forbidden(
                "Only the owner exports the whole chat.".into(),
            ));
        }
        let mut rooms: Vec<RoomInfo> = chat
            .store()
            .room_statuses(None)
            .await?
            .into_iter()
            .map(|s| s.room)
            .collect();
        for (id, _) in chat.store().closed_rooms().await? {
            if !rooms.iter().any(|r| r.id == id) {
                if let Some(room) = chat.store().room(RoomKey::Id(id)).await? {
                    rooms.push(room);
                }
            }
        }
        rooms.sort_by_key(|r| r.id);
        return Ok(rooms);
    }
    Ok(chat
        .room_statuses(device)
        .await?
        .into_iter()
        .map(|s| s.room)
        .filter(|r| chat.check_read(Some(device), r.id).is_ok())
        .collect())
}

/// Writes the export into `tx`, a page at a time; stops when the reader
/// goes away.
async fn write(
    chat: &Chat,
    device: DeviceId,
    rooms: Vec<RoomInfo>,
    format: Format,
    tx: &mpsc::Sender<Bytes>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let me = chat.identity(device).await?;
    let mut out = String::new();
    match format {
        Format::Json => {
            out.push_str(&format!(
                "{{\"exported_at\":{},\"by\":{},\"rooms\":[",
                crate::base::now_ms(),
                serde_json::to_string(&me)?
            ));
        }
        Format::Html => html_head(&mut out, me.as_ref().map(|m| m.name.as_str())),
    }
    for (n, room) in rooms.iter().enumerate() {
        match format {
            Format::Json => {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(&format!(
                    "{{\"room\":{},\"messages\":[",
                    serde_json::to_string(room)?
                ));
            }
            Format::Html => {
                out.push_str("<section><h2>");
                app::rich::escape(&room.name, &mut out);
                out.push_str("</h2><ol>");
            }
        }
        let mut after = MessageId(0);
        let mut first = true;
        loop {
            let page = chat.store().page_after(room.id, after, PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.id;
            for m in &page {
                match format {
                    Format::Json => {
                        if !first {
                            out.push(',');
                        }
                        out.push_str(&serde_json::to_string(m)?);
                    }
                    Format::Html => html_message(m, &mut out),
                }
                first = false;
            }
            tx.send(Bytes::from(std::mem::take(&mut out))).await?;
            if page.len() < PAGE as usize {
                break;
            }
        }
        out.push_str(match format {
            Format::Json => "]}",
            Format::Html => "</ol></section>",
        });
    }
    out.push_str(match format {
        Format::Json => "]}",
        Format::Html => "</body></html>\n",
    });
    tx.send(Bytes::from(out)).await?;
    Ok(())
}

fn html_head(out: &mut String, who: Option<&str>) {
    out.push_str(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Chat export</title><style>\
         body{font:16px/1.4 system-ui,sans-serif;max-width:48rem;margin:auto;padding:1rem}\
         ol{list-style:none;padding:0}li{margin:.35rem 0}time{color:#666;font-size:.85em}\
         .who{font-weight:600}.gone{color:#888;font-style:italic}pre{overflow-x:auto}\
         </style></head><body><h1>Chat export</h1>",
    );
    if let Some(who) = who {
        out.push_str("<p>For ");
        app::rich::escape(who, out);
        out.push_str("</p>");
    }
}

/// One message: its time (UTC), author and text; the text as the chat
/// draws it (known tags, every piece of text escaped) or escaped as is.
fn html_message(m: &ChatMessage, out: &mut String) {
    out.push_str("<li><time>");
    out.push_str(&app::time::day_label(m.ts, false));
    out.push(' ');
    out.push_str(&app::time::clock(m.ts, false));
    out.push_str("</time> <span class=\"who\">");
    app::rich::escape(&m.user_name, out);
    if m.bot {
        out.push_str(" (bot)");
    }
    out.push_str("</span>: ");
    if m.deleted {
        out.push_str("<span class=\"gone\">message deleted</span>");
    } else if let Some(rich) = &m.rich {
        out.push_str(rich);
    } else {
        app::rich::escape(&m.msg, out);
    }
    if let Some(file) = &m.attachment {
        out.push_str(" <a href=\"/files/");
        app::rich::escape(&file.id, out);
        out.push_str("\">");
        app::rich::escape(&file.name, out);
        out.push_str("</a>");
    }
    if m.edited {
        out.push_str(" <span class=\"gone\">(edited)</span>");
    }
    out.push_str("</li>");
}
