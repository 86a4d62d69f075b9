//! Where file contents live: a content-addressed directory under the data
//! directory. A file's name is the SHA-256 of its bytes; it is written to
//! a temporary name, synced and renamed into place, so a crash never
//! leaves a partial file under a real name.

use std::io::Write;
use std::path::{Path, PathBuf};

#[async_trait::async_trait]
pub trait Blobs: Send + Sync + 'static {
    /// Stores `bytes`; its id (the hex SHA-256). Storing twice is free.
    async fn put(&self, bytes: Vec<u8>) -> std::io::Result<String>;
    /// The bytes of a stored blob, if there is one with that id.
    async fn get(&self, id: &str) -> std::io::Result<Option<Vec<u8>>>;
    /// Removes a blob; one that is not there is fine.
    async fn delete(&self, id: &str) -> std::io::Result<()>;
}

pub struct DirBlobs {
    root: PathBuf,
}

impl DirBlobs {
    pub fn new(data_dir: &Path) -> std::io::Result<Self> {
        let root = data_dir.join("blobs");
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    /// `blobs/ab/abcdef…`; `None` for anything but a 64-digit hex id.
    fn path(&self, id: &str) -> Option<PathBuf> {
        let valid = id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        valid.then(|| self.root.join(&id[..2]).join(id))
    }
}

pub fn blob_id(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[async_trait::async_trait]
impl Blobs for DirBlobs {
    async fn put(&self, bytes: Vec<u8>) -> std::io::Result<String> {
        let id = blob_id(&bytes);
        let Some(path) = self.path(&id) else {
            return Err(std::io::Error::other("bad blob id"));
        };
        if tokio::fs::try_exists(&path).await? {
            return Ok(id);
        }
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        let tmp = dir.join(format!(".{id}.{}.tmp", uuid::Uuid::new_v4().simple()));
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            // The rename itself is durable once the directory is synced.
            std::fs::File::open(&dir)?.sync_all()
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(id)
    }

    async fn delete(&self, id: &str) -> std::io::Result<()> {
        let Some(path) = self.path(id) else {
            return Ok(());
        };
        match tokio::fs::remove_file(path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    async fn get(&self, id: &str) -> std::io::Result<Option<Vec<u8>>> {
        let Some(path) = self.path(id) else {
            return Ok(None);
        };
        match tokio::fs::read(path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blobs_are_content_addressed_and_leave_no_temporary_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blobs = DirBlobs::new(dir.path()).expect("opens");
        let id = blobs.put(b"hello".to_vec()).await.expect("stored");
        assert_eq!(id, blob_id(b"hello"));
        assert_eq!(blobs.put(b"hello".to_vec()).await.expect("again"), id);
        assert_eq!(
            blobs.get(&id).await.expect("reads"),
            Some(b"hello".to_vec())
        );
        assert_eq!(blobs.get("../../etc/passwd").await.expect("reads"), None);
        assert_eq!(blobs.get(&"0".repeat(64)).await.expect("reads"), None);
        let leftovers = std::fs::read_dir(dir.path().join("blobs").join(&id[..2]))
            .expect("dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            })
            .count();
        assert_eq!(leftovers, 0);
    }
}
