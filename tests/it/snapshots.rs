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

/// The name of every snapshot the tests write for the document as it is.
fn expected() -> Vec<String> {
    use xoxoday_reward_points::{Environment, Operation};

    use crate::document::answers;

    let mut names = Vec::new();
    for operation in Operation::ALL {
        let id = operation.id();
        for environment in Environment::ALL {
            names.push(format!("requests__{id}__{}", environment.slug()));
        }
        for (status, example, _) in answers(operation) {
            if status.parse::<u16>().is_ok() {
                let named = if example.is_empty() {
                    String::new()
                } else {
                    format!("__{example}")
                };
                names.push(format!("answers__{id}__{status}{named}"));
            }
        }
        names.push(format!("mocks__{id}"));
    }
    names
}

/// A snapshot of something the document no longer has (an operation or an
/// answer the vendor removed) would pass unseen: it fails here instead.
#[test]
fn every_snapshot_is_of_something_the_document_has() {
    let expected = expected();
    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots");
    let mut stale: Vec<String> = std::fs::read_dir(&directory)
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let name = name.strip_suffix(".snap")?.to_owned();
            (!expected.contains(&name)).then_some(name)
        })
        .collect();
    stale.sort();
    assert!(
        stale.is_empty(),
        "snapshots of what the document no longer has (delete them with this change): {stale:?}"
    );
}
