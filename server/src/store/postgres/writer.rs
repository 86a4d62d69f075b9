//! Group commit for the shared mode: one task per node takes every post
//! waiting, stores them in one transaction and commits once. The
//! transaction first locks the rows of the rooms it writes to (in id
//! order, so two nodes never deadlock); seqs and ids are taken under
//! those locks, so within a room they follow commit order on every node.
//! The commit's `NOTIFY` wakes every node's listener, this one included:
//! publishing is the listener's job.

use super::super::{NewPost, Posted, Result, StoreError};
use super::rows::{self, SELECT_MESSAGE};
use super::{messages, rooms};
use crate::metrics::Metrics;
use app::protocol::{Identity, MessageId, RoomId, Seq, UserId};
use deadpool_postgres::Pool;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Posts waiting beyond this make their callers wait to enqueue.
const QUEUE: usize = 8192;
/// Most posts in one transaction.
const MAX_BATCH: usize = 512;

pub struct Job {
    pub post: NewPost,
    pub reply: oneshot::Sender<Result<Posted>>,
}

/// Ids of the messages this node stored: its listener pushes those (each
/// message is pushed by one node).
#[derive(Default)]
pub struct Stored(Mutex<HashSet<i64>>);

impl Stored {
    fn add(&self, ids: impl IntoIterator<Item = i64>) {
        if let Ok(mut set) = self.0.lock() {
            // Ids the listener never claimed (edited before it read them)
            // must not pile up.
            if set.len() > 100_000 {
                set.clear();
            }
            set.extend(ids);
        }
    }

    pub fn take(&self, id: i64) -> bool {
        self.0.lock().is_ok_and(|mut set| set.remove(&id))
    }
}

pub fn spawn(pool: Pool, metrics: Arc<Metrics>, stored: Arc<Stored>) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(run(pool, rx, metrics, stored));
    tx
}

async fn run(
    pool: Pool,
    mut jobs: mpsc::Receiver<Job>,
    metrics: Arc<Metrics>,
    stored: Arc<Stored>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let size = batch.len();
        let posts: Vec<&NewPost> = batch.iter().map(|j| &j.post).collect();
        let outcome = commit(&pool, &posts).await;
        metrics.observe_commit(size, started.elapsed(), outcome.is_ok());
        match outcome {
            Ok(results) => {
                let fresh: Vec<i64> = results
                    .iter()
                    .filter_map(|r| r.as_ref().ok().filter(|p| p.fresh))
                    .map(|p| p.message.id.0)
                    .collect();
                for _ in &fresh {
                    metrics.messages_committed.inc();
                }
                stored.add(fresh);
                for (job, result) in batch.drain(..).zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, posts = size, "a batch failed to commit");
                let why = e.to_string();
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(StoreError::Commit(why.clone())));
                }
            }
        }
    }
}

/// A room's cursor while the batch holds its lock.
struct Cursor {
    seq: Seq,
    archived: bool,
    moved: bool,
}

