//! Messages in the shared mode: changes (edits, deletes, reactions, a
//! moderator's removals) under the room's lock, and pages and catch-up.
//! New posts are stored by `writer`, in batches.

use super::super::{Change, Result, StoreError};
use super::rows::{self, SELECT_MESSAGE};
use super::{rooms, users};
use crate::store::search::{CLOSE, OPEN};
use app::protocol::{ChatMessage, DeviceId, MessageId, RoomId, Seq, UserId, REACTIONS};
use tokio_postgres::GenericClient;

/// Mentions kept per message, at most.
const MAX_MENTIONS: usize = 20;

/// A reply answers a message of its own room only.
pub async fn parent_in_room<C: GenericClient + Sync>(
    db: &C,
    parent: MessageId,
    room: RoomId,
) -> Result<()> {
    db.query_opt(
        "SELECT 1 FROM messages WHERE id = $1 AND room_id = $2",
        &[&parent.0, &room.0],
    )
    .await?
    .map(|_| ())
    .ok_or(StoreError::NotFound)
}

/// Keeps the mentioned users whose current name the text holds as
/// `@name`, and the author of the message answered; returns them in id
/// order.
pub async fn store_mentions<C: GenericClient + Sync>(
    db: &C,
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
        let named = Some(*user) == answered || {
            let name: Option<String> = db
                .query_opt("SELECT name FROM users WHERE id = $1", &[&user.0])
                .await?
                .map(|r| r.get(0));
            name.is_some_and(|n| text.contains(&format!("@{n}")))
        };
        if named {
            // The mention's room and place, for counting from a mark.
            db.execute(
                "INSERT INTO mentions (message_id, user_id, room_id, created_seq)
                 SELECT $1, $2, room_id, created_seq FROM messages WHERE id = $1",
                &[&id.0, &user.0],
            )
            .await?;
            kept.push(*user);
        }
    }
    kept.sort();
    Ok(kept)
}

