//! Clients spread over rooms (bench scenario (q)): before the run, every
//! client is named, one client per room creates it, and with `private`
//! it makes the room private with the clients assigned to it as its
//! members; pairs of clients then start direct conversations. Each client
//! then shows its own room, and a sender posts into it.

use crate::target::Target;
use futures::StreamExt;

/// Who is where, fixed before anyone connects.
#[derive(Debug)]
pub struct Layout {
    /// Each client's device.
    pub devices: Vec<String>,
    /// Each client's room, as an index into `room_ids`: client i is in
    /// room i mod the number of rooms.
    pub room_of: Vec<usize>,
    pub room_ids: Vec<i64>,
}

impl Layout {
    pub fn room(&self, client: usize) -> Option<i64> {
        self.room_of
            .get(client)
            .and_then(|r| self.room_ids.get(*r))
            .copied()
    }
}

pub struct Shape {
    pub clients: usize,
    pub rooms: usize,
    pub private: bool,
    pub directs: usize,
    pub concurrency: usize,
}

pub async fn prepare(target: &Target, shape: Shape) -> Result<Layout, String> {
    let rooms = shape.rooms.clamp(1, shape.clients.max(1));
    let devices: Vec<String> = (0..shape.clients)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let users: Vec<i64> = futures::stream::iter(devices.iter().enumerate())
        .map(|(i, device)| target.name_for_id(device, format!("lg{i}")))
        .buffered(shape.concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let room_of: Vec<usize> = (0..shape.clients).map(|i| i % rooms).collect();
    let mut room_ids = Vec::with_capacity(rooms);
    // Runs share a server (bench (q) then (qo)): each run's rooms get
    // names and addresses of their own.
    let run = (uuid::Uuid::new_v4().as_u128() & 0xfff) as usize;
    for (r, creator) in devices.iter().take(rooms).enumerate() {
        let id = target
            .create_room(creator, &format!("lg-{run}-room-{r}"), run * 4096 + r)
            .await?;
        if shape.private {
            let members: Vec<i64> = (0..shape.clients)
                .filter(|i| room_of[*i] == r)
                .map(|i| users[i])
                .collect();
            target
                .room_action(
                    creator,
                    serde_json::json!({ "do": "set_private", "room": id, "private": true, "members": members }),
                )
                .await?;
        }
        room_ids.push(id);
    }
    let pairs = shape.directs.min(shape.clients / 2);
    let started: Vec<Result<(), String>> = futures::stream::iter(0..pairs)
        .map(|k| {
            let device = &devices[2 * k];
            let other = users[2 * k + 1];
            target.room_action(
                device,
                serde_json::json!({ "do": "start_direct", "people": [other] }),
            )
        })
        .buffer_unordered(shape.concurrency.max(1))
        .collect()
        .await;
    started.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(Layout {
        devices,
        room_of,
        room_ids,
    })
}
