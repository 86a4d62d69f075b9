//! Who has each room open now, and who is typing. Ephemeral on purpose:
//! never stored, never replayed. An identity with several tabs counts
//! once; a tab in the background still counts for a grace period, so a
//! phone switching apps does not flicker in and out.
//!
//! With several nodes, each announces its own tabs' people per room (and
//! the devices with a visible tab, which push skips) on the bus when they
//! change and every few seconds; what another node announced counts
//! until it expires, so a killed node's people leave after `REMOTE_TTL`.
//! A bus message holds under 8,000 bytes, so a long list travels in
//! parts, people and devices sorted into parts by id: someone joining
//! re-sends the one part they fall in, not the whole room.

use super::hub::Hub;
use crate::bus::{Audience, Note, Part, Publish, Shared};
use app::protocol::{DeviceId, Identity, RoomId, ServerEvent, UserId, PRESENCE_LISTED};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Least time between two lists published to one room. Every list goes
/// to everyone in the room, so a crowd arriving at once (a restart that
/// reconnects everyone) would cost the square of the room, list after
/// list; instead a change soon after a publish waits for the gap, and one
/// list carries all that changed meanwhile. The gap grows with the list
/// (see `publish_gap`), which keeps the bytes sent per room about linear.
pub const PUBLISH_GAP: Duration = Duration::from_millis(200);

fn publish_gap(people: usize) -> Duration {
    (PUBLISH_GAP + Duration::from_millis(people as u64)).min(Duration::from_secs(2))
}

/// How often a node repeats what it announced.
const ANNOUNCE_EVERY: Duration = Duration::from_secs(3);
/// How long another node's announcement counts without being repeated
/// (a few announcements may be lost before people flicker).
const REMOTE_TTL: Duration = Duration::from_secs(10);

/// Most people in one note: a 32-character name escaped at worst is ~270
/// bytes of JSON.
const PEOPLE_PER_PART: usize = 25;
/// Most devices in one note (39 bytes of JSON each).
const DEVICES_PER_PART: usize = 150;

#[derive(Default)]
struct Remote {
    /// Per (node, room, part): its people, until when.
    rooms: HashMap<(u64, RoomId, u16), (Vec<Identity>, Instant)>,
    /// Per (node, part).
    visible: HashMap<(u64, u16), (HashSet<DeviceId>, Instant)>,
}

/// What this node last told the others, part by part.
#[derive(Default)]
struct Announced {
    rooms: HashMap<RoomId, Vec<Vec<Identity>>>,
    visible: Vec<Vec<DeviceId>>,
    at: Option<Instant>,
}

/// Splits `items` into the fewest parts (a power of two) in which none
/// holds more than `max`, each item in part `key % parts`, so an item
/// stays in its part while the number of parts stays the same.
fn split<T: Clone>(items: &[T], key: impl Fn(&T) -> u64, max: usize) -> Vec<Vec<T>> {
    let mut n: u64 = 1;
    loop {
        let mut parts = vec![Vec::new(); n as usize];
        for item in items {
            parts[(key(item) % n) as usize].push(item.clone());
        }
        let fits = parts.iter().all(|p| p.len() <= max);
        if fits || n >= u64::from(u16::MAX / 2 + 1) {
            return parts;
        }
        n *= 2;
    }
}

/// The parts of `now` to send, given what was sent `before`: all of them
/// when their number changed or on a `repeat`, else the ones that differ.
fn changed_parts<T: PartialEq>(
    before: Option<&Vec<Vec<T>>>,
    now: &[Vec<T>],
    repeat: bool,
) -> Vec<usize> {
    match before {
        Some(before) if !repeat && before.len() == now.len() => {
            (0..now.len()).filter(|&i| before[i] != now[i]).collect()
        }
        _ => (0..now.len()).collect(),
    }
}

/// When each room may next get a list, and the rooms with a change
/// waiting for that moment.
#[derive(Default)]
struct Paced {
    next: HashMap<RoomId, Instant>,
    waiting: HashSet<RoomId>,
}

