//! Owner, invite-only mode and moderation over real HTTP and WebSockets:
//! what a stranger gets from a private chat (nothing), invites, blocks,
//! and forged actions.

use crate::common;

use app::api::{Admin, ModAction, NewInvite, Role};
use app::protocol::{close_code, ChatMessage, ErrorCode, MessageId, ServerEvent};
use common::{named, new_device, Client, Server};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(common::WAIT)
        .build()
        .expect("client")
}

async fn get(server: &Server, device: &str, path: &str) -> reqwest::Response {
    no_redirects()
        .get(server.url(path))
        .header("cookie", common::cookie(device))
        .send()
        .await
        .expect("answers")
}

pub async fn moderate(server: &Server, device: &str, action: ModAction) -> Result<Admin, String> {
    let res = common::http()
        .post(server.url("/api/moderate"))
        .header("cookie", common::cookie(device))
        .json(&serde_json::json!({ "action": action }))
        .send()
        .await
        .expect("answers");
    if res.status().is_success() {
        Ok(res.json().await.expect("admin json"))
    } else {
        Err(res.text().await.unwrap_or_default())
    }
}

use common::server_fn as form;

pub async fn invite(
    server: &Server,
    device: &str,
    secs: u64,
    uses: u32,
) -> Result<NewInvite, String> {
    let res = form(
        server,
        device,
        "create_invite",
        &[
            ("expires_in_secs", &secs.to_string()),
            ("max_uses", &uses.to_string()),
        ],
    )
    .await;
    if res.status().is_success() {
        Ok(res.json().await.expect("invite json"))
    } else {
        Err(res.text().await.unwrap_or_default())
    }
}

/// A server whose owner is a fresh device named Ann.
pub async fn owned(dir: &std::path::Path, extra: &[&str]) -> (Server, String) {
    let mut flags = vec!["--no-tls"];
    flags.extend_from_slice(extra);
    let server = Server::start_with(dir, &flags);
    let ann = new_device();
    let token = server.printed_owner_token();
    let res = get(&server, &ann, &format!("/owner/{token}")).await;
    assert_eq!(res.status(), 303, "the owner link leads to the chat");
    named(&server, &ann, "Ann").await;
    (server, ann)
}

fn path_of(url: &str) -> String {
    let after_scheme = url.split("://").nth(1).expect("absolute");
    after_scheme[after_scheme.find('/').expect("a path")..].to_owned()
}

async fn post(client: &mut Client, text: &str) -> ChatMessage {
    let id = client.say(text).await;
    client
        .next_matching(|e| match e {
            ServerEvent::Message { message } if message.msg == text => Some(message),
            ServerEvent::Error {
                client_id, message, ..
            } if client_id == Some(id) => {
                panic!("refused: {message}")
            }
            _ => None,
        })
        .await
}

