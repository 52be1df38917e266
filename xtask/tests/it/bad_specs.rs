//! Every document in `xtask/tests/bad_specs/` ends in diagnostics like a
//! compiler's (each problem with its source line, what is wrong and the fix,
//! then one closing line), exit status 1, no panic, within a few seconds, and
//! leaves `generated-client/` byte for byte as it was. Each error text is a
//! snapshot beside the corpus.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs regen as a user would, stopping it if it takes longer than a hang
/// would (a guard, not a performance check).
fn regen(cwd: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("regen")
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_BACKTRACE")
        .env_remove("XTASK_FAIL_POINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("regen {args:?} did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn snapshot_of_generated_client() -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![
        root().join("generated-client"),
        root().join("generated-mocks"),
    ];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn check_failure(name: &str, output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{name}: exit status\n{stderr}"
    );
    assert!(stdout.is_empty(), "{name}: nothing on stdout, got {stdout}");
    assert!(
        !stderr.contains("panicked at"),
        "{name}: panicked\n{stderr}"
    );
    assert!(stderr.starts_with("error: "), "{name}: {stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: regen stopped on ") && last.ends_with("; nothing was written"),
        "{name}: {stderr}"
    );
    stderr.into_owned()
}

#[test]
fn every_bad_document_gets_every_problem_shown_and_changes_nothing() {
    let root = root();
    let corpus = root.join("xtask/tests/bad_specs");
    let mut names: Vec<String> = std::fs::read_dir(&corpus)
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    names.sort();
    assert!(
        names.len() >= 25,
        "the corpus has {} documents",
        names.len()
    );

    let before = snapshot_of_generated_client();
    for name in &names {
        let document = format!("xtask/tests/bad_specs/{name}");
        let args: Vec<&str> = if name.ends_with(".overlay.yaml") {
            vec!["--overlay", &document, "--out", "."]
        } else {
            let overlay = "xtask/tests/bad_specs/minimal.overlay.yaml";
            vec![
                "--spec",
                &document,
                "--overlay",
                overlay,
                "--out",
                "generated-client",
            ]
        };
        let output = regen(&root, &args);
        let error = check_failure(name, &output);
        assert!(
            before == snapshot_of_generated_client(),
            "{name} changed generated-client/"
        );

        let snapshot = name
            .rsplit_once('.')
            .map_or(name.as_str(), |(stem, _)| stem);
        insta::with_settings!({
            snapshot_path => corpus.join("snapshots"),
            prepend_module_to_snapshot => false,
            description => format!("cargo xtask regen {}", args.join(" ")),
            omit_expression => true,
        }, {
            insta::assert_snapshot!(snapshot, error);
        });
    }
}

#[test]
fn the_corpus_control_document_generates() {
    let output = regen(
        &root(),
        &[
            "--spec",
            "xtask/tests/bad_specs/valid.yaml",
            "--overlay",
            "xtask/tests/bad_specs/minimal.overlay.yaml",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "regen: xtask/tests/bad_specs/valid.yaml is valid and generates 4 file(s); nothing written \
         (give --out DIR to write them)\n"
    );
}

/// Tens of megabytes: refused at once, without reading it all.
#[test]
fn a_huge_file_is_refused_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.yaml");
    let line = "description: padding padding padding padding padding padding padding\n";
    std::fs::write(&huge, line.repeat(40 * 1024 * 1024 / line.len())).unwrap();
    let before = snapshot_of_generated_client();
    let out = root();

    let output = regen(
        dir.path(),
        &["--spec", "huge.yaml", "--out", out.to_str().unwrap()],
    );

    let error = check_failure("huge.yaml", &output);
    assert_eq!(
        error,
        "error: the file is larger than 8 MiB, the most regen reads\n--> huge.yaml\n = help: an \
         OpenAPI document this large is almost certainly not the vendor's\n\nerror: regen \
         stopped on 1 problem; nothing was written\n"
    );
    assert!(before == snapshot_of_generated_client());
}

#[test]
fn an_empty_file_and_a_toml_file_say_what_they_are() {
    let output = regen(&root(), &["--spec", "/dev/null"]);
    assert!(
        check_failure("/dev/null", &output).starts_with("error: the file is empty\n"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = regen(&root(), &["--spec", "Cargo.toml"]);
    let error = check_failure("Cargo.toml", &output);
    assert!(
        error.starts_with(
            "error: not read: the file holds several YAML documents (or is not YAML)\n"
        ),
        "{error}"
    );
}

#[test]
fn usage_errors_name_the_argument_with_status_2() {
    for (args, named) in [
        (&["--spcc", "x"][..], "unexpected argument '--spcc'"),
        (&["--spec"][..], "a value is required for '--spec <PATH>'"),
    ] {
        let output = regen(&root(), args);
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr
                .lines()
                .next()
                .unwrap_or_default()
                .starts_with("error: ")
                && stderr.contains(named),
            "{stderr}"
        );
    }
}
