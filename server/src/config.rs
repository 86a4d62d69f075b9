//! All configuration in one place: every flag is also an environment
//! variable, and the defaults run the chat out of the box.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "server", about = "A small self-hosted real-time group chat")]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the chat (the default).
    Serve,
    /// Import the Flask chat's `user_names.json` so its users keep their
    /// names and colours.
    ImportSeed {
        /// Path to `user_names.json` (`{device_id: {name, color}}`).
        file: PathBuf,
    },
    /// Write brotli and gzip copies of the built site's static files
    /// (run after each build; the server serves them to browsers that ask).
    Precompress,
    /// Print a new one-time link that makes the browser opening it the
    /// chat's owner (e.g. after losing the phone that owned it). Works
    /// while the server runs.
    OwnerLink,
    /// Copy the SQLite chat (users, rooms, messages with their seqs, the
    /// epoch) into a PostgreSQL database, for the shared mode. Safe to
    /// run again: what is already there is kept.
    Migrate {
        /// `postgres://user@host/db`
        #[arg(long)]
        to: String,
    },
    /// Write a consistent copy of the SQLite database to PATH while the
    /// chat runs.
    Backup { path: PathBuf },
    /// Fill the store with a long history, straight into it, for
    /// benchmarks (see `tools::history`). Not for a chat people use.
    SeedHistory {
        #[arg(long, default_value_t = 1_000_000)]
        messages: u64,
        #[arg(long, default_value_t = 50)]
        rooms: u64,
        #[arg(long, default_value_t = 1000)]
        identities: u64,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Address to listen on; the default reaches phones on the same network.
    #[arg(long, env = "CHAT_ADDR", default_value = "0.0.0.0:8443")]
    pub addr: SocketAddr,

    /// Directory holding the SQLite database.
    #[arg(long, env = "CHAT_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Where the chat keeps its data: absent or `sqlite:PATH` for the
    /// embedded file (in the data directory when no path is given);
    /// `postgres://user@host/db` for the shared mode, in which any number
    /// of servers behind a load balancer serve one chat.
    #[arg(long, env = "CHAT_DATABASE_URL")]
    pub database_url: Option<String>,

    /// TLS certificate (PEM). Generated for this machine when it and the
    /// key are both missing.
    #[arg(long, env = "CHAT_CERT", default_value = "certs/cert.pem")]
    pub cert: PathBuf,

    /// TLS private key (PEM).
    #[arg(long, env = "CHAT_KEY", default_value = "certs/key.pem")]
    pub key: PathBuf,

    /// A name this chat is reached by on the internet (repeat, or
    /// comma-separate, for several): the certificate for them is obtained
    /// from an ACME directory (Let's Encrypt) and renewed by itself,
    /// instead of `--cert`/`--key`. Port 443 (or `--http-addr` on port 80
    /// with `--acme-challenge http-01`) must reach this server.
    #[arg(long = "domain", env = "CHAT_DOMAINS", value_delimiter = ',')]
    pub domains: Vec<String>,

    /// The ACME directory certificates come from.
    #[arg(long, env = "CHAT_ACME_DIRECTORY", default_value = crate::acme::LETS_ENCRYPT)]
    pub acme_directory: String,

    /// Where the directory may write about expiring certificates
    /// (`mailto:you@example.com`; repeatable).
    #[arg(long, env = "CHAT_ACME_CONTACT", value_delimiter = ',')]
    pub acme_contact: Vec<String>,

    /// How the directory checks this server answers for the names.
    #[arg(
        long,
        env = "CHAT_ACME_CHALLENGE",
        value_enum,
        default_value = "tls-alpn-01"
    )]
    pub acme_challenge: crate::acme::Challenge,

    /// A PEM root certificate to trust for the directory itself (a
    /// private ACME server such as step-ca), instead of the system's.
    #[arg(long, env = "CHAT_ACME_DIRECTORY_CA")]
    pub acme_directory_ca: Option<PathBuf>,

    /// Also listen for plain HTTP here (e.g. 0.0.0.0:80): it answers
    /// ACME HTTP-01 challenges and sends everything else to HTTPS.
    #[arg(long, env = "CHAT_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,

    /// Serve plain HTTP, e.g. behind a TLS-terminating reverse proxy.
    #[arg(long, env = "CHAT_NO_TLS")]
    pub no_tls: bool,

    /// Extra origins allowed to open the WebSocket, comma-separated
    /// (`https://chat.example.org`). The request's own host is always allowed.
    #[arg(long, env = "CHAT_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Where the built site (pkg/, icons) lives.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,

    /// Mark the cookie Secure even without TLS (when a proxy terminates TLS).
    #[arg(long, env = "CHAT_SECURE_COOKIE")]
    pub secure_cookie: bool,

    /// Messages a device may send at once before it is slowed down.
    #[arg(long, env = "CHAT_MESSAGE_BURST", default_value_t = 10)]
    pub message_burst: u32,

    /// After the burst, one more message per this many milliseconds.
    #[arg(long, env = "CHAT_MESSAGE_REFILL_MS", default_value_t = 1000)]
    pub message_refill_ms: u64,

    /// WebSocket connection attempts an IP may make at once (then one per second).
    #[arg(long, env = "CHAT_CONNECT_BURST", default_value_t = 30)]
    pub connect_burst: u32,

    /// Open WebSockets (tabs) per device.
    #[arg(long, env = "CHAT_MAX_CONNS_PER_DEVICE", default_value_t = 12)]
    pub max_conns_per_device: usize,

    /// Reverse proxies whose `X-Forwarded-For` is believed, comma-separated
    /// IPs. Without it, per-IP limits see every client behind a proxy as
    /// the proxy.
    #[arg(long, env = "CHAT_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// How long a "use on another device" link stays valid.
    #[arg(long, env = "CHAT_TRANSFER_TTL_SECS", default_value_t = 600)]
    pub transfer_ttl_secs: u64,

    /// How long after sending a message its author may edit it.
    #[arg(long, env = "CHAT_EDIT_WINDOW_SECS", default_value_t = app::protocol::EDIT_WINDOW_SECS)]
    pub edit_window_secs: u64,

    /// Largest photo or file accepted, in MB.
    #[arg(long, env = "CHAT_MAX_UPLOAD_MB", default_value_t = 10)]
    pub max_upload_mb: usize,

    /// Room for all stored files together, in MB.
    #[arg(long, env = "CHAT_STORAGE_QUOTA_MB", default_value_t = 2048)]
    pub storage_quota_mb: u64,

    /// A tab in the background still counts as present this long.
    #[arg(long, env = "CHAT_PRESENCE_GRACE_SECS", default_value_t = 60)]
    pub presence_grace_secs: u64,

    /// A socket whose writes stay blocked this long (its client stopped
    /// reading) is closed.
    #[arg(long, env = "CHAT_WRITE_DEADLINE_MS", default_value_t = 10_000)]
    pub write_deadline_ms: u64,

    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464).
    /// Off by default; keep it off the public network.
    #[arg(long, env = "CHAT_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// The contact sent to push services with every notification (VAPID
    /// `sub`): a `mailto:` address or an `https:` URL where the person
    /// running the chat can be reached. Apple refuses `localhost` ones.
    #[arg(
        long,
        env = "CHAT_PUSH_CONTACT",
        default_value = "mailto:chat-owner@example.com"
    )]
    pub push_contact: String,

    /// A device gets at most one notification per room this often; later
    /// messages in the window update it ("3 new messages").
    #[arg(long, env = "CHAT_PUSH_COLLAPSE_SECS", default_value_t = 30)]
    pub push_collapse_secs: u64,

    /// A newly named device (for `--newcomer-secs`) may send this many
    /// messages at once…
    #[arg(long, env = "CHAT_NEWCOMER_BURST", default_value_t = 5)]
    pub newcomer_burst: u32,

    /// …then one more per this many ms (on top of the usual limit).
    #[arg(long, env = "CHAT_NEWCOMER_REFILL_MS", default_value_t = 5000)]
    pub newcomer_refill_ms: u64,

    /// How long a device counts as new after picking its first name.
    #[arg(long, env = "CHAT_NEWCOMER_SECS", default_value_t = 600)]
    pub newcomer_secs: u64,

    /// How often the files of deleted messages (and uploads never sent,
    /// after a day) are deleted from disk.
    #[arg(long, env = "CHAT_FILE_SWEEP_SECS", default_value_t = 300)]
    pub file_sweep_secs: u64,

    /// Files younger than this are never swept (tests shorten it).
    #[arg(
        long,
        env = "CHAT_FILE_SWEEP_GRACE_SECS",
        default_value_t = 600,
        hide = true
    )]
    pub file_sweep_grace_secs: u64,

    /// For tests only: accept push endpoints on loopback over plain HTTP
    /// (normally only public HTTPS push services are accepted).
    #[arg(long, env = "CHAT_PUSH_ALLOW_LOOPBACK", hide = true)]
    pub push_allow_loopback: bool,

    /// For tests only: make link previews of pages on loopback (normally
    /// only hosts on the public internet are fetched).
    #[arg(long, env = "CHAT_PREVIEW_ALLOW_LOOPBACK", hide = true)]
    pub preview_allow_loopback: bool,

    /// For tests only: accept bot webhooks on loopback (normally only
    /// hosts on the public internet are called).
    #[arg(long, env = "CHAT_WEBHOOK_ALLOW_LOOPBACK", hide = true)]
    pub webhook_allow_loopback: bool,

    /// The chat's address as people reach it (`https://chat.example.com`),
    /// for links the server sends elsewhere (a bot's webhook calls).
    #[arg(long, env = "CHAT_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Open WebSockets per client IP.
    #[arg(long, env = "CHAT_MAX_CONNS_PER_IP", default_value_t = 64)]
    pub max_conns_per_ip: usize,

    /// Open TCP connections per client address (an IPv6 /64), counted from
    /// the moment they are accepted, before TLS; trusted proxies are exempt.
    #[arg(long, env = "CHAT_MAX_TCP_PER_IP", default_value_t = 256)]
    pub max_tcp_per_ip: usize,

    /// A request's headers must arrive within this many seconds.
    #[arg(long, env = "CHAT_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// A request body that sends nothing for this many seconds is cut off
    /// (408).
    #[arg(long, env = "CHAT_BODY_TIMEOUT_SECS", default_value_t = 15)]
    pub body_timeout_secs: u64,

    /// Memory all photo processing may take at once, in MiB: photos wait
    /// for their share, and one that needs more is refused.
    #[arg(long, env = "CHAT_DECODE_MEMORY_MB", default_value_t = 512)]
    pub decode_memory_mb: u32,

    /// Rooms (and direct conversations) one address may create at once,
    /// then one more a minute.
    #[arg(long, env = "CHAT_NEW_ROOM_BURST", default_value_t = 10)]
    pub new_room_burst: u32,

    /// New identities (devices picking their first name) one address (an
    /// IPv6 /64) may make at once…
    #[arg(long, env = "CHAT_NEW_IDENTITY_BURST", default_value_t = 20)]
    pub new_identity_burst: u32,

    /// …then one more per this many seconds.
    #[arg(long, env = "CHAT_NEW_IDENTITY_REFILL_SECS", default_value_t = 30)]
    pub new_identity_refill_secs: u64,
}

