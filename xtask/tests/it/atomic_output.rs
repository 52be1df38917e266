//! An interrupted regen leaves the client crate wholly old or wholly new, and
//! it compiles either way. The fault-injection point `XTASK_FAIL_POINT=
//! before-rename` aborts the process after the new files are staged and
//! before any of them replaces its target, as a crash or a kill would.

use std::path::Path;
use std::process::Output;

use serde_json::json;

use crate::support::{cargo_check, root, scratch_workspace, workspace_document, write_json};

fn regen(args: &[&str], fail_point: Option<&str>) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .arg("regen")
        .args(args)
        .current_dir(root())
        .env_remove("XTASK_FAIL_POINT");
    if let Some(point) = fail_point {
        command.env("XTASK_FAIL_POINT", point);
    }
    command.output().unwrap()
}

fn compiles(workspace: &Path) {
    let output = cargo_check(workspace, &["xoxoday-reward-points"]);
    assert!(
        output.status.success(),
        "the crate does not compile:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn an_interrupted_regen_leaves_the_client_wholly_old_or_wholly_new() {
    let dir = tempfile::tempdir().unwrap();
    scratch_workspace(dir.path(), &["generated-client"]);
    let client = dir.path().join("generated-client");
    let generated = client.join("src/generated.rs");
    let old = std::fs::read_to_string(&generated).unwrap();

    // A new version of the document: one operation's description changed.
    let mut document = workspace_document("specs/reward-points-api.yaml");
    let description = &mut document["paths"]["/token"]["get"]["description"];
    // Its first sentence, as the generated docs quote it.
    let marker = description
        .as_str()
        .unwrap()
        .split(". ")
        .next()
        .unwrap()
        .to_owned();
    assert!(old.contains(&marker), "{marker}");
    *description = json!("Check whether the access token is active.");
    let new_spec = write_json(dir.path(), "new-spec.yaml", &document);
    let args = [
        "--spec",
        new_spec.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ];

    // Interrupted after staging, before the rename: wholly old.
    let interrupted = regen(&args, Some("before-rename"));
    let stderr = String::from_utf8_lossy(&interrupted.stderr);
    assert!(
        stderr.contains("XTASK_FAIL_POINT=before-rename: stopping"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&generated).unwrap(), old);
    let leftovers: Vec<_> = std::fs::read_dir(client.join("src"))
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert_eq!(leftovers.len(), 1, "the staged file is left behind");
    compiles(dir.path());

    // Run again: wholly new, and the leftover is gone.
    let finished = regen(&args, None);
    assert!(
        finished.status.success(),
        "{}",
        String::from_utf8_lossy(&finished.stderr)
    );
    let new = std::fs::read_to_string(&generated).unwrap();
    assert!(new.contains("Check whether the access token is active.") && !new.contains(&marker));
    let names: Vec<String> = std::fs::read_dir(client.join("src"))
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|name| !name.ends_with(".tmp")),
        "{names:?}"
    );
    compiles(dir.path());
}
