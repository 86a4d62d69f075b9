//! Automatic HTTPS against a real ACME server: Debian's `pebble` (with
//! `pebble-challtestsrv` answering its DNS) on loopback, issuing
//! certificates that live 30 seconds, so renewal happens within a test.

use crate::common::{free_port, Server};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DOMAIN: &str = "chat.test";
/// Short enough that renewal (a third of the lifetime before expiry)
/// comes 20 s after issuance.
const LIFETIME_SECS: u64 = 30;

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running pebble: its directory URL, the CA file that makes its API
/// trusted, and its management port (for the root it issues under).
struct Pebble {
    directory: String,
    api_ca: PathBuf,
    management: u16,
    process: Option<Killed>,
    _dns: Killed,
}

impl Pebble {
    /// `None` outside CI when pebble is not installed (`scripts/setup.sh`
    /// installs it); under CI its absence fails the test.
    fn start(dir: &Path, tls_port: u16, http_port: u16) -> Option<Pebble> {
        if !Path::new("/usr/bin/pebble").exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "pebble is not installed: apt-get install pebble (scripts/setup.sh does)"
            );
            eprintln!("skipped: no /usr/bin/pebble");
            return None;
        }
        // pebble's own HTTPS (its API), from a CA only this test trusts.
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("ca");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().expect("key");
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("params")
            .signed_by(&key, &issuer)
            .expect("leaf");
        let api_ca = dir.join("pebble-api-ca.pem");
        std::fs::write(&api_ca, ca.pem()).expect("ca written");
        std::fs::write(dir.join("pebble-api.pem"), leaf.pem()).expect("cert written");
        std::fs::write(dir.join("pebble-api.key"), key.serialize_pem()).expect("key written");

        let dns_port = free_udp_port();
        let dns = Command::new("/usr/bin/pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{}", free_port())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv starts");
        let (api, management) = (free_port(), free_port());
        let config = serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{api}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.join("pebble-api.pem"),
            "privateKey": dir.join("pebble-api.key"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
            "certificateValidityPeriod": LIFETIME_SECS,
        }});
        let config_path = dir.join("pebble.json");
        std::fs::write(&config_path, config.to_string()).expect("config written");
        let pebble = Command::new("/usr/bin/pebble")
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            // No random waits or refused nonces; every order is validated
            // again (no authorization reuse), so renewal proves control.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble starts");
        wait_for_port(api);
        Some(Pebble {
            directory: format!("https://127.0.0.1:{api}/dir"),
            api_ca,
            management,
            process: Some(Killed(pebble)),
            _dns: Killed(dns),
        })
    }

    /// The root pebble issues under (it makes a new one at each start).
    async fn root(&self) -> reqwest::Certificate {
        let pem = std::fs::read(&self.api_ca).expect("ca");
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"))
            .build()
            .expect("client");
        let root = client
            .get(format!("https://127.0.0.1:{}/roots/0", self.management))
            .send()
            .await
            .expect("pebble's management answers")
            .bytes()
            .await
            .expect("root");
        reqwest::Certificate::from_pem(&root).expect("a PEM root")
    }

    fn stop(&mut self) {
        self.process = None;
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "pebble did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn chat_flags<'a>(pebble: &'a Pebble, extra: &[&'a str]) -> Vec<&'a str> {
    let mut flags = vec![
        "--domain",
        DOMAIN,
        "--acme-directory",
        &pebble.directory,
        "--acme-directory-ca",
        pebble.api_ca.to_str().expect("utf-8 path"),
        "--acme-contact",
        "mailto:ops@chat.test",
    ];
    flags.extend_from_slice(extra);
    flags
}

/// A browser-like client: trusts pebble's root only, resolves the
/// domain to the chat's loopback port.
fn trusting(root: reqwest::Certificate, addr: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(root)
        .resolve(DOMAIN, addr)
        .build()
        .expect("client")
}

/// The leaf certificate the chat presents now (not verified: this is
/// about which one is served, whatever the clock says of it).
async fn served_leaf(addr: SocketAddr) -> Option<Vec<u8>> {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(AnyCert))
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
    let name = rustls::pki_types::ServerName::try_from(DOMAIN).expect("name");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .ok()?;
    let (_, session) = tls.get_ref();
    session
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
}

