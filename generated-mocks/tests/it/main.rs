//! The mocks crate's integration tests, linked as one binary: the typed
//! mocks, the stand-in and its server.

mod stand_in;
mod stand_in_server;
mod typed_mocks;
