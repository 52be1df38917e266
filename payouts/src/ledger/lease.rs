//! A run's lease: held by each process working on a run while it goes on,
//! so that another run beginning meanwhile knows the rows it has not sent
//! yet are about to be, and another worker of the same run knows that a row
//! without an outcome may be in flight. An operating system's file lock
//! (one file per process, in a folder per run beside a SQLite ledger); a
//! PostgreSQL advisory lock on the session of a PostgreSQL ledger. Both
//! vanish with the process, so a run that crashed holds nothing.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// Held while a run goes on; dropped, the run no longer counts as going on.
pub struct Lease {
    _held: Held,
}

/// What holds the lock: dropped, it lets go.
enum Held {
    Nothing,
    #[cfg_attr(not(test), allow(dead_code))]
    Releasing {
        _on_drop: OnDrop,
    },
    File {
        _locked: HeldFile,
    },
    #[cfg(feature = "postgres")]
    Postgres {
        _locked: PostgresLease,
    },
}

impl Lease {
    /// A lease that holds nothing, for a ledger no other process can see
    /// (one in memory).
    pub fn nothing() -> Self {
        Self {
            _held: Held::Nothing,
        }
    }

    /// A lease a ledger keeps by itself (the simulation's): `release` runs
    /// when it is dropped.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn releasing(release: impl FnOnce() + Send + 'static) -> Self {
        Self {
            _held: Held::Releasing {
                _on_drop: OnDrop(Some(Box::new(release))),
            },
        }
    }

    #[cfg(feature = "postgres")]
    pub(super) fn postgres(client: std::sync::Arc<tokio_postgres::Client>, key: i64) -> Self {
        Self {
            _held: Held::Postgres {
                _locked: PostgresLease { client, key },
            },
        }
    }
}

#[cfg(feature = "postgres")]
struct PostgresLease {
    client: std::sync::Arc<tokio_postgres::Client>,
    key: i64,
}

#[cfg(feature = "postgres")]
impl Drop for PostgresLease {
    fn drop(&mut self) {
        // Released at once when a runtime is there to send it; otherwise
        // when the session ends, as on a crash.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (client, key) = (self.client.clone(), self.key);
            runtime.spawn(async move {
                let _ = client
                    .execute("SELECT pg_advisory_unlock_shared($1)", &[&key])
                    .await;
            });
        }
    }
}

/// The folder of the lease `key` of the SQLite ledger at `ledger`: one
/// file per process that holds it, locked by that process.
pub(super) fn lease_folder(ledger: &Path, key: i64) -> PathBuf {
    let mut directory = ledger.as_os_str().to_owned();
    directory.push(".leases");
    PathBuf::from(directory).join(format!("{:016x}", key as u64))
}

/// Takes the lease `key` of the SQLite ledger at `ledger` for this process
/// (beside the other processes of the run); answers its file.
pub(super) fn take_file_lease(ledger: &Path, key: i64) -> std::io::Result<(Lease, PathBuf)> {
    let folder = lease_folder(ledger, key);
    std::fs::create_dir_all(&folder)?;
    // A name no other process has: its id, and a count within it.
    static TAKEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let taken = TAKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = folder.join(format!("{}-{taken}", std::process::id()));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    file.lock()?;
    Ok((
        Lease {
            _held: Held::File {
                _locked: HeldFile {
                    file,
                    path: path.clone(),
                },
            },
        },
        path,
    ))
}

/// Whether a process holds the lease `key` of the SQLite ledger at `ledger`
/// (other than through the file `mine`). Creates and removes nothing: the
/// file of a process that died stays, unlocked.
pub(super) fn file_lease_held(
    ledger: &Path,
    key: i64,
    mine: Option<&Path>,
) -> std::io::Result<bool> {
    let entries = match std::fs::read_dir(lease_folder(ledger, key)) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(error),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if Some(path.as_path()) == mine {
            continue;
        }
        // A file this user cannot open (another user's run): held, as far
        // as anyone here can tell.
        let Ok(file) = File::open(&path) else {
            return Ok(true);
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(true),
            Err(std::fs::TryLockError::Error(error)) => return Err(error),
        }
    }
    Ok(false)
}

/// Runs its function when dropped.
struct OnDrop(Option<Box<dyn FnOnce() + Send>>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(release) = self.0.take() {
            release();
        }
    }
}

/// A process's lock on its file of a lease: the file goes when it lets go.
struct HeldFile {
    file: File,
    path: PathBuf,
}

impl Drop for HeldFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}