/// Applies a change in its own transaction, holding the room's row lock
/// until the commit so its seq follows commit order. `None` when nothing
/// changed (a reaction that was already so).
pub async fn change(
    db: &mut tokio_postgres::Client,
    device: &DeviceId,
    id: MessageId,
    change: &Change,
    now: i64,
) -> Result<(ChatMessage, bool)> {
    let tx = db.transaction().await?;
    let me = users::identity(&tx, device)
        .await?
        .ok_or(StoreError::NoIdentity)?;
    let row = tx
        .query_opt(
            "SELECT user_id, room_id, ts, deleted, body, preview_off, preview
             FROM messages WHERE id = $1",
            &[&id.0],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
    let (author, room, ts, deleted): (i64, i64, i64, i16) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let (body, preview_off, preview): (String, bool, Option<String>) =
        (row.get(4), row.get(5), row.get(6));
    let room = RoomId(room);
    let mut seq = rooms::lock(&tx, room).await?;
    if deleted != 0 {
        return Err(StoreError::NotFound);
    }
    let mine = author == me.user_id.0;
    seq = Seq(seq.0 + 1);
    match change {
        Change::Edit { text, window_ms } => {
            if !mine {
                return Err(StoreError::NotAuthor);
            }
            if now - ts > *window_ms {
                return Err(StoreError::EditWindowClosed);
            }
            // A card stays only while its link still comes first; a new
            // first link gets its card after the edit (`unfurl`).
            let preview = super::super::kept_preview(preview, text.as_str());
            tx.execute(
                "UPDATE messages SET body = $2, edited_at = $3, seq = $4, preview = $5 WHERE id = $1",
                &[&id.0, &text.as_str(), &now, &seq.0, &preview],
            )
            .await?;
            let before = rows::message(&tx, id).await?;
            tx.execute("DELETE FROM mentions WHERE message_id = $1", &[&id.0])
                .await?;
            let answered = super::super::answered(&before);
            store_mentions(&tx, id, text.as_str(), &before.mentions, answered).await?;
        }
        Change::Delete => {
            if !mine {
                return Err(StoreError::NotAuthor);
            }
            erase(&tx, id, 1, seq).await?;
        }
        Change::Remove => erase(&tx, id, 2, seq).await?,
        Change::React { emoji, on } => {
            if !REACTIONS.contains(&emoji.as_str()) {
                return Err(StoreError::InvalidReaction);
            }
            let changed = if *on {
                tx.execute(
                    "INSERT INTO reactions (message_id, user_id, emoji) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&id.0, &me.user_id.0, emoji],
                )
                .await?
            } else {
                tx.execute(
                    "DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3",
                    &[&id.0, &me.user_id.0, emoji],
                )
                .await?
            };
            if changed == 0 {
                // A resend: already so. Nothing new to tell anyone.
                let message = rows::message(&tx, id).await?;
                return Ok((message, false));
            }
            tx.execute(
                "UPDATE messages SET seq = $2 WHERE id = $1",
                &[&id.0, &seq.0],
            )
            .await?;
        }
        Change::Preview(card) => {
            if !mine {
                return Err(StoreError::NotAuthor);
            }
            if preview_off || !super::super::previews(&body, card) {
                // Edited meanwhile, or taken away: nothing to tell.
                let message = rows::message(&tx, id).await?;
                return Ok((message, false));
            }
            let json =
                serde_json::to_string(card).map_err(|e| StoreError::Commit(e.to_string()))?;
            tx.execute(
                "UPDATE messages SET preview = $2, seq = $3 WHERE id = $1",
                &[&id.0, &json, &seq.0],
            )
            .await?;
            if let Some(image) = &card.image {
                // Its picture is served to those who may read the room.
                tx.execute(
                    "INSERT INTO message_files (blob, message_id, room_id) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&image.id, &id.0, &room.0],
                )
                .await?;
            }
        }
        Change::HidePreview => {
            if !mine {
                return Err(StoreError::NotAuthor);
            }
            if preview_off {
                let message = rows::message(&tx, id).await?;
                return Ok((message, false));
            }
            tx.execute(
                "UPDATE messages SET preview = NULL, preview_off = TRUE, seq = $2 WHERE id = $1",
                &[&id.0, &seq.0],
            )
            .await?;
        }
    }
    rooms::advance(&tx, room, seq).await?;
    let message = rows::message(&tx, id).await?;
    tx.commit().await?;
    Ok((message, true))
}

/// Deletes a message's text, file, reactions and mentions; `how` is 1
/// for its author, 2 for a moderator.
pub async fn erase<C: GenericClient + Sync>(
    db: &C,
    id: MessageId,
    how: i16,
    seq: Seq,
) -> Result<()> {
    db.execute(
        "DELETE FROM uploads WHERE attachment::jsonb->>'id' =
             (SELECT attachment::jsonb->>'id' FROM messages WHERE id = $1)",
        &[&id.0],
    )
    .await?;
    db.execute(
        "UPDATE messages SET body = '', deleted = $2, seq = $3, attachment = NULL, preview = NULL
         WHERE id = $1",
        &[&id.0, &how, &seq.0],
    )
    .await?;
    db.execute("DELETE FROM reactions WHERE message_id = $1", &[&id.0])
        .await?;
    db.execute("DELETE FROM mentions WHERE message_id = $1", &[&id.0])
        .await?;
    Ok(())
}

/// Removes every message of `user` still showing, each as its room's
/// next change; the rooms touched, with their new last seq.
pub async fn remove_all_of(
    db: &mut tokio_postgres::Client,
    user: UserId,
) -> Result<(u32, Vec<(RoomId, Seq)>)> {
    let tx = db.transaction().await?;
    let found = tx
        .query(
            "SELECT id, room_id FROM messages WHERE user_id = $1 AND deleted = 0 ORDER BY room_id, id",
            &[&user.0],
        )
        .await?;
    let mut touched: Vec<(RoomId, Seq)> = Vec::new();
    for row in &found {
        let (id, room): (i64, i64) = (row.get(0), row.get(1));
        let room = RoomId(room);
        let seq = match touched.last_mut() {
            Some((r, seq)) if *r == room => {
                seq.0 += 1;
                *seq
            }
            _ => {
                let seq = Seq(rooms::lock(&tx, room).await?.0 + 1);
                touched.push((room, seq));
                seq
            }
        };
        erase(&tx, MessageId(id), 2, seq).await?;
    }
    for (room, seq) in &touched {
        rooms::advance(&tx, *room, *seq).await?;
    }
    tx.commit().await?;
    Ok((found.len() as u32, touched))
}

/// A room's page before a message, newest first (`messages_room_id`).
/// The ids from `messages_room_id` alone, then their rows: see
/// `rooms::LAST_AT` for the plan this keeps away.
pub const PAGE_BEFORE: &str = "WHERE id IN (SELECT id FROM messages
     WHERE room_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3) ORDER BY id DESC";
/// A room's changes after a seq, in seq order (`messages_room_seq`).
pub const CHANGED_AFTER: &str = "WHERE room_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";

pub async fn page_before<C: GenericClient + Sync>(
    db: &C,
    room: RoomId,
    before: Option<MessageId>,
    limit: u32,
) -> Result<Vec<ChatMessage>> {
    let before = before.map_or(i64::MAX, |id| id.0);
    let mut page = rows::messages(
        db,
        &format!("{SELECT_MESSAGE} {PAGE_BEFORE}"),
        &[&room.0, &before, &i64::from(limit)],
    )
    .await?;
    page.reverse();
    Ok(page)
}

