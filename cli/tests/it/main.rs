//! The CLI's integration tests, linked as one binary: each subcommand run as a
//! user runs it, payout runs with their journals, the README's walkthrough,
//! and replicas as separate processes.

mod commands;
mod ledger_of_record;
mod payouts;
mod proxies;
mod readme_walkthrough;
mod replicas;
mod support;
mod token_store;
