//! Import of the Flask chat's `user_names.json`, so its users keep their
//! names and colours when they first open the new chat.

use crate::store::{Store, StoreError};
use app::protocol::DeviceId;
use app::validate::{random_color, UserName};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Deserialize)]
struct SeedUser {
    name: String,
    color: Option<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: usize,
    pub skipped: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("could not read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0} is not a user_names.json map: {1}")]
    Parse(String, serde_json::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn import(store: &dyn Store, file: &Path) -> Result<ImportReport, SeedError> {
    let shown = file.display().to_string();
    let raw = std::fs::read(file).map_err(|e| SeedError::Read(shown.clone(), e))?;
    let users: BTreeMap<String, SeedUser> =
        serde_json::from_slice(&raw).map_err(|e| SeedError::Parse(shown, e))?;
    let mut report = ImportReport::default();
    let mut rng = rand::rng();
    for (raw_id, user) in users {
        let Some(device) = DeviceId::parse(&raw_id) else {
            report
                .skipped
                .push(format!("{raw_id:.8}…: not a UUID device id"));
            continue;
        };
        let name = match UserName::parse(&user.name) {
            Ok(name) => name,
            Err(e) => {
                report.skipped.push(format!("{device:?}: {e}"));
                continue;
            }
        };
        let color = user
            .color
            .filter(|c| is_rgb(c))
            .unwrap_or_else(|| random_color(&mut rng));
        store.import_user(device, name, color).await?;
        report.imported += 1;
    }
    Ok(report)
}

/// Only `rgb(r,g,b)` with 0–255 components is taken from the file, since
/// the colour ends up in a style attribute.
fn is_rgb(c: &str) -> bool {
    let Some(inner) = c
        .trim()
        .strip_prefix("rgb(")
        .and_then(|s| s.strip_suffix(')'))
    else {
        return false;
    };
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    parts.len() == 3 && parts.iter().all(|p| p.parse::<u8>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_rgb_colours_are_trusted() {
        assert!(is_rgb("rgb(200, 120, 255)"));
        assert!(!is_rgb("rgb(300,1,1)"));
        assert!(!is_rgb("red; background:url(x)"));
        assert!(!is_rgb("rgb(1,2)"));
    }
}
