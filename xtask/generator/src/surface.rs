//! The API surface (`reward_points_document::surface`), read from the
//! generated code (`writing/surface.rs`).

pub use crate::document::surface::*;
pub use crate::writing::surface::{surface, type_text};