/// Stores the batch in one transaction: each post's own outcome, or the
/// error that failed them all (nothing stored).
async fn commit(pool: &Pool, posts: &[&NewPost]) -> Result<Vec<Result<Posted>>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // Before any lock, in one query each: who the posters are, and which
    // posts are resends. The room locks are then held only for the
    // inserts and the commit.
    let mut devices: Vec<String> = posts.iter().map(|p| p.device.to_string()).collect();
    devices.sort_unstable();
    devices.dedup();
    let who = tx
        .prepare_cached("SELECT device_id, id, name, color FROM users WHERE device_id = ANY($1)")
        .await?;
    let names: HashMap<String, Identity> = tx
        .query(&who, &[&devices])
        .await?
        .iter()
        .map(|r| {
            (
                r.get(0),
                Identity {
                    user_id: UserId(r.get(1)),
                    name: r.get(2),
                    color: r.get(3),
                },
            )
        })
        .collect();
    let keys: Vec<(i64, String)> = posts
        .iter()
        .filter_map(|p| {
            let me = names.get(&p.device.to_string())?;
            Some((me.user_id.0, p.client_id.0.to_string()))
        })
        .collect();
    let resent = tx
        .prepare_cached(
            "SELECT m.user_id, m.client_id, m.id FROM messages m
             JOIN UNNEST($1::BIGINT[], $2::TEXT[]) AS k(user_id, client_id)
               ON m.user_id = k.user_id AND m.client_id = k.client_id",
        )
        .await?;
    let (users, clients): (Vec<i64>, Vec<String>) = keys.into_iter().unzip();
    let stored: HashMap<(i64, String), i64> = tx
        .query(&resent, &[&users, &clients])
        .await?
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    let mut wanted: Vec<i64> = posts.iter().map(|p| p.room.0).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let lock = tx
        .prepare_cached(
            "SELECT id, last_seq, archived FROM rooms WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        )
        .await?;
    let mut cursors: BTreeMap<i64, Cursor> = tx
        .query(&lock, &[&wanted])
        .await?
        .iter()
        .map(|r| {
            (
                r.get(0),
                Cursor {
                    seq: Seq(r.get(1)),
                    archived: r.get(2),
                    moved: false,
                },
            )
        })
        .collect();
    let existing = tx
        .prepare_cached(&format!(
            "{SELECT_MESSAGE} WHERE user_id = $1 AND client_id = $2"
        ))
        .await?;
    let insert = tx
        .prepare_cached(&format!(
            "INSERT INTO messages (user_id, client_id, user_name, color, body, ts, room_id, created_seq, seq, attachment, reply_to, bot)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, (SELECT bot FROM users WHERE id = $1))
             ON CONFLICT (user_id, client_id) DO NOTHING
             RETURNING {}",
            SELECT_MESSAGE
                .trim_start_matches("SELECT ")
                .trim_end_matches(" FROM messages")
        ))
        .await?;
    let mut results = Vec::with_capacity(posts.len());
    for post in posts {
        let Some(me) = names.get(&post.device.to_string()) else {
            results.push(Err(StoreError::NoIdentity));
            continue;
        };
        let client_id = post.client_id.0.to_string();
        if let Some(id) = stored.get(&(me.user_id.0, client_id.clone())) {
            results.push(Ok(Posted {
                message: rows::message(&*tx, MessageId(*id)).await?,
                fresh: false,
            }));
            continue;
        }
        let Some(cursor) = cursors.get_mut(&post.room.0) else {
            results.push(Err(StoreError::NotFound));
            continue;
        };
        if cursor.archived {
            results.push(Err(StoreError::Archived));
            continue;
        }
        if let Some(parent) = post.reply_to {
            if let Err(e) = messages::parent_in_room(&*tx, parent, post.room).await {
                results.push(Err(e));
                continue;
            }
        }
        let seq = Seq(cursor.seq.0 + 1);
        let attachment = post
            .attachment
            .as_ref()
            .and_then(|a| serde_json::to_string(a).ok());
        let inserted = tx
            .query_opt(
                &insert,
                &[
                    &me.user_id.0,
                    &client_id,
                    &me.name,
                    &me.color,
                    &post.text.as_str(),
                    &post.ts,
                    &post.room.0,
                    &seq.0,
                    &attachment,
                    &post.reply_to.map(|id| id.0),
                ],
            )
            .await?;
        match inserted {
            Some(row) => {
                cursor.seq = seq;
                cursor.moved = true;
                let mut message = rows::message_from_row(&row).0;
                rows::fill_quotes(&*tx, message.reply.iter_mut().collect()).await?;
                message.mentions = messages::store_mentions(
                    &*tx,
                    message.id,
                    post.text.as_str(),
                    &post.mentions,
                    super::super::answered(&message),
                )
                .await?;
                if let Some(file) = &post.attachment {
                    super::members::record_files(&*tx, message.id, post.room, file).await?;
                }
                results.push(Ok(Posted {
                    message,
                    fresh: true,
                }));
            }
            None => {
                // Another node stored this client id first (we waited for
                // its commit): that row is the answer.
                let row = tx
                    .query_one(&existing, &[&me.user_id.0, &client_id])
                    .await?;
                let id = rows::message_from_row(&row).0.id;
                results.push(Ok(Posted {
                    message: rows::message(&*tx, id).await?,
                    fresh: false,
                }));
            }
        }
    }
    let advance = tx.prepare_cached(rooms::ADVANCE).await?;
    for (room, cursor) in &cursors {
        if cursor.moved {
            let p = rooms::advance_params(RoomId(*room), cursor.seq);
            tx.execute(&advance, &p.as_params()).await?;
        }
    }
    tx.commit().await?;
    Ok(results)
}
