//! The chat server as a library: `run` serves the chat on a listener until
//! a shutdown future resolves. `main.rs` only parses flags, sets up
//! logging and signals, and calls it.

// The dialogs' erased view types (`into_any` at the lazy split points in
// `app`) are laid out here too, nested deeper than the default limit.
#![recursion_limit = "256"]

pub mod access;
pub mod acme;
pub mod base;
pub mod bots;
pub mod bus;
pub mod chat;
pub mod config;
pub mod egress;
pub mod files;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod push;
pub mod realtime;
pub mod store;
pub mod tools;
pub mod unfurl;

use crate::chat::Chat;
use crate::config::Settings;
use crate::http::state::AppState;
use crate::http::{accept, assets, qr, tls};
use crate::metrics::Metrics;
use crate::realtime::hub::Hub;
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::Store;
use leptos::config::LeptosOptions;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub use base::BoxError;

/// How long open requests get to finish once shutdown begins.
const GRACE: Duration = Duration::from_secs(5);

/// Rendered pages kept (~13 KB each compressed, a room of 50 messages in
/// a list of 50 rooms): the last few hundred views, a few MB.
const PAGES_KEPT: usize = 256;

/// Opens the configured store: the SQLite file (creating the data
/// directory) or, for a `postgres://` URL, the shared database, whose bus
/// then feeds `hub` (with `listen`; one-off commands do not listen).
pub async fn open_store(
    settings: &Settings,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    listen: bool,
) -> Result<Arc<dyn Store>, BoxError> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
        format!(
            "cannot create data directory {}: {e}",
            settings.data_dir.display()
        )
    })?;
    Ok(match settings.database()? {
        config::Database::Sqlite(path) => Arc::new(SqliteStore::open_file(&path, hub, metrics)?),
        config::Database::Postgres(url) => {
            Arc::new(PgStore::open(&url, hub, metrics, listen).await?)
        }
    })
}

