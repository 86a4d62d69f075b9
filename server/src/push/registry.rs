//! The subscriptions and push modes in memory, so choosing whom a message
//! is pushed to never touches the database. The store holds the durable
//! copy; every change goes to both.

use crate::store::PushState;
use app::api::{PushMode, PushSettings, RoomPushMode};
use app::protocol::{ChatMessage, DeviceId, RoomId, UserId};
use base64ct::{Base64UrlUnpadded, Encoding};
use std::collections::HashMap;
use web_push_native::p256::PublicKey;
use web_push_native::Auth;

/// A browser's keys for payload encryption (RFC 8291).
#[derive(Clone, Debug)]
pub struct Keys {
    pub p256dh: PublicKey,
    pub auth: Auth,
}

impl Keys {
    /// Parses the base64url keys of `PushSubscription.toJSON()`.
    pub fn parse(p256dh: &str, auth: &str) -> Option<Self> {
        let decode = |s: &str| Base64UrlUnpadded::decode_vec(s.trim_end_matches('=')).ok();
        let p256dh = PublicKey::from_sec1_bytes(&decode(p256dh)?).ok()?;
        let auth = decode(auth)?;
        (auth.len() == 16).then(|| Self {
            p256dh,
            auth: Auth::clone_from_slice(&auth),
        })
    }
}

#[derive(Clone, Debug)]
struct Subscription {
    device: DeviceId,
    user: UserId,
    keys: Keys,
}

#[derive(Clone, Debug, Default)]
struct Modes {
    default: PushMode,
    rooms: HashMap<RoomId, PushMode>,
}

/// Whom one message is pushed to.
#[derive(Clone, Debug)]
pub struct Target {
    pub endpoint: String,
    pub device: DeviceId,
    pub keys: Keys,
}

#[derive(Default)]
pub struct Registry {
    subscriptions: HashMap<String, Subscription>,
    modes: HashMap<DeviceId, Modes>,
}

impl Registry {
    pub fn load(state: PushState) -> Self {
        let mut registry = Self::default();
        for s in state.subscriptions {
            match Keys::parse(&s.p256dh, &s.auth) {
                Some(keys) => registry.add(s.endpoint, s.device, s.user, keys),
                None => tracing::warn!("a stored push subscription has unusable keys"),
            }
        }
        for (device, room, mode) in state.modes {
            registry.set_mode(device, room, Some(mode));
        }
        registry
    }

    pub fn add(&mut self, endpoint: String, device: DeviceId, user: UserId, keys: Keys) {
        self.subscriptions
            .insert(endpoint, Subscription { device, user, keys });
    }

    /// Removes a subscription (only `device`'s, when given).
    pub fn remove(&mut self, endpoint: &str, device: Option<DeviceId>) -> bool {
        let owned = self
            .subscriptions
            .get(endpoint)
            .is_some_and(|s| device.is_none_or(|d| d == s.device));
        if owned {
            self.subscriptions.remove(endpoint);
        }
        owned
    }

    /// The device a subscription belongs to.
    pub fn owner(&self, endpoint: &str) -> Option<DeviceId> {
        self.subscriptions.get(endpoint).map(|s| s.device)
    }

    pub fn target(&self, endpoint: &str) -> Option<Target> {
        self.subscriptions.get(endpoint).map(|s| Target {
            endpoint: endpoint.to_owned(),
            device: s.device,
            keys: s.keys.clone(),
        })
    }

    pub fn count(&self, device: DeviceId) -> usize {
        self.subscriptions
            .values()
            .filter(|s| s.device == device)
            .count()
    }

    pub fn set_mode(&mut self, device: DeviceId, room: Option<RoomId>, mode: Option<PushMode>) {
        let modes = self.modes.entry(device).or_default();
        match (room, mode) {
            (None, mode) => modes.default = mode.unwrap_or_default(),
            (Some(room), Some(mode)) => {
                modes.rooms.insert(room, mode);
            }
            (Some(room), None) => {
                modes.rooms.remove(&room);
            }
        }
    }

