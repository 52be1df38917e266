//! The route model (`reward_points_document::routes`), read from the
//! document (`shaping/routes.rs`) and written as the generated `mod routes`
//! (`writing/routes.rs`).

pub use crate::document::routes::*;
pub use crate::shaping::routes::{Files, environments, routes};
pub use crate::writing::routes::routes_source;
