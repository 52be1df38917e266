//! The change reporter and release: what regen recorded of the client on two
//! sides (`api-surface.txt`, `api-contract.json`, read with
//! `reward_points_document`) in; every change with its `Impact` (`report/`),
//! the changelog entry and the next version (`release`), and the review of a
//! pull request between two commits (`review/`) out. Never depends on the
//! generator: only on the records it writes.

pub(crate) use reward_points_document::{
    contract, diagnostic, hand_written, input_digest, naming, output, read_input,
    rules as request_rules, source_map, surface,
};

pub mod release;
pub mod report;
pub mod review;
