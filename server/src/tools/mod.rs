//! The server's offline commands: backup, moving a chat between storage
//! engines, and importing the Flask seed's names.

pub mod datatools;
pub mod history;
pub mod seed;

use crate::base::BoxError;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::realtime::hub::Hub;
use std::sync::Arc;

/// Prints a new one-time owner link (the chat may be running or not).
pub async fn owner_link(settings: &Settings) -> Result<(), BoxError> {
    use crate::access::token;
    let store = crate::open_store(
        settings,
        Arc::new(Hub::new()),
        Arc::new(Metrics::default()),
        false,
    )
    .await?;
    let t = token::new_token();
    let now = crate::base::now_ms();
    let day = 24 * 60 * 60 * 1000;
    store
        .add_owner_token(token::hash(&t), now, now + day)
        .await?;
    let scheme = if settings.tls() { "https" } else { "http" };
    let port = settings.addr.port();
    println!("{scheme}://localhost:{port}/owner/{t}");
    eprintln!(
        "Open it (with this machine's address from a phone) in the browser that should own \
         the chat. It works once, for 24 hours; the previous owner becomes a member."
    );
    Ok(())
}

/// Imports the Flask chat's `{device_id: {name, color}}` file.
pub async fn import_seed(settings: &Settings, file: &std::path::Path) -> Result<(), BoxError> {
    let store = crate::open_store(
        settings,
        Arc::new(Hub::new()),
        Arc::new(Metrics::default()),
        false,
    )
    .await?;
    let report = seed::import(store.as_ref(), file).await?;
    for reason in &report.skipped {
        tracing::warn!("skipped {reason}");
    }
    tracing::info!(
        imported = report.imported,
        skipped = report.skipped.len(),
        "seed users imported"
    );
    store.checkpoint().await?;
    Ok(())
}
