//! Where the token manager keeps the tokens. The vendor rotates the refresh
//! token on every refresh and invalidates the old one at once, so each new one
//! is saved here before anything uses it: a crash cannot lose it.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::{EpochMillis, Secret};

/// The tokens a client needs to keep working: the access token, the refresh
/// token and their expiries (epoch milliseconds). `Debug` redacts the tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTokens {
    pub access_token: Secret,
    pub access_token_expiry: EpochMillis,
    pub refresh_token: Secret,
    /// `None` when the vendor did not say; the refresh is then attempted.
    pub refresh_token_expiry: Option<EpochMillis>,
}

/// Why the store could not load or save.
#[derive(Debug, thiserror::Error)]
#[error("token store {location}: {message}")]
pub struct StoreError {
    pub location: String,
    pub message: String,
}

/// Keeps the tokens across restarts. `save` must not return before the
/// tokens are durable: the manager uses a rotated token only after it.
pub trait TokenStore: Send + Sync + fmt::Debug {
    fn load(&self) -> Result<Option<StoredTokens>, StoreError>;
    fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError>;
}

/// Keeps the tokens in memory only: for tests and short-lived programs.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    tokens: Mutex<Option<StoredTokens>>,
}

impl MemoryTokenStore {
    pub fn new(tokens: StoredTokens) -> Self {
        Self {
            tokens: Mutex::new(Some(tokens)),
        }
    }
}

impl TokenStore for MemoryTokenStore {
    fn load(&self) -> Result<Option<StoredTokens>, StoreError> {
        Ok(self
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone())
    }

    fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError> {
        *self.tokens.lock().unwrap_or_else(|e| e.into_inner()) = Some(tokens.clone());
        Ok(())
    }
}

/// Keeps the tokens in a JSON file, written atomically (a temporary file in
/// the same directory, synced, then renamed over the old one) and readable
/// by its owner only (mode 0600 on Unix).
#[derive(Debug, Clone)]
pub struct FileTokenStore {
    path: PathBuf,
}

impl FileTokenStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, message: impl fmt::Display) -> StoreError {
        StoreError {
            location: self.path.display().to_string(),
            message: message.to_string(),
        }
    }
}

impl TokenStore for FileTokenStore {
    fn load(&self) -> Result<Option<StoredTokens>, StoreError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(self.error(format!("cannot read: {error}"))),
        };
        // The serde error names the line and column, never the content.
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|error| self.error(format!("not a token file: {error}")))
    }

    fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(tokens)
            .map_err(|error| self.error(format!("cannot encode: {error}")))?;
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = write_private(&temporary, &json).and_then(|()| {
            fs::rename(&temporary, &self.path)?;
            // Make the rename itself durable.
            fs::File::open(dir)?.sync_all()
        });
        if let Err(error) = written {
            let _ = fs::remove_file(&temporary);
            return Err(self.error(format!("cannot write: {error}")));
        }
        Ok(())
    }
}

fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(content)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::{FileTokenStore, StoredTokens, TokenStore};
    use crate::{EpochMillis, Secret};

    fn tokens() -> StoredTokens {
        StoredTokens {
            access_token: Secret::new("access-secret"),
            access_token_expiry: EpochMillis(1_718_000_000_000),
            refresh_token: Secret::new("refresh-secret"),
            refresh_token_expiry: None,
        }
    }

    #[test]
    fn file_store_round_trips_and_starts_empty() {
        let dir = std::env::temp_dir().join(format!("token-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = FileTokenStore::new(dir.join("tokens.json"));
        assert_eq!(store.load().unwrap(), None);

        store.save(&tokens()).unwrap();
        store.save(&tokens()).unwrap();

        assert_eq!(store.load().unwrap(), Some(tokens()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_file_is_an_error_that_does_not_quote_it() {
        let dir = std::env::temp_dir().join(format!("token-store-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tokens.json");
        std::fs::write(&path, r#"{"access_token": "leaked-secret""#).unwrap();

        let error = FileTokenStore::new(&path).load().unwrap_err().to_string();

        assert!(error.starts_with(&format!(
            "token store {}: not a token file:",
            path.display()
        )));
        assert!(!error.contains("leaked-secret"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
