//! A vendor change reviewed as a pull request shows it: the document edited
//! as data (a field retyped, a constraint added, an operation added), regen
//! run, and then the root package's snapshot tests show pending snapshots
//! for what changed, and `cargo xtask report` names every change with its
//! line — as text, Markdown (itself a snapshot), JSON, GitHub annotations —
//! and gates a breaking change on the approving label.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::{git, root_snapshot_tests, scratch_checkout, xtask_in_checkout};

const SPEC: &str = "specs/reward-points-api.yaml";

/// The vendor's change: `token_type` of the validate answer retyped, a
/// `maxLength` on a recipient's name, an operation added.
fn vendor_change(document: &mut Value) {
    let validate = "/paths/~1token/get/responses/200/content/application~1json/schema/properties";
    document.pointer_mut(validate).unwrap()["token_type"]["type"] = json!("integer");
    let recipient =
        "/components/schemas/SendPointsRecipientsData/properties/recipients/items/properties";
    document.pointer_mut(recipient).unwrap()["to_name"]["maxLength"] = json!(100);
    let mut info = document["paths"]["/token"]["get"].clone();
    info["operationId"] = json!("getTokenInfo");
    info["summary"] = json!("Token information");
    document["paths"]["/token/info"] = json!({ "get": info });
}

/// A checkout with the change made to its document (not regenerated, not
/// committed).
fn checkout_with_the_change_written() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    scratch_checkout(dir.path());
    let text = std::fs::read_to_string(dir.path().join(SPEC)).unwrap();
    let mut document: Value = serde_yaml::from_str(&text).unwrap();
    vendor_change(&mut document);
    std::fs::write(
        dir.path().join(SPEC),
        serde_yaml::to_string(&document).unwrap(),
    )
    .unwrap();
    dir
}

/// A checkout with the change made and regenerated (not committed).
fn changed_checkout() -> tempfile::TempDir {
    let dir = checkout_with_the_change_written();
    let regen = xtask_in_checkout(dir.path(), &["regen"]);
    assert!(
        regen.status.success(),
        "{}",
        String::from_utf8_lossy(&regen.stderr)
    );
    dir
}

/// The report without what changes with every commit of this workspace:
/// the base's commit id, the versions, the lines of hand-written code.
fn stable(dir: &Path, report: &str) -> String {
    let head = git(dir, &["rev-parse", "HEAD"]);
    let mut text = report.replace(&head[..12], "<commit>");
    let json: Value = serde_json::from_str(&{
        let output = xtask_in_checkout(dir, &["report", "--base", "HEAD", "--format", "json"]);
        String::from_utf8(output.stdout).unwrap()
    })
    .unwrap();
    for (field, shown) in [
        ("/base/version", "<base version>"),
        ("/next_version", "<next version>"),
    ] {
        text = text.replace(json.pointer(field).unwrap().as_str().unwrap(), shown);
    }
    // `file.rs:123` → `file.rs:<line>`.
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(".rs:") {
        out.push_str(&rest[..at + 4]);
        rest = rest[at + 4..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push_str("<line>");
    }
    out.push_str(rest);
    out
}

fn report(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["report"];
    all.extend(args);
    let output = xtask_in_checkout(dir, &all);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_vendor_change_shows_pending_snapshots_and_the_report_names_each_change_at_its_line() {
    let dir = changed_checkout();

    let (status, markdown, stderr) =
        report(dir.path(), &["--base", "HEAD", "--format", "markdown"]);
    assert_eq!(status, 0, "{stderr}");
    insta::assert_snapshot!(
        "report_markdown_of_a_vendor_change",
        stable(dir.path(), &markdown)
    );

    let tests = root_snapshot_tests(dir.path());
    let said = String::from_utf8_lossy(&tests.stdout).into_owned()
        + &String::from_utf8_lossy(&tests.stderr);
    assert!(!tests.status.success(), "{said}");
    let mut pending: Vec<String> = std::fs::read_dir(dir.path().join("tests/it/snapshots"))
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".snap.new"))
        .collect();
    pending.sort();
    // The retyped field: its answer no longer decodes. The constraint: the
    // requests that check it. The operation: its own, saying it has no call.
    for expected in [
        "answers__validateTokenPoints__200.snap.new",
        "requests__sendPoints__sandbox.snap.new",
        "requests__sendPoints__production.snap.new",
        "requests__getTokenInfo__sandbox.snap.new",
        "answers__getTokenInfo__200.snap.new",
        "mocks__getTokenInfo.snap.new",
    ] {
        assert!(
            pending.contains(&expected.to_owned()),
            "{expected} not in {pending:#?}\n{said}"
        );
    }
    // Nothing else changed for the other operations.
    assert!(
        !pending
            .iter()
            .any(|name| name.contains("fetchPoints") || name.contains("cancelPoints")),
        "{pending:#?}"
    );
    let added = std::fs::read_to_string(
        dir.path()
            .join("tests/it/snapshots/requests__getTokenInfo__sandbox.snap.new"),
    )
    .unwrap();
    assert!(
        added.contains("GET https://stagingstores.xoxoday.com/chef/v1/oauth/token/info")
            && added.contains("no example call is written for this operation"),
        "{added}"
    );
    assert!(said.contains("no example call is written"), "{said}");
}