/// Serves the chat on `listener` until `shutdown` resolves, then closes the
/// sockets (1001), lets open requests finish and checkpoints the store.
pub async fn run(
    listener: std::net::TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BoxError> {
    // Leptos renders on the tokio runtime (its router set this up before).
    let _ = any_spawner::Executor::init_tokio();
    let metrics = Arc::new(Metrics::default());
    let hub = Arc::new(Hub::new());
    hub.start();
    let store = open_store(&settings, hub.clone(), metrics.clone(), true).await?;
    // Clients keep cursors per install: a database restored from a backup
    // or moved between modes is a new epoch, and they start over.
    let epoch = store
        .init_setting("epoch", uuid::Uuid::new_v4().simple().to_string())
        .await?;
    let acme = if settings.domains.is_empty() {
        None
    } else if !settings.tls() {
        return Err("--domain obtains a certificate for this server's own TLS; it cannot be used with --no-tls".into());
    } else {
        Some(acme::Acme::new(
            acme::AcmeConfig {
                domains: settings.domains.clone(),
                directory: settings.acme_directory.clone(),
                contact: settings.acme_contact.clone(),
                challenge: settings.acme_challenge,
                directory_ca: settings.acme_directory_ca.clone(),
                shared: matches!(settings.database()?, config::Database::Postgres(_)),
            },
            store.clone(),
        ))
    };
    let files = Arc::new(files::Files {
        store: store.clone(),
        blobs: match settings.database()? {
            config::Database::Sqlite(_) => {
                Arc::new(store::blobs::DirBlobs::new(&settings.data_dir)?)
            }
            config::Database::Postgres(url) => {
                Arc::new(store::postgres::blobs::PgBlobs::new(&url)?)
            }
        },
        max_bytes: settings.max_upload_mb * 1024 * 1024,
        quota: settings.storage_quota_mb * 1024 * 1024,
        sweep_grace: Duration::from_secs(settings.file_sweep_grace_secs),
        decodes: files::Budget::new(settings.decode_memory_mb),
    });
    let limits = Arc::new(limits::Limits::new(&settings));
    if hub.is_shared() {
        limits::shared::start(limits.clone(), hub.clone());
    }
    let access = Arc::new(
        access::Access::load(store.clone(), Duration::from_secs(settings.newcomer_secs)).await?,
    );
    // Messages that may concern a bot, for its webhook (`bots::webhook`).
    let (hooks_tx, hooks_rx) = tokio::sync::mpsc::channel(1024);
    let hooks_generation = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let chat = Chat::new(
        store.clone(),
        hub.clone(),
        limits.clone(),
        metrics.clone(),
        access,
        Duration::from_secs(settings.edit_window_secs),
        Duration::from_secs(settings.presence_grace_secs),
    )
    .with_epoch(epoch)
    .with_hooks(chat::HookSink {
        tx: hooks_tx,
        policy: egress::Policy {
            allow_loopback: settings.webhook_allow_loopback,
            ..Default::default()
        },
        generation: hooks_generation.clone(),
    })
    .with_unfurler(unfurl::Unfurler::new(
        store.clone(),
        files.clone(),
        metrics.clone(),
        egress::Policy {
            allow_loopback: settings.preview_allow_loopback,
            ..Default::default()
        },
    )?);
    // Before the first socket: closed rooms' events go to their members.
    chat.load_members().await?;
    bots::webhook::Webhooks::start(
        chat.clone(),
        hooks_rx,
        egress::Policy {
            allow_loopback: settings.webhook_allow_loopback,
            ..Default::default()
        },
        hooks_generation,
        settings.public_url.clone(),
    )?;
    {
        // What other nodes' tabs are showing.
        let presence = chat.presence().clone();
        let mut notes = hub.presence_notes();
        tokio::spawn(async move {
            loop {
                match notes.recv().await {
                    Ok(note) => presence.note(note),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => break,
                }
            }
        });
    }
    {
        // Another node changed settings or blocks: reread them.
        let access = chat.access().clone();
        let mut changes = hub.access_changes();
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                if let Err(e) = access.reload().await {
                    tracing::warn!(error = %e, "could not reread the chat's settings");
                }
            }
        });
    }
    {
        // Background tabs past their grace period leave the room lists;
        // other nodes hear this node's presence again (at most every 2 s).
        let chat = chat.clone();
        let every = (Duration::from_secs(settings.presence_grace_secs.clamp(1, 10)) / 2)
            .min(Duration::from_secs(2));
        tokio::spawn(async move {
            let mut every = tokio::time::interval(every);
            loop {
                every.tick().await;
                chat.presence().sweep();
            }
        });
    }
    {
        // Room lists held back by their gap (see `presence::PUBLISH_GAP`).
        let chat = chat.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(realtime::presence::PUBLISH_GAP / 4);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                every.tick().await;
                chat.presence().flush();
            }
        });
    }
    let push = push::Push::start(
        push::Options {
            data_dir: &settings.data_dir,
            contact: settings.push_contact.clone(),
            collapse: Duration::from_secs(settings.push_collapse_secs),
            allow_loopback: settings.push_allow_loopback,
            shared: matches!(settings.database()?, config::Database::Postgres(_)),
        },
        store,
        &hub,
        chat.presence().clone(),
        chat.access().clone(),
        limits,
        metrics.clone(),
    )
    .await?;
    {
        // Files of deleted and removed messages, and unsent uploads.
        let files = files.clone();
        let every = Duration::from_secs(settings.file_sweep_secs.max(1));
        tokio::spawn(async move {
            let mut every = tokio::time::interval(every);
            loop {
                every.tick().await;
                if let Err(e) = files.sweep().await {
                    tracing::warn!(error = %e, "file sweep failed");
                }
            }
        });
    }
    let assets = Arc::new(assets::Assets::load(&settings.site_root));
    let leptos = LeptosOptions::builder()
        .output_name("chat")
        .site_pkg_dir(assets.pkg_dir())
        .site_root(settings.site_root.clone())
        .site_addr(settings.addr)
        .build();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let settings = Arc::new(settings);
    let state = AppState {
        files,
        assets: assets.clone(),
        push,
        leptos,
        chat: chat.clone(),
        settings: settings.clone(),
        shutdown: shutdown_rx.clone(),
        acme: acme.clone(),
        pages: Arc::new(http::page_cache::PageCache::new(PAGES_KEPT)),
    };
    let app = http::router(state).into_make_service_with_connect_info::<SocketAddr>();

    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let handle = axum_server::Handle::new();
    {
        let handle = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down");
            // Sessions close their sockets with 1001 "going away"; then
            // the server waits for open requests.
            let _ = shutdown_tx.send(true);
            handle.graceful_shutdown(Some(GRACE));
        });
    }
    if let Some(addr) = settings.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr} for metrics: {e}"))?;
        tracing::info!(%addr, "metrics on /metrics");
        let mut stop = shutdown_rx.clone();
        tokio::spawn(metrics::serve(listener, metrics, async move {
            let _ = stop.changed().await;
        }));
    }

    let tls = if settings.tls() {
        // ring keeps the build free of the C/CMake toolchain aws-lc needs.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Some(match &acme {
            Some(acme) => {
                if !acme.load().await? {
                    tracing::warn!(
                        domains = ?acme.domains(),
                        directory = %settings.acme_directory,
                        "no certificate yet: ordering one; HTTPS answers once it is here"
                    );
                }
                tokio::spawn(acme.clone().run(shutdown_rx.clone()));
                tls::acme_config(acme.certs())
            }
            None => tls::load_or_generate(&settings.cert, &settings.key).await?,
        })
    } else {
        None
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(addr = %local, "listening");
    let urls = match acme.as_ref().and_then(|a| a.domains().first()) {
        Some(domain) if local.port() == 443 => vec![format!("https://{domain}/")],
        Some(domain) => vec![format!("https://{domain}:{}/", local.port())],
        None => urls(scheme, local),
    };
    for url in &urls {
        tracing::info!("open {url}");
    }
    if !chat.has_owner().await? {
        // Only the person who can read this log can claim the server.
        let token = chat.new_owner_token().await?;
        let base = urls.first().map_or("/", |u| u.as_str());
        tracing::warn!(
            "nobody owns this chat yet: open {base}owner/{token} in your browser to become \
             its owner (works once, for 24 hours; `server owner-link` makes a new one)"
        );
    }
    // The LAN address, for a phone's camera.
    if let Some(code) = urls.get(1).and_then(|url| qr::qr_text(url)) {
        eprintln!(
            "Scan with a phone on the same network to open {}:\n{code}",
            urls[1]
        );
    }
    let mut server = axum_server::from_tcp(listener)?.handle(handle.clone());
    // A client that drips its request headers a byte at a time loses its
    // connection after this long (hyper only enforces it with a timer).
    server
        .http_builder()
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(settings.header_timeout_secs.max(1)));
    server
        .http_builder()
        .http2()
        .timer(hyper_util::rt::TokioTimer::new());
    // Connections count against their address from the start, TLS
    // handshake or not.
    let capped =
        accept::CappedAcceptor::new(settings.max_tcp_per_ip, settings.trusted_proxies.clone());
    if let Some(addr) = settings.http_addr {
        let plain = std::net::TcpListener::bind(addr)
            .map_err(|e| format!("cannot listen on {addr} for plain HTTP: {e}"))?;
        plain.set_nonblocking(true)?;
        tracing::info!(%addr, "plain HTTP: ACME challenges and redirects to HTTPS");
        let acceptor =
            accept::CappedAcceptor::new(settings.max_tcp_per_ip, settings.trusted_proxies.clone());
        let port80 =
            http::port80::serve(plain, acme.clone(), local.port(), acceptor, handle.clone());
        tokio::spawn(async move {
            if let Err(e) = port80.await {
                tracing::error!(error = %e, "plain HTTP stopped");
            }
        });
    }
    match tls {
        Some(tls) => {
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls).acceptor(capped);
            server.acceptor(acceptor).serve(app).await?
        }
        None => server.acceptor(capped).serve(app).await?,
    }
    chat.checkpoint().await?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// URLs worth opening: localhost, and the LAN address for phones.
fn urls(scheme: &str, local: SocketAddr) -> Vec<String> {
    let port = local.port();
    if !local.ip().is_unspecified() {
        return vec![format!("{scheme}://{local}/")];
    }
    let mut urls = vec![format!("{scheme}://localhost:{port}/")];
    if let Some(ip) = tls::lan_address() {
        urls.push(format!("{scheme}://{}/", SocketAddr::new(ip, port)));
    }
    urls
}