#[tokio::test]
async fn the_owner_link_works_once_and_owner_link_makes_a_new_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let site = tempfile::tempdir().expect("site dir");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../public/manifest.webmanifest"
        ),
        site.path().join("manifest.webmanifest"),
    )
    .expect("the app's manifest");
    let site_root = site.path().to_str().expect("utf8");
    let (server, ann) = owned(dir.path(), &["--site-root", site_root]).await;
    let (mut ann_tab, _) = Client::joined(&server, &ann).await;
    let admin = moderate(
        &server,
        &ann,
        ModAction::SetChatName {
            name: "Kitchen".into(),
        },
    )
    .await
    .expect("the owner may rename the chat");
    // Open pages hear of it at once.
    let renamed = ann_tab
        .next_matching(|e| match e {
            ServerEvent::ChatName { name } => Some(name),
            _ => None,
        })
        .await;
    assert_eq!(renamed, "Kitchen");
    assert_eq!(
        (admin.role, admin.chat_name.as_str()),
        (Some(Role::Owner), "Kitchen")
    );
    // The page's title and the installed app's name follow.
    let page = get(&server, &ann, "/")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(page.contains("<title>Kitchen</title>"), "title");
    let manifest: serde_json::Value = get(&server, &ann, "/manifest.webmanifest")
        .await
        .json()
        .await
        .expect("manifest json");
    assert_eq!(manifest["name"], "Kitchen");
    assert_eq!(manifest["short_name"], "Kitchen");
    assert!(
        manifest["icons"].is_array(),
        "the rest of the manifest is kept"
    );

    // Used up, mistyped or made up: a readable page, and nobody is owner.
    let bo = new_device();
    let used = server.printed_owner_token();
    for path in [
        format!("/owner/{used}"),
        "/owner/not-a-token".to_owned(),
        format!("/owner/{}", "a".repeat(64)),
    ] {
        let res = get(&server, &bo, &path).await;
        assert_eq!(res.status(), 410, "{path}");
        assert!(res
            .text()
            .await
            .unwrap_or_default()
            .contains("no longer works"));
    }
    named(&server, &bo, "Bo").await;
    assert!(
        moderate(&server, &bo, ModAction::SetAccess { invite_only: true })
            .await
            .is_err()
    );

    // `server owner-link`, while the server runs: Bo takes over, Ann's
    // lost phone keeps no powers.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--no-tls", "--addr", &server.addr.to_string(), "--data-dir"])
        .arg(dir.path())
        .arg("owner-link")
        .output()
        .expect("runs");
    assert!(out.status.success());
    let link = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(link.contains("/owner/"), "{link}");
    let res = get(&server, &bo, &path_of(&link)).await;
    assert_eq!(res.status(), 303);
    let admin = moderate(&server, &bo, ModAction::SetAccess { invite_only: false })
        .await
        .expect("Bo owns it now");
    assert_eq!(admin.role, Some(Role::Owner));
    assert!(
        moderate(&server, &ann, ModAction::SetAccess { invite_only: true })
            .await
            .is_err()
    );
    // The log says who did what.
    let actions: Vec<String> = admin
        .log
        .iter()
        .map(|e| format!("{} {}", e.actor, e.action))
        .collect();
    assert!(
        actions.contains(&"Bo opened the chat to anyone".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"Ann renamed the chat".to_owned()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_private_chat_gives_a_stranger_nothing_and_an_invite_lets_in_as_many_as_it_says() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, ann) = owned(dir.path(), &[]).await;
    let cy = new_device();
    named(&server, &cy, "Cy").await;
    let (mut ann_tab, _) = Client::joined(&server, &ann).await;
    post(&mut ann_tab, "secret plans").await;
    moderate(&server, &ann, ModAction::SetAccess { invite_only: true })
        .await
        .expect("owner");

    // A stranger: the page, the history, the socket, server functions
    // and files all refuse, and nothing of the conversation leaks.
    let stranger = new_device();
    let page = get(&server, &stranger, "/").await;
    assert_eq!(page.status(), 403);
    let html = page.text().await.unwrap_or_default();
    assert!(html.contains("This chat is private"));
    assert!(!html.contains("secret plans") && !html.contains("General"));
    let res = get(&server, &stranger, "/get_messages").await;
    assert_eq!(res.status(), 403);
    assert!(!res.text().await.unwrap_or_default().contains("secret"));
    let res = get(&server, &stranger, "/r/general").await;
    assert_eq!(res.status(), 403);
    let ws = tokio_tungstenite::connect_async({
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = server.ws_url("").into_client_request().expect("request");
        req.headers_mut()
            .insert("cookie", common::cookie(&stranger).parse().expect("header"));
        req
    })
    .await;
    assert!(ws.is_err(), "no socket for a stranger");
    let res = common::set_name(&server, &stranger, "Eve").await;
    assert!(!res.status().is_success());
    assert!(res.text().await.unwrap_or_default().contains("private"));
    for (name, args) in [
        ("search", vec![("query", "secret")]),
        (
            "older_messages",
            vec![("room", "1"), ("before", "1000"), ("limit", "50")],
        ),
        ("message_context", vec![("id", "1")]),
    ] {
        let res = form(&server, &stranger, name, &args).await;
        assert!(!res.status().is_success(), "{name}");
        assert!(
            !res.text().await.unwrap_or_default().contains("secret"),
            "{name}"
        );
    }
    assert_eq!(get(&server, &stranger, "/files/abc").await.status(), 403);

    // Cy was here before the switch and stays a member.
    let page = get(&server, &cy, "/").await;
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .unwrap_or_default()
        .contains("secret plans"));

    // An invite for two: two newcomers get in, the third does not;
    // opening it again as a member costs no use.
    let made = invite(&server, &ann, 3600, 2).await.expect("owner invites");
    let path = path_of(&made.url);
    assert!(made.qr_svg.starts_with("<svg") || made.qr_svg.contains("<svg"));
    let (d1, d2, d3) = (new_device(), new_device(), new_device());
    assert_eq!(get(&server, &d1, &path).await.status(), 303);
    assert_eq!(
        get(&server, &d1, &path).await.status(),
        303,
        "again: no use spent"
    );
    named(&server, &d1, "Dee").await;
    let (mut dee, _) = Client::joined(&server, &d1).await;
    post(&mut dee, "hello, I was invited").await;
    assert_eq!(get(&server, &d2, &path).await.status(), 303);
    let third = get(&server, &d3, &path).await;
    assert_eq!(third.status(), 410);
    assert!(third
        .text()
        .await
        .unwrap_or_default()
        .contains("has been used"));
    assert_eq!(get(&server, &d3, "/").await.status(), 403);

    // Revoked and unknown invites are readable refusals.
    let other = invite(&server, &ann, 3600, 5).await.expect("invite");
    let admin = moderate(&server, &ann, ModAction::RevokeInvite { id: other.info.id })
        .await
        .expect("revoke");
    assert!(admin.invites.iter().all(|i| i.id != other.info.id));
    let res = get(&server, &d3, &path_of(&other.url)).await;
    assert_eq!(res.status(), 410);
    assert!(res.text().await.unwrap_or_default().contains("withdrawn"));
    let res = get(&server, &d3, &format!("/invite/{}", "b".repeat(64))).await;
    assert_eq!(res.status(), 410);

    // Only owners and moderators invite.
    assert!(invite(&server, &cy, 3600, 1).await.is_err());
    assert!(
        invite(&server, &ann, 0, 1).await.is_err(),
        "a lifetime is required"
    );
}

