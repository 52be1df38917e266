//! The change report and the version that follows it, against fixture
//! pairs: the workspace's document as it is, and changed the way vendors
//! change documents. Each change is one entry, marked breaking or compatible
//! with its reason, and a few lines of the API surface's diff; a document
//! that changed without changing the client says so; and the verdicts agree
//! with what a caller crate compiled before and after makes of them.

use std::path::Path;

use crate::support::{cargo_check, regen, root, scratch_workspace, workspace_document, write_json};
use serde_json::{Value, json};

/// The base of every pair: a copy of the client crate (with its
/// api-surface.txt and version) and the lock file.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    scratch_workspace(dir.path(), &["generated-client"]);
    dir
}

struct Outcome {
    /// What regen printed.
    report: String,
    /// The CHANGELOG entry's change lines.
    entries: Vec<String>,
    /// Lines of the API surface that were removed or added.
    surface_diff: Vec<String>,
    version: String,
}

/// Regenerates the scratch crate from `document`, with the workspace's
/// overlay.
fn change(dir: &Path, document: &Value, overlay: Option<&Value>) -> Outcome {
    let before = std::fs::read_to_string(dir.join("generated-client/api-surface.txt")).unwrap();
    let changelog_before =
        std::fs::read_to_string(dir.join("generated-client/CHANGELOG.md")).unwrap_or_default();
    let spec = write_json(dir, "spec.json", document);
    let overlay = match overlay {
        Some(overlay) => write_json(dir, "overlay.json", overlay),
        None => root().join("specs/reward-points-api.overlay.yaml"),
    };
    let (ok, report) = regen(&spec, &overlay, Some(dir));
    assert!(ok, "{report}");
    let after = std::fs::read_to_string(dir.join("generated-client/api-surface.txt")).unwrap();
    let changelog =
        std::fs::read_to_string(dir.join("generated-client/CHANGELOG.md")).unwrap_or_default();
    // The entry this regen added, if any: the changelog's first section
    // when the changelog grew.
    let added = (changelog != changelog_before).then_some(changelog.as_str());
    let entries = added
        .and_then(|changelog| changelog.split("\n## ").nth(1))
        .map(|entry| {
            entry
                .lines()
                .filter(|line| line.starts_with("- "))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let surface_diff = similar::TextDiff::from_lines(&before, &after)
        .iter_all_changes()
        .filter(|change| change.tag() != similar::ChangeTag::Equal)
        .map(|change| format!("{}{}", change.tag(), change.value().trim_end()))
        .collect();
    let manifest = std::fs::read_to_string(dir.join("generated-client/Cargo.toml")).unwrap();
    let version = manifest
        .lines()
        .find_map(|line| line.strip_prefix("version = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    Outcome {
        report,
        entries,
        surface_diff,
        version,
    }
}

fn base() -> Value {
    workspace_document("specs/reward-points-api.yaml")
}

fn current_version() -> String {
    let manifest = std::fs::read_to_string(root().join("generated-client/Cargo.toml")).unwrap();
    manifest
        .lines()
        .find_map(|line| line.strip_prefix("version = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned()
}

/// `0.y.z` → the next compatible and the next breaking version.
fn next_versions() -> (String, String) {
    let current = current_version();
    let parts: Vec<u64> = current
        .split('.')
        .map(|part| part.parse().unwrap())
        .collect();
    assert_eq!(parts[0], 0, "these expectations are for a 0.y.z crate");
    (
        format!("0.{}.{}", parts[1], parts[2] + 1),
        format!("0.{}.0", parts[1] + 1),
    )
}

fn one_entry(outcome: &Outcome, expected: &str) {
    assert_eq!(outcome.entries, [expected], "{}", outcome.report);
    assert!(outcome.report.contains(expected), "{}", outcome.report);
}

#[test]
fn an_optional_response_field_is_compatible() {
    let dir = scratch();
    let mut document = base();
    document["components"]["schemas"]["SendPointsTransaction"]["properties"]["currency"] =
        json!({ "type": "string" });

    let outcome = change(dir.path(), &document, None);

    one_entry(
        &outcome,
        "- compatible — field `SendPointsTransaction.currency` added (Option<String> \
         (optional)): a new field of an answer; the type is non-exhaustive, so callers' code is \
         unchanged",
    );
    assert_eq!(
        outcome.surface_diff,
        ["+field SendPointsTransaction.currency: Option<String> (optional)"]
    );
    assert_eq!(outcome.version, next_versions().0);
}

#[test]
fn a_retyped_request_field_is_breaking() {
    let dir = scratch();
    let mut document = base();
    document["components"]["schemas"]["SendPointsRecipientsData"]["properties"]["recipients"]["items"]
        ["properties"]["amount"] = json!({ "type": "number" });

    let outcome = change(dir.path(), &document, None);

    one_entry(
        &outcome,
        "- **breaking** — field `SendPointsRecipientsDataRecipientsItem.amount`: `String \
         (required)` → `f64 (required)`: retyped: callers using it as the old type no longer \
         compile",
    );
    assert_eq!(outcome.surface_diff.len(), 2, "{:?}", outcome.surface_diff);
    assert_eq!(outcome.version, next_versions().1);
    assert!(
        outcome.report.contains(&format!(
            "version {} → {}",
            current_version(),
            next_versions().1
        )),
        "{}",
        outcome.report
    );
}

#[test]
fn an_added_operation_is_compatible() {
    let dir = scratch();
    let mut document = base();
    document["paths"]["/token/history"] = json!({ "get": {
        "operationId": "tokenHistory",
        "responses": {
            "200": { "description": "ok", "content": { "application/json": { "schema": {
                "type": "object", "properties": { "issued": { "type": "integer" } }
            } } } },
            "401": { "$ref": "#/components/responses/Unauthorized" }
        },
        "servers": [{ "url": "https://accounts.xoxoday.com/chef/v1/oauth" }]
    } });

    let outcome = change(dir.path(), &document, None);

    one_entry(
        &outcome,
        "- compatible — operation `token_history` added (GET, no body, answers \
         TokenHistoryResponse, sends a bearer token; its types `TokenHistory…`): a new method \
         `client.token_history()`; nothing else changes",
    );
    assert!(
        outcome.surface_diff.len() <= 6,
        "{:?}",
        outcome.surface_diff
    );
    assert_eq!(outcome.version, next_versions().0);
}

#[test]
fn an_added_environment_is_compatible() {
    let dir = scratch();
    let mut document = base();
    document["servers"].as_array_mut().unwrap().push(json!({
        "url": "https://eu.xoxoday.com/chef/v1/oauth/api", "description": "Europe"
    }));
    for path in ["/token", "/token/company", "/token/create/user"] {
        let item = document["paths"][path].as_object_mut().unwrap();
        let operation = item.values_mut().next().unwrap();
        operation["servers"].as_array_mut().unwrap().push(json!({
            "url": "https://eu.xoxoday.com/chef/v1/oauth", "description": "Europe"
        }));
    }

    let outcome = change(dir.path(), &document, None);

    one_entry(
        &outcome,
        "- compatible — environment `Europe` added (https://eu.xoxoday.com/chef/v1/oauth/api): \
         a new `Environment` variant; the enum is non-exhaustive, so callers' `match`es still \
         compile",
    );
    // The environment and its route for each of the six operations.
    assert_eq!(outcome.surface_diff.len(), 7, "{:?}", outcome.surface_diff);
    assert_eq!(outcome.version, next_versions().0);
}

#[test]
fn a_removed_field_is_breaking() {
    let dir = scratch();
    let mut document = base();
    document["components"]["schemas"]["SendPointsRecipientsData"]["properties"]["recipients"]
        ["items"]["properties"]
        .as_object_mut()
        .unwrap()
        .shift_remove("citation");

    let outcome = change(dir.path(), &document, None);

    one_entry(
        &outcome,
        "- **breaking** — field `SendPointsRecipientsDataRecipientsItem.citation` removed: \
         callers using `SendPointsRecipientsDataRecipientsItem.citation` no longer compile",
    );
    assert_eq!(outcome.surface_diff.len(), 1, "{:?}", outcome.surface_diff);
    assert_eq!(outcome.version, next_versions().1);
}

#[test]
fn a_renamed_operation_is_breaking() {
    let dir = scratch();
    let mut document = base();
    document["paths"]["/fetchPoints"]["post"]["operationId"] = json!("getBalance");

    let outcome = change(dir.path(), &document, None);

    one_entry(
        &outcome,
        "- **breaking** — operation `fetch_points` renamed `get_balance` (and its types \
         `FetchPoints…` → `GetBalance…`): callers of `client.fetch_points()` and of those types \
         no longer compile",
    );
    assert_eq!(outcome.version, next_versions().1);
}

#[test]
fn an_api_surface_edited_by_hand_stops_regen_before_any_guess() {
    let dir = scratch();
    let surface_file = dir.path().join("generated-client/api-surface.txt");
    let mut surface = std::fs::read_to_string(&surface_file).unwrap();
    surface.push_str("field Pet.name String\n");
    std::fs::write(&surface_file, &surface).unwrap();
    let manifest_before =
        std::fs::read_to_string(dir.path().join("generated-client/Cargo.toml")).unwrap();
    let mut document = base();
    document["components"]["schemas"]["SendPointsTransaction"]["properties"]["currency"] =
        json!({ "type": "string" });
    let spec = write_json(dir.path(), "spec.json", &document);
    let overlay = root().join("specs/reward-points-api.overlay.yaml");

    let (ok, report) = regen(&spec, &overlay, Some(dir.path()));

    assert!(!ok, "{report}");
    let line = surface.lines().count();
    assert!(
        report.contains(&format!(
            "line {line}: `field Pet.name String` is not an API surface line"
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!("git checkout -- {}", surface_file.display())),
        "{report}"
    );
    assert_eq!(std::fs::read_to_string(&surface_file).unwrap(), surface);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("generated-client/Cargo.toml")).unwrap(),
        manifest_before
    );
}

#[test]
fn a_reformatted_document_in_json_changes_nothing_for_the_client() {
    let dir = scratch();
    let outcome = change(dir.path(), &base(), None);

    assert!(
        outcome.report.contains(
            "the document changed, the client did not: no change to the client, nothing to \
             report, the version stays"
        ),
        "{}",
        outcome.report
    );
    assert!(outcome.entries.is_empty());
    assert!(outcome.surface_diff.is_empty());
    assert_eq!(outcome.version, current_version());
}

/// A caller crate compiled against the client before and after: a change
/// the report calls compatible leaves it compiling, one it calls breaking
/// does not.
#[test]
fn the_verdicts_agree_with_a_caller_crate() {
    let dir = scratch();
    let caller = dir.path().join("caller");
    std::fs::create_dir_all(caller.join("src")).unwrap();
    std::fs::write(
        caller.join("Cargo.toml"),
        "[package]\nname = \"caller\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [dependencies]\nxoxoday-reward-points = { path = \"../generated-client\" }\n",
    )
    .unwrap();
    std::fs::write(
        caller.join("src/lib.rs"),
        r#"//! What a service does with the client's types.
use xoxoday_reward_points::Environment;
use xoxoday_reward_points::types::{SendPointsRecipientsDataRecipientsItem, SendPointsTransaction};

pub fn credited(transaction: &SendPointsTransaction) -> (i64, Option<f64>) {
    (transaction.unique_id, transaction.points)
}

pub fn recipient() -> SendPointsRecipientsDataRecipientsItem {
    SendPointsRecipientsDataRecipientsItem::builder()
        .to_name("John Doe")
        .to_email("john.doe@example.com")
        .amount("100".to_owned())
        .try_into()
        .unwrap()
}

pub fn live(environment: Environment) -> bool {
    match environment {
        Environment::Production => true,
        _ => false,
    }
}
"#,
    )
    .unwrap();
    let manifest = std::fs::read_to_string(dir.path().join("Cargo.toml")).unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        manifest.replace(
            "members = [\"generated-client\"]",
            "members = [\"generated-client\", \"caller\"]",
        ),
    )
    .unwrap();
    let compiles = || cargo_check(dir.path(), &["caller"]);
    let before = compiles();
    assert!(
        before.status.success(),
        "{}",
        String::from_utf8_lossy(&before.stderr)
    );

    // Compatible: a new optional field of an answer.
    let mut document = base();
    document["components"]["schemas"]["SendPointsTransaction"]["properties"]["currency"] =
        json!({ "type": "string" });
    let outcome = change(dir.path(), &document, None);
    assert!(outcome.entries[0].starts_with("- compatible"));
    let after = compiles();
    assert!(
        after.status.success(),
        "a compatible change broke the caller:\n{}",
        String::from_utf8_lossy(&after.stderr)
    );

    // Breaking: a retyped request field.
    document["components"]["schemas"]["SendPointsRecipientsData"]["properties"]["recipients"]["items"]
        ["properties"]["amount"] = json!({ "type": "number" });
    let outcome = change(dir.path(), &document, None);
    assert!(outcome.entries[0].starts_with("- **breaking**"));
    let broken = compiles();
    assert!(
        !broken.status.success(),
        "a breaking change did not break the caller"
    );
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("amount"),
        "{}",
        String::from_utf8_lossy(&broken.stderr)
    );
}