/// Where the chat's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Settings {
    /// The database `--database-url` names (the data directory's
    /// `chat.db` when absent).
    pub fn database(&self) -> Result<Database, String> {
        match self.database_url.as_deref() {
            None | Some("") | Some("sqlite:") => {
                Ok(Database::Sqlite(self.data_dir.join("chat.db")))
            }
            Some(url) => {
                if let Some(path) = url.strip_prefix("sqlite:") {
                    Ok(Database::Sqlite(PathBuf::from(
                        path.trim_start_matches("//"),
                    )))
                } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                    Ok(Database::Postgres(url.to_owned()))
                } else {
                    Err("--database-url must start with sqlite: or postgres://".to_owned())
                }
            }
        }
    }

    pub fn tls(&self) -> bool {
        !self.no_tls
    }

    pub fn cookie_secure(&self) -> bool {
        self.tls() || self.secure_cookie
    }

    /// The scheme browsers use to reach the chat: HTTPS when it serves TLS
    /// itself or sits behind a TLS proxy (`--secure-cookie`).
    pub fn public_scheme(&self) -> &'static str {
        if self.cookie_secure() {
            "https"
        } else {
            "http"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_serve_https_on_all_interfaces() {
        let cli = Cli::try_parse_from(["server"]).expect("parses");
        assert!(cli.settings.tls());
        assert_eq!(cli.settings.addr.port(), 8443);
        assert!(cli.settings.addr.ip().is_unspecified());
        assert!(cli.command.is_none());
    }

    #[test]
    fn origins_split_on_commas() {
        let cli = Cli::try_parse_from([
            "server",
            "--allowed-origins",
            "https://a.example,https://b.example",
        ])
        .expect("parses");
        assert_eq!(cli.settings.allowed_origins.len(), 2);
    }
}
