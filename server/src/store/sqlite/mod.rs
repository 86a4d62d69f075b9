//! The embedded store: one SQLite file in WAL mode, written by one
//! group-committing thread (`writer`) and read through a small pool
//! (`readers`). Ids are assigned by the single writer, so they increase
//! in commit order by construction.

mod readers;
mod schema;
mod writer;

use super::{NewPost, PostTicket, Result, Store, StoreError};
use crate::chat::now_ms;
use crate::hub::Hub;
use crate::metrics::Metrics;
use app::protocol::{ChatMessage, DeviceId, Identity, MessageId};
use app::validate::UserName;
use readers::Readers;
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use writer::{Job, Reply, Replying};

/// Read connections: enough that one slow history read does not hold up
/// the page and catch-up, few enough to stay small.
const READERS: usize = 4;

pub struct SqliteStore {
    writer: mpsc::Sender<Job>,
    readers: Readers,
}

impl SqliteStore {
    /// Opens (creating if needed) `chat.db` in `dir`, migrates it and
    /// starts the writer. Fresh messages are published to `hub`.
    pub fn open(dir: &Path, hub: Arc<Hub>, metrics: Arc<Metrics>) -> Result<Self> {
        let path = dir.join("chat.db");
        let mut conn = Connection::open(&path)?;
        schema::configure(&conn)?;
        schema::migrate(&mut conn)?;
        let writer =
            writer::spawn(conn, hub, metrics).map_err(|e| StoreError::Open(e.to_string()))?;
        Ok(Self {
            writer,
            readers: Readers::new(path, READERS),
        })
    }

    async fn write<T: Send + 'static>(
        &self,
        write: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (to, answer) = oneshot::channel();
        let job = Job::Write(Box::new(move |db: &Connection| {
            Box::new(Replying {
                result: write(db),
                to,
            }) as Box<dyn Reply>
        }));
        self.writer
            .send(job)
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer
            .await
            .map_err(|_| StoreError::Commit("its batch failed before it ran".into()))?
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn identity(&self, device: DeviceId) -> Result<Option<Identity>> {
        self.readers
            .run(move |db| schema::identity(db, &device))
            .await
    }

    async fn set_name(
        &self,
        device: DeviceId,
        name: UserName,
        new_color: String,
    ) -> Result<Identity> {
        self.write(move |db| schema::set_name(db, &device, name.as_str(), &new_color, now_ms()))
            .await
    }

    async fn submit(&self, post: NewPost) -> Result<PostTicket> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Job::Post { post, reply })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        Ok(Box::pin(async move {
            answer.await.map_err(|_| StoreError::WriterGone)?
        }))
    }

    async fn page_before(&self, before: Option<MessageId>, limit: u32) -> Result<Vec<ChatMessage>> {
        self.readers
            .run(move |db| schema::page_before(db, before, limit))
            .await
    }

    async fn page_after(&self, after: MessageId, limit: u32) -> Result<Vec<ChatMessage>> {
        self.readers
            .run(move |db| schema::page_after(db, after, limit))
            .await
    }

    async fn import_user(&self, device: DeviceId, name: UserName, color: String) -> Result<()> {
        self.write(move |db| schema::import_user(db, &device, name.as_str(), &color, now_ms()))
            .await
    }

    async fn create_transfer(
        &self,
        device: DeviceId,
        token: String,
        expires_at: i64,
    ) -> Result<()> {
        self.write(move |db| schema::create_transfer(db, &device, &token, expires_at))
            .await
    }

    async fn claim_transfer(&self, token: String, now: i64) -> Result<Option<DeviceId>> {
        self.write(move |db| schema::claim_transfer(db, &token, now))
            .await
    }

    async fn checkpoint(&self) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Job::Checkpoint(reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

#[cfg(test)]
mod tests;
