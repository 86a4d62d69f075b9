//! The chat server: HTTPS (or plain HTTP behind a proxy), the Leptos app,
//! the WebSocket hub and SQLite storage, in one process.

mod backend;
mod chat;
mod config;
mod headers;
mod http;
mod hub;
mod identity;
mod limits;
mod origin;
mod pwa;
mod qr;
mod seed;
mod session;
mod state;
mod store;
mod tls;
mod transfer;
mod trust;

use crate::chat::Chat;
use crate::config::{Cli, Command, Settings};
use crate::hub::Hub;
use crate::state::AppState;
use crate::store::Store;
use clap::Parser;
use leptos::config::LeptosOptions;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long open requests get to finish once shutdown begins.
const GRACE: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        None | Some(Command::Serve) => serve(cli.settings).await,
        Some(Command::ImportSeed { file }) => import_seed(&cli.settings, &file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn open_store(settings: &Settings) -> Result<Store, BoxError> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
        format!(
            "cannot create data directory {}: {e}",
            settings.data_dir.display()
        )
    })?;
    Ok(Store::open(&settings.data_dir)?)
}

fn import_seed(settings: &Settings, file: &std::path::Path) -> Result<(), BoxError> {
    let store = open_store(settings)?;
    let report = seed::import(&store, file)?;
    for reason in &report.skipped {
        tracing::warn!("skipped {reason}");
    }
    tracing::info!(
        imported = report.imported,
        skipped = report.skipped.len(),
        "seed users imported"
    );
    Ok(())
}

async fn serve(settings: Settings) -> Result<(), BoxError> {
    tracing::info!(
        addr = %settings.addr,
        data_dir = %settings.data_dir.display(),
        tls = settings.tls(),
        cert = %settings.cert.display(),
        allowed_origins = ?settings.allowed_origins,
        site_root = %settings.site_root,
        "starting"
    );
    let store = Arc::new(open_store(&settings)?);
    let limits = Arc::new(limits::Limits::new(&settings));
    let chat = Chat::new(store, Arc::new(Hub::new()), limits);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let leptos = LeptosOptions::builder()
        .output_name("chat")
        .site_root(settings.site_root.clone())
        .site_addr(settings.addr)
        .build();
    let version = pwa::site_version(&settings.site_root);
    let settings = Arc::new(settings);
    let state = AppState {
        version,
        leptos,
        chat: chat.clone(),
        settings: settings.clone(),
        shutdown: shutdown_rx,
    };
    let app = http::router(state).into_make_service_with_connect_info::<SocketAddr>();

    let listener = std::net::TcpListener::bind(settings.addr)
        .map_err(|e| format!("cannot listen on {}: {e}", settings.addr))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let handle = axum_server::Handle::new();
    tokio::spawn(stop_on_signal(handle.clone(), shutdown_tx));

    let tls = if settings.tls() {
        // ring keeps the build free of the C/CMake toolchain aws-lc needs.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Some(tls::load_or_generate(&settings.cert, &settings.key).await?)
    } else {
        None
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(addr = %local, "listening");
    let urls = urls(scheme, local);
    for url in &urls {
        tracing::info!("open {url}");
    }
    // The LAN address, for a phone's camera.
    if let Some(code) = urls.get(1).and_then(|url| qr::qr_text(url)) {
        eprintln!(
            "Scan with a phone on the same network to open {}:\n{code}",
            urls[1]
        );
    }
    match tls {
        Some(tls) => {
            axum_server::from_tcp_rustls(listener, tls)?
                .handle(handle)
                .serve(app)
                .await?
        }
        None => {
            axum_server::from_tcp(listener)?
                .handle(handle)
                .serve(app)
                .await?
        }
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

async fn stop_on_signal(handle: axum_server::Handle<SocketAddr>, shutdown: watch::Sender<bool>) {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!(error = %e, "no SIGTERM handler; only Ctrl-C stops gracefully");
            let _ = ctrl_c.await;
            return begin_shutdown(&handle, &shutdown);
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    begin_shutdown(&handle, &shutdown);
}

fn begin_shutdown(handle: &axum_server::Handle<SocketAddr>, shutdown: &watch::Sender<bool>) {
    tracing::info!("shutting down");
    // Sessions close their sockets with 1001 "going away"; then the server
    // waits for open requests.
    let _ = shutdown.send(true);
    handle.graceful_shutdown(Some(GRACE));
}