async fn wait_for<T>(what: &str, within: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_certificate_is_obtained_renewed_and_kept_when_the_directory_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let Some(mut pebble) = Pebble::start(dir.path(), port, free_port()) else {
        return;
    };
    let data = dir.path().join("data");
    let chat = Server::start_at(&data, &addr.to_string(), &chat_flags(&pebble, &[]));
    let root = pebble.root().await;
    let client = trusting(root, addr);
    let url = format!("https://{DOMAIN}:{port}");

    // Obtained: a client trusting only pebble's root sees the chat.
    let page = wait_for("a certificate", Duration::from_secs(30), async || {
        let res = client.get(format!("{url}/")).send().await.ok()?;
        res.status().is_success().then_some(())?;
        res.text().await.ok()
    })
    .await;
    assert!(
        page.contains("<html"),
        "the chat's page over the new certificate"
    );
    let health = client
        .get(format!("{url}/healthz"))
        .send()
        .await
        .expect("healthz")
        .text()
        .await
        .expect("text");
    assert!(
        health.starts_with("ok\ncertificate for chat.test: valid until"),
        "{health}"
    );
    let first = served_leaf(addr).await.expect("a certificate is served");

    // Renewed a third of its lifetime before expiry, without a restart.
    let second = wait_for(
        "the renewed certificate",
        Duration::from_secs(LIFETIME_SECS + 15),
        async || served_leaf(addr).await.filter(|c| *c != first),
    )
    .await;
    client
        .get(format!("{url}/healthz"))
        .send()
        .await
        .expect("the renewed certificate is trusted")
        .error_for_status()
        .expect("healthy");

    // The directory goes away: the next renewal fails, is reported, and
    // the certificate in hand keeps serving.
    pebble.stop();
    let insecure = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .resolve(DOMAIN, addr)
        .build()
        .expect("client");
    let health = wait_for(
        "a failed renewal on /healthz",
        Duration::from_secs(LIFETIME_SECS + 15),
        async || {
            let body = insecure
                .get(format!("{url}/healthz"))
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            body.contains("ordering failed").then_some(body)
        },
    )
    .await;
    assert!(health.contains("next try at"), "{health}");
    assert_eq!(
        served_leaf(addr).await.as_deref(),
        Some(second.as_slice()),
        "the existing certificate keeps serving"
    );

    // A restart serves the stored certificate: nothing is ordered (the
    // directory is gone) and the same one comes back.
    assert!(chat.stop().success());
    let _chat = Server::start_at(&data, &addr.to_string(), &chat_flags(&pebble, &[]));
    assert_eq!(
        served_leaf(addr).await.as_deref(),
        Some(second.as_slice()),
        "the stored certificate serves after a restart"
    );
}

#[tokio::test]
async fn http_01_on_port_80_and_everything_else_redirected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, http_port) = (free_port(), free_port());
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let Some(pebble) = Pebble::start(dir.path(), port, http_port) else {
        return;
    };
    let http_addr = format!("127.0.0.1:{http_port}");
    let _chat = Server::start_at(
        &dir.path().join("data"),
        &addr.to_string(),
        &chat_flags(
            &pebble,
            &["--acme-challenge", "http-01", "--http-addr", &http_addr],
        ),
    );
    let client = trusting(pebble.root().await, addr);
    wait_for(
        "a certificate over HTTP-01",
        Duration::from_secs(30),
        async || {
            let res = client
                .get(format!("https://{DOMAIN}:{port}/healthz"))
                .send()
                .await
                .ok()?;
            res.status().is_success().then_some(())
        },
    )
    .await;

    // Port 80 sends people to HTTPS, on the configured name only.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for (host, expect) in [
        (
            "chat.test",
            format!("https://chat.test:{port}/r/general?x=1"),
        ),
        (
            "evil.example",
            format!("https://chat.test:{port}/r/general?x=1"),
        ),
    ] {
        let res = plain
            .get(format!("http://{http_addr}/r/general?x=1"))
            .header("host", host)
            .send()
            .await
            .expect("port 80 answers");
        assert_eq!(res.status(), 308);
        assert_eq!(res.headers()["location"], expect.as_str());
    }
    let res = plain
        .get(format!(
            "http://{http_addr}/.well-known/acme-challenge/unknown"
        ))
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 404, "no challenge is open now");
}

#[tokio::test]
async fn nodes_sharing_postgres_serve_one_certificate_and_answer_each_others_challenges() {
    let Some(admin) = crate::common::pg::cluster() else {
        return;
    };
    let db = crate::common::pg::fresh_database(&admin).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (port_a, port_b) = (free_port(), free_port());
    let addr_a: SocketAddr = ([127, 0, 0, 1], port_a).into();
    let addr_b: SocketAddr = ([127, 0, 0, 1], port_b).into();
    // The directory checks at A's address, as a load balancer might send
    // it to any node.
    let Some(pebble) = Pebble::start(dir.path(), port_a, free_port()) else {
        return;
    };
    let shared = ["--database-url", db.as_str()];
    let b = Server::start_at(
        &dir.path().join("b"),
        &addr_b.to_string(),
        &chat_flags(&pebble, &shared),
    );
    // B starts alone, so B holds the lease and orders.
    let sql = crate::common::pg::sql(&db).await;
    let holder: String = wait_for("B's lease", Duration::from_secs(10), async || {
        sql.query_opt("SELECT holder FROM acme_lease", &[])
            .await
            .ok()
            .flatten()
            .map(|r| r.get(0))
    })
    .await;
    let a = Server::start_at(
        &dir.path().join("a"),
        &addr_a.to_string(),
        &chat_flags(&pebble, &shared),
    );

    // Issued (A answered B's challenge: A never held the lease), and both
    // nodes serve that one certificate.
    let on_a = wait_for("a certificate on A", Duration::from_secs(40), async || {
        served_leaf(addr_a).await
    })
    .await;
    let same = wait_for(
        "the same certificate on B",
        Duration::from_secs(10),
        async || served_leaf(addr_b).await.filter(|c| *c == on_a),
    )
    .await;
    assert_eq!(same, on_a);
    let now: String = sql
        .query_one("SELECT holder FROM acme_lease", &[])
        .await
        .expect("the lease")
        .get(0);
    assert_eq!(now, holder, "only B ordered");
    let client = trusting(pebble.root().await, addr_a);
    client
        .get(format!("https://{DOMAIN}:{port_a}/healthz"))
        .send()
        .await
        .expect("A's certificate is trusted")
        .error_for_status()
        .expect("healthy");
    drop((a, b));
}

#[derive(Debug)]
struct AnyCert;

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
