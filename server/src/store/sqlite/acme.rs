//! The certificate manager's values and its ordering lease.

use super::super::Result;
use rusqlite::{params, Connection, OptionalExtension};

pub fn get(db: &Connection, name: &str) -> Result<Option<Vec<u8>>> {
    Ok(db
        .query_row("SELECT value FROM acme WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?)
}

pub fn put(db: &Connection, name: &str, value: &[u8]) -> Result<()> {
    db.execute(
        "INSERT INTO acme (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![name, value],
    )?;
    Ok(())
}

pub fn lease(db: &Connection, holder: &str, now: i64, until: i64) -> Result<bool> {
    let taken = db.execute(
        "INSERT INTO acme_lease (id, holder, until) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, until = excluded.until
         WHERE acme_lease.holder = excluded.holder OR acme_lease.until < ?3",
        params![holder, until, now],
    )?;
    Ok(taken == 1)
}