/// One open tab (WebSocket session).
pub type TabId = u64;

struct Tab {
    device: DeviceId,
    room: RoomId,
    /// `None` until the device picks a name; such a tab is not listed
    /// but still counts as the device looking at the chat.
    who: Option<Identity>,
    /// `None` while visible; when it went to the background otherwise.
    hidden_since: Option<Instant>,
}

pub struct Presence {
    tabs: Mutex<HashMap<TabId, Tab>>,
    /// What each room's list was when last published, to publish changes only.
    shown: Mutex<HashMap<RoomId, Vec<Identity>>>,
    paced: Mutex<Paced>,
    hub: Arc<Hub>,
    grace: Duration,
    remote: Mutex<Remote>,
    announced: Mutex<Announced>,
    /// This node's tabs changed since it last told the others.
    announce_due: AtomicBool,
}

impl Presence {
    pub fn new(hub: Arc<Hub>, grace: Duration) -> Self {
        Self {
            tabs: Mutex::new(HashMap::new()),
            shown: Mutex::new(HashMap::new()),
            paced: Mutex::new(Paced::default()),
            hub,
            grace,
            remote: Mutex::new(Remote::default()),
            announced: Mutex::new(Announced::default()),
            announce_due: AtomicBool::new(false),
        }
    }

    /// What another node announced (this node's own come back too, and
    /// are ignored).
    pub fn note(&self, note: Note) {
        let until = Instant::now() + REMOTE_TTL;
        let room = match note {
            Note::Room { node, .. } | Note::Visible { node, .. } if node == self.hub.node() => {
                return
            }
            Note::Room {
                node,
                room,
                part,
                people,
            } => {
                if let Ok(mut r) = self.remote.lock() {
                    if people.is_empty() {
                        r.rooms.remove(&(node, room, part.index));
                    } else {
                        r.rooms.insert((node, room, part.index), (people, until));
                    }
                    r.rooms.retain(|&(n, r_room, index), _| {
                        (n, r_room) != (node, room) || index < part.of
                    });
                }
                room
            }
            Note::Visible {
                node,
                part,
                devices,
            } => {
                if let Ok(mut r) = self.remote.lock() {
                    r.visible
                        .insert((node, part.index), (devices.into_iter().collect(), until));
                    r.visible
                        .retain(|&(n, index), _| n != node || index < part.of);
                }
                return;
            }
        };
        self.publish_if_changed(room);
    }

    /// Tells the other nodes what this one has: what changed, and all of
    /// it every `ANNOUNCE_EVERY`.
    fn announce(&self, now: Instant) {
        let Ok(mut a) = self.announced.lock() else {
            return;
        };
        let repeat =
            a.at.is_none_or(|at| now.duration_since(at) >= ANNOUNCE_EVERY);
        let mut rooms: Vec<RoomId> = self.with_tabs(|tabs| tabs.values().map(|t| t.room).collect());
        rooms.extend(a.rooms.keys().copied());
        rooms.sort();
        rooms.dedup();
        for room in rooms {
            let people = self.local_people_at(room, now);
            let before = a.rooms.get(&room);
            if before.is_none() && people.is_empty() {
                continue;
            }
            let parts = split(&people, |p| p.user_id.0 as u64, PEOPLE_PER_PART);
            for index in changed_parts(before, &parts, repeat) {
                self.hub.share(Shared::Presence(Note::Room {
                    node: self.hub.node(),
                    room,
                    part: Part {
                        index: index as u16,
                        of: parts.len() as u16,
                    },
                    people: parts[index].clone(),
                }));
            }
            if people.is_empty() {
                a.rooms.remove(&room);
            } else {
                a.rooms.insert(room, parts);
            }
        }
        let mut visible: Vec<DeviceId> = self.with_tabs(|tabs| {
            tabs.values()
                .filter(|t| t.hidden_since.is_none())
                .map(|t| t.device)
                .collect::<HashSet<_>>()
                .into_iter()
                .collect()
        });
        visible.sort_by_key(|d| d.as_uuid());
        let parts = split(&visible, |d| d.as_uuid().as_u128() as u64, DEVICES_PER_PART);
        for index in changed_parts(Some(&a.visible), &parts, repeat) {
            self.hub.share(Shared::Presence(Note::Visible {
                node: self.hub.node(),
                part: Part {
                    index: index as u16,
                    of: parts.len() as u16,
                },
                devices: parts[index].clone(),
            }));
        }
        a.visible = parts;
        if repeat {
            a.at = Some(now);
        }
    }

