//! Messages: posting (once per client id), edits, deletes and reactions,
//! each taking the room's next seq; pages by id and changes by seq.

use super::super::{Change, NewPost, Posted, Result, StoreError};
use super::schema::{self, SELECT_MESSAGE};
use super::{rooms, users};
use crate::bus::{Audience, Publish};
use app::protocol::{ChatMessage, MessageId, RoomId, Seq, ServerEvent, UserId, REACTIONS};
use rusqlite::{params, Connection, OptionalExtension};

/// Mentions kept per message, at most.
const MAX_MENTIONS: usize = 20;

pub fn post(db: &Connection, post: &NewPost, out: &mut Vec<Publish>) -> Result<Posted> {
    let me = users::identity(db, &post.device)?.ok_or(StoreError::NoIdentity)?;
    let client = post.client_id.0.to_string();
    let existing: Option<i64> = db
        .prepare_cached("SELECT id FROM messages WHERE user_id = ?1 AND client_id = ?2")?
        .query_row(params![me.user_id.0, client], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        return Ok(Posted {
            message: schema::message(db, MessageId(id))?,
            fresh: false,
        });
    }
    rooms::writable(db, post.room)?;
    if let Some(parent) = post.reply_to {
        parent_in_room(db, parent, post.room)?;
    }
    let attachment = post
        .attachment
        .as_ref()
        .and_then(|a| serde_json::to_string(a).ok());
    let seq = rooms::next_seq(db, post.room)?;
    let mut message = db
        .prepare_cached(&format!(
            "INSERT INTO messages (user_id, client_id, user_name, color, body, ts, room_id, created_seq, seq, attachment, reply_to, bot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, (SELECT bot FROM users WHERE id = ?1))
             RETURNING {}",
            SELECT_MESSAGE
                .trim_start_matches("SELECT ")
                .trim_end_matches(" FROM messages")
        ))?
        .query_row(
            params![
                me.user_id.0,
                client,
                me.name,
                me.color,
                post.text.as_str(),
                post.ts,
                post.room.0,
                seq.0,
                attachment,
                post.reply_to.map(|id| id.0)
            ],
            schema::message_from_row,
        )?;
    schema::fill_quotes(db, message.reply.iter_mut().collect())?;
    let answered = super::super::answered(&message);
    message.mentions =
        store_mentions(db, message.id, post.text.as_str(), &post.mentions, answered)?;
    if let Some(file) = &post.attachment {
        super::members::record_files(db, message.id, post.room, file)?;
    }
    let activity = ServerEvent::Activity {
        room: post.room,
        seq,
        user_id: me.user_id,
        mentions: message.mentions.clone(),
    };
    out.push(Publish {
        audience: Audience::Everyone,
        room: Some(post.room),
        scope: Some(post.room),
        event: ServerEvent::Message {
            message: message.clone(),
        },
        activity: Some(activity),
    });
    Ok(Posted {
        message,
        fresh: true,
    })
}

