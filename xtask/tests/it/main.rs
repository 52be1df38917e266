//! The generator's integration tests, linked as one binary: regen on the
//! vendor's document changed as vendors change it, on the corpora of bad and
//! public-style documents beside this file, its change report, its
//! determinism and atomic output, and the checkout it runs on.

mod atomic_output;
mod bad_specs;
mod change_report;
mod determinism;
mod function_length;
mod public_style_specs;
mod review;
mod shared_target;
mod stale_build;
mod support;
mod vendor_changes;