/// Messages of `room` changed after `after`, in seq order, each with its
/// `created_seq`.
pub async fn changed_after<C: GenericClient + Sync>(
    db: &C,
    room: RoomId,
    after: Seq,
    limit: u32,
) -> Result<Vec<(ChatMessage, Seq)>> {
    rows::messages_with_created(
        db,
        &format!("{SELECT_MESSAGE} {CHANGED_AFTER}"),
        &[&room.0, &after.0, &i64::from(limit)],
    )
    .await
}

/// A room's messages after `after`, oldest first (an export's next page).
pub async fn page_after<C: GenericClient + Sync>(
    db: &C,
    room: RoomId,
    after: MessageId,
    limit: u32,
) -> Result<Vec<ChatMessage>> {
    rows::messages(
        db,
        &format!(
            "{SELECT_MESSAGE} WHERE id IN (SELECT id FROM messages
             WHERE room_id = $1 AND id > $2 ORDER BY id LIMIT $3) ORDER BY id"
        ),
        &[&room.0, &after.0, &i64::from(limit)],
    )
    .await
}

pub async fn page_around<C: GenericClient + Sync>(
    db: &C,
    id: MessageId,
    half: u32,
) -> Result<(RoomId, Vec<ChatMessage>)> {
    let room: i64 = db
        .query_opt("SELECT room_id FROM messages WHERE id = $1", &[&id.0])
        .await?
        .ok_or(StoreError::NotFound)?
        .get(0);
    let room = RoomId(room);
    let mut page = page_before(db, room, Some(MessageId(id.0 + 1)), half + 1).await?;
    page.extend(page_after(db, room, id, half).await?);
    Ok((room, page))
}

/// Messages whose current text holds every word of `query` (case
/// insensitive; the last word as typed so far), newest first, each marked
/// where it matched as `search::parts` reads it.
pub async fn search<C: GenericClient + Sync>(
    db: &C,
    query: &str,
    before: Option<MessageId>,
    limit: u32,
) -> Result<Vec<(ChatMessage, String)>> {
    let words: Vec<String> = words(query);
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let patterns: Vec<String> = words
        .iter()
        .map(|w| format!("%{}%", like_escape(&fold(w))))
        .collect();
    let found = rows::messages(
        db,
        &format!(
            "{SELECT_MESSAGE} WHERE deleted = 0 AND id < $1
             AND chat_fold(body) LIKE ALL($2) ORDER BY id DESC LIMIT $3"
        ),
        &[
            &before.map_or(i64::MAX, |id| id.0),
            &patterns,
            &i64::from(limit),
        ],
    )
    .await?;
    Ok(found
        .into_iter()
        .map(|m| {
            let marked = mark(&m.msg, &words);
            (m, marked)
        })
        .collect())
}

/// The searchable words and quoted phrases of a query.
fn words(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = query.trim();
    while !rest.is_empty() && out.len() < 8 {
        let (term, after) = if let Some(quoted) = rest.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        if term.chars().any(|c| c.is_alphanumeric() || !c.is_ascii()) {
            out.push(term.to_owned());
        }
        rest = after.trim_start();
    }
    out
}

fn like_escape(word: &str) -> String {
    word.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Lower case without accents: what search compares (`chat_fold` in SQL).
fn fold(text: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Wraps each occurrence of a word (compared folded) in the marks
/// `search::parts` splits on.
fn mark(text: &str, words: &[String]) -> String {
    let chars: Vec<char> = text.chars().collect();
    // Each folded character remembers the character it came from.
    let mut folded: Vec<char> = Vec::with_capacity(chars.len());
    let mut origin: Vec<usize> = Vec::with_capacity(chars.len());
    for (i, c) in chars.iter().enumerate() {
        for f in fold(&c.to_string()).chars() {
            folded.push(f);
            origin.push(i);
        }
    }
    let mut hit = vec![false; chars.len()];
    for w in words {
        let w: Vec<char> = fold(w).chars().collect();
        if w.is_empty() || w.len() > folded.len() {
            continue;
        }
        for start in 0..=folded.len() - w.len() {
            if folded[start..start + w.len()] == w[..] {
                for &i in &origin[start..start + w.len()] {
                    hit[i] = true;
                }
            }
        }
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut inside = false;
    for (c, h) in chars.into_iter().zip(hit) {
        if h != inside {
            out.push(if h { OPEN } else { CLOSE });
            inside = h;
        }
        out.push(c);
    }
    if inside {
        out.push(CLOSE);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_are_marked_without_regard_to_case() {
        let marked = mark("Say Hello, hello", &["hel".into()]);
        assert_eq!(marked, "Say \u{1}Hel\u{2}lo, \u{1}hel\u{2}lo");
        assert_eq!(mark("Un Café", &["cafe".into()]), "Un \u{1}Café\u{2}");
        assert_eq!(fold("CRÈME Brûlée"), "creme brulee");
        assert_eq!(words(r#" "big cat"  sat *** "#), vec!["big cat", "sat"]);
        assert_eq!(like_escape("50%_\\"), "50\\%\\_\\\\");
    }
}
