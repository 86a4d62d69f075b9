//! What the HTTPS port presents: the current certificate and, while an
//! order is open, each name's TLS-ALPN-01 answer (RFC 8737); plus the
//! HTTP-01 answers port 80 gives.

use super::AcmeError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// The protocol an ACME server's validator offers, and nothing else.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// A certificate in service, with what renewal needs to know of it.
#[derive(Debug, Clone)]
pub struct Served {
    pub key: Arc<CertifiedKey>,
    /// The chain and key as stored, to notice another node's renewal.
    pub pem: Arc<[u8]>,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
}

impl Served {
    /// The chain's PEM followed by its key's PEM, as the store keeps them.
    pub fn parse(pem: &[u8]) -> Result<Served, AcmeError> {
        let chain = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AcmeError::Certificate(format!("unreadable chain: {e}")))?;
        let leaf = chain
            .first()
            .ok_or_else(|| AcmeError::Certificate("no certificate in the chain".into()))?;
        let (_, parsed) = x509_parser::parse_x509_certificate(leaf)
            .map_err(|e| AcmeError::Certificate(format!("unreadable certificate: {e}")))?;
        let validity = parsed.validity();
        let (not_before, not_after) = (
            validity.not_before.timestamp(),
            validity.not_after.timestamp(),
        );
        let key = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|e| AcmeError::Certificate(format!("unreadable key: {e}")))?;
        Ok(Served {
            key: Arc::new(certified(chain, &key)?),
            pem: pem.into(),
            not_before,
            not_after,
        })
    }

    /// When to order the next one: 30 days before expiry, or a third of
    /// the lifetime for shorter-lived certificates (Let's Encrypt's 90
    /// days give exactly 30).
    pub fn renew_at(&self) -> i64 {
        let lifetime = (self.not_after - self.not_before).max(0);
        self.not_after - (lifetime / 3).min(30 * 24 * 3600)
    }
}

fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: &PrivateKeyDer<'_>,
) -> Result<CertifiedKey, AcmeError> {
    let signer = rustls::crypto::ring::sign::any_supported_type(key)
        .map_err(|e| AcmeError::Certificate(format!("unusable key: {e}")))?;
    Ok(CertifiedKey::new(chain, signer))
}

/// What an open order needs every node to answer, as the store shares it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Answers {
    /// TLS-ALPN-01: name → the key authorization's SHA-256, hex.
    pub alpn: BTreeMap<String, String>,
    /// HTTP-01: token → key authorization.
    pub http: BTreeMap<String, String>,
}

/// The self-signed certificate that proves control of `name` to a
/// TLS-ALPN-01 validator: it carries the key authorization's digest.
fn alpn_answer(name: &str, digest: &[u8]) -> Result<Arc<CertifiedKey>, AcmeError> {
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()])?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok(Arc::new(certified(vec![cert.der().clone()], &der)?))
}

/// The HTTPS port's certificate resolver, shared with the manager that
/// fills it and with port 80.
#[derive(Debug, Default)]
pub struct Certs {
    current: RwLock<Option<Served>>,
    alpn: Mutex<HashMap<String, Arc<CertifiedKey>>>,
    tokens: Mutex<HashMap<String, String>>,
    answering: Mutex<Answers>,
}

impl Certs {
    pub fn current(&self) -> Option<Served> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn install(&self, served: Served) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(served);
    }

    /// Answers these challenges from now on (and no others).
    pub fn set_answers(&self, answers: &Answers) {
        let mut answering = lock(&self.answering);
        if *answering == *answers {
            return;
        }
        let mut alpn = HashMap::new();
        for (name, digest) in &answers.alpn {
            match unhex(digest).map(|d| alpn_answer(name, &d)) {
                Some(Ok(cert)) => {
                    alpn.insert(name.to_ascii_lowercase(), cert);
                }
                Some(Err(e)) => {
                    tracing::warn!(name, error = %e, "cannot make a TLS-ALPN-01 answer")
                }
                None => tracing::warn!(name, "unreadable TLS-ALPN-01 digest"),
            }
        }
        *lock(&self.alpn) = alpn;
        *lock(&self.tokens) = answers.http.clone().into_iter().collect();
        *answering = answers.clone();
    }

    /// What port 80 answers at `/.well-known/acme-challenge/<token>`.
    pub fn http_answer(&self, token: &str) -> Option<String> {
        lock(&self.tokens).get(token).cloned()
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ResolvesServerCert for Certs {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let validator = hello
            .alpn()
            .is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN));
        if validator {
            let name = hello.server_name()?.to_ascii_lowercase();
            return lock(&self.alpn).get(&name).cloned();
        }
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|s| s.key.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(lifetime: i64) -> Served {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["chat.test".into()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let pem = format!("{}{}", cert.pem(), key.serialize_pem());
        let mut s = Served::parse(pem.as_bytes()).expect("parses");
        s.not_after = s.not_before + lifetime;
        s
    }

    #[test]
    fn renewal_comes_thirty_days_early_or_a_third_of_a_short_life() {
        const DAY: i64 = 24 * 3600;
        let le = served(90 * DAY);
        assert_eq!(le.not_after - le.renew_at(), 30 * DAY);
        let year = served(365 * DAY);
        assert_eq!(year.not_after - year.renew_at(), 30 * DAY);
        let six_days = served(6 * DAY);
        assert_eq!(six_days.not_after - six_days.renew_at(), 2 * DAY);
        let pebble = served(30);
        assert_eq!(pebble.not_after - pebble.renew_at(), 10);
    }

    #[test]
    fn a_chain_without_its_key_or_garbage_is_refused() {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["chat.test".into()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        assert!(Served::parse(cert.pem().as_bytes()).is_err());
        assert!(Served::parse(b"not a certificate").is_err());
        assert!(Served::parse(key.serialize_pem().as_bytes()).is_err());
    }
}
