//! The server's VAPID key pair (RFC 8292), which signs every push so push
//! services know it comes from the server browsers subscribed with. Made
//! on first start and kept in the data directory: a new key would make
//! every browser's subscription useless.

use base64ct::{Base64UrlUnpadded, Encoding};
use std::io::Write;
use std::path::{Path, PathBuf};
use web_push_native::jwt_simple::algorithms::{ECDSAP256PublicKeyLike, ES256KeyPair};

const FILE: &str = "vapid-private-key.txt";
/// Where the shared mode keeps it (`chat_settings`).
const SETTING: &str = "vapid_private_key";

pub struct Vapid {
    pub key: ES256KeyPair,
    /// The public key as an uncompressed P-256 point: the browsers'
    /// `applicationServerKey`.
    pub public: Vec<u8>,
}

impl Vapid {
    /// Reads the key from `dir`, or makes one and stores it there.
    pub fn load_or_generate(dir: &Path) -> Result<Self, String> {
        let path = dir.join(FILE);
        let key = match std::fs::read_to_string(&path) {
            Ok(text) => parse(&text).ok_or_else(|| {
                format!(
                    "{} is not a VAPID key; remove it to make a new one \
                     (every browser must then turn notifications on again)",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = ES256KeyPair::generate();
                write_private(&path, &Base64UrlUnpadded::encode_string(&key.to_bytes())).map_err(
                    |e| format!("cannot store the VAPID key in {}: {e}", path.display()),
                )?;
                tracing::info!(path = %path.display(), "made a VAPID key for push notifications");
                key
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let public = key.public_key().public_key().to_bytes_uncompressed();
        Ok(Self { key, public })
    }
}

impl Vapid {
    /// The key kept in the shared database; the first node to start puts
    /// it there (the data directory's key, if the chat moved from SQLite,
    /// so browsers stay subscribed).
    pub async fn load_shared(store: &dyn crate::store::Store, dir: &Path) -> Result<Self, String> {
        let ours = std::fs::read_to_string(dir.join(FILE))
            .ok()
            .and_then(|text| parse(&text))
            .unwrap_or_else(ES256KeyPair::generate);
        let stored = store
            .init_setting(SETTING, Base64UrlUnpadded::encode_string(&ours.to_bytes()))
            .await
            .map_err(|e| format!("cannot read the VAPID key from the database: {e}"))?;
        let key = parse(&stored).ok_or("the database's VAPID key is damaged")?;
        let public = key.public_key().public_key().to_bytes_uncompressed();
        Ok(Self { key, public })
    }
}

fn parse(text: &str) -> Option<ES256KeyPair> {
    let bytes = Base64UrlUnpadded::decode_vec(text.trim()).ok()?;
    ES256KeyPair::from_bytes(&bytes).ok()
}

/// Writes the key readable by the owner only, whole or not at all: a
/// temporary file, synced, then renamed into place.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp: PathBuf = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_and_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = Vapid::load_or_generate(dir.path()).expect("made");
        assert_eq!(first.public.len(), 65);
        assert_eq!(first.public[0], 4, "uncompressed point");
        let again = Vapid::load_or_generate(dir.path()).expect("read back");
        assert_eq!(first.public, again.public);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE))
                .expect("stored")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "private to its owner");
        }
    }

    #[test]
    fn a_damaged_key_file_stops_the_start_instead_of_being_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(FILE), "not a key").expect("written");
        assert!(Vapid::load_or_generate(dir.path()).is_err());
        assert_eq!(
            std::fs::read_to_string(dir.path().join(FILE)).expect("kept"),
            "not a key"
        );
    }
}
