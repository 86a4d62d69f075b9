//! Group commit: one thread owns the write connection, takes every write
//! that is waiting, runs them all in one transaction, commits once (one
//! fsync), then publishes the fresh messages in id order and answers
//! every caller. There is no fixed delay: a lone write commits at once,
//! and under load batches grow by themselves while the previous commit is
//! on the disk.

use super::super::{Result, StoreError};
use crate::bus::{Deliver, Publish};
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
    /// A write; it runs in the batch's transaction.
    Write(WriteFn),
    /// Runs after the batch's commit, outside any transaction.
    Checkpoint(oneshot::Sender<Result<()>>),
}

/// A write to run in a batch. It returns its result, sent once the batch
/// has committed, and adds what to publish then to the list it is given
/// (discarded if the write or the commit fails).
pub type WriteFn = Box<dyn FnOnce(&Connection, &mut Vec<Publish>) -> Box<dyn Reply> + Send>;

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

/// A job that runs `write` in a batch, and where its result arrives once
/// the batch has committed.
pub fn job<T: Send + 'static>(
    write: impl FnOnce(&Connection, &mut Vec<Publish>) -> Result<T> + Send + 'static,
) -> (Job, oneshot::Receiver<Result<T>>) {
    let (to, answer) = oneshot::channel();
    let job = Job::Write(Box::new(move |db: &Connection, out: &mut Vec<Publish>| {
        Box::new(Replying {
            result: write(db, out),
            to,
        }) as Box<dyn Reply>
    }));
    (job, answer)
}

pub fn spawn(
    conn: Connection,
    hub: Arc<dyn Deliver>,
    metrics: Arc<Metrics>,
) -> std::io::Result<mpsc::Sender<Job>> {
    let (tx, rx) = mpsc::channel(QUEUE);
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || run(conn, rx, hub.as_ref(), &metrics))?;
    Ok(tx)
}

fn run(mut conn: Connection, mut jobs: mpsc::Receiver<Job>, hub: &dyn Deliver, metrics: &Metrics) {
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
    Write(Box<dyn Reply>, Vec<Publish>),
    Checkpoint(oneshot::Sender<Result<()>>),
}

fn commit_batch(conn: &mut Connection, batch: &mut Vec<Job>, hub: &dyn Deliver, metrics: &Metrics) {
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
        if let Job::Checkpoint(reply) = job {
            done.push(Done::Checkpoint(reply));
        }
    }
    metrics.observe_commit(size, started.elapsed(), failure.is_none());
    if let Some(e) = &failure {
        tracing::error!(error = %e, writes = size, "a batch failed to commit");
    }
    // Publish in commit order (the order of the batch), before any reply,
    // so a client never sees an ack for a message the others cannot see yet.
    if failure.is_none() {
        for d in &mut done {
            if let Done::Write(_, published) = d {
                for p in published.drain(..) {
                    if matches!(p.activity, Some(ServerEvent::Activity { .. })) {
                        metrics.messages_committed.inc();
                    }
                    hub.publish(p);
                }
            }
        }
    }
    for d in done {
        match d {
            Done::Write(reply, _) => reply.send(failure.as_deref()),
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
            Job::Write(write) => {
                // A failed write rolls back to its savepoint, with what it
                // meant to publish; the rest of the batch still commits.
                let sp = tx.savepoint()?;
                let mut published = Vec::new();
                let reply = write(&sp, &mut published);
                if reply.succeeded() {
                    sp.commit()?;
                } else {
                    published.clear();
                }
                Done::Write(reply, published)
            }
            Job::Checkpoint(reply) => Done::Checkpoint(reply),
        });
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::super::{NewPost, Posted};
    use super::super::{messages, schema, users};
    use super::*;
    use crate::realtime::hub::Hub;
    use app::protocol::{ClientMessageId, DeviceId, RoomId, Seq};
    use app::validate::MessageText;

    /// A connection with one named user, and the hub it publishes to.
    fn setup() -> (tempfile::TempDir, Connection, DeviceId, Hub) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut conn = Connection::open(dir.path().join("chat.db")).expect("opens");
        schema::configure(&conn).expect("configured");
        schema::migrate(&mut conn).expect("migrated");
        let device = DeviceId::new_random();
        users::set_name(&conn, &device, "Ann", "rgb(200,100,100)", 1).expect("named");
        (dir, conn, device, Hub::new())
    }

    fn post_job(
        device: DeviceId,
        client_id: ClientMessageId,
        text: &str,
    ) -> (Job, oneshot::Receiver<Result<Posted>>) {
        let post = NewPost {
            device,
            room: RoomId::DEFAULT,
            client_id,
            text: MessageText::parse(text).expect("valid"),
            mentions: Vec::new(),
            attachment: None,
            reply_to: None,
            ts: 1,
        };
        job(move |db, out| messages::post(db, &post, out))
    }

    fn answer<T>(mut rx: oneshot::Receiver<Result<T>>) -> Result<T> {
        rx.try_recv().expect("answered once the batch is done")
    }

    #[test]
    fn a_resend_inside_one_batch_stores_one_row() {
        let (_dir, mut conn, device, hub) = setup();
        let mut live = hub.subscribe_room(RoomId::DEFAULT);
        let cid = ClientMessageId::new_random();
        let (a, ra) = post_job(device, cid, "once");
        let (b, rb) = post_job(device, cid, "once");
        commit_batch(&mut conn, &mut vec![a, b], &hub, &Metrics::default());
        let (a, b) = (answer(ra).expect("stored"), answer(rb).expect("stored"));
        assert!(a.fresh && !b.fresh);
        assert_eq!(a.message, b.message);
        assert_eq!(
            messages::page_before(&conn, RoomId::DEFAULT, None, 10)
                .expect("reads")
                .len(),
            1
        );
        assert!(live.try_recv().is_ok());
        assert!(live.try_recv().is_err(), "published once");
    }

    #[test]
    fn publication_follows_id_order_within_a_batch() {
        let (_dir, mut conn, device, hub) = setup();
        let mut live = hub.subscribe_room(RoomId::DEFAULT);
        let (mut jobs, mut answers) = (Vec::new(), Vec::new());
        for i in 0..20 {
            let (job, rx) = post_job(device, ClientMessageId::new_random(), &format!("m{i}"));
            jobs.push(job);
            answers.push(rx);
        }
        commit_batch(&mut conn, &mut jobs, &hub, &Metrics::default());
        let acked: Vec<Seq> = answers
            .into_iter()
            .map(|rx| answer(rx).expect("stored").message.seq)
            .collect();
        let published: Vec<Seq> = std::iter::from_fn(|| live.try_recv().ok())
            .filter_map(|b| b.seq)
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
        let mut live = hub.subscribe_room(RoomId::DEFAULT);
        let (a, ra) = post_job(device, ClientMessageId::new_random(), "first");
        let (poison, rv) = job(|db, _| {
            db.execute("INSERT INTO child (parent) VALUES (42)", [])
                .map(|_| ())
                .map_err(StoreError::from)
        });
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
        assert!(messages::page_before(&conn, RoomId::DEFAULT, None, 10)
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
            messages::page_before(&conn, RoomId::DEFAULT, None, 10)
                .expect("reads")
                .len(),
            2
        );
    }
}