    /// A tab shows `room` (replacing whatever it showed before).
    pub fn enter(
        &self,
        tab: TabId,
        device: DeviceId,
        room: RoomId,
        who: Option<Identity>,
        visible: bool,
    ) {
        let left = self.with_tabs(|tabs| {
            let hidden_since = (!visible).then(Instant::now);
            tabs.insert(
                tab,
                Tab {
                    device,
                    room,
                    who,
                    hidden_since,
                },
            )
            .map(|old| old.room)
        });
        if let Some(old) = left.filter(|old| *old != room) {
            self.publish_if_changed(old);
        }
        self.publish_if_changed(room);
    }

    pub fn leave(&self, tab: TabId) {
        if let Some(old) = self.with_tabs(|tabs| tabs.remove(&tab)) {
            self.publish_if_changed(old.room);
        }
    }

    pub fn set_visible(&self, tab: TabId, visible: bool) {
        let room = self.with_tabs(|tabs| {
            let t = tabs.get_mut(&tab)?;
            t.hidden_since = match (visible, t.hidden_since) {
                (true, _) => None,
                (false, Some(since)) => Some(since),
                (false, None) => Some(Instant::now()),
            };
            Some(t.room)
        });
        if let Some(room) = room {
            self.publish_if_changed(room);
        }
    }

    /// A device's new (or first) name shows in every room its tabs are in.
    pub fn rename(&self, device: DeviceId, who: &Identity) {
        let rooms: Vec<RoomId> = self.with_tabs(|tabs| {
            tabs.values_mut()
                .filter(|t| t.device == device)
                .map(|t| {
                    t.who = Some(who.clone());
                    t.room
                })
                .collect()
        });
        for room in rooms {
            self.publish_if_changed(room);
        }
    }

    /// Whether one of the device's tabs is in view now (a tab in the
    /// background counts as away at once: its phone may be in a pocket).
    pub fn device_visible(&self, device: DeviceId) -> bool {
        let here = self.with_tabs(|tabs| {
            tabs.values()
                .any(|t| t.device == device && t.hidden_since.is_none())
        });
        let now = Instant::now();
        here || self.remote.lock().is_ok_and(|r| {
            r.visible
                .values()
                .any(|(devices, until)| *until > now && devices.contains(&device))
        })
    }

    /// Everyone present in `room` now, each identity once, by name.
    pub fn people(&self, room: RoomId) -> Vec<Identity> {
        self.people_at(room, Instant::now())
    }

    fn people_at(&self, room: RoomId, now: Instant) -> Vec<Identity> {
        let mut people: BTreeMap<UserId, Identity> = self
            .local_people_at(room, now)
            .into_iter()
            .map(|p| (p.user_id, p))
            .collect();
        if let Ok(r) = self.remote.lock() {
            for ((_, r_room, _), (list, until)) in &r.rooms {
                if *r_room == room && *until > now {
                    for p in list {
                        people.entry(p.user_id).or_insert_with(|| p.clone());
                    }
                }
            }
        }
        let mut list: Vec<Identity> = people.into_values().collect();
        list.sort_by_key(|p| p.name.to_lowercase());
        list
    }

    /// The people of this node's own tabs.
    fn local_people_at(&self, room: RoomId, now: Instant) -> Vec<Identity> {
        self.with_tabs(|tabs| {
            let mut people: BTreeMap<UserId, Identity> = BTreeMap::new();
            for t in tabs.values().filter(|t| t.room == room) {
                let here = t
                    .hidden_since
                    .is_none_or(|since| now.duration_since(since) < self.grace);
                if let (true, Some(who)) = (here, &t.who) {
                    people.insert(who.user_id, who.clone());
                }
            }
            let mut list: Vec<Identity> = people.into_values().collect();
            list.sort_by_key(|p| p.name.to_lowercase());
            list
        })
    }

