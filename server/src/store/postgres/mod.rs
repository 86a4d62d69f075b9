//! The shared store: any number of server processes on one PostgreSQL.
//! New posts are group-committed by `writer`; changes hold their room's
//! row lock until commit; reads use a small pool. Nothing here publishes
//! stored changes: every node's bus listener reads them from the table
//! (see `feed`). Ephemeral events go to the bus.

pub mod access;
mod acme;
pub mod blobs;
mod bots;
mod connect;
mod feed;

pub use connect::Connector;
pub mod files;
mod members;
pub mod messages;
pub mod rooms;
pub mod rows;
pub mod users;
pub mod writer;

use super::{
    Change, InviteClaim, NewPost, PageReads, PostTicket, PushState, Result, RoomKey, Standing,
    Store, StoreError,
};
use crate::base::now_ms;
use crate::bus::{Deliver, Publish, Shared};
use crate::metrics::Metrics;
use app::api::PushMode;
use app::protocol::{
    Attachment, ChatMessage, DeviceId, Identity, MessageId, RoomId, RoomInfo, RoomStatus, Seq,
    ServerEvent, UserId,
};
use app::validate::{RoomName, UserName};
use deadpool_postgres::Pool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Pooled connections per node: reads, changes and the writer's batches.
pub(crate) const POOL: usize = 12;
/// How long a caller waits for a connection, or for a new one to open,
/// before its request fails (the database is down).
pub(crate) const WAIT: Duration = Duration::from_secs(5);

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

pub struct PgStore {
    pool: Pool,
    writer: mpsc::Sender<writer::Job>,
    hub: Arc<dyn Deliver>,
}

impl PgStore {
    /// Connects, creates or updates the schema, and starts the writer and
    /// (with `listen`) the bus, through which `hub` gets every node's
    /// events.
    pub async fn open(
        url: &str,
        hub: Arc<dyn Deliver>,
        metrics: Arc<Metrics>,
        listen: bool,
    ) -> Result<Self> {
        let connector = Connector::new(url)?;
        let mut admin = connector
            .connect()
            .await
            .map_err(|e| StoreError::Open(format!("cannot reach PostgreSQL: {e}")))?;
        rows::migrate(&mut admin).await?;
        let pool = connector.pool()?;
        let stored = Arc::new(writer::Stored::default());
        if listen {
            hub.connect(feed::start(connector, hub.clone(), stored.clone()));
        }
        let writer = writer::spawn(pool.clone(), metrics, stored);
        Ok(Self { pool, writer, hub })
    }

    async fn db(&self) -> Result<deadpool_postgres::Object> {
        Ok(self.pool.get().await?)
    }

    fn share(&self, p: Publish) {
        self.hub.share(Shared::Publish(p));
    }
}

#[async_trait::async_trait]
impl Store for PgStore {
    async fn identity(&self, device: DeviceId) -> Result<Option<Identity>> {
        users::identity(&**self.db().await?, &device).await
    }

    async fn named_at(&self, device: DeviceId) -> Result<Option<i64>> {
        users::named_at(&**self.db().await?, &device).await
    }

    async fn set_name(
        &self,
        device: DeviceId,
        name: UserName,
        new_color: String,
    ) -> Result<Identity> {
        let mut db = self.db().await?;
        let tx = db.transaction().await?;
        let now = now_ms();
        access::admit(&*tx, &device, now).await?;
        let me = users::set_name(&*tx, &device, name.as_str(), &new_color, now).await?;
        tx.commit().await?;
        Ok(me)
    }