#[test]
fn the_report_reads_between_commits_in_every_format_and_gates_on_the_label() {
    let dir = changed_checkout();
    let json = json_report_places_each_change_at_its_line(dir.path());
    github_report_annotates_breaking_changes_only(dir.path(), &json);
    semver_checks_is_said_only_when_it_failed(dir.path(), &json);
    gate_refuses_a_breaking_change_without_the_label(dir.path());
    committed_the_report_reads_between_the_two_commits(dir.path(), &json);
    a_base_that_names_no_commit_is_refused(dir.path());
}

/// The entry of a JSON report whose `what` mentions `needle`.
fn entry_about<'a>(json: &'a Value, needle: &str) -> &'a Value {
    let entries = json["entries"].as_array().unwrap();
    entries
        .iter()
        .find(|entry| entry["what"].as_str().unwrap().contains(needle))
        .unwrap_or_else(|| panic!("no entry about {needle}: {entries:#?}"))
}

/// The JSON report of the working tree: breaking, each change with its
/// impact and the line of its node in the document as changed. Returns it.
fn json_report_places_each_change_at_its_line(dir: &Path) -> Value {
    let (status, json, stderr) = report(dir, &["--base", "HEAD", "--format", "json"]);
    assert_eq!(status, 0, "{stderr}");
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["schema"], "xoxoday-client-report/2");
    assert_eq!(json["breaking"], true);
    assert_eq!(json["head"]["name"], "the working tree");
    let retyped = entry_about(&json, "ValidateTokenPointsResponse.token_type");
    assert_eq!(retyped["impact"], "breaking");
    assert_eq!(retyped["place"]["file"], SPEC);
    let constraint = entry_about(&json, "maxLength");
    assert_eq!(constraint["impact"], "breaking-at-run-time");
    let added = entry_about(&json, "operation `get_token_info` added");
    assert_eq!(added["impact"], "addition");
    // Each place is the line of its node in the document as changed.
    let text = std::fs::read_to_string(dir.join(SPEC)).unwrap();
    let line = |entry: &Value| {
        let number = entry["place"]["line"].as_u64().unwrap() as usize;
        text.lines().nth(number - 1).unwrap().trim().to_owned()
    };
    assert_eq!(line(retyped), "token_type:");
    assert_eq!(line(constraint), "to_name:");
    assert_eq!(line(added), "get:");
    json
}

