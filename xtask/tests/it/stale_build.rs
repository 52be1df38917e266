//! Building the client crate (and so every member that depends on it) on a
//! spec changed since the last regen fails with one line that says what to
//! do; with `specs/` as it was generated from, it builds. (Outside the
//! workspace, with no `specs/` beside the crate, it builds too: see
//! `atomic_output.rs`.)

use serde_json::json;

use crate::support::{cargo_check, root, scratch_workspace, workspace_document, write_json};

#[test]
fn a_stale_spec_stops_the_client_crate_build_with_the_hint() {
    let dir = tempfile::tempdir().unwrap();
    scratch_workspace(dir.path(), &["generated-client"]);
    let specs = dir.path().join("specs");
    std::fs::create_dir(&specs).unwrap();
    for file in ["reward-points-api.yaml", "reward-points-api.overlay.yaml"] {
        std::fs::copy(root().join("specs").join(file), specs.join(file)).unwrap();
    }

    let fresh = cargo_check(dir.path(), &["xoxoday-reward-points"]);
    assert!(
        fresh.status.success(),
        "{}",
        String::from_utf8_lossy(&fresh.stderr)
    );

    // A new version of the document: one summary changed.
    let mut document = workspace_document("specs/reward-points-api.yaml");
    document["paths"]["/token"]["get"]["summary"] = json!("Check Token");
    write_json(&specs, "reward-points-api.yaml", &document);
    let stale = cargo_check(dir.path(), &["xoxoday-reward-points"]);

    assert!(!stale.status.success());
    let stderr = String::from_utf8_lossy(&stale.stderr);
    assert!(
        stderr.contains(
            "generated-client/src/generated.rs is stale: specs/ changed since it was generated; \
             run `cargo xtask regen`"
        ),
        "{stderr}"
    );
}