#[tokio::test]
async fn a_blocked_device_is_closed_refused_and_its_messages_removed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, ann) = owned(dir.path(), &[]).await;
    let bo = new_device();
    let bo_id = named(&server, &bo, "Bo").await.user_id;
    let (mut ann_tab, _) = Client::joined(&server, &ann).await;
    let (mut bo_tab, _) = Client::joined(&server, &bo).await;
    let spam = post(&mut bo_tab, "buy cheap watches").await;

    moderate(
        &server,
        &ann,
        ModAction::Block {
            user: bo_id,
            remove_messages: true,
        },
    )
    .await
    .expect("owner blocks");
    // Bo is told why, then the socket closes with 4003.
    let told = bo_tab
        .next_matching(|e| match e {
            ServerEvent::Error {
                code: ErrorCode::Blocked,
                message,
                ..
            } => Some(message),
            _ => None,
        })
        .await;
    assert!(told.contains("blocked"));
    assert_eq!(bo_tab.close_code().await, Some(close_code::BLOCKED));
    // Everyone else sees the message replaced; its text is gone.
    let removed = ann_tab
        .next_matching(|e| match e {
            ServerEvent::Message { message } if message.id == spam.id && message.deleted => {
                Some(message)
            }
            _ => None,
        })
        .await;
    assert!(removed.deleted && removed.removed);
    assert!(removed.msg.is_empty());
    let history = common::history(&server).await;
    let stored = history
        .iter()
        .find(|m| m.id == spam.id)
        .expect("still listed");
    assert!(stored.removed && stored.msg.is_empty());

    // New connections, renames and the page are refused.
    let ws = tokio_tungstenite::connect_async({
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = server.ws_url("").into_client_request().expect("request");
        req.headers_mut()
            .insert("cookie", common::cookie(&bo).parse().expect("header"));
        req
    })
    .await;
    assert!(ws.is_err());
    let res = common::set_name(&server, &bo, "Bo2").await;
    assert!(res.text().await.unwrap_or_default().contains("blocked"));
    let page = get(&server, &bo, "/").await;
    assert_eq!(page.status(), 403);

    // The owner sees it, and undoes it.
    let admin = moderate(&server, &ann, ModAction::Unblock { user: bo_id })
        .await
        .expect("unblock");
    let bo_row = admin
        .people
        .iter()
        .find(|p| p.who.user_id == bo_id)
        .expect("listed");
    assert!(!bo_row.blocked);
    assert!(admin
        .log
        .iter()
        .any(|e| e.action == "blocked" && e.detail == "removed 1 messages"));
    let (mut bo_tab, _) = Client::joined(&server, &bo).await;
    post(&mut bo_tab, "sorry").await;
}

