//! Connections to the shared database: TLS by rustls with the web's
//! roots, pools for the store and single connections for the listener.

use super::{POOL, WAIT};
use crate::store::{Result, StoreError};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::str::FromStr;
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Opens connections to the database (TLS when the server offers it and
/// `sslmode` asks for it; checked against the web's root certificates).
#[derive(Clone)]
pub struct Connector {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
}

impl Connector {
    pub fn new(url: &str) -> Result<Self> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Open(format!("bad database URL: {e}")))?;
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Open(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Self {
            config,
            tls: MakeRustlsConnect::new(tls),
        })
    }

    /// A connection whose messages (notifications) the caller drives.
    pub async fn connect_raw(
        &self,
        application_name: &str,
    ) -> std::result::Result<
        (
            tokio_postgres::Client,
            tokio_postgres::Connection<
                tokio_postgres::Socket,
                <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<
                    tokio_postgres::Socket,
                >>::Stream,
            >,
        ),
        tokio_postgres::Error,
    > {
        let mut config = self.config.clone();
        config.connect_timeout(WAIT);
        config.application_name(application_name);
        config.connect(self.tls.clone()).await
    }

    /// A connection driven in the background.
    pub async fn connect(
        &self,
    ) -> std::result::Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, connection) = self.connect_raw("chat").await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "a database connection ended");
            }
        });
        Ok(client)
    }

    pub(super) fn pool(&self) -> Result<Pool> {
        self.pool_of(POOL)
    }

    pub fn pool_of(&self, size: usize) -> Result<Pool> {
        let mut config = self.config.clone();
        config.connect_timeout(WAIT);
        config.application_name("chat");
        let manager = Manager::from_config(
            config,
            self.tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(manager)
            .max_size(size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(WAIT))
            .create_timeout(Some(WAIT))
            .recycle_timeout(Some(WAIT))
            .build()
            .map_err(|e| StoreError::Open(e.to_string()))
    }
}
