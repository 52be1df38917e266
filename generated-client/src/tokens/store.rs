//! Where the token manager keeps the tokens, shared by every process (and
//! machine) that uses the same integration.
//!
//! The vendor rotates the refresh token on every refresh and invalidates the
//! old one at once, so refreshing is a coordinated step against the store:
//! take the store's lock ([`TokenStore::lock`]), read what it holds now, use
//! that if another process already refreshed, otherwise refresh, save the
//! rotated tokens and release the lock ([`TokenLease::save`]). One refresh per
//! token lifetime, whatever the number of processes.
//!
//! Stores: with the `file-store` feature, `FileTokenStore` (processes on one
//! machine, an OS file lock); [`crate::MemoryTokenStore`] (one process,
//! tests); and, with the `postgres` feature, `PostgresTokenStore` (replicas
//! on several machines, through a database they already run).

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::{EpochMillis, Secret};

/// The tokens a client needs to keep working: the access token, the refresh
/// token and their expiries (epoch milliseconds), and what the token manager
/// records about them for the other processes sharing the store. `Debug`
/// redacts the tokens. Made with [`StoredTokens::new`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StoredTokens {
    /// The bearer token calls are sent with.
    pub access_token: Secret,
    /// `None` when the vendor did not say: the token is then used until the
    /// vendor answers 401.
    #[serde(default)]
    pub access_token_expiry: Option<EpochMillis>,
    /// The one refresh token that works: each refresh rotates it.
    pub refresh_token: Secret,
    /// `None` when the vendor did not say; the refresh is then attempted.
    #[serde(default)]
    pub refresh_token_expiry: Option<EpochMillis>,
    /// When a refresh made these tokens, by the clock of the process that
    /// made it; `None` for tokens from the dashboard. A token is never due
    /// for refresh before half its lifetime from here has passed, so a
    /// lifetime shorter than the refresh margin, or a clock ahead of the
    /// vendor's, cannot make every call refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshed_at: Option<EpochMillis>,
    /// The vendor refused `refresh_token`: recorded by the processes it was
    /// refused to, one refusal per set of credentials (a replica with a
    /// wrong client secret keeps its own record, and never erases another's),
    /// so that the others sharing the store do not each try the dead token
    /// again. Saving new tokens clears them. (Read from a single refusal, as
    /// stores written by 0.5 hold it, too.)
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub refresh_rejected: Vec<RefreshRejection>,
}

/// A list, or one item as stores written before the list hold it.
fn one_or_many<'de, D>(deserializer: D) -> Result<Vec<RefreshRejection>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(RefreshRejection),
        Many(Vec<RefreshRejection>),
        Nothing(()),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
        OneOrMany::Nothing(()) => Vec::new(),
    })
}

impl StoredTokens {
    /// Tokens as the dashboard (or a refresh) gives them, with their
    /// expiries when known.
    pub fn new(
        access_token: Secret,
        access_token_expiry: Option<EpochMillis>,
        refresh_token: Secret,
        refresh_token_expiry: Option<EpochMillis>,
    ) -> Self {
        Self {
            access_token,
            access_token_expiry,
            refresh_token,
            refresh_token_expiry,
            refreshed_at: None,
            refresh_rejected: Vec::new(),
        }
    }

    /// The refusal that concerns the credentials whose fingerprint is
    /// `credentials`: their own, or one recorded without a fingerprint
    /// (by a version that did not record it).
    pub fn refusal_for(&self, credentials: &str) -> Option<&RefreshRejection> {
        let own =
            |rejection: &&RefreshRejection| rejection.credentials.as_deref() == Some(credentials);
        self.refresh_rejected.iter().find(own).or_else(|| {
            self.refresh_rejected
                .iter()
                .find(|r| r.credentials.is_none())
        })
    }

    /// These tokens with `rejection` recorded, replacing the one recorded
    /// with the same credentials (the others stay).
    pub fn with_refusal(mut self, rejection: RefreshRejection) -> Self {
        self.refresh_rejected
            .retain(|recorded| recorded.credentials != rejection.credentials);
        self.refresh_rejected.push(rejection);
        self
    }
}

/// The vendor's refusal of a refresh token, as the store records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RefreshRejection {
    /// When the vendor refused it (the refused process's clock).
    pub at: EpochMillis,
    /// The HTTP status of the refusal.
    pub status: u16,
    /// How often in a row it was refused: the next try waits longer each
    /// time (15 minutes, 30, then an hour).
    #[serde(default = "one")]
    pub count: u32,
    /// A fingerprint of the credentials it was refused with (not the
    /// credentials): a refusal by a process with other credentials (a
    /// replica with a wrong client secret) says nothing of the token.
    #[serde(default)]
    pub credentials: Option<String>,
}

fn one() -> u32 {
    1
}

impl RefreshRejection {
    /// A refusal at `at` with `status`, the `count`th in a row, by the
    /// credentials whose fingerprint is `credentials`.
    pub fn new(at: EpochMillis, status: u16, count: u32, credentials: Option<String>) -> Self {
        Self {
            at,
            status,
            count,
            credentials,
        }
    }
}

/// Why the store could not be read, locked or written. Its text names the
/// store and the cause, never a token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("token store {location}: {message}")]
pub struct StoreError {
    /// The store, as `TokenStore::location` names it.
    pub location: String,
    /// What failed.
    pub message: String,
}

/// What the store methods return: a boxed future, so that `TokenStore` can be
/// used as `Arc<dyn TokenStore>`.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Keeps the tokens across restarts and shares them between processes.
///
/// An implementation must make [`TokenStore::lock`] exclusive across every
/// process that shares the store, release it when its holder dies (an OS
/// file lock, a database session), and make [`TokenLease::save`] durable
/// before it returns: the manager uses a rotated token only after that.
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// What the store holds now, read without the lock.
    fn load(&self) -> StoreFuture<'_, Option<StoredTokens>>;

    /// Waits for the store's lock (within the store's own time limit) and
    /// returns it with what the store holds, read under the lock.
    fn lock(&self) -> StoreFuture<'_, Box<dyn TokenLease>>;

    /// Where the store is, for messages: a path, a table. Never a secret.
    fn location(&self) -> String;

    /// Saves `tokens` under the lock: seeding a store with the tokens made
    /// in the Xoxoday dashboard, or replacing them by hand.
    fn save(&self, tokens: StoredTokens) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.lock().await?.save(tokens).await })
    }
}

/// The store's lock, held: only one holder at a time, in every process that
/// shares the store. Dropping it releases the lock too.
pub trait TokenLease: Send {
    /// What the store held when the lock was taken.
    fn tokens(&self) -> Option<&StoredTokens>;

    /// Reads the store again, still under the lock: for a writer that does
    /// not take the lock (an older program, a person editing the store).
    fn reload(&mut self) -> StoreFuture<'_, Option<StoredTokens>>;

    /// Makes sure a save under this lease can be written, before anything
    /// is asked of the vendor: what a save needs that can fail for lack of
    /// permission or room is done now (a file store makes its temporary
    /// file beside the token file; PostgreSQL writes the row within the
    /// lease's transaction). The token manager refreshes only after it
    /// succeeds, since the vendor kills the old refresh token as it answers.
    /// A store with nothing to prepare keeps this default.
    fn prepare(&mut self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    /// Saves `tokens` durably, then releases the lock.
    fn save(self: Box<Self>, tokens: StoredTokens) -> StoreFuture<'static, ()>;

    /// Releases the lock without changing the store.
    fn release(self: Box<Self>) -> StoreFuture<'static, ()>;
}