#[tokio::test]
async fn forged_and_overreaching_moderation_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, ann) = owned(dir.path(), &[]).await;
    let (bo, mo, cy) = (new_device(), new_device(), new_device());
    let ann_id = common::named(&server, &ann, "Ann").await.user_id;
    let bo_id = named(&server, &bo, "Bo").await.user_id;
    let mo_id = named(&server, &mo, "Mo").await.user_id;
    let cy_id = named(&server, &cy, "Cy").await.user_id;
    let (mut ann_tab, _) = Client::joined(&server, &ann).await;
    let kept = post(&mut ann_tab, "the owner's message").await;

    // A plain member tries everything.
    for action in [
        ModAction::SetAccess { invite_only: true },
        ModAction::SetChatName {
            name: "Mine".into(),
        },
        ModAction::SetModerator {
            user: bo_id,
            moderator: true,
        },
        ModAction::Block {
            user: ann_id,
            remove_messages: true,
        },
        ModAction::Block {
            user: cy_id,
            remove_messages: false,
        },
        ModAction::Unblock { user: cy_id },
        ModAction::RemoveMessage { id: kept.id },
        ModAction::RevokeInvite { id: 1 },
    ] {
        let err = moderate(&server, &bo, action.clone())
            .await
            .expect_err("refused");
        assert!(err.contains("may not"), "{action:?}: {err}");
    }
    let res = form(&server, &bo, "admin", &[]).await;
    assert!(!res.status().is_success());
    assert_eq!(
        get(&server, &cy, "/").await.status(),
        200,
        "nothing changed"
    );
    assert!(common::history(&server)
        .await
        .iter()
        .any(|m| m.id == kept.id && m.msg == "the owner's message"));

    // A moderator removes and blocks members, but not the owner or
    // another moderator, and does not run the chat.
    let (mut mo_tab, _) = Client::joined(&server, &mo).await;
    moderate(
        &server,
        &ann,
        ModAction::SetModerator {
            user: mo_id,
            moderator: true,
        },
    )
    .await
    .expect("owner makes a moderator");
    // Their open page gets the new controls without a reload.
    let role = mo_tab
        .next_matching(|e| match e {
            ServerEvent::Role { role } => Some(role),
            _ => None,
        })
        .await;
    assert_eq!(role, Some(Role::Moderator));
    moderate(
        &server,
        &ann,
        ModAction::SetModerator {
            user: bo_id,
            moderator: true,
        },
    )
    .await
    .expect("and another");
    let (mut cy_tab, _) = Client::joined(&server, &cy).await;
    let rude = post(&mut cy_tab, "rude words").await;
    moderate(&server, &mo, ModAction::RemoveMessage { id: rude.id })
        .await
        .expect("moderator removes");
    for action in [
        ModAction::Block {
            user: ann_id,
            remove_messages: false,
        },
        ModAction::Block {
            user: bo_id,
            remove_messages: false,
        },
        ModAction::Block {
            user: mo_id,
            remove_messages: false,
        },
        ModAction::SetAccess { invite_only: true },
        ModAction::SetModerator {
            user: cy_id,
            moderator: true,
        },
    ] {
        assert!(
            moderate(&server, &mo, action.clone()).await.is_err(),
            "{action:?}"
        );
    }
    let admin = moderate(
        &server,
        &mo,
        ModAction::Block {
            user: cy_id,
            remove_messages: false,
        },
    )
    .await
    .expect("moderator blocks a member");
    assert!(admin.log.is_empty(), "the log is the owner's");
    assert!(admin
        .people
        .iter()
        .any(|p| p.who.user_id == cy_id && p.blocked));
    // Removing a message that does not exist is an error, not a crash.
    assert!(moderate(
        &server,
        &mo,
        ModAction::RemoveMessage {
            id: MessageId(999_999)
        }
    )
    .await
    .is_err());
}

/// How the server answers a message: the error code of a refusal, or
/// `None` when it was stored.
async fn refusal(tab: &mut Client, text: &str) -> Option<ErrorCode> {
    let id = tab.say(text).await;
    tab.next_matching(|e| match e {
        ServerEvent::Error {
            client_id, code, ..
        } if client_id == Some(id) => Some(Some(code)),
        ServerEvent::Ack { client_id, .. } if client_id == id => Some(None),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn a_newcomers_first_messages_meet_the_tighter_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let flags = [
        "--no-tls",
        "--newcomer-burst",
        "2",
        "--newcomer-refill-ms",
        "60000",
    ];
    let server = Server::start_with(dir.path(), &flags);
    let dev = new_device();
    named(&server, &dev, "Newt").await;
    let (mut tab, _) = Client::joined(&server, &dev).await;
    post(&mut tab, "one").await;
    post(&mut tab, "two").await;
    let code = refusal(&mut tab, "three").await;
    assert_eq!(
        code,
        Some(ErrorCode::RateLimited),
        "the third is over the newcomer limit"
    );
    // The period counts from the first name as stored: a restart (or
    // another node) still knows the device is new.
    let addr = server.addr.to_string();
    server.stop();
    let server = Server::start_at(dir.path(), &addr, &flags);
    let (mut tab, _) = Client::joined(&server, &dev).await;
    post(&mut tab, "four").await;
    post(&mut tab, "five").await;
    let code = refusal(&mut tab, "six").await;
    assert_eq!(
        code,
        Some(ErrorCode::RateLimited),
        "still new after a restart"
    );
    // Once the period has passed: the usual limit only.
    server.stop();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let mut short = flags.to_vec();
    short.extend(["--newcomer-secs", "1"]);
    let server = Server::start_at(dir.path(), &addr, &short);
    let (mut tab, _) = Client::joined(&server, &dev).await;
    for text in ["seven", "eight", "nine"] {
        post(&mut tab, text).await;
    }
}
