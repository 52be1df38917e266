//! Documents in the shapes public OpenAPI documents take
//! (`xtask/tests/public_style_specs/`, see its README): regen's outcome on each,
//! accepted or refused with its diagnostics, is a snapshot beside them.
//! Either way: no panic, exit status 0 or 1, and the workspace untouched.

use crate::support::{root, xtask};

/// Runs regen with `args` and keeps its outcome as the snapshot `name`.
fn outcome_snapshot(name: &str, args: &[&str]) {
    let output = xtask(args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked at"), "{name}: {stderr}");
    let outcome = match output.status.code() {
        Some(0) => format!("accepted\n{stdout}"),
        Some(1) => format!("refused\n{stderr}"),
        other => panic!("{name}: exit status {other:?}\n{stderr}"),
    };
    insta::with_settings!({
        snapshot_path => root().join("xtask/tests/public_style_specs/snapshots"),
        prepend_module_to_snapshot => false,
        description => format!("cargo xtask {}", args.join(" ")),
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, outcome);
    });
}

/// The OpenAPI Initiative's example documents (`openapi-examples/`, copied
/// unchanged): each with `--no-overlay`, accepted or refused with the
/// feature it uses that regen does not support; and once with the vendor's
/// overlay, which does not fit them, said in one line before the document's
/// own problems.
#[test]
fn the_openapi_examples_have_their_expected_outcomes() {
    let corpus = "xtask/tests/public_style_specs/openapi-examples";
    let mut names: Vec<String> = std::fs::read_dir(root().join(corpus))
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    for name in &names {
        let document = format!("{corpus}/{name}");
        let stem = name.trim_end_matches(".yaml");
        outcome_snapshot(
            &format!("openapi-examples__{stem}"),
            &["regen", "--spec", &document, "--no-overlay"],
        );
    }
    // The accepted ones compile: the client crate generated from each, with
    // the runtime around it (what is written for the vendor's operations
    // compiled out, as its header asks).
    let dir = tempfile::tempdir().unwrap();
    crate::support::scratch_workspace(dir.path(), &["generated-client"]);
    for name in ["petstore.yaml", "petstore-expanded.yaml"] {
        let document = format!("{corpus}/{name}");
        let output = xtask(&[
            "regen",
            "--spec",
            &document,
            "--no-overlay",
            "--out",
            dir.path().to_str().unwrap(),
        ]);
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let checked = crate::support::cargo_check(dir.path(), &["xoxoday-reward-points"]);
        let stderr = String::from_utf8_lossy(&checked.stderr);
        assert!(
            checked.status.success(),
            "{name} does not compile:\n{stderr}"
        );
        assert!(!stderr.contains("warning"), "{name}:\n{stderr}");
    }
    outcome_snapshot(
        "openapi-examples__callback-example-with-the-vendors-overlay",
        &[
            "regen",
            "--spec",
            &format!("{corpus}/callback-example.yaml"),
        ],
    );
}

/// A document with one server that names no environment (the petstore
/// example), and one with a server per operation and none global: one
/// environment, `Default`, and each operation sent to its own server.
#[test]
fn one_server_or_one_per_operation_gives_one_environment() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::scratch_workspace(dir.path(), &["generated-client", "generated-mocks"]);
    for (document, expected) in [
        (
            "xtask/tests/public_style_specs/openapi-examples/petstore.yaml",
            vec!["in Default: GET http://petstore.swagger.io/v1/pets"],
        ),
        (
            "xtask/tests/public_style_specs/servers-per-operation.yaml",
            vec![
                "in Default: GET https://accounts.example.com/v2/accounts/{id}",
                "in Default: GET https://search.example.com/search",
            ],
        ),
    ] {
        let output = xtask(&[
            "regen",
            "--spec",
            document,
            "--no-overlay",
            "--out",
            dir.path().to_str().unwrap(),
        ]);
        assert!(
            output.status.success(),
            "{document}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let surface =
            std::fs::read_to_string(dir.path().join("generated-client/api-surface.txt")).unwrap();
        let environments: Vec<&str> = surface
            .lines()
            .filter(|line| line.starts_with("environment "))
            .collect();
        assert_eq!(environments.len(), 1, "{document}: {surface}");
        assert!(
            environments[0].starts_with("environment Default"),
            "{surface}"
        );
        for route in expected {
            assert!(
                surface
                    .lines()
                    .any(|line| line.starts_with("route ") && line.contains(route)),
                "{document}: no route `{route}` in\n{surface}"
            );
        }
    }
}

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
        outcome_snapshot(stem, &["regen", "--spec", &document, "--overlay", &overlay]);
    }
    assert!(
        client == std::fs::read(root().join("generated-client/src/generated.rs")).unwrap(),
        "checking a document never writes the workspace's client"
    );
}
