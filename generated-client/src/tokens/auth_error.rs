//! Why no usable access token could be had, split the way a caller must act
//! on it: [`AuthError::NeedsPerson`] (the tokens are gone for good: a person
//! makes new ones in the Xoxoday dashboard) or [`AuthError::Transient`] (the
//! client tries again on a later call, with backoff). No text here ever holds
//! a token.

use std::time::Duration;

use crate::EpochMillis;
use crate::tokens::store::StoreError;

/// No usable access token. `match` on the two kinds, never on the text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The client cannot recover on its own: new tokens must be made in the
    /// Xoxoday dashboard and put in the token store.
    #[error(transparent)]
    NeedsPerson(#[from] NeedsPerson),
    /// Passing: a later call tries again (refreshes back off meanwhile).
    #[error(transparent)]
    Transient(#[from] TransientAuth),
}

impl AuthError {
    /// Whether a person must act before calls can succeed again.
    pub fn needs_person(&self) -> bool {
        matches!(self, AuthError::NeedsPerson(_))
    }
}

/// Tokens that only a person can replace.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NeedsPerson {
    /// The refresh token has expired; the vendor cannot renew it.
    #[error(
        "the refresh token expired at {expired_at} (epoch ms) and cannot be renewed: make a new \
         one in the Xoxoday dashboard and put it in the token store"
    )]
    RefreshTokenExpired {
        /// When it expired.
        expired_at: EpochMillis,
    },
    /// The vendor refused the refresh token the store still holds (it expired
    /// or was revoked): no other process had rotated it.
    #[error(
        "the vendor refused the refresh token that the token store holds (HTTP {status}{}): it \
         expired or was revoked; make a new one in the Xoxoday dashboard and put it in the token \
         store",
        message.as_deref().map(|m| format!(", {m:?}")).unwrap_or_default()
    )]
    RefreshRejected {
        /// The HTTP status of the refusal.
        status: u16,
        /// The vendor's text, scrubbed of anything that was sent.
        message: Option<String>,
    },
    /// The token store cannot be written (its directory, a role's rights, a
    /// read-only server): no refresh is asked of the vendor, which would
    /// kill the old refresh token as it answers, while the new one could
    /// not be kept. Calls go on with the access token while it is valid.
    #[error(
        "{error}: the tokens are not refreshed until the store can be written (the vendor \
         kills the old refresh token as it answers, and the new one would be lost); calls go on \
         with the access token while it is valid: give this process the right to write the \
         store"
    )]
    StoreNotWritable {
        /// What failed, naming the store.
        error: StoreError,
    },
    /// The store has never been given tokens.
    #[error(
        "the token store {location} holds no tokens: seed it with the tokens made in the Xoxoday \
         dashboard (`reward-points --token-store … seed-token-store`, or `TokenStore::save`)"
    )]
    EmptyStore {
        /// The store, as `TokenStore::location` names it.
        location: String,
    },
}

/// Failures that pass: the vendor or the store is unavailable for now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransientAuth {
    /// The refresh request failed (429, 5xx, a network error, a timeout, an
    /// answer that could not be read). The refresh token was not refused.
    #[error("could not refresh the access token ({reason}); a later call tries again")]
    RefreshUnavailable {
        /// What failed, without a token.
        reason: String,
    },
    /// The access token has expired and a refresh failed recently: no new
    /// refresh is tried before the delay has passed.
    #[error(
        "the access token has expired and refreshing failed recently; the next refresh is tried \
         in {} s",
        retry_in.as_secs_f64().ceil()
    )]
    BackingOff {
        /// How long until the next refresh is tried.
        retry_in: Duration,
    },
    /// The token store could not be read, locked or written.
    #[error("{0}; a later call tries again")]
    Store(StoreError),
    /// The vendor rotated the refresh token (killing the old one) and the
    /// store would not take the new one, though it was tried again: this
    /// process holds it, unused, and saves it at its next step. Should the
    /// process end first, the refresh token is lost.
    #[error(
        "the vendor rotated the refresh token and the token store would not take the new one \
         ({error}): this process holds it and saves it at its next call; if the process ends \
         first, it is lost and a new one must be made in the Xoxoday dashboard"
    )]
    RotationUnsaved {
        /// The store's last failure.
        error: StoreError,
    },
    /// The refresh answer lacked a field; the new refresh token it carried
    /// was saved, and a later call refreshes again.
    #[error(
        "the refresh answer had no {missing}; its new refresh token was saved and a later call \
         refreshes again"
    )]
    IncompleteRefresh {
        /// The field, such as `access_token`.
        missing: &'static str,
    },
}