/// A reply answers a message of its own room only.
fn parent_in_room(db: &Connection, parent: MessageId, room: RoomId) -> Result<()> {
    db.prepare_cached("SELECT 1 FROM messages WHERE id = ?1 AND room_id = ?2")?
        .query_row([parent.0, room.0], |_| Ok(()))
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// Keeps the mentioned users whose current name the text holds as
/// `@name`, and the author of the message answered; returns them in id
/// order.
fn store_mentions(
    db: &Connection,
    id: MessageId,
    text: &str,
    wanted: &[UserId],
    answered: Option<UserId>,
) -> Result<Vec<UserId>> {
    let mut kept: Vec<UserId> = Vec::new();
    for user in wanted.iter().take(MAX_MENTIONS).chain(answered.iter()) {
        if kept.contains(user) {
            continue;
        }
        let named = || -> Result<bool> {
            let name: Option<String> = db
                .prepare_cached("SELECT name FROM users WHERE id = ?1")?
                .query_row([user.0], |r| r.get(0))
                .optional()?;
            Ok(name.is_some_and(|n| text.contains(&format!("@{n}"))))
        };
        if Some(*user) == answered || named()? {
            db.prepare_cached(
                // The mention's room and place, for counting from a mark.
                "INSERT INTO mentions (message_id, user_id, room_id, created_seq)
                 SELECT ?1, ?2, room_id, created_seq FROM messages WHERE id = ?1",
            )?
            .execute([id.0, user.0])?;
            kept.push(*user);
        }
    }
    kept.sort();
    Ok(kept)
}

pub fn change(
    db: &Connection,
    device: &app::protocol::DeviceId,
    id: MessageId,
    change: &Change,
    now: i64,
    out: &mut Vec<Publish>,
) -> Result<ChatMessage> {
    let me = users::identity(db, device)?.ok_or(StoreError::NoIdentity)?;
    type Found = (i64, i64, i64, bool, String, bool, Option<String>);
    let (author, room, ts, deleted, body, preview_off, preview): Found = db
        .prepare_cached(
            "SELECT user_id, room_id, ts, deleted, body, preview_off, preview
             FROM messages WHERE id = ?1",
        )?
        .query_row([id.0], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let room = RoomId(room);
    rooms::writable(db, room)?;
    if deleted {
        return Err(StoreError::NotFound);
    }
    let mine = author == me.user_id.0;
    match change {
        Change::Edit { text, window_ms } => {
            if !mine {
                return Err(StoreError::NotAuthor);
            }
            if now - ts > *window_ms {
                return Err(StoreError::EditWindowClosed);
            }
            let seq = rooms::next_seq(db, room)?;
            // A card stays only while its link still comes first; a new
            // first link gets its card after the edit (`unfurl`).
            let preview = super::super::kept_preview(preview, text.as_str());
            db.prepare_cached(
                "UPDATE messages SET body = ?2, edited_at = ?3, seq = ?4, preview = ?5 WHERE id = ?1",
            )?
            .execute(params![id.0, text.as_str(), now, seq.0, preview])?;
            // Mentions the new text no longer names are dropped.
            let before = schema::message(db, id)?;
            db.prepare_cached("DELETE FROM mentions WHERE message_id = ?1")?
                .execute([id.0])?;
            store_mentions(
                db,
                id,
                text.as_str(),
                &before.mentions,
                super::super::answered(&before),
            )?;
        }
        Change::Delete => {
            if !mine {
                return Err(StoreError::NotAuthor);
            }
            let seq = rooms::next_seq(db, room)?;
            erase(db, id, 1, seq)?;
        }
        Change::Remove => {
            // The caller checked the remover's role.
            let seq = rooms::next_seq(db, room)?;
            erase(db, id, 2, seq)?;
        }
        Change::React { emoji, on } => {
            if !REACTIONS.contains(&emoji.as_str()) {
                return Err(StoreError::InvalidReaction);
            }
            let changed = if *on {
                db.prepare_cached(
                    "INSERT OR IGNORE INTO reactions (message_id, user_id, emoji) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![id.0, me.user_id.0, emoji])?
            } else {
                db.prepare_cached(
                    "DELETE FROM reactions WHERE message_id = ?1 AND user_id = ?2 AND emoji = ?3",
                )?
                .execute(params![id.0, me.user_id.0, emoji])?
            };
            if changed == 0 {
                // A resend: already so. Nothing new to tell anyone.
                return schema::message(db, id);
            }
            let seq = rooms::next_seq(db, room)?;
            db.prepare_cached("UPDATE messages SET seq = ?2 WHERE id = ?1")?
                .execute(params![id.0, seq.0])?;
        }
        Change::Preview(card) => {
            if !mine {
                return Err(StoreError::NotAuthor);
            }
            if preview_off || !super::super::previews(&body, card) {
                // Edited meanwhile, or taken away: nothing to tell.
                return schema::message(db, id);
            }
            let json =
                serde_json::to_string(card).map_err(|e| StoreError::Commit(e.to_string()))?;
            let seq = rooms::next_seq(db, room)?;
            db.prepare_cached("UPDATE messages SET preview = ?2, seq = ?3 WHERE id = ?1")?
                .execute(params![id.0, json, seq.0])?;
            if let Some(image) = &card.image {
                // Its picture is served to those who may read the room.
                db.prepare_cached(
                    "INSERT OR IGNORE INTO message_files (blob, message_id, room_id) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![image.id, id.0, room.0])?;
            }
        }
        Change::HidePreview => {
            if !mine {
                return Err(StoreError::NotAuthor);
            }
            if preview_off {
                return schema::message(db, id);
            }
            let seq = rooms::next_seq(db, room)?;
            db.prepare_cached(
                "UPDATE messages SET preview = NULL, preview_off = 1, seq = ?2 WHERE id = ?1",
            )?
            .execute(params![id.0, seq.0])?;
        }
    }
    let message = schema::message(db, id)?;
    out.push(Publish::room(
        room,
        ServerEvent::Message {
            message: message.clone(),
        },
    ));
    Ok(message)
}

/// Deletes a message's text, reactions and mentions (the text is gone
/// from storage, not hidden); `how` is 1 for its author, 2 for a
/// moderator.
pub fn erase(db: &Connection, id: MessageId, how: i64, seq: Seq) -> Result<()> {
    // Its photo or file goes too: the upload it came from is spent, and
    // the blob sweep deletes the file once nothing else refers to it.
    db.prepare_cached(
        "DELETE FROM uploads WHERE json_extract(attachment, '$.id') =
             (SELECT json_extract(attachment, '$.id') FROM messages WHERE id = ?1)",
    )?
    .execute([id.0])?;
    db.prepare_cached(
        "UPDATE messages SET body = '', deleted = ?2, seq = ?3, attachment = NULL, preview = NULL
         WHERE id = ?1",
    )?
    .execute(params![id.0, how, seq.0])?;
    db.prepare_cached("DELETE FROM reactions WHERE message_id = ?1")?
        .execute([id.0])?;
    db.prepare_cached("DELETE FROM mentions WHERE message_id = ?1")?
        .execute([id.0])?;
    // Its files stay tied to the room: a deleted private message's photo
    // is no one else's to fetch before it is swept.
    Ok(())
}

/// A room's page before a message, newest first (`messages_room_id`).
pub const PAGE_BEFORE: &str = "WHERE room_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3";
/// A room's changes after a seq, in seq order (`messages_room_seq`).
pub const CHANGED_AFTER: &str = "WHERE room_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3";

pub fn page_before(
    db: &Connection,
    room: RoomId,
    before: Option<MessageId>,
    limit: u32,
) -> Result<Vec<ChatMessage>> {
    let before = before.map_or(i64::MAX, |id| id.0);
    let mut page = schema::messages(
        db,
        &format!("{SELECT_MESSAGE} {PAGE_BEFORE}"),
        params![room.0, before, limit],
    )?;
    page.reverse();
    Ok(page)
}

pub fn changed_after(
    db: &Connection,
    room: RoomId,
    after: Seq,
    limit: u32,
) -> Result<Vec<ChatMessage>> {
    schema::messages(
        db,
        &format!("{SELECT_MESSAGE} {CHANGED_AFTER}"),
        params![room.0, after.0, limit],
    )
}

/// A room's messages after `after`, oldest first (an export's next page).
pub fn page_after(
    db: &Connection,
    room: RoomId,
    after: MessageId,
    limit: u32,
) -> Result<Vec<ChatMessage>> {
    schema::messages(
        db,
        &format!("{SELECT_MESSAGE} WHERE room_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"),
        params![room.0, after.0, limit],
    )
}

/// The message `id` with up to `half` messages of its room on each side,
/// oldest first: a search result in its context.
pub fn page_around(
    db: &Connection,
    id: MessageId,
    half: u32,
) -> Result<(RoomId, Vec<ChatMessage>)> {
    let room: i64 = db
        .prepare_cached("SELECT room_id FROM messages WHERE id = ?1")?
        .query_row([id.0], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let room = RoomId(room);
    let mut page = page_before(db, room, Some(MessageId(id.0 + 1)), half + 1)?;
    page.extend(page_after(db, room, id, half)?);
    Ok((room, page))
}
