//! The vendor's document and what regen records of it: what the generator
//! (`reward-points-generator`) and the reporter (`reward-points-reporter`)
//! both read, and nothing else. Reading a document (`read_input`: size cap,
//! UTF-8, YAML or JSON; `source_map`: where each node is), the one error
//! type (`diagnostic`), names (`naming`), the records regen writes and the
//! reporter reads back (`surface`: `api-surface.txt`; `contract`:
//! `api-contract.json`; `rules`: the request rules' names), the route model
//! (`routes`), the hand-written code's uses of generated items
//! (`hand_written`), and writing files atomically (`output`).

pub mod contract;
pub mod diagnostic;
pub mod hand_written;
#[path = "../../../generated-client/input_digest.rs"]
pub mod input_digest;
pub mod naming;
pub mod operations;
pub mod output;
pub mod read_input;
pub mod routes;
pub mod rules;
pub mod source_map;
pub mod surface;