    /// Re-checks every room, so background tabs past the grace period
    /// drop out; run every few seconds.
    pub fn sweep(&self) {
        let now = Instant::now();
        if let Ok(mut r) = self.remote.lock() {
            r.rooms.retain(|_, (_, until)| *until > now);
            r.visible.retain(|_, (_, until)| *until > now);
        }
        let rooms: Vec<RoomId> = {
            let shown = self.shown.lock().map(|s| s.keys().copied().collect());
            shown.unwrap_or_default()
        };
        for room in rooms {
            self.publish_if_changed(room);
        }
        self.announce(now);
    }

    /// Publishes the lists that waited for their gap; run a few times per
    /// `PUBLISH_GAP`.
    pub fn flush(&self) {
        let now = Instant::now();
        if self.announce_due.swap(false, Ordering::Relaxed) {
            self.announce(now);
        }
        let due: Vec<RoomId> = match self.paced.lock() {
            Ok(p) => p
                .waiting
                .iter()
                .filter(|room| p.next.get(room).is_none_or(|next| now >= *next))
                .copied()
                .collect(),
            Err(_) => return,
        };
        for room in due {
            self.publish_at(room, now);
        }
    }

    fn publish_if_changed(&self, room: RoomId) {
        if self.hub.is_shared() {
            // Told to the other nodes at the next flush: one announcement
            // for a burst of changes, not one each.
            self.announce_due.store(true, Ordering::Relaxed);
        }
        self.publish_at(room, Instant::now());
    }

    /// Publishes what changed in `room` since it was last published, unless
    /// that was less than its gap ago: then `flush` publishes it later.
    /// Nothing is computed while the gap runs, so a crowd arriving costs
    /// one list per gap, not one per arrival.
    fn publish_at(&self, room: RoomId, now: Instant) {
        {
            let Ok(mut paced) = self.paced.lock() else {
                return;
            };
            if paced.next.get(&room).is_some_and(|next| now < *next) {
                paced.waiting.insert(room);
                return;
            }
        }
        let people = self.people_at(room, now);
        let Ok(mut shown) = self.shown.lock() else {
            return;
        };
        let Ok(mut paced) = self.paced.lock() else {
            return;
        };
        paced.waiting.remove(&room);
        let before = shown.get(&room);
        if before.map_or(people.is_empty(), |s| *s == people) {
            return;
        }
        let event = change(room, before.map(Vec::as_slice).unwrap_or_default(), &people);
        paced.next.insert(room, now + publish_gap(people.len()));
        drop(paced);
        if people.is_empty() {
            shown.remove(&room);
        } else {
            shown.insert(room, people);
        }
        if let Some(event) = event {
            self.hub.publish(Publish {
                audience: Audience::Everyone,
                room: Some(room),
                scope: Some(room),
                event,
                activity: None,
            });
        }
    }

    /// Who is in `room`, as a newly opened tab is told: how many, and the
    /// first `PRESENCE_LISTED` by name. A large room answers from its last
    /// published list (at most one gap old) rather than gather it afresh
    /// for each of a crowd's tabs.
    pub fn opening(&self, room: RoomId) -> (Vec<Identity>, u32) {
        let cached = self.shown.lock().ok().and_then(|shown| {
            shown
                .get(&room)
                .filter(|s| s.len() > PRESENCE_LISTED)
                .map(|s| {
                    (
                        s.iter().take(PRESENCE_LISTED).cloned().collect(),
                        s.len() as u32,
                    )
                })
        });
        cached.unwrap_or_else(|| {
            let people = self.people(room);
            let count = people.len() as u32;
            (people.into_iter().take(PRESENCE_LISTED).collect(), count)
        })
    }