    /// A room's own mode, else the device's; a direct conversation is
    /// written to the person, so it notifies of everything unless set
    /// otherwise for it or pushes are off altogether.
    fn mode(&self, device: DeviceId, room: RoomId, direct: bool) -> PushMode {
        let m = self.modes.get(&device);
        let own = m.and_then(|m| m.rooms.get(&room));
        match (own, m.map_or(PushMode::default(), |m| m.default)) {
            (Some(mode), _) => *mode,
            (None, PushMode::Off) => PushMode::Off,
            (None, _) if direct => PushMode::All,
            (None, mode) => mode,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.subscriptions.is_empty()
    }

    pub fn settings(&self, device: DeviceId, key: Vec<u8>) -> PushSettings {
        let modes = self.modes.get(&device).cloned().unwrap_or_default();
        let mut rooms: Vec<RoomPushMode> = modes
            .rooms
            .into_iter()
            .map(|(room, mode)| RoomPushMode { room, mode })
            .collect();
        rooms.sort_by_key(|r| r.room.0);
        PushSettings {
            key,
            subscriptions: self.count(device) as u32,
            mode: modes.default,
            rooms,
        }
    }

    /// The subscriptions a new message is for: not its author's, not
    /// where the room is off, and where only mentions are wanted, only
    /// if it mentions the subscriber.
    pub fn targets(&self, message: &ChatMessage, direct: bool) -> Vec<Target> {
        self.subscriptions
            .iter()
            .filter(|(_, s)| s.user != message.user_id)
            .filter(|(_, s)| match self.mode(s.device, message.room, direct) {
                PushMode::All => true,
                PushMode::Mentions => message.mentions.contains(&s.user),
                PushMode::Off => false,
            })
            .map(|(endpoint, s)| Target {
                endpoint: endpoint.clone(),
                device: s.device,
                keys: s.keys.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredPush;

    fn stored(endpoint: &str, device: DeviceId, user: i64, keys: (&str, &str)) -> StoredPush {
        StoredPush {
            endpoint: endpoint.into(),
            device,
            user: UserId(user),
            p256dh: keys.0.into(),
            auth: keys.1.into(),
        }
    }

    /// Keys from a real browser subscription (the crate's documentation).
    const P256DH: &str =
        "BLn9b-VR0ca83knDNZ32dCHGyjJp-1riX9ZTN40MqV8K_LpQmLqxC_DoHvqvFXO_nGdAB4W9dogZb_sM-uV4JbY";
    const AUTH: &str = "_ordMnz7uTCmrpBTeUV4Bw";

    fn message(room: i64, author: i64, mentions: &[i64]) -> ChatMessage {
        ChatMessage {
            id: app::protocol::MessageId(1),
            user_id: UserId(author),
            user_name: "Ann".into(),
            color: "rgb(200,100,100)".into(),
            msg: "hello".into(),
            ts: 0,
            room: RoomId(room),
            seq: app::protocol::Seq(1),
            edited: false,
            deleted: false,
            removed: false,
            reactions: Vec::new(),
            mentions: mentions.iter().map(|m| UserId(*m)).collect(),
            attachment: None,
            rich: None,
            reply: None,
            preview: None,
            bot: false,
        }
    }

    fn endpoints(targets: Vec<Target>) -> Vec<String> {
        let mut e: Vec<String> = targets.into_iter().map(|t| t.endpoint).collect();
        e.sort();
        e
    }

    #[test]
    fn keys_are_checked() {
        assert!(Keys::parse(P256DH, AUTH).is_some());
        assert!(
            Keys::parse(P256DH, "c2hvcnQ").is_none(),
            "auth must be 16 bytes"
        );
        assert!(Keys::parse("BAAA", AUTH).is_none(), "not a curve point");
        assert!(Keys::parse("!!", AUTH).is_none());
    }

    #[test]
    fn the_author_off_rooms_and_unmentioned_subscribers_get_nothing() {
        let (ann, bo, cy) = (
            DeviceId::new_random(),
            DeviceId::new_random(),
            DeviceId::new_random(),
        );
        let mut r = Registry::load(PushState {
            subscriptions: vec![
                stored("https://push.example/ann", ann, 1, (P256DH, AUTH)),
                stored("https://push.example/bo", bo, 2, (P256DH, AUTH)),
                stored("https://push.example/cy", cy, 3, (P256DH, AUTH)),
                stored("https://push.example/bad", cy, 3, ("x", AUTH)),
            ],
            modes: vec![(bo, None, PushMode::All), (cy, None, PushMode::Mentions)],
        });
        assert_eq!(
            endpoints(r.targets(&message(1, 1, &[]), false)),
            ["https://push.example/bo"],
            "not the author; Cy wants mentions only"
        );
        assert_eq!(
            endpoints(r.targets(&message(1, 1, &[3]), false)),
            ["https://push.example/bo", "https://push.example/cy"]
        );
        r.set_mode(bo, Some(RoomId(2)), Some(PushMode::Off));
        assert!(endpoints(r.targets(&message(2, 1, &[]), false)).is_empty());
        assert_eq!(endpoints(r.targets(&message(1, 1, &[]), false)).len(), 1);
        r.set_mode(bo, Some(RoomId(2)), None);
        assert_eq!(endpoints(r.targets(&message(2, 1, &[]), false)).len(), 1);
        let s = r.settings(cy, vec![4]);
        assert_eq!((s.mode, s.subscriptions), (PushMode::Mentions, 1));
    }

    #[test]
    fn a_device_that_never_chose_hears_mentions_in_shared_rooms_and_every_dm() {
        let dee = DeviceId::new_random();
        let r = Registry::load(PushState {
            subscriptions: vec![stored("https://push.example/dee", dee, 4, (P256DH, AUTH))],
            modes: Vec::new(),
        });
        assert!(endpoints(r.targets(&message(1, 1, &[]), false)).is_empty());
        assert_eq!(
            endpoints(r.targets(&message(1, 1, &[4]), false)),
            ["https://push.example/dee"]
        );
        assert_eq!(
            endpoints(r.targets(&message(5, 1, &[]), true)),
            ["https://push.example/dee"]
        );
        assert_eq!(r.settings(dee, vec![4]).mode, PushMode::Mentions);
    }

    #[test]
    fn a_direct_conversation_notifies_of_everything_unless_set_otherwise() {
        let (bo, cy) = (DeviceId::new_random(), DeviceId::new_random());
        let mut r = Registry::load(PushState {
            subscriptions: vec![
                stored("https://push.example/bo", bo, 2, (P256DH, AUTH)),
                stored("https://push.example/cy", cy, 3, (P256DH, AUTH)),
            ],
            modes: vec![(bo, None, PushMode::Mentions), (cy, None, PushMode::Off)],
        });
        assert!(endpoints(r.targets(&message(1, 1, &[]), false)).is_empty());
        assert_eq!(
            endpoints(r.targets(&message(1, 1, &[]), true)),
            ["https://push.example/bo"],
            "mentions-only still hears a DM; pushes off stay off"
        );
        r.set_mode(bo, Some(RoomId(1)), Some(PushMode::Off));
        assert!(endpoints(r.targets(&message(1, 1, &[]), true)).is_empty());
    }

    #[test]
    fn only_its_own_device_removes_a_subscription() {
        let (ann, bo) = (DeviceId::new_random(), DeviceId::new_random());
        let keys = Keys::parse(P256DH, AUTH).expect("keys");
        let mut r = Registry::default();
        r.add("https://push.example/ann".into(), ann, UserId(1), keys);
        assert!(!r.remove("https://push.example/ann", Some(bo)));
        assert_eq!(r.count(ann), 1);
        assert!(r.remove("https://push.example/ann", Some(ann)));
        assert_eq!(r.count(ann), 0);
    }
}
