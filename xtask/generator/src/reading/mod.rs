//! Reading the document: is it OpenAPI 3.0 and can the client express it
//! (`validate`), and the overlay, applied strictly (`overlay`).

pub mod overlay;
pub mod validate;
