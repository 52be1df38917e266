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

/// Scratch workspaces share one target directory: each check compiles its
/// own copy of the client, even a copy made before another test's build
/// (which cargo, comparing file times, would otherwise take as built).
#[test]
fn two_scratch_workspaces_each_check_their_own_client() {
    let broken = tempfile::tempdir().unwrap();
    scratch_workspace(broken.path(), &["generated-client"]);
    let lib = broken.path().join("generated-client/src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(
        &lib,
        format!("{source}\ncompile_error!(\"this copy does not build\");\n"),
    )
    .unwrap();
    let sound = tempfile::tempdir().unwrap();
    scratch_workspace(sound.path(), &["generated-client"]);

    let built = cargo_check(sound.path(), &["xoxoday-reward-points"]);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let refused = cargo_check(broken.path(), &["xoxoday-reward-points"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("this copy does not build"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
