//! Which ledger records the payouts of each environment and account on
//! this machine: noted in the default ledger (the user's data directory)
//! by the first run, and asked by every later one, so that a run recorded
//! elsewhere — another file, another PostgreSQL table, or none given after
//! one that gave a PostgreSQL ledger — cannot miss what was paid.

use std::path::{Path, PathBuf};

use super::begin::BeginError;
use super::sqlite::{open_registry, register, registered};
use super::{LedgerError, LedgerScope};

/// The default ledger's file: `payouts.sqlite3` in this tool's folder of the
/// user's data directory (`$XDG_DATA_HOME`, `~/.local/share` on Linux).
pub fn default_ledger_path() -> Result<PathBuf, String> {
    dirs::data_dir()
        .map(|directory| {
            directory
                .join("xoxoday-reward-points")
                .join("payouts.sqlite3")
        })
        .ok_or_else(|| {
            "there is no data directory for this user (neither XDG_DATA_HOME nor HOME is set): \
             give the ledger with --ledger PATH or XOXODAY_PAYOUT_LEDGER"
                .into()
        })
}

/// This machine's record of the ledger each environment and account uses.
#[derive(Clone, Debug)]
pub struct Registry {
    path: PathBuf,
}

impl Registry {
    /// The registry kept in the database at `path` (the default ledger).
    pub fn at(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
        }
    }

    /// Whether `location` is the ledger of `scope` here: noted as such when
    /// none is yet (unless `dry`). A ledger that is not this database, when
    /// the registry cannot be written, is a note for the operator, not a
    /// refusal (a machine whose data directory is read-only can still pay
    /// through PostgreSQL).
    pub(super) fn check(
        &self,
        scope: &LedgerScope,
        location: &str,
        dry: bool,
    ) -> Result<Option<String>, BeginError> {
        let read = || {
            open_registry(&self.path, true).and_then(|connection| match connection {
                Some(connection) => registered(&connection, scope),
                None => Ok(None),
            })
        };
        let (outcome, unwritable) = if dry {
            (read(), None)
        } else {
            let written =
                open_registry(&self.path, false).and_then(|connection| match connection {
                    Some(mut connection) => register(&mut connection, scope, location).map(Some),
                    None => Ok(None),
                });
            match written {
                Ok(known) => (Ok(known), None),
                // Cannot note it (a data directory this user cannot write):
                // what is noted is still asked.
                Err(message) => (read(), Some(message)),
            }
        };
        let warning = |message: &str| {
            format!(
                "warning: cannot note in {} that payouts of {scope} are recorded in {location} \
                 ({message}): a run on this machine that names no ledger would not know it",
                self.path.display()
            )
        };
        match outcome {
            Ok(Some((registered, since))) if registered != location => {
                Err(BeginError::OtherLedger {
                    scope: scope.to_string(),
                    registered,
                    since,
                    asked: location.to_owned(),
                })
            }
            Ok(_) => Ok(unwritable.as_deref().map(warning)),
            // The registry is there but cannot be read: what it says is not
            // known, so nothing is guessed.
            Err(message) if self.path.exists() => Err(BeginError::Ledger(LedgerError {
                location: self.path.display().to_string(),
                message: format!(
                    "cannot read which ledger records payouts of {scope} on this machine \
                     ({message}): make it readable (it is this user's default ledger)"
                ),
            })),
            Err(message) => Ok(Some(warning(&message))),
        }
    }
}
