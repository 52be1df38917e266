//! Users of the client must not compile the generator: the client crate's
//! normal dependency tree holds progenitor-client, never progenitor,
//! progenitor-impl, typify, openapiv3, prettyplease, nor the `syn` the
//! generator uses.
//!
//! Proc-macro edges are left out (`no-proc-macro`): `serde_derive` and the
//! URL stack's derives need a `syn` of their own at compile time, as every
//! serde user does; that is not the generator.

use std::process::Command;

#[test]
fn client_tree_holds_no_generator_crates() {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--package",
            "xoxoday-reward-points",
            "--edges",
            "normal,no-proc-macro",
            "--prefix",
            "none",
            "--locked",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).unwrap();
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();

    assert!(crates.contains(&"progenitor-client"), "{tree}");
    for forbidden in [
        "progenitor",
        "progenitor-impl",
        "typify",
        "typify-impl",
        "openapiv3",
        "syn",
        "prettyplease",
    ] {
        assert!(
            !crates.contains(&forbidden),
            "{forbidden} is in the client's tree:\n{tree}"
        );
    }
}
