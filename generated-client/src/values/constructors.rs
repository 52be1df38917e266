//! Constructors for the request values callers build. Generated types are
//! `#[non_exhaustive]` (a new optional field must not break callers), so
//! they are built here or with their builders, never as struct literals; a
//! new required field changes a constructor's signature, which callers see
//! at compile time.

use crate::Secret;
use crate::types::{CreateUserTokenBody, RefreshTokenBody, RefreshTokenBodyGrantType};

impl RefreshTokenBody {
    /// The body of `POST /token/company`: exchange `refresh_token` for new
    /// tokens. (A client with a token store refreshes on its own.)
    pub fn new(refresh_token: Secret, client_id: impl Into<String>, client_secret: Secret) -> Self {
        Self {
            grant_type: RefreshTokenBodyGrantType::RefreshToken,
            refresh_token,
            client_id: client_id.into(),
            client_secret,
        }
    }
}

impl CreateUserTokenBody {
    /// The body of `POST /token/create/user`: a session token for the user
    /// with this email address.
    pub fn user_session(user_email: impl Into<String>) -> Self {
        Self {
            scope: "user_session".to_owned(),
            user_input: user_email.into(),
        }
    }
}
