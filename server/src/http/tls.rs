//! HTTPS: the configured certificate, or a self-signed one generated for
//! localhost and this machine's LAN address on first run.

use axum_server::tls_rustls::RustlsConfig;
use std::net::{IpAddr, UdpSocket};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("only one of the certificate ({0}) and the key exists; provide both or neither")]
    HalfPair(String),
    #[error("could not generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("could not read or write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

pub async fn load_or_generate(cert: &Path, key: &Path) -> Result<RustlsConfig, TlsError> {
    match (cert.exists(), key.exists()) {
        (true, true) => {}
        (false, false) => {
            let names = generate(cert, key)?;
            tracing::info!(
                cert = %cert.display(),
                ca = %ca_path(cert).display(),
                ?names,
                "generated a local CA and a server certificate; trust the CA once per device (see /trust)"
            );
        }
        (true, false) => return Err(TlsError::HalfPair(cert.display().to_string())),
        (false, true) => return Err(TlsError::HalfPair(key.display().to_string())),
    }
    RustlsConfig::from_pem_file(cert, key)
        .await
        .map_err(|source| TlsError::Io {
            path: cert.display().to_string(),
            source,
        })
}

/// A small local CA plus a server certificate it signs, for localhost and
/// the LAN address. Phones trust the CA once (served at `/ca.pem`) instead
/// of clicking through a warning on every visit. The leaf follows Apple's
/// rules for TLS certificates: at most 825 days, SANs, serverAuth.
fn generate(cert: &Path, key: &Path) -> Result<Vec<String>, TlsError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(ip) = lan_address() {
        names.push(ip.to_string());
    }
    let now = time::OffsetDateTime::now_utc();

    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "Chat local CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = now - time::Duration::days(1);
    ca.not_after = now + time::Duration::days(3650);
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;

    let mut leaf = CertificateParams::new(names.clone())?;
    leaf.distinguished_name
        .push(DnType::CommonName, "Chat server");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = now - time::Duration::days(1);
    leaf.not_after = now + time::Duration::days(800);
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = leaf.signed_by(&leaf_key, &Issuer::new(ca, ca_key))?;

    write(&ca_path(cert), ca_cert.pem().as_bytes(), 0o644)?;
    let chain = format!("{}{}", leaf_cert.pem(), ca_cert.pem());
    write(cert, chain.as_bytes(), 0o644)?;
    write(key, leaf_key.serialize_pem().as_bytes(), 0o600)?;
    Ok(names)
}

/// Where the generated CA certificate lives: beside the server certificate.
pub fn ca_path(cert: &Path) -> std::path::PathBuf {
    cert.with_file_name("ca.pem")
}

fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |source| TlsError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, bytes).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)
}

/// The address this machine uses to reach other hosts. Connecting a UDP
/// socket sends nothing; it only asks the kernel which route it would take.
pub fn lan_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// TLS whose certificate comes from the ACME manager as it renews it, and
/// which answers TLS-ALPN-01 validators.
pub fn acme_config(certs: std::sync::Arc<crate::acme::certs::Certs>) -> RustlsConfig {
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_cert_resolver(certs);
    config.alpn_protocols = vec![
        b"h2".to_vec(),
        b"http/1.1".to_vec(),
        crate::acme::certs::ACME_TLS_ALPN.to_vec(),
    ];
    RustlsConfig::from_config(std::sync::Arc::new(config))
}
