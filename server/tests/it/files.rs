//! Photos and files over real HTTP: what is accepted, what is refused and
//! why, how stored files are served, and attaching them to messages.

use crate::common;

use app::protocol::{ClientEvent, ClientMessageId, ErrorCode, ServerEvent, Uploaded};
use common::{named, new_device, Client, Server};

/// A small PNG made on the spot.
async fn upload(server: &Server, device: &str, name: &str, body: Vec<u8>) -> reqwest::Response {
    common::http()
        .post(server.url(&format!("/upload?name={name}")))
        .header("cookie", common::cookie(device))
        .body(body)
        .send()
        .await
        .expect("upload answers")
}

async fn error_of(res: reqwest::Response) -> String {
    let v: serde_json::Value = res.json().await.expect("a JSON error");
    v["error"].as_str().expect("error text").to_owned()
}

#[tokio::test]
async fn a_photo_is_stored_reencoded_with_a_thumbnail_and_served_with_the_right_headers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let dev = new_device();
    named(&server, &dev, "Ann").await;
    // A PNG that calls itself a PDF: the content decides.
    let res = upload(&server, &dev, "report.pdf", common::png(1200, 600)).await;
    assert_eq!(res.status(), 200);
    let up: Uploaded = res.json().await.expect("uploaded");
    let image = up.attachment.image.clone().expect("treated as a photo");
    assert_eq!((image.width, image.height), (1200, 600));
    assert_eq!(up.attachment.name, "report.pdf");

    let get = |path: String, cookie: Option<String>| {
        let mut req = common::http().get(server.url(&path));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    let full = get(
        format!("/files/{}", up.attachment.id),
        Some(common::cookie(&dev)),
    )
    .await
    .expect("served");
    assert_eq!(full.status(), 200);
    let h = full.headers().clone();
    assert_eq!(h["content-type"], up.attachment.mime.as_str());
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-disposition"], "inline");
    assert!(h["cache-control"]
        .to_str()
        .expect("ascii")
        .contains("immutable"));
    let thumb = get(
        format!("/files/{}", image.thumb),
        Some(common::cookie(&new_device())),
    )
    .await
    .expect("served");
    let thumb = image::load_from_memory(&thumb.bytes().await.expect("body")).expect("an image");
    assert_eq!((thumb.width(), thumb.height()), (480, 240));
    // Not an open file host: no cookie, no file.
    let anon = get(format!("/files/{}", up.attachment.id), None)
        .await
        .expect("answers");
    assert_eq!(anon.status(), 403);
    let missing = get(
        format!("/files/{}", "0".repeat(64)),
        Some(common::cookie(&dev)),
    )
    .await
    .expect("answers");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn markup_lies_and_oversized_files_are_refused_with_reasons() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), &["--no-tls", "--max-upload-mb", "1"]);
    let dev = new_device();
    named(&server, &dev, "Ann").await;
    let svg =
        br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>"#
            .to_vec();
    let res = upload(&server, &dev, "cute.png", svg).await;
    assert_eq!(res.status(), 415);
    assert!(error_of(res).await.contains("SVG"));
    let html = b"<!DOCTYPE html><html><script>alert(1)</script>".to_vec();
    assert_eq!(upload(&server, &dev, "photo.jpg", html).await.status(), 415);
    // Claims to be a JPEG by its first bytes, is not one.
    let fake = b"\xFF\xD8\xFFnot a jpeg at all".to_vec();
    let res = upload(&server, &dev, "x.jpg", fake).await;
    assert_eq!(res.status(), 422);
    assert!(error_of(res).await.contains("photo"));
    let res = upload(&server, &dev, "big.bin", vec![7u8; 1024 * 1024 + 10]).await;
    assert_eq!(res.status(), 413);
    assert!(error_of(res).await.contains("1 MB"));
    assert_eq!(
        upload(&server, &dev, "empty.txt", Vec::new())
            .await
            .status(),
        400
    );
    // A device without a name cannot upload.
    let res = upload(&server, &new_device(), "a.pdf", b"%PDF-1.4 x".to_vec()).await;
    assert_eq!(res.status(), 403);
    // Other files are downloads.
    let res = upload(&server, &dev, "notes.pdf", b"%PDF-1.4 hello".to_vec()).await;
    let up: Uploaded = res.json().await.expect("uploaded");
    assert!(up.attachment.image.is_none());
    let served = common::http()
        .get(server.url(&format!("/files/{}", up.attachment.id)))
        .header("cookie", common::cookie(&dev))
        .send()
        .await
        .expect("served");
    assert_eq!(served.headers()["content-type"], "application/pdf");
    assert_eq!(served.headers()["content-disposition"], "attachment");
}

#[tokio::test]
async fn a_full_store_refuses_new_files_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), &["--no-tls", "--storage-quota-mb", "1"]);
    let dev = new_device();
    named(&server, &dev, "Ann").await;
    let first = upload(&server, &dev, "a.bin", vec![1u8; 700 * 1024]).await;
    assert_eq!(first.status(), 200);
    let second = upload(&server, &dev, "b.bin", vec![2u8; 700 * 1024]).await;
    assert_eq!(second.status(), 507);
    assert!(error_of(second).await.contains("full"));
}

