//! The change report and the version that follows it, against fixture
//! pairs: the workspace's document as it is, and changed the way vendors
//! change documents. Each change is one entry, marked breaking or compatible
//! with its reason, and a few lines of the API surface's diff; a document
//! that changed without changing the client says so; and the verdicts agree
//! with what a caller crate compiled before and after makes of them.

use std::path::Path;

use crate::support::{
    cargo_check, cargo_run, regen, root, scratch_workspace, workspace_document, write_json,
};
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

/// An entry about the crate's own hand-written code: the file, then what it
/// uses and how that changed.
fn to_fix(entry: &str, file: &str, uses: &str) {
    let start = format!("- **to fix in this crate** — hand-written `{file}");
    assert!(entry.starts_with(&start), "{entry}");
    let rest = &entry[start.len()..];
    let line_end = rest.find('`').unwrap();
    assert!(rest[..line_end].parse::<usize>().is_ok(), "{entry}");
    assert_eq!(
        &rest[line_end + 2..],
        format!(
            "{uses}: this crate's own code, not its callers': change it with this regen (`cargo \
             build` fails there until then)"
        )
    );
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
        "- addition — field `SendPointsTransaction.currency` added (Option<String> \
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

    assert_eq!(outcome.entries.len(), 3, "{}", outcome.report);
    assert_eq!(
        outcome.entries[0],
        "- **breaking** — field `SendPointsRecipientsDataRecipientsItem.amount`: `String \
         (required)` → `f64 (required)`: retyped: callers using it as the old type no longer \
         compile"
    );
    // The crate's own typed values build that type: named with the file
    // and line, before anyone runs `cargo build`.
    to_fix(
        &outcome.entries[1],
        "generated-client/src/values/typed.rs:",
        "uses `SendPointsRecipientsDataRecipientsItem`: field `amount` retyped: `String \
         (required)` → `f64 (required)`",
    );
    // The document's rules the typed value checks now check a number.
    assert!(
        outcome.entries[2].contains(
            "uses `request_rules::SEND_POINTS_RECIPIENTS_DATA__RECIPIENTS__AMOUNT`: the value it \
             checks is now of type \"number\""
        ),
        "{}",
        outcome.report
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
        "- addition — operation `token_history` added (GET, no body, answers \
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

    assert_eq!(
        outcome.entries[1],
        "- addition — environment `Europe` added (https://eu.xoxoday.com/chef/v1/oauth/api): \
         a new `Environment` variant; the enum is non-exhaustive, so callers' `match`es still \
         compile",
    );
    // For callers; but the crate's own `Environment::is_live` matches every
    // environment, and says so before the build does.
    to_fix(
        &outcome.entries[0],
        "generated-client/src/routing/environment.rs:",
        "names `Environment::Production`: environment `Europe` added (an exhaustive `match` on \
         `Environment` stops compiling)",
    );
    assert_eq!(outcome.entries.len(), 2, "{}", outcome.report);
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

    assert_eq!(
        outcome.entries[0],
        "- **breaking** — field `SendPointsRecipientsDataRecipientsItem.citation` removed: \
         callers using `SendPointsRecipientsDataRecipientsItem.citation` no longer compile",
    );
    assert_eq!(outcome.entries.len(), 2, "{}", outcome.report);
    to_fix(
        &outcome.entries[1],
        "generated-client/src/values/typed.rs:",
        "uses `SendPointsRecipientsDataRecipientsItem`: field `citation` removed",
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

    assert_eq!(
        outcome.entries[0],
        "- **breaking** — operation `fetch_points` renamed `get_balance` (and its types \
         `FetchPoints…` → `GetBalance…`): callers of `client.fetch_points()` and of those types \
         no longer compile",
    );
    // The hand-written code that reads the old names, each with its place.
    let gone = "the type is gone (removed or renamed)";
    to_fix(
        &outcome.entries[1],
        "generated-client/src/values/setters.rs:",
        &format!("uses `FetchPointsBodyVariables`: {gone}"),
    );
    to_fix(
        &outcome.entries[3],
        "generated-client/src/call/points_answers.rs:",
        &format!("uses `FetchPointsResponse`: {gone}"),
    );
    // And the document's rules the typed values checked there.
    assert!(
        outcome.entries[5].contains(
            "uses `request_rules::FETCH_POINTS__VARIABLES__USER_DATA__EMAIL`: it is gone"
        ),
        "{}",
        outcome.report
    );
    assert_eq!(outcome.entries.len(), 7, "{}", outcome.report);
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
    caller_crate(
        dir.path(),
        "src/lib.rs",
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
    );
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
    assert!(outcome.entries[0].starts_with("- addition"));
    let after = compiles();
    assert!(
        after.status.success(),
        "a compatible change broke the caller:\n{}",
        String::from_utf8_lossy(&after.stderr)
    );

    // Compatible for callers, the document's kinds: an operation and a
    // field deprecated, a request constraint loosened, an answer's enum,
    // then a value added to it. The caller compiles after each (the
    // deprecations warn).
    let transaction = "/components/schemas/SendPointsTransaction/properties";
    document["paths"]["/fetchPoints"]["post"]["deprecated"] = json!(true);
    document.pointer_mut(transaction).unwrap()["points"]["deprecated"] = json!(true);
    document.pointer_mut(transaction).unwrap()["status"] =
        json!({ "type": "string", "enum": ["credited"] });
    document["components"]["schemas"]["SendPointsRecipientsData"]["properties"]["recipients"]
        ["items"]["properties"]["to_email"]
        .as_object_mut()
        .unwrap()
        .remove("format");
    for step in ["deprecated, loosened, an enum", "a value added to the enum"] {
        if step == "a value added to the enum" {
            document.pointer_mut(transaction).unwrap()["status"]["enum"] =
                json!(["credited", "reversed"]);
        }
        let outcome = change(dir.path(), &document, None);
        let callers_break = |entry: &&String| {
            entry.starts_with("- **breaking**") || entry.starts_with("- **breaking at run time**")
        };
        assert!(
            !outcome.entries.iter().any(|entry| callers_break(&entry)),
            "{step}: {}",
            outcome.report
        );
        let after = compiles();
        assert!(
            after.status.success(),
            "{step}: a compatible change broke the caller:\n{}",
            String::from_utf8_lossy(&after.stderr)
        );
    }

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

/// The place of the recipient's `amount` in the vendor's document.
const AMOUNT: &str =
    "/components/schemas/SendPointsRecipientsData/properties/recipients/items/properties/amount";

fn amount(document: &mut Value) -> &mut Value {
    &mut document["components"]["schemas"]["SendPointsRecipientsData"]["properties"]["recipients"]["items"]
        ["properties"]["amount"]
}

/// The vendor adds a `pattern` to a recipient's `amount`: the types do not
/// change, the vendor refuses amounts of a million points or more from that
/// day. The report says so (breaking at run time, and that the crate's
/// typed value checks it), and after regen `Recipient::new` refuses such an
/// amount before anything is sent.
#[test]
fn a_request_constraint_added_breaks_at_run_time_and_the_typed_value_enforces_it() {
    let dir = scratch();
    let mut document = base();
    amount(&mut document)["pattern"] = json!("^[1-9][0-9]{0,5}$");

    let outcome = change(dir.path(), &document, None);

    assert_eq!(outcome.entries.len(), 1, "{}", outcome.report);
    let entry = &outcome.entries[0];
    assert!(
        entry.starts_with(&format!(
            "- **breaking at run time** — `amount` (in requests, {AMOUNT}): `pattern` none → \
             `^[1-9][0-9]{{0,5}}$`: the vendor may now refuse requests it took; a service \
             sending such values gets errors it did not get before; this crate's typed values \
             check it before sending, from this version on \
             (`request_rules::SEND_POINTS_RECIPIENTS_DATA__RECIPIENTS__AMOUNT`, used at \
             generated-client/src/values/typed.rs:"
        )),
        "{entry}"
    );
    assert!(
        outcome.report.contains(entry.as_str()),
        "{}",
        outcome.report
    );
    assert_eq!(outcome.version, next_versions().1);

    // The typed value, built and run against the regenerated crate.
    caller_crate(
        dir.path(),
        "src/main.rs",
        r#"use xoxoday_reward_points::Recipient;
fn main() {
    for points in [999_999, 1_000_000] {
        match Recipient::new("John Doe", "john.doe@example.com", points) {
            Ok(recipient) => println!("{} accepted", recipient.points()),
            Err(refused) => println!("{refused}"),
        }
    }
}
"#,
    );
    let output = cargo_run(dir.path(), "caller");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "999999 accepted\namount: `1000000` does not match the pattern `^[1-9][0-9]{{0,5}}$` \
             (the vendor's document, at {AMOUNT})\n"
        )
    );
}

/// A crate `caller` in the scratch workspace, depending on the client,
/// with `source` as its `file` (`src/lib.rs` or `src/main.rs`).
fn caller_crate(workspace: &Path, file: &str, source: &str) {
    let caller = workspace.join("caller");
    std::fs::create_dir_all(caller.join("src")).unwrap();
    std::fs::write(
        caller.join("Cargo.toml"),
        "[package]\nname = \"caller\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [dependencies]\nxoxoday-reward-points = { path = \"../generated-client\" }\n",
    )
    .unwrap();
    std::fs::write(caller.join(file), source).unwrap();
    let manifest = std::fs::read_to_string(workspace.join("Cargo.toml")).unwrap();
    std::fs::write(
        workspace.join("Cargo.toml"),
        manifest.replace(
            "members = [\"generated-client\"]",
            "members = [\"generated-client\", \"caller\"]",
        ),
    )
    .unwrap();
}

/// A constraint the vendor drops (`format: email` on the recipient's
/// address): compatible, the vendor accepts more.
#[test]
fn a_request_constraint_loosened_is_compatible() {
    let dir = scratch();
    let mut document = base();
    let to_email = &mut document["components"]["schemas"]["SendPointsRecipientsData"]["properties"]
        ["recipients"]["items"]["properties"]["to_email"];
    to_email.as_object_mut().unwrap().remove("format");

    let outcome = change(dir.path(), &document, None);

    one_entry(
        &outcome,
        "- compatible — `to_email` (in requests, /components/schemas/SendPointsRecipientsData/\
         properties/recipients/items/properties/to_email): `format` `email` → none: the vendor \
         accepts more than before; requests that worked still work",
    );
    assert_eq!(outcome.version, next_versions().0);
}

/// An operation and a field the vendor deprecates: each is reported, and
/// the method and the field carry `#[deprecated]`.
#[test]
fn deprecations_are_reported_and_marked_in_the_code() {
    let dir = scratch();
    let mut document = base();
    document["paths"]["/fetchPoints"]["post"]["deprecated"] = json!(true);
    document["components"]["schemas"]["SendPointsTransaction"]["properties"]["points"]["deprecated"] =
        json!(true);

    let outcome = change(dir.path(), &document, None);

    let why = "compatible: it still works; the vendor may remove it later, and the generated \
               method or field carries `#[deprecated]`, so callers' builds warn where they use it";
    assert_eq!(
        outcome.entries[1..],
        [
            format!(
                "- compatible — `points` (in answers, /components/schemas/SendPointsTransaction/\
                 properties/points): deprecated: {why}"
            ),
            format!(
                "- compatible — `fetchPoints` (operation, /paths/~1fetchPoints/post): deprecated: {why}"
            ),
        ],
        "{}",
        outcome.report
    );
    // The crate's own code that names them warns, which fails CI's clippy:
    // named first, as something to fix with the regen (the client's code
    // names a `points`; only the CLI, not in this scratch copy, calls
    // `fetch_points`).
    let entry = &outcome.entries[0];
    assert!(
        entry.starts_with("- **to fix in this crate** — hand-written `generated-client/src/")
            && entry.contains("` names `points`, which the vendor now deprecates"),
        "{entry}"
    );
    let client =
        std::fs::read_to_string(dir.path().join("generated-client/src/generated.rs")).unwrap();
    // The attribute is among the method's own attributes: after the
    // method before it, before its `pub fn`.
    let method = client.find("pub fn fetch_points(&self)").unwrap();
    let before = &client[..method];
    let attribute = before
        .rfind("#[deprecated(note = \"the vendor's document marks this operation deprecated\")]")
        .expect("fetch_points carries #[deprecated]");
    assert!(attribute > before.rfind("pub fn").unwrap_or(0));
    assert!(client.contains(
        "#[deprecated(note = \"the vendor's document marks this field deprecated\")]\n        pub points:"
    ));
}

/// A value added to an answer's string enum: compatible for callers'
/// `match`es and for deployed clients, which read it as `Unknown`.
#[test]
fn an_answer_enum_value_added_is_compatible_for_deployed_services() {
    let dir = scratch();
    let mut document = base();
    let status = |values: Value| json!({ "type": "string", "enum": values });
    document["components"]["schemas"]["SendPointsTransaction"]["properties"]["status"] =
        status(json!(["credited", "pending"]));
    change(dir.path(), &document, None);
    document["components"]["schemas"]["SendPointsTransaction"]["properties"]["status"] =
        status(json!(["credited", "pending", "reversed"]));

    let outcome = change(dir.path(), &document, None);

    assert_eq!(
        outcome.entries,
        [
            "- addition — variant `SendPointsTransactionStatus::Reversed` added (): the enum \
             is non-exhaustive: callers' `match`es still compile",
            "- compatible — `status` (in answers, /components/schemas/SendPointsTransaction/\
             properties/status): `enum` value `reversed` added: compatible for deployed \
             services: clients built before it read the new value as the enum's `Unknown` \
             variant, which keeps the text; a caller's `match` reaches its `_` arm",
        ],
        "{}",
        outcome.report
    );
    let client =
        std::fs::read_to_string(dir.path().join("generated-client/src/generated.rs")).unwrap();
    assert!(client.contains("#[serde(untagged)]\n        Unknown(::std::string::String),"));
}

/// `success` written as an integer enum `[0, 1]` (a valid way to write
/// what the vendor sends): regen accepts it and the crate, hand-written
/// answer readers included, compiles.
#[test]
fn success_as_an_integer_enum_compiles() {
    let dir = scratch();
    let mut document = base();
    document["paths"]["/fetchPoints"]["post"]["responses"]["200"]["content"]["application/json"]
        ["schema"]["properties"]["data"]["properties"]["user_balance"]["properties"]["success"] =
        json!({ "type": "integer", "enum": [0, 1] });

    let outcome = change(dir.path(), &document, None);

    // The field stays an `i64` (the enum becomes its documentation), so
    // nothing changes for callers or for the crate's own answer readers.
    assert_eq!(
        outcome.entries,
        [
            "- compatible — generated code changed (documentation, or the generator), the API did \
          not: callers' code is unchanged"
        ],
        "{}",
        outcome.report
    );
    let output = cargo_check(dir.path(), &["xoxoday-reward-points"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
