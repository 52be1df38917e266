//! Typed setters on the points operations' builders. The client fills the
//! constant `query` and `tag` (their defaults come from the overlay), so a
//! caller gives only what the operation is about:
//!
//! - `client.send_points().payout(payout)`: the one way to say whom to
//!   credit, always in the documented `recipients_data` shape;
//! - `client.fetch_points().user(user)`, or `.variables(…)`;
//! - `client.cancel_points().transactions(cancellation)`, or `.variables(…)`.

use crate::builder::{CancelPoints, FetchPoints, SendPoints};
use crate::types::{CancelPointsBodyVariables, FetchPointsBodyVariables};
use crate::values::{Cancellation, Payout, User};

impl SendPoints<'_> {
    /// Whom to credit, how many points, from whom. A payout without
    /// recipients makes `send()` fail with `Error::InvalidInput`, sending
    /// nothing.
    pub fn payout(self, payout: Payout) -> Self {
        self.body_map(|body| body.variables(payout))
    }
}

impl FetchPoints<'_> {
    /// Whose balance: by email address or by phone number.
    pub fn user(self, user: User) -> Self {
        self.variables(FetchPointsBodyVariables::from(user))
    }

    /// Sets the body's `variables`; `query` and `tag` are filled in.
    pub fn variables<V>(self, variables: V) -> Self
    where
        V: TryInto<FetchPointsBodyVariables>,
        V::Error: std::fmt::Display,
    {
        self.body_map(|body| body.variables(variables))
    }
}

impl CancelPoints<'_> {
    /// The credits to cancel.
    pub fn transactions(self, cancellation: Cancellation) -> Self {
        self.variables(CancelPointsBodyVariables::from(cancellation))
    }

    /// Sets the body's `variables`; `query` and `tag` are filled in.
    pub fn variables<V>(self, variables: V) -> Self
    where
        V: TryInto<CancelPointsBodyVariables>,
        V::Error: std::fmt::Display,
    {
        self.body_map(|body| body.variables(variables))
    }
}
