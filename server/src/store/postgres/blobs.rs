//! Stored files in the shared mode: content-addressed rows, so whichever
//! node a file was uploaded to, every node serves it.

use super::Connector;
use crate::store::blobs::{blob_id, Blobs};
use deadpool_postgres::Pool;

/// Connections for file reads and writes, apart from the chat's.
const POOL: usize = 4;

pub struct PgBlobs {
    pool: Pool,
}

impl PgBlobs {
    pub fn new(url: &str) -> super::Result<Self> {
        Ok(Self {
            pool: Connector::new(url)?.pool_of(POOL)?,
        })
    }

    async fn db(&self) -> std::io::Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(std::io::Error::other)
    }
}

#[async_trait::async_trait]
impl Blobs for PgBlobs {
    async fn put(&self, bytes: Vec<u8>) -> std::io::Result<String> {
        let id = blob_id(&bytes);
        self.db()
            .await?
            .execute(
                "INSERT INTO blob_data (id, bytes) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&id, &bytes],
            )
            .await
            .map_err(std::io::Error::other)?;
        Ok(id)
    }

    async fn get(&self, id: &str) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self
            .db()
            .await?
            .query_opt("SELECT bytes FROM blob_data WHERE id = $1", &[&id])
            .await
            .map_err(std::io::Error::other)?
            .map(|r| r.get(0)))
    }

    async fn delete(&self, id: &str) -> std::io::Result<()> {
        self.db()
            .await?
            .execute("DELETE FROM blob_data WHERE id = $1", &[&id])
            .await
            .map_err(std::io::Error::other)?;
        Ok(())
    }
}
