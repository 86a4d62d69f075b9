//! The certificate manager's values and its ordering lease.

use super::super::Result;
use tokio_postgres::GenericClient;

pub async fn get(db: &impl GenericClient, name: &str) -> Result<Option<Vec<u8>>> {
    Ok(db
        .query_opt("SELECT value FROM acme WHERE name = $1", &[&name])
        .await?
        .map(|r| r.get(0)))
}

pub async fn put(db: &impl GenericClient, name: &str, value: &[u8]) -> Result<()> {
    db.execute(
        "INSERT INTO acme (name, value) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        &[&name, &value],
    )
    .await?;
    Ok(())
}

/// One statement, so two nodes asking at once cannot both win: the row
/// lock makes the second see the first's lease.
pub async fn lease(db: &impl GenericClient, holder: &str, now: i64, until: i64) -> Result<bool> {
    let taken = db
        .execute(
            "INSERT INTO acme_lease (id, holder, until) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, until = excluded.until
             WHERE acme_lease.holder = excluded.holder OR acme_lease.until < $3",
            &[&holder, &until, &now],
        )
        .await?;
    Ok(taken == 1)
}
