//! Group commit: one thread owns the write connection, takes every write
//! that is waiting, runs them all in one transaction, commits once (one
//! fsync), then publishes the fresh messages in id order and answers
//! every caller. There is no fixed delay: a lone write commits at once,
//! and under load batches grow by themselves while the previous commit is
//! on the disk.

use super::super::{NewPost, Posted, Result, StoreError};
use super::schema;
use crate::hub::{Audience, Hub};
use crate::metrics::Metrics;
use app::protocol::ServerEvent;
use rusqlite::Connection;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Writes waiting beyond this make their callers wait to enqueue.
const QUEUE: usize = 8192;
/// Most writes in one transaction.
const MAX_BATCH: usize = 1024;

pub enum Job {
    Post {
        post: NewPost,
        reply: oneshot::Sender<Result<Posted>>,
    },
    /// Any other write; it runs in the batch's transaction.
    Write(WriteFn),
    /// Runs after the batch's commit, outside any transaction.
    Checkpoint(oneshot::Sender<Result<()>>),
}

/// A write to run in a batch; it returns its result, to be sent once the
/// batch has committed.
pub type WriteFn = Box<dyn FnOnce(&Connection) -> Box<dyn Reply> + Send>;

/// A write's result, waiting for its batch to commit before it is sent.
pub trait Reply: Send {
    fn succeeded(&self) -> bool;
    /// `commit_error` is set when the batch's commit failed: then even a
    /// write that ran without error is reported as failed.
    fn send(self: Box<Self>, commit_error: Option<&str>);
}

pub struct Replying<T> {
    pub result: Result<T>,
    pub to: oneshot::Sender<Result<T>>,
}

impl<T: Send> Reply for Replying<T> {
    fn succeeded(&self) -> bool {
        self.result.is_ok()
    }

    fn send(self: Box<Self>, commit_error: Option<&str>) {
        let result = match (commit_error, self.result) {
            (Some(e), Ok(_)) => Err(StoreError::Commit(e.to_owned())),
            (_, result) => result,
        };
        // The caller may have gone (its socket closed); nothing to tell.
        let _ = self.to.send(result);
    }
}

pub fn spawn(
    conn: Connection,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
) -> std::io::Result<mpsc::Sender<Job>> {
    let (tx, rx) = mpsc::channel(QUEUE);
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || run(conn, rx, &hub, &metrics))?;
    Ok(tx)
}

fn run(mut conn: Connection, mut jobs: mpsc::Receiver<Job>, hub: &Hub, metrics: &Metrics) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, &mut batch, hub, metrics);
    }
}

enum Done {
    Post(oneshot::Sender<Result<Posted>>, Result<Posted>),
    Write(Box<dyn Reply>),
    Checkpoint(oneshot::Sender<Result<()>>),
}

fn commit_batch(conn: &mut Connection, batch: &mut Vec<Job>, hub: &Hub, metrics: &Metrics) {
    let started = Instant::now();
    let size = batch.len();
    let mut pending: VecDeque<Job> = batch.drain(..).collect();
    let mut done = Vec::with_capacity(size);
    let failure = run_batch(conn, &mut pending, &mut done)
        .err()
        .map(|e| e.to_string());
    // Jobs never reached because the transaction itself failed. Dropping
    // a write's reply tells its caller it failed.
    for job in pending {
        match job {
            Job::Post { reply, .. } => done.push(Done::Post(reply, Err(StoreError::WriterGone))),
            Job::Write(_) => {}
            Job::Checkpoint(reply) => done.push(Done::Checkpoint(reply)),
        }
    }
    metrics.observe_commit(size, started.elapsed(), failure.is_none());
    if let Some(e) = &failure {
        tracing::error!(error = %e, writes = size, "a batch failed to commit");
    }
    // Publish in id order (the order of the batch), before any ack, so a
    // client never sees an ack for a message the others cannot see yet.
    if failure.is_none() {
        for d in &done {
            if let Done::Post(_, Ok(posted)) = d {
                if posted.fresh {
                    metrics.messages_committed.inc();
                    hub.publish(
                        Audience::Everyone,
                        &ServerEvent::Message {
                            message: posted.message.clone(),
                        },
                    );
                }
            }
        }
    }
    for d in done {
        match d {
            Done::Post(reply, result) => {
                let result = match (&failure, result) {
                    (Some(e), Ok(_)) => Err(StoreError::Commit(e.clone())),
                    (_, result) => result,
                };
                let _ = reply.send(result);
            }
            Done::Write(reply) => reply.send(failure.as_deref()),
            Done::Checkpoint(reply) => {
                let result = conn
                    .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                    .map_err(StoreError::from);
                let _ = reply.send(result);
            }
        }
    }
}

/// Runs every pending job in one transaction and commits it.
fn run_batch(
    conn: &mut Connection,
    pending: &mut VecDeque<Job>,
    done: &mut Vec<Done>,
) -> Result<()> {
    let mut tx = conn.transaction()?;
    while let Some(job) = pending.pop_front() {
        done.push(match job {
            Job::Post { post, reply } => {
                Done::Post(reply, isolated(&mut tx, |db| schema::post(db, &post)))
            }
            Job::Write(write) => {
                // A failed write rolls back to its savepoint; the rest of
                // the batch still commits.
                let sp = tx.savepoint()?;
                let reply = write(&sp);
                if reply.succeeded() {
                    sp.commit()?;
                }
                Done::Write(reply)
            }
            Job::Checkpoint(reply) => Done::Checkpoint(reply),
        });
    }
    tx.commit()?;
    Ok(())
}

