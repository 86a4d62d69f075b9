//! Full-text search over messages' current text (FTS5), newest first.

use super::super::Result;
use super::schema::{self, SELECT_MESSAGE};
use app::protocol::{ChatMessage, MessageId};
use rusqlite::{params, Connection};

/// Words (or quoted phrases) taken from one query.
const MAX_TERMS: usize = 8;

/// The user's words as an FTS5 query: every word and every "quoted
/// phrase" becomes a quoted string, so nothing typed is FTS syntax; the
/// last one also matches as a prefix (search as you type). `None` when
/// nothing searchable is left.
pub fn fts_query(input: &str) -> Option<String> {
    let mut terms: Vec<(String, bool)> = Vec::new();
    let mut rest = input.trim();
    while !rest.is_empty() && terms.len() < MAX_TERMS {
        let (term, phrase, after) = if let Some(quoted) = rest.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], true, &quoted[end + 1..]),
                None => (quoted, true, ""),
            }
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            (&rest[..end], false, &rest[end..])
        };
        let searchable = term.chars().any(|c| c.is_alphanumeric() || !c.is_ascii());
        if searchable {
            terms.push((term.replace('"', "\"\""), phrase));
        }
        rest = after.trim_start();
    }
    let last = terms.len().checked_sub(1)?;
    Some(
        terms
            .iter()
            .enumerate()
            .map(|(i, (t, phrase))| {
                if i == last && !phrase {
                    format!("\"{t}\"*")
                } else {
                    format!("\"{t}\"")
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Messages matching `query` before `before` (or the newest), newest
/// first, each with its text marked where it matched.
pub fn search(
    db: &Connection,
    query: &str,
    before: Option<MessageId>,
    limit: u32,
) -> Result<Vec<(ChatMessage, String)>> {
    let Some(fts) = fts_query(query) else {
        return Ok(Vec::new());
    };
    // The index walks its ids downwards and stops at `limit`: fast however
    // many messages match.
    let mut stmt = db.prepare_cached(
        // char(1) and char(2): `store::search::{OPEN, CLOSE}`.
        "SELECT rowid, highlight(messages_fts, 0, char(1), char(2)) FROM messages_fts
         WHERE messages_fts MATCH ?1 AND rowid < ?2 ORDER BY rowid DESC LIMIT ?3",
    )?;
    let marked: Vec<(i64, String)> = stmt
        .query_map(
            params![fts, before.map_or(i64::MAX, |id| id.0), limit],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<rusqlite::Result<_>>()?;
    let mut hits = Vec::with_capacity(marked.len());
    for (id, text) in marked {
        let found = schema::messages(
            db,
            &format!("{SELECT_MESSAGE} WHERE id = ?1 AND deleted = 0"),
            [id],
        )?;
        if let Some(message) = found.into_iter().next() {
            hits.push((message, text));
        }
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_input_never_becomes_fts_syntax() {
        assert_eq!(
            fts_query("hello world").as_deref(),
            Some(r#""hello" "world"*"#)
        );
        assert_eq!(
            fts_query(r#""big cat" sat"#).as_deref(),
            Some(r#""big cat" "sat"*"#)
        );
        assert_eq!(
            fts_query(r#"a" OR "b"#).as_deref(),
            Some(r#""a""" "OR" "b""#)
        );
        assert_eq!(
            fts_query("NEAR(x y) * ^ -"),
            Some(r#""NEAR(x" "y)"*"#.to_owned())
        );
        assert_eq!(fts_query("  ***  "), None);
        assert_eq!(fts_query(""), None);
        assert_eq!(fts_query("🎉").as_deref(), Some("\"🎉\"*"));
    }
}