    fn with_tabs<T>(&self, f: impl FnOnce(&mut HashMap<TabId, Tab>) -> T) -> T {
        match self.tabs.lock() {
            Ok(mut tabs) => f(&mut tabs),
            // A panic elsewhere must not take presence down with it.
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

/// What a room's tabs are told when its people change from `before` to
/// `now` (both by name): who came and went while the room is listed
/// whole; the whole (short) list when it shrinks back to that size; past
/// it, only the count, and nothing if the count is the same.
fn change(room: RoomId, before: &[Identity], now: &[Identity]) -> Option<ServerEvent> {
    let count = now.len() as u32;
    if now.len() > PRESENCE_LISTED {
        return (before.len() != now.len()).then_some(ServerEvent::Here {
            room,
            count,
            joined: Vec::new(),
            left: Vec::new(),
        });
    }
    if before.len() > PRESENCE_LISTED {
        return Some(ServerEvent::Presence {
            room,
            people: now.to_vec(),
            count: Some(count),
        });
    }
    let was: HashMap<UserId, &Identity> = before.iter().map(|p| (p.user_id, p)).collect();
    let is: HashSet<UserId> = now.iter().map(|p| p.user_id).collect();
    // A renamed person comes again under their new name.
    let joined = now
        .iter()
        .filter(|p| was.get(&p.user_id).is_none_or(|old| *old != *p))
        .cloned()
        .collect();
    let left = before
        .iter()
        .filter(|p| !is.contains(&p.user_id))
        .map(|p| p.user_id)
        .collect();
    Some(ServerEvent::Here {
        room,
        count,
        joined,
        left,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::protocol::UserId;

    fn who(id: i64, name: &str) -> Identity {
        Identity {
            user_id: UserId(id),
            name: name.into(),
            color: "rgb(200,100,100)".into(),
        }
    }

    /// A device per user, the same one each time it is asked for.
    fn dev(user: u32) -> DeviceId {
        DeviceId::parse(&format!("00000000-0000-4000-8000-{user:012}")).expect("a device id")
    }

    #[test]
    fn an_identity_with_three_tabs_counts_once() {
        let p = Presence::new(Arc::new(Hub::new()), Duration::from_secs(60));
        let room = RoomId::DEFAULT;
        for tab in 1..=3 {
            p.enter(tab, dev(7), room, Some(who(7, "Ann")), true);
        }
        p.enter(4, dev(8), room, Some(who(8, "Bo")), true);
        let names: Vec<String> = p.people(room).into_iter().map(|i| i.name).collect();
        assert_eq!(names, ["Ann", "Bo"]);
        p.leave(1);
        p.leave(2);
        assert_eq!(p.people(room).len(), 2, "one tab is enough");
        p.leave(3);
        assert_eq!(p.people(room).len(), 1);
    }

    #[test]
    fn a_background_tab_counts_for_the_grace_period_only() {
        let p = Presence::new(Arc::new(Hub::new()), Duration::from_secs(60));
        let room = RoomId::DEFAULT;
        p.enter(1, dev(7), room, Some(who(7, "Ann")), true);
        p.set_visible(1, false);
        let now = Instant::now();
        assert_eq!(p.people_at(room, now + Duration::from_secs(59)).len(), 1);
        assert!(p.people_at(room, now + Duration::from_secs(61)).is_empty());
        p.set_visible(1, true);
        assert_eq!(p.people_at(room, now + Duration::from_secs(3600)).len(), 1);
    }

    #[test]
    fn a_device_is_visible_while_one_of_its_tabs_is_in_view() {
        let p = Presence::new(Arc::new(Hub::new()), Duration::from_secs(60));
        p.enter(1, dev(7), RoomId(2), Some(who(7, "Ann")), true);
        p.enter(2, dev(7), RoomId(3), Some(who(7, "Ann")), false);
        assert!(p.device_visible(dev(7)));
        assert!(!p.device_visible(dev(8)));
        p.set_visible(1, false);
        assert!(
            !p.device_visible(dev(7)),
            "in the grace period, but not in view"
        );
        p.leave(1);
        p.set_visible(2, true);
        assert!(p.device_visible(dev(7)));
    }

    #[test]
    fn a_tab_opened_before_its_name_is_listed_once_named() {
        let p = Presence::new(Arc::new(Hub::new()), Duration::from_secs(60));
        p.enter(1, dev(7), RoomId(2), None, true);
        assert!(p.people(RoomId(2)).is_empty());
        assert!(p.device_visible(dev(7)), "looking, even without a name");
        p.rename(dev(7), &who(7, "Ann"));
        let names: Vec<String> = p.people(RoomId(2)).into_iter().map(|i| i.name).collect();
        assert_eq!(names, ["Ann"]);
    }

    /// A bus that keeps what is shared on it.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<Shared>>);

    impl crate::bus::Bus for Recorder {
        fn share(&self, event: Shared) {
            if let Ok(mut shared) = self.0.lock() {
                shared.push(event);
            }
        }
    }

    impl Recorder {
        /// What was shared since the last call, as bus payloads, each
        /// checked to fit in one `NOTIFY`.
        fn payloads(&self) -> Vec<String> {
            use crate::bus::wire::{payload, MAX_PAYLOAD};
            let shared = std::mem::take(&mut *self.0.lock().expect("lock"));
            shared
                .iter()
                .map(|event| {
                    let json = payload(event).expect("encodes");
                    assert!(json.len() <= MAX_PAYLOAD, "a note of {} bytes", json.len());
                    json
                })
                .collect()
        }
    }

    fn shared_presence() -> (Presence, Arc<Recorder>) {
        let bus = Arc::new(Recorder::default());
        let hub = Arc::new(Hub::new());
        hub.connect(bus.clone());
        (Presence::new(hub, Duration::from_secs(60)), bus)
    }

    fn hear(p: &Presence, payloads: &[String]) {
        for json in payloads {
            match crate::bus::wire::read_payload(json).expect("reads") {
                Some(Shared::Presence(note)) => p.note(note),
                other => panic!("not a presence note: {other:?}"),
            }
        }
    }

    #[test]
    fn a_crowded_room_crosses_nodes_in_notes_that_fit() {
        let (a, bus) = shared_presence();
        let (b, _) = shared_presence();
        let room = RoomId::DEFAULT;
        // Longest names, and ones JSON escapes.
        let name = |i: u32| format!("{i:04}\\\"{}", "é".repeat(26));
        for i in 0..500 {
            a.enter(
                u64::from(i),
                dev(i),
                room,
                Some(who(i64::from(i), &name(i))),
                true,
            );
        }
        // Told at the next flush, one announcement for the whole crowd.
        a.flush();
        let notes = bus.payloads();
        hear(&b, &notes);
        assert_eq!(b.people(room).len(), 500);
        assert!(b.device_visible(dev(499)));

        a.leave(7);
        a.flush();
        let notes = bus.payloads();
        assert_eq!(
            notes.len(),
            2,
            "one part of the room and one of the devices: {notes:?}"
        );
        hear(&b, &notes);
        assert_eq!(b.people(room).len(), 499);
        assert!(!b.device_visible(dev(7)));

        for tab in 0..500 {
            a.leave(tab);
        }
        a.flush();
        hear(&b, &bus.payloads());
        assert!(b.people(room).is_empty(), "every part is dropped");
        assert!(!b.device_visible(dev(499)));
    }

    #[test]
    fn a_whole_list_from_a_node_without_parts_is_read_as_one_part() {
        let b = Presence::new(Arc::new(Hub::new()), Duration::from_secs(60));
        let old = r#"{"k":"room","node":9,"room":1,"people":[{"user_id":7,"name":"Ann","color":"rgb(200,100,100)"}]}"#;
        hear(&b, &[old.to_owned()]);
        assert_eq!(b.people(RoomId(1)).len(), 1);
    }

    #[test]
    fn a_crowd_arriving_at_once_gets_few_changes_with_everyone() {
        let hub = Arc::new(Hub::new());
        let room = RoomId(2);
        let mut live = hub.subscribe_room(room);
        let p = Presence::new(hub, Duration::from_secs(60));
        p.enter(0, dev(0), room, Some(who(0, "First")), true);
        let first = live
            .try_recv()
            .expect("the first change is published at once");
        assert!(first.frame.as_str().contains("First"));
        for i in 1..100 {
            p.enter(
                u64::from(i),
                dev(i),
                room,
                Some(who(i64::from(i), &format!("P{i}"))),
                true,
            );
        }
        assert!(live.try_recv().is_err(), "the rest wait for the gap");
        p.flush();
        assert!(live.try_recv().is_err(), "not before the gap");
        std::thread::sleep(publish_gap(1));
        p.flush();
        let list = live.try_recv().expect("one change after the gap");
        // A hundred people: past the listed size, the count alone.
        assert_eq!(
            list.frame.as_str(),
            r#"{"type":"here","room":2,"count":100}"#
        );
        assert!(live.try_recv().is_err(), "only one");
        p.flush();
        assert!(live.try_recv().is_err(), "nothing left waiting");
    }

    #[test]
    fn a_small_room_hears_who_came_and_went_by_name_a_large_one_the_count() {
        let ann = who(1, "Ann");
        let bo = who(2, "Bo");
        let room = RoomId(2);
        match change(room, std::slice::from_ref(&ann), &[ann.clone(), bo.clone()]) {
            Some(ServerEvent::Here {
                count,
                joined,
                left,
                ..
            }) => {
                assert_eq!((count, joined, left), (2, vec![bo.clone()], vec![]));
            }
            other => panic!("{other:?}"),
        }
        let renamed = who(1, "Anne");
        match change(
            room,
            &[ann.clone(), bo.clone()],
            std::slice::from_ref(&renamed),
        ) {
            Some(ServerEvent::Here { joined, left, .. }) => {
                assert_eq!((joined, left), (vec![renamed], vec![UserId(2)]));
            }
            other => panic!("{other:?}"),
        }
        let crowd: Vec<Identity> = (0..60).map(|i| who(i, &format!("P{i:02}"))).collect();
        let more: Vec<Identity> = (0..61).map(|i| who(i, &format!("P{i:02}"))).collect();
        // What a phone gets for one more person in a room of 60: the count.
        let event = change(room, &crowd, &more).expect("a change");
        let json = serde_json::to_string(&event).expect("encodes");
        assert_eq!(json, r#"{"type":"here","room":2,"count":61}"#);
        // Someone left and another came: the count is the same, nothing.
        let mut swapped = crowd.clone();
        swapped[0] = who(99, "Zed");
        assert_eq!(change(room, &crowd, &swapped), None);
        // Back to a listable size: the whole list once.
        match change(room, &more, &crowd[..10]) {
            Some(ServerEvent::Presence { people, count, .. }) => {
                assert_eq!((people.len(), count), (10, Some(10)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn changes_are_published_once_to_the_room() {
        let hub = Arc::new(Hub::new());
        let (mut two, mut three) = (hub.subscribe_room(RoomId(2)), hub.subscribe_room(RoomId(3)));
        let mut chat_wide = hub.subscribe();
        let p = Presence::new(hub, Duration::from_secs(60));
        p.enter(1, dev(7), RoomId(2), Some(who(7, "Ann")), true);
        p.enter(2, dev(7), RoomId(2), Some(who(7, "Ann")), true);
        let b = two.try_recv().expect("published");
        assert_eq!(b.room, Some(RoomId(2)));
        assert!(two.try_recv().is_err(), "a second tab changes nothing");
        p.enter(1, dev(7), RoomId(3), Some(who(7, "Ann")), true);
        assert_eq!(three.try_recv().expect("joined 3").room, Some(RoomId(3)));
        assert!(two.try_recv().is_err(), "still in room 2 through tab 2");
        assert!(chat_wide.try_recv().is_err(), "a room's news stays in it");
    }
}
