//! Many snapshots in one test, each checked whatever came before: insta
//! stops a test at its first mismatch, and a reviewer wants every pending
//! snapshot of a vendor change from one run.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// The snapshots a test checked, and which did not match.
#[derive(Default)]
pub struct Snapshots {
    mismatched: Vec<String>,
    /// Other reasons the test fails, said after the snapshots.
    problems: Vec<String>,
}

impl Snapshots {
    /// Checks `content` against the snapshot `name`.
    pub fn check(&mut self, name: &str, content: &str) {
        let checked = catch_unwind(AssertUnwindSafe(|| {
            // Named by `name` alone: tests/it/snapshots/{name}.snap.
            insta::with_settings!({ prepend_module_to_snapshot => false }, {
                insta::assert_snapshot!(name, content);
            });
        }));
        if checked.is_err() {
            self.mismatched.push(name.to_owned());
        }
    }

    /// A reason the test fails once every snapshot is checked.
    pub fn problem(&mut self, problem: String) {
        self.problems.push(problem);
    }

    /// Fails the test if any snapshot did not match, naming them.
    pub fn finish(self) {
        let mut failures = self.problems;
        if !self.mismatched.is_empty() {
            failures.push(format!(
                "{} snapshot(s) changed: {} (review with `cargo insta review`)",
                self.mismatched.len(),
                self.mismatched.join(", ")
            ));
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
