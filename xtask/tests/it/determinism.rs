//! The same inputs give byte-identical output, whatever the working directory
//! and however often regen runs; a run with nothing to change writes nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn regen(cwd: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("regen")
        .args(args)
        .current_dir(cwd)
        .env_remove("XTASK_FAIL_POINT")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn output_is_identical_across_working_directories_and_runs() {
    let root = root();
    let spec = root.join("specs/reward-points-api.yaml");
    let overlay = root.join("specs/reward-points-api.overlay.yaml");
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let args = |out: &Path| {
        [
            spec.to_str().unwrap(),
            overlay.to_str().unwrap(),
            out.to_str().unwrap(),
        ]
        .map(str::to_owned)
    };

    let [s, o, out] = args(first.path());
    regen(&root, &["--spec", &s, "--overlay", &o, "--out", &out]);
    let [s, o, out] = args(second.path());
    regen(
        elsewhere.path(),
        &["--spec", &s, "--overlay", &o, "--out", &out],
    );

    let generated = |dir: &Path| {
        ["generated-client", "generated-mocks"]
            .map(|krate| std::fs::read(dir.join(krate).join("src/generated.rs")).unwrap())
    };
    assert!(generated(first.path()) == generated(second.path()));
    assert!(
        generated(first.path()) == generated(&root),
        "the checked-in client is what these inputs generate"
    );

    // Again into the same place: nothing is written, the file is untouched.
    let path = first.path().join("generated-client/src/generated.rs");
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    let [s, o, out] = args(first.path());
    let report = regen(
        &root.join("xtask"),
        &["--spec", &s, "--overlay", &o, "--out", &out],
    );
    assert!(
        report.starts_with("regen: 0 file(s) written, 4 unchanged"),
        "{report}"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        modified
    );
}
