//! Whose payouts a ledger's records are ([`LedgerScope`]: a vendor
//! environment and an account), and which run a file is ([`RunKey`]).

use std::fmt;

use sha2::{Digest, Sha256};
use xoxoday_reward_points::Environment;

use crate::payout_file::{FileError, FileIdentity, PayoutFile};

/// A vendor environment and the account that pays in it: the ledger keeps
/// the records of each apart, so that a Sandbox rehearsal never stands in
/// the way of the Production run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LedgerScope {
    environment: Environment,
    /// A fingerprint of the account's client id: the ledger and its
    /// messages name the account without holding its id.
    account: String,
}

impl LedgerScope {
    /// The scope of the account whose client id is `client_id`, in
    /// `environment`.
    pub fn new(environment: Environment, client_id: &str) -> Self {
        let digest = Sha256::new()
            .chain_update("xoxoday-reward-points account\0")
            .chain_update(client_id.trim())
            .finalize();
        let account = digest[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Self {
            environment,
            account,
        }
    }

    /// A scope as the ledger stored it: its environment's slug and the
    /// account's fingerprint.
    pub fn stored(environment: &str, account: &str) -> Option<Self> {
        let environment = Environment::ALL
            .into_iter()
            .find(|known| known.slug() == environment)?;
        Some(Self {
            environment,
            account: account.to_owned(),
        })
    }

    /// The same account in `environment`.
    pub fn in_environment(&self, environment: Environment) -> Self {
        Self {
            environment,
            account: self.account.clone(),
        }
    }

    /// The vendor environment.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The account's fingerprint.
    pub fn account(&self) -> &str {
        &self.account
    }
}

impl fmt::Display for LedgerScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (account {}, a fingerprint of its client id)",
            self.environment.name(),
            self.account
        )
    }
}

/// Which run a file is: its content, and its name — the file's path, or
/// the name its workers share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunKey {
    /// The run's name: `named` if given, else the file's full path.
    pub name: String,
    /// Whether the name was given (`--run`) rather than taken from the path.
    pub named: bool,
    /// The file.
    pub file: FileIdentity,
}

impl RunKey {
    /// The run of `file`: named `named` (workers on several machines give
    /// the same name), or after the file's full path.
    pub fn of(file: &PayoutFile, named: Option<&str>) -> Result<Self, FileError> {
        Self::of_identity(file.path(), file.identity().clone(), named)
    }

    /// The run of the file at `path` with identity `file`.
    pub fn of_identity(
        path: &std::path::Path,
        file: FileIdentity,
        named: Option<&str>,
    ) -> Result<Self, FileError> {
        let name = match named {
            Some(name) => name.to_owned(),
            None => std::fs::canonicalize(path)
                .map_err(|source| FileError::Unreadable {
                    path: path.to_owned(),
                    source,
                })?
                .display()
                .to_string(),
        };
        Ok(Self {
            name,
            named: named.is_some(),
            file,
        })
    }
}
