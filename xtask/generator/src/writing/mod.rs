//! Writing Rust: progenitor (`progenitor`, its panics located by
//! `panics`), the syn rewrites of its output (`send_wrappers`,
//! `non_exhaustive`, `open_enums`, `deprecations`, `generated_docs`), the
//! route table (`routes`), the request rules (`request_rules`), the mocks
//! (`mocks`), and the API surface read back from the code (`surface`).

pub mod deprecations;
pub mod generated_docs;
pub mod mocks;
pub mod non_exhaustive;
pub mod open_enums;
pub mod panics;
pub mod progenitor;
pub mod request_rules;
pub mod routes;
pub mod send_wrappers;
pub mod surface;
