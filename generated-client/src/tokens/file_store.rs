//! `FileTokenStore`: the tokens in a JSON file, shared safely by any number
//! of processes on one machine.
//!
//! - The lock is an OS file lock (`flock`, std's `File::try_lock`) on a lock
//!   file beside the token file (`tokens.json.lock`), which is never replaced
//!   or removed. The OS releases it when its holder exits or dies.
//! - Saving writes a temporary file with a random name in the same directory
//!   (tempfile: created exclusively, mode 0600), syncs it, renames it over the
//!   token file and syncs the directory: readers see the old file or the new
//!   one, never half of one. A lease prepares that file before the token
//!   manager asks the vendor for new tokens, so that a directory the process
//!   cannot write is found before the vendor kills the old refresh token.
//! - File I/O runs on tokio's blocking threads, never on the runtime's.
//!
//! The directory must be on a local file system: `flock` over NFS is not
//! reliable.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::tokens::store::{StoreError, StoreFuture, StoredTokens, TokenLease, TokenStore};

/// How long `lock` waits for another process by default.
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest pause between two attempts to take the lock.
const MAX_LOCK_POLL: Duration = Duration::from_millis(20);

/// Keeps the tokens in a JSON file readable by its owner only (mode 0600 on
/// Unix), with a lock file beside it.
#[derive(Debug, Clone)]
pub struct FileTokenStore {
    path: PathBuf,
    lock_timeout: Duration,
}

impl FileTokenStore {
    /// A store in the file at `path` (created on the first save, mode
    /// 0600), locked through `<path>.lock`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// How long taking the lock may wait for another process (default 30 s).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The token file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file beside it: the token file's name with `.lock` added.
    pub fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    fn error(path: &Path, message: impl std::fmt::Display) -> StoreError {
        StoreError {
            location: path.display().to_string(),
            message: message.to_string(),
        }
    }
}

impl TokenStore for FileTokenStore {
    fn load(&self) -> StoreFuture<'_, Option<StoredTokens>> {
        let path = self.path.clone();
        Box::pin(blocking(move || read_tokens(&path)))
    }

    fn lock(&self) -> StoreFuture<'_, Box<dyn TokenLease>> {
        let path = self.path.clone();
        let lock_path = self.lock_path();
        let timeout = self.lock_timeout;
        Box::pin(async move {
            let lock_file = {
                let lock_path = lock_path.clone();
                blocking(move || {
                    open_lock_file(&lock_path)
                        .map_err(|error| Self::error(&lock_path, format!("cannot open: {error}")))
                })
                .await?
            };
            // A time limit too large for the clock waits without one.
            let deadline = Instant::now().checked_add(timeout);
            let mut pause = Duration::from_millis(1);
            loop {
                // LOCK_NB: returns at once, so it may run on the runtime.
                match lock_file.try_lock() {
                    Ok(()) => break,
                    Err(TryLockError::WouldBlock)
                        if deadline.is_none_or(|deadline| Instant::now() < deadline) =>
                    {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(MAX_LOCK_POLL);
                    }
                    Err(TryLockError::WouldBlock) => {
                        return Err(Self::error(
                            &lock_path,
                            format!(
                                "another process has held the lock for more than {} s",
                                timeout.as_secs_f64()
                            ),
                        ));
                    }
                    Err(TryLockError::Error(error)) => {
                        return Err(Self::error(&lock_path, format!("cannot lock: {error}")));
                    }
                }
            }
            let tokens = {
                let path = path.clone();
                blocking(move || read_tokens(&path)).await?
            };
            Ok(Box::new(FileLease {
                _lock: lock_file,
                path,
                tokens,
                prepared: None,
            }) as Box<dyn TokenLease>)
        })
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

/// The lock file, locked: closing it releases the lock.
struct FileLease {
    _lock: File,
    path: PathBuf,
    tokens: Option<StoredTokens>,
    /// The temporary file a save writes, made by `prepare`.
    prepared: Option<tempfile::NamedTempFile>,
}

impl TokenLease for FileLease {
    fn tokens(&self) -> Option<&StoredTokens> {
        self.tokens.as_ref()
    }

