//! The embedded store: one SQLite file in WAL mode, written by one
//! group-committing thread (`writer`) and read through a small pool
//! (`readers`). The single writer assigns ids and seqs, so both follow
//! commit order by construction.

mod access;
mod acme;
mod bots;
mod files;
mod members;
mod messages;
mod push;
mod readers;
mod rooms;
mod schema;
mod search;
mod users;
mod writer;

use super::{
    Change, InviteClaim, NewPost, PageReads, PostTicket, PushState, Result, RoomKey, Standing,
    Store, StoreError,
};
use crate::base::now_ms;
use crate::bus::{Deliver, Publish};
use crate::metrics::Metrics;
use app::api::PushMode;
use app::protocol::{
    Attachment, ChatMessage, DeviceId, Identity, MessageId, RoomId, RoomInfo, RoomStatus, Seq,
    UserId,
};
use app::validate::{RoomName, UserName};
use readers::Readers;
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use writer::Job;

/// Sets up and migrates a connection to a chat database opened outside
/// the store (the offline tools).
pub fn prepare(db: &mut Connection) -> Result<()> {
    schema::configure(db)?;
    schema::migrate(db)
}

/// Read connections: enough that one slow history read does not hold up
/// the page and catch-up, few enough to stay small.
const READERS: usize = 4;

pub struct SqliteStore {
    writer: mpsc::Sender<Job>,
    readers: Readers,
}

impl SqliteStore {
    /// Opens (creating if needed) `chat.db` in `dir`, migrates it and
    /// starts the writer, which publishes committed changes to `hub`.
    pub fn open(dir: &Path, hub: Arc<dyn Deliver>, metrics: Arc<Metrics>) -> Result<Self> {
        Self::open_file(&dir.join("chat.db"), hub, metrics)
    }

    /// Opens (creating if needed) the database file `path`.
    pub fn open_file(path: &Path, hub: Arc<dyn Deliver>, metrics: Arc<Metrics>) -> Result<Self> {
        let path = path.to_path_buf();
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

    /// Queues a write; the receiver resolves after its batch commits.
    async fn enqueue<T: Send + 'static>(
        &self,
        write: impl FnOnce(&Connection, &mut Vec<Publish>) -> Result<T> + Send + 'static,
    ) -> Result<oneshot::Receiver<Result<T>>> {
        let (job, answer) = writer::job(write);
        self.writer
            .send(job)
            .await
            .map_err(|_| StoreError::WriterGone)?;
        Ok(answer)
    }

