//! Certificates from an ACME directory (Let's Encrypt by default) for the
//! names given with `--domain`: ordered on first start, renewed before
//! they run out, kept in the store so a restart orders nothing and every
//! node of a shared chat serves the same one while only one orders it.
//! Until a new certificate is in hand the old one keeps serving; a failed
//! order is retried with a growing pause and reported on `/healthz`.

pub mod certs;
mod order;

use crate::store::Store;
use certs::{Certs, Served};
use instant_acme::{Account, AccountCredentials, NewAccount};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// How the directory checks that this server answers for a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Challenge {
    /// A special certificate on the HTTPS port (port 443 must be ours).
    #[value(name = "tls-alpn-01")]
    TlsAlpn01,
    /// A file on port 80 (`--http-addr`).
    #[value(name = "http-01")]
    Http01,
}

#[derive(Debug, Clone)]
pub struct AcmeConfig {
    pub domains: Vec<String>,
    pub directory: String,
    /// `mailto:` addresses the directory may write to about expiry.
    pub contact: Vec<String>,
    pub challenge: Challenge,
    /// A PEM root to trust for the directory itself, for a private ACME
    /// server (step-ca, or pebble in tests) instead of the system's roots.
    pub directory_ca: Option<PathBuf>,
    /// Several nodes share the store: an order's answers must reach them
    /// all before the directory checks (it may reach any of them).
    pub shared: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("ACME: {0}")]
    Protocol(#[from] instant_acme::Error),
    #[error("the directory refused: {0}")]
    Refused(String),
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("could not make a key or challenge certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// How the last attempt went, for `/healthz` and the log.
#[derive(Debug, Clone, Default)]
struct Attempts {
    failures: u32,
    last_error: Option<String>,
    /// Unix seconds of the next try after a failure.
    next_try: Option<i64>,
}

/// The first pause after a failed order; it doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_secs(15);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How often a node without the lease looks for another node's renewal.
const RECHECK: Duration = Duration::from_secs(60);
/// While another node orders, how often this one reads its answers.
const FOLLOW: Duration = Duration::from_secs(1);
/// How long the ordering node lets the others pick its answers up.
const SPREAD: Duration = Duration::from_secs(3);
const ANSWERS: &str = "answers";
/// An order takes seconds; a node that dies holding the lease blocks the
/// others this long at most.
const LEASE: Duration = Duration::from_secs(600);

pub struct Acme {
    config: AcmeConfig,
    store: Arc<dyn Store>,
    certs: Arc<Certs>,
    attempts: Mutex<Attempts>,
    /// This process, for the ordering lease.
    holder: String,
}

impl Acme {
    pub fn new(mut config: AcmeConfig, store: Arc<dyn Store>) -> Arc<Acme> {
        for d in &mut config.domains {
            *d = d.trim().trim_end_matches('.').to_ascii_lowercase();
        }
        config.domains.sort();
        config.domains.dedup();
        Arc::new(Acme {
            config,
            store,
            certs: Arc::new(Certs::default()),
            attempts: Mutex::default(),
            holder: uuid::Uuid::new_v4().to_string(),
        })
    }

    pub fn certs(&self) -> Arc<Certs> {
        self.certs.clone()
    }

    pub fn domains(&self) -> &[String] {
        &self.config.domains
    }

    fn cert_name(&self) -> String {
        format!("cert {}", self.config.domains.join(","))
    }

    /// Serves the stored certificate, if there is one for these names;
    /// true if one is now served.
    pub async fn load(&self) -> Result<bool, AcmeError> {
        let Some(pem) = self.store.acme_get(self.cert_name()).await? else {
            return Ok(self.certs.current().is_some());
        };
        let unchanged = self
            .certs
            .current()
            .is_some_and(|s| s.pem.as_ref() == pem.as_slice());
        if !unchanged {
            let served = Served::parse(&pem)?;
            tracing::info!(
                domains = ?self.config.domains,
                valid_until = %unix_time(served.not_after),
                "serving the stored certificate"
            );
            self.certs.install(served);
        }
        Ok(true)
    }

    /// Keeps the certificate current until shutdown.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let pause = self.step().await;
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// One look at the certificate; returns how long to wait before the
    /// next.
    async fn step(&self) -> Duration {
        // Another node may have renewed it.
        if let Err(e) = self.load().await {
            tracing::warn!(error = %e, "could not read the stored certificate");
        }
        let now = now_secs();
        if let Some(served) = self.certs.current() {
            let due = served.renew_at() - now;
            if due > 0 {
                return Duration::from_secs(due as u64).min(RECHECK);
            }
        }
        let now_ms = now * 1000;
        match self
            .store
            .acme_lease(
                self.holder.clone(),
                now_ms,
                now_ms + LEASE.as_millis() as i64,
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                // Another node orders: answer its challenges too.
                if let Err(e) = self.follow_answers().await {
                    tracing::warn!(error = %e, "could not read the open order's answers");
                }
                return FOLLOW;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not take the certificate lease");
                return RECHECK;
            }
        }
        match self.obtain().await {
            Ok(served) => {
                tracing::info!(
                    domains = ?self.config.domains,
                    valid_until = %unix_time(served.not_after),
                    renew_at = %unix_time(served.renew_at()),
                    "obtained a certificate"
                );
                self.certs.install(served);
                *self.attempts() = Attempts::default();
                // Done: let another node take over the next renewal.
                let _ = self
                    .store
                    .acme_lease(self.holder.clone(), now_ms, now_ms)
                    .await;
                Duration::ZERO
            }
            Err(e) => {
                let mut attempts = self.attempts();
                attempts.failures += 1;
                let pause = FIRST_BACKOFF
                    .saturating_mul(1 << (attempts.failures - 1).min(16))
                    .min(MAX_BACKOFF);
                attempts.next_try = Some(now + pause.as_secs() as i64);
                attempts.last_error = Some(e.to_string());
                tracing::error!(
                    domains = ?self.config.domains,
                    directory = %self.config.directory,
                    error = %e,
                    failures = attempts.failures,
                    retry_in_secs = pause.as_secs(),
                    serving = self.certs.current().map(|s| unix_time(s.not_after)).as_deref().unwrap_or("nothing"),
                    "could not obtain a certificate; the current one keeps serving"
                );
                pause
            }
        }
    }

    async fn obtain(&self) -> Result<Served, AcmeError> {
        let account = self.account().await?;
        let publish = |answers: certs::Answers| async move {
            let json = serde_json::to_vec(&answers)
                .map_err(|e| AcmeError::Certificate(format!("answers: {e}")))?;
            self.store.acme_put(ANSWERS.into(), json).await?;
            if self.config.shared && answers != certs::Answers::default() {
                tokio::time::sleep(SPREAD).await;
            }
            Ok(())
        };
        let pem = order::order(
            &account,
            &self.config.domains,
            self.config.challenge,
            &self.certs,
            publish,
        )
        .await?;
        let served = Served::parse(&pem)?;
        self.store.acme_put(self.cert_name(), pem).await?;
        Ok(served)
    }

    async fn follow_answers(&self) -> Result<(), AcmeError> {
        let answers = match self.store.acme_get(ANSWERS.into()).await? {
            Some(json) => serde_json::from_slice(&json).unwrap_or_default(),
            None => certs::Answers::default(),
        };
        self.certs.set_answers(&answers);
        Ok(())
    }

    /// The stored account for this directory, or a new one.
    async fn account(&self) -> Result<Account, AcmeError> {
        let builder = || match &self.config.directory_ca {
            Some(ca) => Account::builder_with_root(ca),
            None => Account::builder(),
        };
        let name = format!("account {}", self.config.directory);
        if let Some(stored) = self.store.acme_get(name.clone()).await? {
            match serde_json::from_slice::<AccountCredentials>(&stored) {
                Ok(credentials) => return Ok(builder()?.from_credentials(credentials).await?),
                Err(e) => {
                    tracing::warn!(error = %e, "the stored ACME account is unreadable; making a new one")
                }
            }
        }
        let contact: Vec<&str> = self.config.contact.iter().map(String::as_str).collect();
        let (account, credentials) = builder()?
            .create(
                &NewAccount {
                    contact: &contact,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                self.config.directory.clone(),
                None,
            )
            .await?;
        let stored = serde_json::to_vec(&credentials)
            .map_err(|e| AcmeError::Certificate(format!("account credentials: {e}")))?;
        self.store.acme_put(name, stored).await?;
        tracing::info!(directory = %self.config.directory, id = account.id(), "made an ACME account");
        Ok(account)
    }

    fn attempts(&self) -> std::sync::MutexGuard<'_, Attempts> {
        self.attempts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A line for `/healthz`: what is served and how renewal goes. A
    /// failing renewal does not make the node unhealthy while the
    /// certificate it serves is valid.
    pub fn health(&self) -> String {
        let now = now_secs();
        let names = self.config.domains.join(", ");
        let attempts = self.attempts().clone();
        let mut line = match self.certs.current() {
            Some(s) if s.not_after > now => format!(
                "certificate for {names}: valid until {}, renewal from {}",
                unix_time(s.not_after),
                unix_time(s.renew_at())
            ),
            Some(s) => format!(
                "certificate for {names}: EXPIRED at {}",
                unix_time(s.not_after)
            ),
            None => format!("certificate for {names}: none yet"),
        };
        if let Some(error) = &attempts.last_error {
            line.push_str(&format!(
                "; ordering failed {} time(s), last: {error}",
                attempts.failures
            ));
            if let Some(next) = attempts.next_try {
                line.push_str(&format!("; next try at {}", unix_time(next)));
            }
        }
        line
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn unix_time(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}
