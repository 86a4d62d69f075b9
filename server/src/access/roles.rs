//! What each role may do: one table, checked for every action.

use app::api::{ModAction, Role};

/// Whether a device with `role` may take `action` at all (who it is
/// aimed at is checked by `may_touch`).
pub fn may(role: Option<Role>, action: &ModAction) -> bool {
    matches!(
        (role, action),
        (Some(Role::Owner), _)
            | (
                Some(Role::Moderator),
                ModAction::Block { .. }
                    | ModAction::Unblock { .. }
                    | ModAction::RemoveMessage { .. }
                    | ModAction::RevokeInvite { .. },
            )
    )
}

/// May create invite links.
pub fn may_invite(role: Option<Role>) -> bool {
    role.is_some_and(Role::moderates)
}

/// May read the moderation log.
pub fn may_read_log(role: Option<Role>) -> bool {
    role == Some(Role::Owner)
}

/// Whether `actor` may block, unblock or change the role of someone with
/// `target`'s role: never oneself, never the owner; a moderator only
/// plain members.
pub fn may_touch(actor: Role, target: Option<Role>, themselves: bool) -> bool {
    if themselves || target == Some(Role::Owner) {
        return false;
    }
    match actor {
        Role::Owner => true,
        Role::Moderator => target != Some(Role::Moderator),
        Role::Member => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::protocol::{MessageId, UserId};

    fn every_action() -> Vec<ModAction> {
        let user = UserId(2);
        vec![
            ModAction::SetAccess { invite_only: true },
            ModAction::SetChatName { name: "x".into() },
            ModAction::SetPreviews { on: false },
            ModAction::SetModerator {
                user,
                moderator: true,
            },
            ModAction::Block {
                user,
                remove_messages: true,
            },
            ModAction::Unblock { user },
            ModAction::RemoveMessage { id: MessageId(1) },
            ModAction::RevokeInvite { id: 1 },
        ]
    }

    #[test]
    fn the_owner_may_do_everything() {
        for a in every_action() {
            assert!(may(Some(Role::Owner), &a), "{a:?}");
        }
        assert!(may_invite(Some(Role::Owner)));
        assert!(may_read_log(Some(Role::Owner)));
    }

    #[test]
    fn moderators_moderate_but_do_not_run_the_chat() {
        let m = Some(Role::Moderator);
        for a in every_action() {
            let expected = matches!(
                a,
                ModAction::Block { .. }
                    | ModAction::Unblock { .. }
                    | ModAction::RemoveMessage { .. }
                    | ModAction::RevokeInvite { .. }
            );
            assert_eq!(may(m, &a), expected, "{a:?}");
        }
        assert!(may_invite(m));
        assert!(!may_read_log(m));
    }

    #[test]
    fn members_and_strangers_may_do_nothing() {
        for role in [Some(Role::Member), None] {
            for a in every_action() {
                assert!(!may(role, &a), "{role:?} {a:?}");
            }
            assert!(!may_invite(role));
            assert!(!may_read_log(role));
        }
    }

    #[test]
    fn nobody_blocks_themselves_or_the_owner_and_moderators_only_members() {
        assert!(may_touch(Role::Owner, Some(Role::Moderator), false));
        assert!(may_touch(Role::Owner, None, false));
        assert!(!may_touch(Role::Owner, Some(Role::Owner), false));
        assert!(!may_touch(Role::Owner, Some(Role::Member), true));
        assert!(may_touch(Role::Moderator, Some(Role::Member), false));
        assert!(may_touch(Role::Moderator, None, false));
        assert!(!may_touch(Role::Moderator, Some(Role::Moderator), false));
        assert!(!may_touch(Role::Moderator, Some(Role::Owner), false));
        assert!(!may_touch(Role::Member, Some(Role::Member), false));
    }
}
