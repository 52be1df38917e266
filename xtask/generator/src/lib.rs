//! The generator: the vendor's document in (`reading/`: checked, the
//! overlay applied), shaped for progenitor (`shaping/`: plain strings, one
//! type per side, error bodies, the routes progenitor ignores), then Rust out
//! (`writing/`: progenitor, the rewrites of its output, the routes, the
//! request rules, the mocks, the docs, and the API surface read back from the
//! code). `pipeline::generate` runs the stages; the records it writes
//! (`api-surface.txt`, `api-contract.json`) are `reward_points_document`'s,
//! which the reporter reads. Never depends on the reporter.

pub use reward_points_document as document;
pub(crate) use reward_points_document::{
    contract, diagnostic, input_digest, naming, output, read_input, source_map,
};

pub mod hand_written;
pub mod pipeline;
mod reading;
pub mod routes;
mod shaping;
pub mod surface;
mod writing;

pub(crate) use reading::{overlay, validate};
pub(crate) use shaping::{error_bodies, plain_strings, progenitor_shapes};
pub(crate) use writing::progenitor as generator;
pub(crate) use writing::{
    deprecations, generated_docs, mocks, non_exhaustive, open_enums, panics, request_rules,
    send_wrappers,
};
