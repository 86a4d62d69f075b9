//! Web Push subscriptions and what each device wants pushed.

use super::super::{PushState, Result, StoredPush};
use app::api::PushMode;
use app::protocol::{DeviceId, RoomId, UserId};
use rusqlite::{params, Connection};

/// The row of `push_modes` holding a device's default.
const DEFAULT_ROOM: i64 = 0;

pub fn state(db: &Connection) -> Result<PushState> {
    let mut stmt = db.prepare_cached(
        "SELECT p.endpoint, p.device_id, u.id, p.p256dh, p.auth
         FROM push_subscriptions p JOIN users u ON u.device_id = p.device_id",
    )?;
    let subscriptions = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter_map(|(endpoint, device, user, p256dh, auth)| {
            Some(StoredPush {
                endpoint,
                device: DeviceId::parse(&device)?,
                user: UserId(user),
                p256dh,
                auth,
            })
        })
        .collect();
    let mut stmt = db.prepare_cached("SELECT device_id, room_id, mode FROM push_modes")?;
    let modes = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter_map(|(device, room, mode)| {
            let room = (room != DEFAULT_ROOM).then_some(RoomId(room));
            Some((DeviceId::parse(&device)?, room, PushMode::parse(&mode)?))
        })
        .collect();
    Ok(PushState {
        subscriptions,
        modes,
    })
}

/// Stores a subscription; an endpoint already known moves to `device`
/// (the browser now belongs to it) with its new keys.
pub fn save(
    db: &Connection,
    device: &DeviceId,
    endpoint: &str,
    p256dh: &str,
    auth: &str,
    now: i64,
) -> Result<()> {
    db.execute(
        "INSERT INTO push_subscriptions (endpoint, device_id, p256dh, auth, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (endpoint) DO UPDATE
         SET device_id = excluded.device_id, p256dh = excluded.p256dh, auth = excluded.auth",
        params![endpoint, device.to_string(), p256dh, auth, now],
    )?;
    Ok(())
}

pub fn delete(db: &Connection, endpoint: &str, device: Option<&DeviceId>) -> Result<bool> {
    let deleted = match device {
        Some(device) => db.execute(
            "DELETE FROM push_subscriptions WHERE endpoint = ?1 AND device_id = ?2",
            params![endpoint, device.to_string()],
        )?,
        None => db.execute(
            "DELETE FROM push_subscriptions WHERE endpoint = ?1",
            [endpoint],
        )?,
    };
    Ok(deleted > 0)
}

pub fn set_mode(
    db: &Connection,
    device: &DeviceId,
    room: Option<RoomId>,
    mode: Option<PushMode>,
) -> Result<()> {
    let room = room.map_or(DEFAULT_ROOM, |r| r.0);
    match mode {
        Some(mode) => db.execute(
            "INSERT INTO push_modes (device_id, room_id, mode) VALUES (?1, ?2, ?3)
             ON CONFLICT (device_id, room_id) DO UPDATE SET mode = excluded.mode",
            params![device.to_string(), room, mode.as_str()],
        )?,
        None => db.execute(
            "DELETE FROM push_modes WHERE device_id = ?1 AND room_id = ?2",
            params![device.to_string(), room],
        )?,
    };
    Ok(())
}
