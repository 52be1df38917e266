//! Shaping the document for progenitor: formats and patterns become plain
//! strings (`plain_strings`), a type used both ways becomes one per side
//! (`progenitor_shapes`), error bodies are named (`error_bodies`), and the
//! routes progenitor ignores are derived (`routes`).

pub mod error_bodies;
pub mod plain_strings;
pub mod progenitor_shapes;
pub mod routes;
