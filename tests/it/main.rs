//! The workspace's snapshot tests of the generated code, one small snapshot
//! per thing a reviewer checks after a vendor change (`cargo insta review`):
//!
//! - `requests__{operation}__{environment}`: what the client sends for the
//!   document's example of each operation in each environment — method, the
//!   vendor's URL, headers (no secret), body — and the rules it checks first;
//! - `answers__{operation}__{status}[__{example}]`: how it reads each answer
//!   the document shows — the decoded value, or the typed error;
//! - `mocks__{operation}`: which requests the generated httpmock helper
//!   matches, and what the client reads from it.
//!
//! Everything is read from the document as data (`document.rs`); the calls
//! are the generated methods, one `match` arm per `Operation`
//! (`calls.rs`). An operation the vendor adds shows up as new snapshots
//! saying it has no call yet, and the tests fail until one is written.
//! Every snapshot of a test is checked before the test fails, so that one
//! run shows every pending one.

mod answers;
mod calls;
mod document;
mod mocks;
mod requests;
mod snapshots;
mod stand_ins;