    fn reload(&mut self) -> StoreFuture<'_, Option<StoredTokens>> {
        Box::pin(async move {
            let path = self.path.clone();
            self.tokens = blocking(move || read_tokens(&path)).await?;
            Ok(self.tokens.clone())
        })
    }

    fn prepare(&mut self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if self.prepared.is_none() {
                let path = self.path.clone();
                self.prepared = Some(blocking(move || temporary_beside(&path)).await?);
            }
            Ok(())
        })
    }

    fn save(mut self: Box<Self>, tokens: StoredTokens) -> StoreFuture<'static, ()> {
        Box::pin(async move {
            // The lease (and so the lock) lives until the file is written.
            blocking(move || {
                let written = match self.prepared.take() {
                    Some(prepared) => Ok(prepared),
                    None => temporary_beside(&self.path),
                }
                .and_then(|temporary| write_tokens(&self.path, temporary, &tokens));
                drop(self);
                written
            })
            .await
        })
    }

    fn release(self: Box<Self>) -> StoreFuture<'static, ()> {
        drop(self);
        Box::pin(async { Ok(()) })
    }
}

/// Runs file I/O on tokio's blocking threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| {
            Err(StoreError {
                location: "token store".into(),
                message: format!("the file task failed: {error}"),
            })
        })
}

fn read_tokens(path: &Path) -> Result<Option<StoredTokens>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(FileTokenStore::error(path, format!("cannot read: {error}")));
        }
    };
    // Only the place of a problem is named, never the content.
    serde_json::from_slice(&bytes).map(Some).map_err(|error| {
        FileTokenStore::error(
            path,
            format!(
                "not a token file (line {}, column {})",
                error.line(),
                error.column()
            ),
        )
    })
}

/// The directory a save writes in: the token file's.
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// A temporary file beside the token file, which a save writes and renames
/// over it: a random name, created exclusively with mode 0600, so that two
/// writers can never share one. Making it fails as the save would, for a
/// directory this process cannot write.
fn temporary_beside(path: &Path) -> Result<tempfile::NamedTempFile, StoreError> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(directory_of(path))
        .map_err(|error| {
            FileTokenStore::error(
                path,
                format!(
                    "cannot write: {error} (a save writes a new file in {} and renames it over \
                     the token file: this process must be able to write that directory)",
                    directory_of(path).display()
                ),
            )
        })
}

fn write_tokens(
    path: &Path,
    mut temporary: tempfile::NamedTempFile,
    tokens: &StoredTokens,
) -> Result<(), StoreError> {
    let fail =
        |error: std::io::Error| FileTokenStore::error(path, format!("cannot write: {error}"));
    let json = serde_json::to_vec_pretty(tokens)
        .map_err(|error| FileTokenStore::error(path, format!("cannot encode: {error}")))?;
    temporary.write_all(&json).map_err(fail)?;
    temporary.as_file().sync_all().map_err(fail)?;
    temporary.persist(path).map_err(|error| fail(error.error))?;
    // Make the rename itself durable.
    File::open(directory_of(path))
        .and_then(|dir| dir.sync_all())
        .map_err(fail)
}

/// Opens the lock file, creating it (readable by its owner only) when
/// missing. Its content is never used.
fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::FileTokenStore;
    use crate::tokens::store::{StoredTokens, TokenStore};
    use crate::{EpochMillis, Secret};

    fn tokens(refresh: &str) -> StoredTokens {
        StoredTokens::new(
            Secret::new("access-secret"),
            Some(EpochMillis(1_718_000_000_000)),
            Secret::new(refresh),
            None,
        )
    }

    #[tokio::test]
    async fn round_trips_starts_empty_and_leaves_only_its_two_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileTokenStore::new(dir.path().join("tokens.json"));
        assert_eq!(store.load().await.unwrap(), None);

        store.save(tokens("first")).await.unwrap();
        store.save(tokens("second")).await.unwrap();

        assert_eq!(store.load().await.unwrap(), Some(tokens("second")));
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["tokens.json", "tokens.json.lock"]);
        #[cfg(unix)]
        for name in names {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(&name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }

    #[tokio::test]
    async fn the_lock_is_exclusive_even_between_two_stores_of_one_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let first = FileTokenStore::new(&path);
        let second = FileTokenStore::new(&path).lock_timeout(std::time::Duration::from_millis(100));

        let held = first.lock().await.unwrap();
        let refused = second.lock().await.err().unwrap();
        assert_eq!(
            refused.to_string(),
            format!(
                "token store {}: another process has held the lock for more than 0.1 s",
                first.lock_path().display()
            )
        );
        held.release().await.unwrap();
        second.lock().await.unwrap();
    }

    #[tokio::test]
    async fn a_damaged_file_is_an_error_that_does_not_quote_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        std::fs::write(&path, r#"{"access_token": "leaked-secret""#).unwrap();

        let error = FileTokenStore::new(&path)
            .load()
            .await
            .unwrap_err()
            .to_string();

        assert_eq!(
            error,
            format!(
                "token store {}: not a token file (line 1, column 32)",
                path.display()
            )
        );
    }
}
