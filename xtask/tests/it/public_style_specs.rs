//! Documents in the shapes public OpenAPI documents take
//! (`xtask/tests/public_style_specs/`, see its README): regen's outcome on each,
//! accepted or refused with its diagnostics, is a snapshot beside them.
//! Either way: no panic, exit status 0 or 1, and the workspace untouched.

use crate::support::{root, xtask};

#[test]
fn each_public_style_document_has_its_expected_outcome() {
    let corpus = root().join("xtask/tests/public_style_specs");
    let mut names: Vec<String> = std::fs::read_dir(&corpus)
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| {
            (name.ends_with(".yaml") || name.ends_with(".json")) && !name.contains(".overlay.")
        })
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{names:?}");

    let client = std::fs::read(root().join("generated-client/src/generated.rs")).unwrap();
    for name in names {
        let stem = name.rsplit_once('.').unwrap().0;
        let own_overlay = format!("xtask/tests/public_style_specs/{stem}.overlay.yaml");
        let overlay = if root().join(&own_overlay).exists() {
            own_overlay
        } else {
            "xtask/tests/bad_specs/minimal.overlay.yaml".to_owned()
        };
        let document = format!("xtask/tests/public_style_specs/{name}");
        let output = xtask(&["regen", "--spec", &document, "--overlay", &overlay]);

        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked at"), "{name}: {stderr}");
        let outcome = match output.status.code() {
            Some(0) => format!("accepted\n{stdout}"),
            Some(1) => format!("refused\n{stderr}"),
            other => panic!("{name}: exit status {other:?}\n{stderr}"),
        };
        insta::with_settings!({
            snapshot_path => corpus.join("snapshots"),
            prepend_module_to_snapshot => false,
            description => format!("cargo xtask regen --spec {document} --overlay {overlay}"),
            omit_expression => true,
        }, {
            insta::assert_snapshot!(stem, outcome);
        });
    }
    assert!(
        client == std::fs::read(root().join("generated-client/src/generated.rs")).unwrap(),
        "checking a document never writes the workspace's client"
    );
}