    async fn write<T: Send + 'static>(
        &self,
        write: impl FnOnce(&Connection, &mut Vec<Publish>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let answer = self.enqueue(write).await?;
        answer
            .await
            .map_err(|_| StoreError::Commit("its batch failed before it ran".into()))?
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn identity(&self, device: DeviceId) -> Result<Option<Identity>> {
        self.readers
            .run(move |db| users::identity(db, &device))
            .await
    }

    async fn named_at(&self, device: DeviceId) -> Result<Option<i64>> {
        self.readers
            .run(move |db| users::named_at(db, &device))
            .await
    }

    async fn set_name(
        &self,
        device: DeviceId,
        name: UserName,
        new_color: String,
    ) -> Result<Identity> {
        self.write(move |db, _| {
            let now = now_ms();
            // The chat let this device name itself: it is a member from
            // now on, and stays one if the chat becomes invite-only.
            access::admit(db, &device, now)?;
            users::set_name(db, &device, name.as_str(), &new_color, now)
        })
        .await
    }

    async fn submit(&self, post: NewPost) -> Result<PostTicket> {
        let answer = self
            .enqueue(move |db, out| messages::post(db, &post, out))
            .await?;
        Ok(Box::pin(async move {
            answer.await.map_err(|_| StoreError::WriterGone)?
        }))
    }

    async fn change(
        &self,
        device: DeviceId,
        id: MessageId,
        change: Change,
        now: i64,
    ) -> Result<ChatMessage> {
        self.write(move |db, out| messages::change(db, &device, id, &change, now, out))
            .await
    }

    async fn page_before(
        &self,
        room: RoomId,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<ChatMessage>> {
        self.readers
            .run(move |db| messages::page_before(db, room, before, limit))
            .await
    }

    async fn changed_after(
        &self,
        room: RoomId,
        after: Seq,
        limit: u32,
    ) -> Result<Vec<ChatMessage>> {
        self.readers
            .run(move |db| messages::changed_after(db, room, after, limit))
            .await
    }

    async fn search(
        &self,
        query: String,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<(ChatMessage, String)>> {
        self.readers
            .run(move |db| search::search(db, &query, before, limit))
            .await
    }

    async fn page_around(&self, id: MessageId, half: u32) -> Result<(RoomId, Vec<ChatMessage>)> {
        self.readers
            .run(move |db| messages::page_around(db, id, half))
            .await
    }

    async fn page_after(
        &self,
        room: RoomId,
        after: MessageId,
        limit: u32,
    ) -> Result<Vec<ChatMessage>> {
        self.readers
            .run(move |db| messages::page_after(db, room, after, limit))
            .await
    }

    /// In one trip to a read connection and one read transaction: a page
    /// went through the blocking pool six times, and the thread hand-offs
    /// cost more than the queries (a fifth of a page's CPU, by `perf`).
    async fn page_reads(&self, device: DeviceId, key: RoomKey, limit: u32) -> Result<PageReads> {
        self.readers
            .run(move |db| {
                let tx = db.unchecked_transaction()?;
                let standing = access::standing(&tx, &device)?;
                let Some(room) = rooms::room(&tx, &key)? else {
                    return Ok(PageReads {
                        standing,
                        ..PageReads::default()
                    });
                };
                let seq = rooms::last_seq(&tx, room.id)?;
                let messages = messages::page_before(&tx, room.id, None, limit)?;
                let me = users::identity(&tx, &device)?;
                let rooms = rooms::statuses(&tx, me.as_ref().map(|m| m.user_id))?;
                Ok(PageReads {
                    standing,
                    room: Some(room),
                    seq,
                    messages,
                    me,
                    rooms,
                })
            })
            .await
    }

    async fn room(&self, key: RoomKey) -> Result<Option<RoomInfo>> {
        self.readers.run(move |db| rooms::room(db, &key)).await
    }

    async fn room_seq(&self, room: RoomId) -> Result<Seq> {
        self.readers.run(move |db| rooms::last_seq(db, room)).await
    }

    async fn room_statuses(&self, user: Option<UserId>) -> Result<Vec<RoomStatus>> {
        self.readers.run(move |db| rooms::statuses(db, user)).await
    }

    async fn create_room(&self, device: DeviceId, name: RoomName, now: i64) -> Result<RoomInfo> {
        self.write(move |db, out| rooms::create(db, &device, &name, now, out))
            .await
    }

    async fn rename_room(
        &self,
        device: DeviceId,
        room: RoomId,
        name: RoomName,
    ) -> Result<RoomInfo> {
        self.write(move |db, out| rooms::rename(db, &device, room, &name, out))
            .await
    }

    async fn archive_room(&self, device: DeviceId, room: RoomId) -> Result<RoomInfo> {
        self.write(move |db, out| rooms::archive(db, &device, room, out))
            .await
    }

    async fn mark_read(&self, device: DeviceId, room: RoomId, seq: Seq) -> Result<RoomStatus> {
        self.write(move |db, out| rooms::mark_read(db, &device, room, seq, out))
            .await
    }

    async fn record_blob(&self, id: String, mime: String, size: u64, inline: bool) -> Result<()> {
        self.write(move |db, _| files::record_blob(db, &id, &mime, size, inline, now_ms()))
            .await
    }

    async fn blob(&self, id: String) -> Result<Option<(String, bool)>> {
        self.readers.run(move |db| files::blob(db, &id)).await
    }

    async fn sweep_blobs(&self, upload_before: i64, blob_before: i64) -> Result<Vec<String>> {
        self.write(move |db, _| files::sweep_blobs(db, upload_before, blob_before))
            .await
    }

    async fn stored_bytes(&self) -> Result<u64> {
        self.readers.run(files::stored_bytes).await
    }

    async fn create_upload(
        &self,
        device: DeviceId,
        attachment: Attachment,
        now: i64,
    ) -> Result<String> {
        self.write(move |db, _| files::create_upload(db, &device, &attachment, now))
            .await
    }

    async fn upload(&self, device: DeviceId, id: String) -> Result<Option<Attachment>> {
        self.readers
            .run(move |db| files::upload(db, &device, &id))
            .await
    }

    async fn import_user(&self, device: DeviceId, name: UserName, color: String) -> Result<()> {
        self.write(move |db, _| users::import_user(db, &device, name.as_str(), &color, now_ms()))
            .await
    }

    async fn create_transfer(
        &self,
        device: DeviceId,
        token: String,
        expires_at: i64,
    ) -> Result<()> {
        self.write(move |db, _| users::create_transfer(db, &device, &token, expires_at))
            .await
    }

    async fn peek_transfer(&self, token: String, now: i64) -> Result<Option<DeviceId>> {
        self.readers
            .run(move |db| users::peek_transfer(db, &token, now))
            .await
    }

    async fn claim_transfer(&self, token: String, now: i64) -> Result<Option<DeviceId>> {
        self.write(move |db, _| users::claim_transfer(db, &token, now))
            .await
    }

    async fn standing(&self, device: DeviceId) -> Result<Standing> {
        self.readers
            .run(move |db| access::standing(db, &device))
            .await
    }

    async fn setting(&self, key: &'static str) -> Result<Option<String>> {
        self.readers.run(move |db| access::setting(db, key)).await
    }

    async fn set_setting(&self, key: &'static str, value: String) -> Result<()> {
        self.write(move |db, _| access::set_setting(db, key, &value))
            .await
    }

    async fn init_setting(&self, key: &'static str, value: String) -> Result<String> {
        self.write(move |db, _| {
            Ok(match access::setting(db, key)? {
                Some(stored) => stored,
                None => {
                    access::set_setting(db, key, &value)?;
                    value
                }
            })
        })
        .await
    }

    async fn set_invite_only(&self, invite_only: bool, now: i64) -> Result<()> {
        self.write(move |db, _| access::set_invite_only(db, invite_only, now))
            .await
    }

    async fn has_owner(&self) -> Result<bool> {
        self.readers.run(access::has_owner).await
    }

    async fn add_owner_token(&self, hash: String, now: i64, expires_at: i64) -> Result<()> {
        self.write(move |db, _| access::add_owner_token(db, &hash, now, expires_at))
            .await
    }

    async fn claim_owner(&self, hash: String, device: DeviceId, now: i64) -> Result<bool> {
        self.write(move |db, _| access::claim_owner(db, &hash, &device, now))
            .await
    }

    async fn create_invite(
        &self,
        hash: String,
        by: UserId,
        now: i64,
        expires_at: i64,
        max_uses: u32,
    ) -> Result<Option<app::api::InviteInfo>> {
        self.write(move |db, _| {
            let id = access::create_invite(db, &hash, by, now, expires_at, max_uses)?;
            access::invite(db, id, now)
        })
        .await
    }

    async fn invites(&self, now: i64) -> Result<Vec<app::api::InviteInfo>> {
        self.readers.run(move |db| access::invites(db, now)).await
    }

    async fn revoke_invite(&self, id: i64, now: i64) -> Result<bool> {
        self.write(move |db, _| access::revoke_invite(db, id, now))
            .await
    }

    async fn claim_invite(&self, hash: String, device: DeviceId, now: i64) -> Result<InviteClaim> {
        self.write(move |db, _| access::claim_invite(db, &hash, &device, now))
            .await
    }

    async fn device_of(&self, user: UserId) -> Result<Option<DeviceId>> {
        self.readers
            .run(move |db| access::device_of(db, user))
            .await
    }

    async fn set_role(&self, device: DeviceId, role: app::api::Role, now: i64) -> Result<()> {
        self.write(move |db, _| access::set_role(db, &device, role, now))
            .await
    }

    async fn set_blocked(
        &self,
        device: DeviceId,
        user: UserId,
        blocked: bool,
        remove: bool,
        now: i64,
    ) -> Result<u32> {
        self.write(move |db, out| {
            access::set_blocked(db, &device, blocked, now)?;
            if remove {
                access::remove_all_of(db, user, out)
            } else {
                Ok(0)
            }
        })
        .await
    }

    async fn blocked_devices(&self) -> Result<Vec<DeviceId>> {
        self.readers.run(access::blocked_devices).await
    }

    async fn people(&self) -> Result<Vec<app::api::Person>> {
        self.readers.run(access::people).await
    }

    async fn log_action(
        &self,
        now: i64,
        actor: UserId,
        action: &'static str,
        target: Option<UserId>,
        detail: String,
    ) -> Result<()> {
        self.write(move |db, _| access::log(db, now, actor, action, target, &detail))
            .await
    }

    async fn moderation_log(&self, limit: u32) -> Result<Vec<app::api::LogEntry>> {
        self.readers
            .run(move |db| access::moderation_log(db, limit))
            .await
    }

    async fn push_state(&self) -> Result<PushState> {
        self.readers.run(push::state).await
    }

    async fn save_push(
        &self,
        device: DeviceId,
        endpoint: String,
        p256dh: String,
        auth: String,
        now: i64,
    ) -> Result<()> {
        self.write(move |db, _| push::save(db, &device, &endpoint, &p256dh, &auth, now))
            .await
    }

    async fn delete_push(&self, endpoint: String, device: Option<DeviceId>) -> Result<bool> {
        self.write(move |db, _| push::delete(db, &endpoint, device.as_ref()))
            .await
    }

    async fn set_push_mode(
        &self,
        device: DeviceId,
        room: Option<RoomId>,
        mode: Option<PushMode>,
    ) -> Result<()> {
        self.write(move |db, _| push::set_mode(db, &device, room, mode))
            .await
    }

    async fn closed_rooms(&self) -> Result<Vec<(RoomId, Vec<DeviceId>)>> {
        self.readers.run(members::closed_rooms).await
    }

    async fn member_devices(&self, room: RoomId) -> Result<Option<Vec<DeviceId>>> {
        self.readers
            .run(move |db| members::member_devices(db, room))
            .await
    }

    async fn room_members(&self, room: RoomId) -> Result<Vec<Identity>> {
        self.readers.run(move |db| rooms::people(db, room)).await
    }

    async fn direct_room(
        &self,
        creator: DeviceId,
        people: Vec<UserId>,
        now: i64,
    ) -> Result<(RoomInfo, bool)> {
        self.write(move |db, _| members::direct(db, &creator, &people, now))
            .await
    }

    async fn set_room_kind(
        &self,
        room: RoomId,
        kind: app::protocol::RoomKind,
        members: Vec<UserId>,
        now: i64,
    ) -> Result<RoomInfo> {
        self.write(move |db, _| members::set_kind(db, room, kind, &members, now))
            .await
    }

    async fn set_member(&self, room: RoomId, user: UserId, member: bool, now: i64) -> Result<()> {
        self.write(move |db, _| members::set_member(db, room, user, member, now))
            .await
    }

    async fn set_hidden(&self, device: DeviceId, room: RoomId, hidden: bool) -> Result<()> {
        self.write(move |db, _| members::set_hidden(db, &device, room, hidden))
            .await
    }

    async fn show_hidden(&self, room: RoomId) -> Result<bool> {
        // Read first: the writer is shared, and almost no message finds
        // its conversation hidden.
        if !self
            .readers
            .run(move |db| members::any_hidden(db, room))
            .await?
        {
            return Ok(false);
        }
        self.write(move |db, _| members::show_hidden(db, room))
            .await
    }

    async fn set_dm_block(&self, device: DeviceId, other: UserId, blocked: bool) -> Result<()> {
        self.write(move |db, _| members::set_dm_block(db, &device, other, blocked))
            .await
    }

    async fn dm_blocking(&self, user: UserId, others: Vec<UserId>) -> Result<Vec<UserId>> {
        self.readers
            .run(move |db| members::blocking(db, user, &others))
            .await
    }

    async fn dm_blocked(&self, user: UserId) -> Result<Vec<UserId>> {
        self.readers
            .run(move |db| members::blocked_by(db, user))
            .await
    }

    async fn message_room(&self, id: MessageId) -> Result<Option<RoomId>> {
        self.readers
            .run(move |db| members::message_room(db, id))
            .await
    }

    async fn blob_rooms(&self, blob: String) -> Result<Vec<RoomId>> {
        self.readers
            .run(move |db| members::blob_rooms(db, &blob))
            .await
    }

    async fn room_creator(&self, room: RoomId) -> Result<Option<UserId>> {
        self.readers.run(move |db| members::creator(db, room)).await
    }

    async fn known_people(&self) -> Result<Vec<Identity>> {
        self.readers.run(members::known_people).await
    }

    async fn create_bot(&self, bot: super::NewBot) -> Result<Identity> {
        self.write(move |db, _| bots::create(db, &bot)).await
    }

    async fn bots(&self) -> Result<Vec<super::StoredBot>> {
        self.readers.run(bots::all).await
    }

    async fn bot_by_key(&self, key_hash: String) -> Result<Option<super::StoredBot>> {
        self.readers
            .run(move |db| bots::by_key(db, &key_hash))
            .await
    }

    async fn change_bot(&self, user: UserId, change: super::BotChange, now: i64) -> Result<bool> {
        self.write(move |db, _| bots::change(db, user, &change, now))
            .await
    }

    async fn acme_get(&self, name: String) -> Result<Option<Vec<u8>>> {
        self.readers.run(move |db| acme::get(db, &name)).await
    }

    async fn acme_put(&self, name: String, value: Vec<u8>) -> Result<()> {
        self.write(move |db, _| acme::put(db, &name, &value)).await
    }

    async fn acme_lease(&self, holder: String, now: i64, until: i64) -> Result<bool> {
        self.write(move |db, _| acme::lease(db, &holder, now, until))
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
