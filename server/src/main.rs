//! The chat server binary: flags, logging, signals; the rest is `server::run`.

use clap::Parser;
use server::config::{Cli, Command, Settings};
use server::tools;
use server::BoxError;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result =
        match cli.command {
            None | Some(Command::Serve) => serve(cli.settings).await,
            Some(Command::ImportSeed { file }) => tools::import_seed(&cli.settings, &file).await,
            Some(Command::OwnerLink) => tools::owner_link(&cli.settings).await,
            Some(Command::Backup { path }) => tools::datatools::backup(&cli.settings, &path),
            Some(Command::Migrate { to }) => tools::datatools::migrate(&cli.settings, &to)
                .await
                .map(|copied| {
                    tracing::info!(
                        users = copied.users,
                        rooms = copied.rooms,
                        messages = copied.messages,
                        "copied (rows already there were kept)"
                    );
                }),
            Some(Command::SeedHistory {
                messages,
                rooms,
                identities,
            }) => {
                let plan = tools::history::Plan {
                    messages,
                    rooms: rooms.max(1),
                    identities: identities.max(4),
                };
                tools::history::seed(&cli.settings, plan).await
            }
            Some(Command::Precompress) => {
                server::http::assets::precompress(&cli.settings.site_root).map_err(BoxError::from)
            }
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

async fn serve(settings: Settings) -> Result<(), BoxError> {
    tracing::info!(
        addr = %settings.addr,
        data_dir = %settings.data_dir.display(),
        tls = settings.tls(),
        cert = %settings.cert.display(),
        allowed_origins = ?settings.allowed_origins,
        site_root = %settings.site_root,
        metrics_addr = ?settings.metrics_addr,
        "starting"
    );
    let listener = std::net::TcpListener::bind(settings.addr)
        .map_err(|e| format!("cannot listen on {}: {e}", settings.addr))?;
    server::run(listener, settings, signal()).await
}

/// Resolves on Ctrl-C or SIGTERM.
async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "no SIGTERM handler; only Ctrl-C stops gracefully");
            let _ = ctrl_c.await;
        }
    }
}
