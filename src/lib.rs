//! The workspace's root package has no code of its own. It carries the
//! staleness check in `build.rs`: a build fails when `specs/` changed since
//! the last `cargo xtask regen`. The client crate users depend on is
//! `generated-client/`, with its tests, example and benchmark.