/// Runs one write in a savepoint, so its failure undoes only its own work.
fn isolated<T>(
    tx: &mut rusqlite::Transaction<'_>,
    write: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    let sp = tx.savepoint()?;
    let out = write(&sp)?;
    sp.commit()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::protocol::{ClientMessageId, DeviceId, MessageId};
    use app::validate::MessageText;

    /// A connection with one named user, and the hub it publishes to.
    fn setup() -> (tempfile::TempDir, Connection, DeviceId, Hub) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut conn = Connection::open(dir.path().join("chat.db")).expect("opens");
        schema::configure(&conn).expect("configured");
        schema::migrate(&mut conn).expect("migrated");
        let device = DeviceId::new_random();
        schema::set_name(&conn, &device, "Ann", "rgb(200,100,100)", 1).expect("named");
        (dir, conn, device, Hub::new())
    }

    fn post_job(
        device: DeviceId,
        client_id: ClientMessageId,
        text: &str,
    ) -> (Job, oneshot::Receiver<Result<Posted>>) {
        let (reply, answer) = oneshot::channel();
        let post = NewPost {
            device,
            client_id,
            text: MessageText::parse(text).expect("valid"),
            ts: 1,
        };
        (Job::Post { post, reply }, answer)
    }

    fn answer<T>(mut rx: oneshot::Receiver<Result<T>>) -> Result<T> {
        rx.try_recv().expect("answered once the batch is done")
    }

    #[test]
    fn a_resend_inside_one_batch_stores_one_row() {
        let (_dir, mut conn, device, hub) = setup();
        let mut live = hub.subscribe();
        let cid = ClientMessageId::new_random();
        let (a, ra) = post_job(device, cid, "once");
        let (b, rb) = post_job(device, cid, "once");
        commit_batch(&mut conn, &mut vec![a, b], &hub, &Metrics::default());
        let (a, b) = (answer(ra).expect("stored"), answer(rb).expect("stored"));
        assert!(a.fresh && !b.fresh);
        assert_eq!(a.message, b.message);
        assert_eq!(
            schema::page_before(&conn, None, 10).expect("reads").len(),
            1
        );
        assert!(live.try_recv().is_ok());
        assert!(live.try_recv().is_err(), "published once");
    }

    #[test]
    fn publication_follows_id_order_within_a_batch() {
        let (_dir, mut conn, device, hub) = setup();
        let mut live = hub.subscribe();
        let (mut jobs, mut answers) = (Vec::new(), Vec::new());
        for i in 0..20 {
            let (job, rx) = post_job(device, ClientMessageId::new_random(), &format!("m{i}"));
            jobs.push(job);
            answers.push(rx);
        }
        commit_batch(&mut conn, &mut jobs, &hub, &Metrics::default());
        let acked: Vec<MessageId> = answers
            .into_iter()
            .map(|rx| answer(rx).expect("stored").message.id)
            .collect();
        let published: Vec<MessageId> = std::iter::from_fn(|| live.try_recv().ok())
            .filter_map(|b| b.message_id)
            .collect();
        assert!(
            acked.windows(2).all(|w| w[0] < w[1]),
            "ids follow the batch order"
        );
        assert_eq!(published, acked);
    }

    #[test]
    fn a_failed_commit_fails_every_message_of_its_batch() {
        let (_dir, mut conn, device, hub) = setup();
        // A deferred constraint is only checked at COMMIT, so the batch's
        // statements all succeed and the commit itself fails.
        conn.execute_batch(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .expect("tables");
        let mut live = hub.subscribe();
        let (a, ra) = post_job(device, ClientMessageId::new_random(), "first");
        let (violation, rv) = oneshot::channel::<Result<()>>();
        let poison = Job::Write(Box::new(move |db: &Connection| {
            let result = db
                .execute("INSERT INTO child (parent) VALUES (42)", [])
                .map(|_| ())
                .map_err(StoreError::from);
            Box::new(Replying {
                result,
                to: violation,
            }) as Box<dyn Reply>
        }));
        let (b, rb) = post_job(device, ClientMessageId::new_random(), "second");
        commit_batch(
            &mut conn,
            &mut vec![a, poison, b],
            &hub,
            &Metrics::default(),
        );
        assert!(matches!(answer(ra), Err(StoreError::Commit(_))));
        assert!(matches!(answer(rb), Err(StoreError::Commit(_))));
        assert!(answer(rv).is_err());
        assert!(live.try_recv().is_err(), "nothing published");
        assert!(schema::page_before(&conn, None, 10)
            .expect("reads")
            .is_empty());
    }

    #[test]
    fn one_failing_write_leaves_the_rest_of_its_batch() {
        let (_dir, mut conn, device, hub) = setup();
        let stranger = DeviceId::new_random();
        let (a, ra) = post_job(device, ClientMessageId::new_random(), "mine");
        let (b, rb) = post_job(stranger, ClientMessageId::new_random(), "no name");
        let (c, rc) = post_job(device, ClientMessageId::new_random(), "also mine");
        commit_batch(&mut conn, &mut vec![a, b, c], &hub, &Metrics::default());
        assert!(answer(ra).is_ok());
        assert!(matches!(answer(rb), Err(StoreError::NoIdentity)));
        assert!(answer(rc).is_ok());
        assert_eq!(
            schema::page_before(&conn, None, 10).expect("reads").len(),
            2
        );
    }
}