    async fn submit(&self, post: NewPost) -> Result<PostTicket> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(writer::Job { post, reply })
            .await
            .map_err(|_| StoreError::WriterGone)?;
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
        let mut db = self.db().await?;
        let (message, _) = messages::change(&mut db, &device, id, &change, now).await?;
        Ok(message)
    }

    async fn page_before(
        &self,
        room: RoomId,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<ChatMessage>> {
        messages::page_before(&**self.db().await?, room, before, limit).await
    }

    async fn changed_after(
        &self,
        room: RoomId,
        after: Seq,
        limit: u32,
    ) -> Result<Vec<ChatMessage>> {
        Ok(
            messages::changed_after(&**self.db().await?, room, after, limit)
                .await?
                .into_iter()
                .map(|(m, _)| m)
                .collect(),
        )
    }

    async fn search(
        &self,
        query: String,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<(ChatMessage, String)>> {
        messages::search(&**self.db().await?, &query, before, limit).await
    }

    async fn page_around(&self, id: MessageId, half: u32) -> Result<(RoomId, Vec<ChatMessage>)> {
        messages::page_around(&**self.db().await?, id, half).await
    }

    async fn page_after(
        &self,
        room: RoomId,
        after: MessageId,
        limit: u32,
    ) -> Result<Vec<ChatMessage>> {
        messages::page_after(&**self.db().await?, room, after, limit).await
    }

    /// On one connection, the reads that do not wait on each other sent
    /// together (tokio-postgres pipelines them): three waits on the
    /// database instead of six. The cursor is still read before the page.
    async fn page_reads(&self, device: DeviceId, key: RoomKey, limit: u32) -> Result<PageReads> {
        let conn = self.db().await?;
        let db = &**conn;
        let (standing, room, me) = futures::try_join!(
            access::standing(db, &device),
            rooms::room(db, &key),
            users::identity(db, &device),
        )?;
        let Some(room) = room else {
            return Ok(PageReads {
                standing,
                ..PageReads::default()
            });
        };
        let seq = rooms::last_seq(db, room.id).await?;
        let (page, list) = futures::try_join!(
            messages::page_before(db, room.id, None, limit),
            rooms::statuses(db, me.as_ref().map(|m| m.user_id)),
        )?;
        Ok(PageReads {
            standing,
            room: Some(room),
            seq,
            messages: page,
            me,
            rooms: list,
        })
    }

    async fn room(&self, key: RoomKey) -> Result<Option<RoomInfo>> {
        rooms::room(&**self.db().await?, &key).await
    }

    async fn room_seq(&self, room: RoomId) -> Result<Seq> {
        rooms::last_seq(&**self.db().await?, room).await
    }

    async fn room_statuses(&self, user: Option<UserId>) -> Result<Vec<RoomStatus>> {
        rooms::statuses(&**self.db().await?, user).await
    }

    async fn create_room(&self, device: DeviceId, name: RoomName, now: i64) -> Result<RoomInfo> {
        let info = rooms::create(&**self.db().await?, &device, &name, now).await?;
        self.share(Publish::room_info(info.clone()));
        Ok(info)
    }

    async fn rename_room(
        &self,
        device: DeviceId,
        room: RoomId,
        name: RoomName,
    ) -> Result<RoomInfo> {
        let info = rooms::rename(&**self.db().await?, &device, room, &name).await?;
        self.share(Publish::room_info(info.clone()));
        Ok(info)
    }

    async fn archive_room(&self, device: DeviceId, room: RoomId) -> Result<RoomInfo> {
        let info = rooms::archive(&**self.db().await?, &device, room).await?;
        self.share(Publish::room_info(info.clone()));
        Ok(info)
    }

    async fn mark_read(&self, device: DeviceId, room: RoomId, seq: Seq) -> Result<RoomStatus> {
        let status = rooms::mark_read(&**self.db().await?, &device, room, seq).await?;
        self.share(Publish::device(
            device,
            ServerEvent::Read {
                status: status.clone(),
            },
        ));
        Ok(status)
    }

    async fn record_blob(&self, id: String, mime: String, size: u64, inline: bool) -> Result<()> {
        files::record_blob(&**self.db().await?, &id, &mime, size, inline, now_ms()).await
    }

    async fn blob(&self, id: String) -> Result<Option<(String, bool)>> {
        files::blob(&**self.db().await?, &id).await
    }

    async fn stored_bytes(&self) -> Result<u64> {
        files::stored_bytes(&**self.db().await?).await
    }

    async fn sweep_blobs(&self, upload_before: i64, blob_before: i64) -> Result<Vec<String>> {
        files::sweep_blobs(&**self.db().await?, upload_before, blob_before).await
    }

    async fn create_upload(
        &self,
        device: DeviceId,
        attachment: Attachment,
        now: i64,
    ) -> Result<String> {
        files::create_upload(&**self.db().await?, &device, &attachment, now).await
    }

    async fn upload(&self, device: DeviceId, id: String) -> Result<Option<Attachment>> {
        files::upload(&**self.db().await?, &device, &id).await
    }

    async fn import_user(&self, device: DeviceId, name: UserName, color: String) -> Result<()> {
        users::import_user(
            &**self.db().await?,
            &device,
            name.as_str(),
            &color,
            now_ms(),
        )
        .await
    }

    async fn create_transfer(
        &self,
        device: DeviceId,
        token: String,
        expires_at: i64,
    ) -> Result<()> {
        users::create_transfer(&**self.db().await?, &device, &token, expires_at).await
    }

    async fn peek_transfer(&self, token: String, now: i64) -> Result<Option<DeviceId>> {
        users::peek_transfer(&**self.db().await?, &token, now).await
    }

    async fn claim_transfer(&self, token: String, now: i64) -> Result<Option<DeviceId>> {
        users::claim_transfer(&**self.db().await?, &token, now).await
    }

    async fn push_state(&self) -> Result<PushState> {
        files::push_state(&**self.db().await?).await
    }

    async fn save_push(
        &self,
        device: DeviceId,
        endpoint: String,
        p256dh: String,
        auth: String,
        now: i64,
    ) -> Result<()> {
        files::save_push(&**self.db().await?, &device, &endpoint, &p256dh, &auth, now).await
    }

    async fn delete_push(&self, endpoint: String, device: Option<DeviceId>) -> Result<bool> {
        files::delete_push(&**self.db().await?, &endpoint, device.as_ref()).await
    }

    async fn set_push_mode(
        &self,
        device: DeviceId,
        room: Option<RoomId>,
        mode: Option<PushMode>,
    ) -> Result<()> {
        files::set_push_mode(&**self.db().await?, &device, room, mode).await
    }

    async fn standing(&self, device: DeviceId) -> Result<Standing> {
        access::standing(&**self.db().await?, &device).await
    }

    async fn setting(&self, key: &'static str) -> Result<Option<String>> {
        access::setting(&**self.db().await?, key).await
    }

    async fn set_setting(&self, key: &'static str, value: String) -> Result<()> {
        access::set_setting(&**self.db().await?, key, &value).await
    }

    async fn init_setting(&self, key: &'static str, value: String) -> Result<String> {
        access::init_setting(&**self.db().await?, key, &value).await
    }

    async fn set_invite_only(&self, invite_only: bool, now: i64) -> Result<()> {
        access::set_invite_only(&**self.db().await?, invite_only, now).await
    }

    async fn has_owner(&self) -> Result<bool> {
        access::has_owner(&**self.db().await?).await
    }

    async fn add_owner_token(&self, hash: String, now: i64, expires_at: i64) -> Result<()> {
        access::add_owner_token(&**self.db().await?, &hash, now, expires_at).await
    }

    async fn claim_owner(&self, hash: String, device: DeviceId, now: i64) -> Result<bool> {
        let mut db = self.db().await?;
        let tx = db.transaction().await?;
        let claimed = access::claim_owner(&*tx, &hash, &device, now).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn create_invite(
        &self,
        hash: String,
        by: UserId,
        now: i64,
        expires_at: i64,
        max_uses: u32,
    ) -> Result<Option<app::api::InviteInfo>> {
        let db = self.db().await?;
        let id = access::create_invite(&**db, &hash, by, now, expires_at, max_uses).await?;
        Ok(access::invites(&**db, now)
            .await?
            .into_iter()
            .find(|i| i.id == id))
    }

    async fn invites(&self, now: i64) -> Result<Vec<app::api::InviteInfo>> {
        access::invites(&**self.db().await?, now).await
    }

    async fn revoke_invite(&self, id: i64, now: i64) -> Result<bool> {
        access::revoke_invite(&**self.db().await?, id, now).await
    }

    async fn claim_invite(&self, hash: String, device: DeviceId, now: i64) -> Result<InviteClaim> {
        let mut db = self.db().await?;
        access::claim_invite(&mut db, &hash, &device, now).await
    }

    async fn device_of(&self, user: UserId) -> Result<Option<DeviceId>> {
        access::device_of(&**self.db().await?, user).await
    }

    async fn set_role(&self, device: DeviceId, role: app::api::Role, now: i64) -> Result<()> {
        access::set_role(&**self.db().await?, &device, role, now).await
    }

    async fn set_blocked(
        &self,
        device: DeviceId,
        user: UserId,
        blocked: bool,
        remove: bool,
        now: i64,
    ) -> Result<u32> {
        let mut db = self.db().await?;
        access::set_blocked(&**db, &device, blocked, now).await?;
        if remove {
            Ok(messages::remove_all_of(&mut db, user).await?.0)
        } else {
            Ok(0)
        }
    }

    async fn blocked_devices(&self) -> Result<Vec<DeviceId>> {
        access::blocked_devices(&**self.db().await?).await
    }

    async fn people(&self) -> Result<Vec<app::api::Person>> {
        access::people(&**self.db().await?).await
    }

    async fn log_action(
        &self,
        now: i64,
        actor: UserId,
        action: &'static str,
        target: Option<UserId>,
        detail: String,
    ) -> Result<()> {
        access::log(&**self.db().await?, now, actor, action, target, &detail).await
    }

    async fn moderation_log(&self, limit: u32) -> Result<Vec<app::api::LogEntry>> {
        access::moderation_log(&**self.db().await?, limit).await
    }

    async fn closed_rooms(&self) -> Result<Vec<(RoomId, Vec<DeviceId>)>> {
        members::closed_rooms(&**self.db().await?).await
    }

    async fn member_devices(&self, room: RoomId) -> Result<Option<Vec<DeviceId>>> {
        members::member_devices(&**self.db().await?, room).await
    }

    async fn room_members(&self, room: RoomId) -> Result<Vec<Identity>> {
        rooms::people(&**self.db().await?, room).await
    }

    async fn direct_room(
        &self,
        creator: DeviceId,
        people: Vec<UserId>,
        now: i64,
    ) -> Result<(RoomInfo, bool)> {
        members::direct(&mut self.db().await?, &creator, &people, now).await
    }

    async fn set_room_kind(
        &self,
        room: RoomId,
        kind: app::protocol::RoomKind,
        people: Vec<UserId>,
        now: i64,
    ) -> Result<RoomInfo> {
        members::set_kind(&mut self.db().await?, room, kind, &people, now).await
    }

    async fn set_member(&self, room: RoomId, user: UserId, member: bool, now: i64) -> Result<()> {
        members::set_member(&mut self.db().await?, room, user, member, now).await
    }

    async fn set_hidden(&self, device: DeviceId, room: RoomId, hidden: bool) -> Result<()> {
        members::set_hidden(&**self.db().await?, &device, room, hidden).await
    }

    async fn show_hidden(&self, room: RoomId) -> Result<bool> {
        members::show_hidden(&**self.db().await?, room).await
    }

    async fn set_dm_block(&self, device: DeviceId, other: UserId, blocked: bool) -> Result<()> {
        members::set_dm_block(&**self.db().await?, &device, other, blocked).await
    }

    async fn dm_blocking(&self, user: UserId, others: Vec<UserId>) -> Result<Vec<UserId>> {
        members::blocking(&**self.db().await?, user, &others).await
    }

    async fn dm_blocked(&self, user: UserId) -> Result<Vec<UserId>> {
        members::blocked_by(&**self.db().await?, user).await
    }

    async fn message_room(&self, id: MessageId) -> Result<Option<RoomId>> {
        members::message_room(&**self.db().await?, id).await
    }

    async fn blob_rooms(&self, blob: String) -> Result<Vec<RoomId>> {
        members::blob_rooms(&**self.db().await?, &blob).await
    }

    async fn room_creator(&self, room: RoomId) -> Result<Option<UserId>> {
        members::creator(&**self.db().await?, room).await
    }

    async fn known_people(&self) -> Result<Vec<Identity>> {
        members::known_people(&**self.db().await?).await
    }

    async fn create_bot(&self, bot: super::NewBot) -> Result<Identity> {
        let mut db = self.db().await?;
        bots::create(&mut db, &bot).await
    }

    async fn bots(&self) -> Result<Vec<super::StoredBot>> {
        bots::all(&**self.db().await?).await
    }

    async fn bot_by_key(&self, key_hash: String) -> Result<Option<super::StoredBot>> {
        bots::by_key(&**self.db().await?, &key_hash).await
    }

    async fn change_bot(&self, user: UserId, change: super::BotChange, now: i64) -> Result<bool> {
        bots::change(&**self.db().await?, user, &change, now).await
    }

    async fn acme_get(&self, name: String) -> Result<Option<Vec<u8>>> {
        acme::get(&**self.db().await?, &name).await
    }

    async fn acme_put(&self, name: String, value: Vec<u8>) -> Result<()> {
        acme::put(&**self.db().await?, &name, &value).await
    }

    async fn acme_lease(&self, holder: String, now: i64, until: i64) -> Result<bool> {
        acme::lease(&**self.db().await?, &holder, now, until).await
    }

    async fn checkpoint(&self) -> Result<()> {
        // Every commit is already durable in PostgreSQL.
        Ok(())
    }
}
