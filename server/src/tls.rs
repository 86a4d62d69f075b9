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
            tracing::info!(cert = %cert.display(), ?names, "generated a self-signed certificate; browsers will ask you to trust it");
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

fn generate(cert: &Path, key: &Path) -> Result<Vec<String>, TlsError> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(ip) = lan_address() {
        names.push(ip.to_string());
    }
    let pair = rcgen::generate_simple_self_signed(names.clone())?;
    write(cert, pair.cert.pem().as_bytes(), 0o644)?;
    write(key, pair.signing_key.serialize_pem().as_bytes(), 0o600)?;
    Ok(names)
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