/// GitHub annotations: an error at the retyped field's line, none for the
/// added operation.
fn github_report_annotates_breaking_changes_only(dir: &Path, json: &Value) {
    let (_, github, _) = report(dir, &["--base", "HEAD", "--format", "github"]);
    let retyped = entry_about(json, "ValidateTokenPointsResponse.token_type");
    let retyped_line = retyped["place"]["line"].as_u64().unwrap();
    assert!(
        github
            .lines()
            .any(|annotation| annotation.starts_with(&format!(
                "::error file={SPEC},line={retyped_line},title=Breaking for callers::field \
             `ValidateTokenPointsResponse.token_type`"
            ))),
        "{github}"
    );
    assert!(
        !github.contains("get_token_info"),
        "additions are not annotated: {github}"
    );
}

/// cargo-semver-checks' outcome: silent when it passed, said when it
/// failed (the version regen chose is too small for what it found).
fn semver_checks_is_said_only_when_it_failed(dir: &Path, json: &Value) {
    let with_outcome = |outcome: &str| {
        let args = [
            "--base",
            "HEAD",
            "--format",
            "github",
            "--semver-checks",
            outcome,
        ];
        report(dir, &args).1
    };
    let agreed = with_outcome("success");
    assert!(!agreed.contains("semver-checks"), "{agreed}");
    let disagreed = with_outcome("failure");
    assert_eq!(
        disagreed,
        "::error title=cargo-semver-checks disagrees::cargo-semver-checks failed: it finds \
         version 0.7.0 too small for the change (the report calls it breaking too: check the \
         version regen set), or it could not run (read its step's output)\n"
            .replace("0.7.0", json["head"]["version"].as_str().unwrap()),
        "the verdict alone, not the report again"
    );
}

/// The gate: breaking, so refused without the label, passed with it.
fn gate_refuses_a_breaking_change_without_the_label(dir: &Path) {
    let (status, _, stderr) = report(dir, &["--base", "HEAD", "--gate", "--labels", "docs"]);
    assert_eq!(status, 1);
    assert!(
        stderr.contains("adds the label `breaking-change-approved`"),
        "{stderr}"
    );
    let (status, _, _) = report(
        dir,
        &[
            "--base",
            "HEAD",
            "--gate",
            "--labels",
            "docs,breaking-change-approved",
        ],
    );
    assert_eq!(status, 0);
}

/// Committed, the same report (`json`, of the working tree) reads between
/// the two commits.
fn committed_the_report_reads_between_the_two_commits(dir: &Path, json: &Value) {
    git(dir, &["add", "--all"]);
    git(dir, &["commit", "--quiet", "-m", "the vendor's change"]);
    let (status, between, stderr) = report(
        dir,
        &["--base", "HEAD~1", "--head", "HEAD", "--format", "json"],
    );
    assert_eq!(status, 0, "{stderr}");
    let between: Value = serde_json::from_str(&between).unwrap();
    assert_eq!(between["entries"], json["entries"]);
    assert_eq!(between["next_version"], json["next_version"]);
}

/// A `--base` that names no commit: refused, saying so.
fn a_base_that_names_no_commit_is_refused(dir: &Path) {
    let (status, _, stderr) = report(dir, &["--base", "no-such-branch"]);
    assert_eq!(status, 2);
    assert!(
        stderr.contains("`no-such-branch` names no commit"),
        "{stderr}"
    );
}

/// A pull request that changed the document and did not run regen would
/// report no change: the report refuses it, saying what to do.
#[test]
fn a_head_whose_document_changed_without_regen_is_refused() {
    let dir = checkout_with_the_change_written();

    let (status, out, stderr) = report(dir.path(), &["--base", "HEAD"]);

    assert_eq!(status, 2, "{out}");
    assert_eq!(
        stderr,
        "error: the working tree: generated-client/src/generated.rs was not generated from its \
         specs/ (the document changed and regen was not run): run `cargo xtask regen` and \
         commit what it writes, then report again\n"
    );
}