#[tokio::test]
async fn a_message_carries_its_uploader_s_file_and_no_one_else_s() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let (ann, eve) = (new_device(), new_device());
    named(&server, &ann, "Ann").await;
    named(&server, &eve, "Eve").await;
    let up: Uploaded = upload(&server, &ann, "cat.png", common::png(50, 40))
        .await
        .json()
        .await
        .expect("uploaded");
    let (mut a, _) = Client::joined(&server, &ann).await;
    let client_id = ClientMessageId::new_random();
    a.send_event(&ClientEvent::Send {
        client_id,
        text: "  ".into(),
        room: None,
        mentions: Vec::new(),
        attachment: Some(up.upload.clone()),
        reply_to: None,
    })
    .await;
    let acked = a
        .next_matching(|e| match e {
            ServerEvent::Ack { message, .. } => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(acked.msg, "", "a photo needs no caption");
    assert_eq!(
        acked.attachment.as_ref().map(|x| x.id.clone()),
        Some(up.attachment.id.clone())
    );
    let history = common::history(&server).await;
    assert_eq!(history[0].attachment, Some(up.attachment.clone()));

    let (mut e, _) = Client::joined(&server, &eve).await;
    e.send_event(&ClientEvent::Send {
        client_id: ClientMessageId::new_random(),
        text: "mine now".into(),
        room: None,
        mentions: Vec::new(),
        attachment: Some(up.upload),
        reply_to: None,
    })
    .await;
    let code = e
        .next_matching(|ev| match ev {
            ServerEvent::Error { code, .. } => Some(code),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::BadAttachment);
}

#[tokio::test]
async fn a_deleted_messages_photo_is_deleted_from_disk_and_others_stay() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(
        dir.path(),
        &[
            "--no-tls",
            "--file-sweep-secs",
            "1",
            "--file-sweep-grace-secs",
            "0",
        ],
    );
    let dev = new_device();
    named(&server, &dev, "Ann").await;
    let (mut a, _) = Client::joined(&server, &dev).await;
    let mut sent = Vec::new();
    for (name, size) in [("gone.png", 300), ("kept.png", 200)] {
        let up: Uploaded = upload(&server, &dev, name, common::png(size, size))
            .await
            .json()
            .await
            .expect("uploaded");
        let client_id = ClientMessageId::new_random();
        a.send_event(&ClientEvent::Send {
            client_id,
            text: name.into(),
            room: None,
            mentions: Vec::new(),
            attachment: Some(up.upload.clone()),
            reply_to: None,
        })
        .await;
        let message = a
            .next_matching(|e| match e {
                ServerEvent::Ack {
                    message,
                    client_id: c,
                    ..
                } if c == client_id => Some(message),
                _ => None,
            })
            .await;
        sent.push((message, up.attachment));
    }
    // An upload never sent stays (for a day) too.
    let pending: Uploaded = upload(&server, &dev, "later.png", common::png(100, 100))
        .await
        .json()
        .await
        .expect("uploaded");
    let fetch = |id: String| {
        common::http()
            .get(server.url(&format!("/files/{id}")))
            .header("cookie", common::cookie(&dev))
            .send()
    };
    let (gone, gone_file) = &sent[0];
    a.send_event(&ClientEvent::Delete {
        client_id: ClientMessageId::new_random(),
        message_id: gone.id,
    })
    .await;
    let deleted = a
        .next_matching(|e| match e {
            ServerEvent::Message { message } if message.id == gone.id && message.deleted => {
                Some(message)
            }
            _ => None,
        })
        .await;
    assert!(
        deleted.attachment.is_none(),
        "the message no longer shows it"
    );
    let thumb = gone_file.image.clone().expect("a photo").thumb;
    let blob_path = |id: &str| dir.path().join("blobs").join(&id[..2]).join(id);
    // The sweep runs every second here.
    let deadline = std::time::Instant::now() + common::WAIT;
    // The photo and its thumbnail go one after the other.
    while (blob_path(&gone_file.id).exists() || blob_path(&thumb).exists())
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        !blob_path(&gone_file.id).exists(),
        "the photo is gone from disk"
    );
    assert!(!blob_path(&thumb).exists(), "and its thumbnail");
    assert_eq!(
        fetch(gone_file.id.clone()).await.expect("answers").status(),
        404
    );
    let kept = &sent[1].1;
    assert!(
        blob_path(&kept.id).exists(),
        "the layout this test reads is right"
    );
    assert_eq!(fetch(kept.id.clone()).await.expect("answers").status(), 200);
    let kept_thumb = kept.image.clone().expect("a photo").thumb;
    assert_eq!(fetch(kept_thumb).await.expect("answers").status(), 200);
    assert_eq!(
        fetch(pending.attachment.id.clone())
            .await
            .expect("answers")
            .status(),
        200,
        "an upload about to be sent is not swept"
    );
}
