//! What the workspace's tests share, and nothing users depend on (a
//! dev-dependency of the client, payouts and CLI crates): the deterministic
//! simulation harness of the token and payout protocols ([`simulation`]),
//! and the PostgreSQL server the tests use ([`postgres`]).

pub mod postgres;
pub mod simulation;
