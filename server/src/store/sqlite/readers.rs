//! A small pool of read connections. WAL lets readers run beside the
//! writer and beside each other, so a slow history read never queues the
//! page, catch-up or other reads behind it.

use super::super::{Result, StoreError};
use super::schema;
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

pub struct Readers {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
    /// One permit per connection: at most that many reads at once, each on
    /// the blocking pool.
    permits: Semaphore,
}

impl Readers {
    pub fn new(path: PathBuf, size: usize) -> Self {
        Self {
            path,
            idle: Arc::new(Mutex::new(Vec::new())),
            permits: Semaphore::new(size.max(1)),
        }
    }

    /// Runs `read` on an idle connection (opened on first use) off the
    /// async threads.
    pub async fn run<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::WriterGone)?;
        let idle = self.idle.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let taken = idle.lock().ok().and_then(|mut v| v.pop());
            let conn = match taken {
                Some(conn) => conn,
                None => {
                    let conn = Connection::open(&path)?;
                    schema::configure(&conn)?;
                    conn
                }
            };
            let result = read(&conn);
            if let Ok(mut idle) = idle.lock() {
                idle.push(conn);
            }
            result
        })
        .await?
    }
}
