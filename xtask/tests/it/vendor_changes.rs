//! The day the vendor changes its document, as a user meets it: regen
//! refuses what it cannot be sure of and says what to add to the overlay;
//! after the fix, the route table sends the new operation where it goes; a
//! field the vendor removed never comes back; what regen accepts compiles;
//! and a renamed operation breaks the hand-written code at compile time.

use crate::support::{cargo_check, regen, root, scratch_workspace, workspace_document, write_json};
use serde_json::{Value, json};

/// The vendor's document with a seventh operation: redeem points, another
/// virtual path on the points servers, selected by its body's `query`.
fn with_redeem_points() -> Value {
    let mut document = workspace_document("specs/reward-points-api.yaml");
    let mut redeem = document["paths"]["/fetchPoints"].clone();
    let post = &mut redeem["post"];
    post["operationId"] = json!("redeemPoints");
    post["summary"] = json!("Redeem Points");
    let schema = &mut post["requestBody"]["content"]["application/json"]["schema"];
    schema["properties"]["query"]["enum"] = json!(["storesAdmin.mutation.redeemBalance"]);
    schema["properties"]["query"]["example"] = json!("storesAdmin.mutation.redeemBalance");
    document["paths"]["/redeemPoints"] = redeem;
    document
}

fn workspace_overlay_with(actions: Vec<Value>) -> Value {
    let mut overlay = workspace_document("specs/reward-points-api.overlay.yaml");
    overlay["actions"].as_array_mut().unwrap().extend(actions);
    overlay
}

#[test]
fn a_new_virtual_operation_is_placed_by_the_overlay_then_sent_to_the_server_url() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_json(dir.path(), "spec.json", &with_redeem_points());
    let overlay = root().join("specs/reward-points-api.overlay.yaml");

    let (ok, refusal) = regen(&spec, &overlay, Some(dir.path()));

    assert!(!ok, "{refusal}");
    assert!(
        refusal.contains(
            "error: operation `redeemPoints` (POST /redeemPoints) goes to the points servers and \
             its body selects the operation by a constant field (`query`, `tag`)"
        ),
        "{refusal}"
    );
    assert!(
        refusal.contains("- target: $.paths['/redeemPoints'].post")
            && refusal.contains("x-virtual-path: true"),
        "{refusal}"
    );
    assert!(!dir.path().join("generated-client").exists());

    // The fix the message gives.
    let fixed = workspace_overlay_with(vec![json!({
        "target": "$.paths['/redeemPoints'].post",
        "update": { "x-virtual-path": true }
    })]);
    let overlay = write_json(dir.path(), "overlay.json", &fixed);
    let (ok, report) = regen(&spec, &overlay, Some(dir.path()));
    assert!(ok, "{report}");

    let client =
        std::fs::read_to_string(dir.path().join("generated-client/src/generated.rs")).unwrap();
    let route = client
        .split("operation: Operation::RedeemPoints,")
        .nth(1)
        .and_then(|rest| rest.split("},").next())
        .expect("a route for redeem points");
    assert!(route.contains("virtual_path: true"), "{route}");
    for server in [
        "\"https://stagingstores.xoxoday.com/chef/v1/oauth/api\"",
        "\"https://accounts.xoxoday.com/chef/v1/oauth/api\"",
        "\"https://canvas.xoxoday.com/chef/v1/oauth/api\"",
    ] {
        assert!(route.contains(server), "{route}");
    }
    // The mock matches what is really sent: the server's path and the query.
    let mocks =
        std::fs::read_to_string(dir.path().join("generated-mocks/src/generated.rs")).unwrap();
    let when = mocks.split("impl RedeemPointsWhen {").nth(1).unwrap();
    let new = &when[..when.find("pub fn into_inner").unwrap()];
    assert!(new.contains("^(?:/chef/v1/oauth/api)$"), "{new}");
    assert!(new.contains("storesAdmin.mutation.redeemBalance"), "{new}");
}

#[test]
fn a_renamed_virtual_path_is_never_sent_to_a_guessed_url() {
    let dir = tempfile::tempdir().unwrap();
    let mut document = workspace_document("specs/reward-points-api.yaml");
    let paths = document["paths"].as_object_mut().unwrap();
    let fetch = paths.shift_remove("/fetchPoints").unwrap();
    paths.insert("/fetchBalance".into(), fetch);
    let spec = write_json(dir.path(), "spec.json", &document);

    let (ok, refusal) = regen(
        &spec,
        &root().join("specs/reward-points-api.overlay.yaml"),
        None,
    );
    assert!(!ok);
    assert!(
        refusal.contains("the selector '/fetchPoints' matches nothing in the document")
            && refusal.contains("fix the overlay, not the vendor's document"),
        "{refusal}"
    );

    // Fixing only what the errors pointed at: '/fetchPoints' dropped from
    // every target, the actions on it alone dropped.
    let mut overlay = workspace_document("specs/reward-points-api.overlay.yaml");
    let actions = overlay["actions"].as_array_mut().unwrap();
    actions.retain(|action| {
        !action["target"]
            .as_str()
            .unwrap()
            .starts_with("$.paths['/fetchPoints']")
    });
    for action in actions.iter_mut() {
        let target = action["target"]
            .as_str()
            .unwrap()
            .replace("'/fetchPoints',", "");
        action["target"] = json!(target);
    }
    let overlay = write_json(dir.path(), "overlay.json", &overlay);
    let (ok, refusal) = regen(&spec, &overlay, Some(dir.path()));

    assert!(!ok, "{refusal}");
    assert!(
        refusal.contains("operation `fetchPoints` (POST /fetchBalance) goes to the points servers"),
        "{refusal}"
    );
    assert!(!dir.path().join("generated-client").exists());
}

#[test]
fn a_field_the_vendor_removed_never_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut document = workspace_document("specs/reward-points-api.yaml");
    let properties = document["components"]["schemas"]["TokenResponse"]["properties"]
        .as_object_mut()
        .unwrap();
    properties.shift_remove("refresh_token_expiry");
    let spec = write_json(dir.path(), "spec.json", &document);

    let (ok, refusal) = regen(
        &spec,
        &root().join("specs/reward-points-api.overlay.yaml"),
        None,
    );
    assert!(!ok);
    assert!(
        refusal.contains("the selector 'refresh_token_expiry' matches nothing in the document"),
        "{refusal}"
    );

    // Dropping it from the remove only: the update would put it back.
    let mut overlay = workspace_document("specs/reward-points-api.overlay.yaml");
    for action in overlay["actions"].as_array_mut().unwrap() {
        let target = action["target"].as_str().unwrap();
        if target
            == "$.components.schemas.TokenResponse.properties['access_token_expiry','refresh_token_expiry']"
        {
            action["target"] =
                json!("$.components.schemas.TokenResponse.properties['access_token_expiry']");
        }
    }
    let half_fixed = write_json(dir.path(), "half.json", &overlay);
    let (ok, refusal) = regen(&spec, &half_fixed, None);
    assert!(!ok);
    assert!(
        refusal.contains(
            "this update would add the property `refresh_token_expiry` at \
             /components/schemas/TokenResponse/properties, which the vendor's document does not \
             have"
        ),
        "{refusal}"
    );

    // Fixed in both places: generated, without the field.
    for action in overlay["actions"].as_array_mut().unwrap() {
        if action["target"] == "$.components.schemas.TokenResponse.properties"
            && action["update"].get("refresh_token_expiry").is_some()
        {
            action["update"]
                .as_object_mut()
                .unwrap()
                .shift_remove("refresh_token_expiry");
        }
    }
    let fixed = write_json(dir.path(), "fixed.json", &overlay);
    let (ok, report) = regen(&spec, &fixed, Some(dir.path()));
    assert!(ok, "{report}");
    let client =
        std::fs::read_to_string(dir.path().join("generated-client/src/generated.rs")).unwrap();
    let token_response = client
        .split("pub struct TokenResponse {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .unwrap();
    assert!(
        token_response.contains("access_token_expiry"),
        "{token_response}"
    );
    assert!(
        !token_response.contains("refresh_token_expiry"),
        "{token_response}"
    );
}

/// Valid vendor-style changes at once, in JSON with surrogate-pair escapes:
/// formats and a pattern typify would need chrono, uuid and regress for, a
/// map, string and integer enums, and a new operation with a `$ref` path
/// parameter, a header and an array query parameter. regen accepts it, and
/// the client and mocks crates compile.
#[test]
fn what_regen_accepts_compiles() {
    let dir = tempfile::tempdir().unwrap();
    let document = variant_document();
    let text = serde_json::to_string_pretty(&document)
        .unwrap()
        .replace("THUMBS-UP", "\\ud83d\\udc4d");
    let spec = dir.path().join("spec.json");
    std::fs::write(&spec, text).unwrap();
    scratch_workspace(dir.path(), &["generated-client", "generated-mocks"]);

    let (ok, report) = regen(
        &spec,
        &root().join("specs/reward-points-api.overlay.yaml"),
        Some(dir.path()),
    );
    assert!(ok, "{report}");
    let client =
        std::fs::read_to_string(dir.path().join("generated-client/src/generated.rs")).unwrap();
    assert!(client.starts_with(&format!(
        "// @generated by `cargo xtask regen` from {} and",
        spec.display()
    )));
    assert!(client.contains("Reward points 👍"));

    let output = cargo_check(
        dir.path(),
        &["xoxoday-reward-points", "xoxoday-reward-points-mocks"],
    );
    assert!(
        output.status.success(),
        "the generated crates do not compile:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The vendor's document with the changes `what_regen_accepts_compiles`
/// makes.
fn variant_document() -> Value {
    let mut document = workspace_document("specs/reward-points-api.yaml");
    document["info"]["description"] = json!("Reward points THUMBS-UP");
    let transaction = &mut document["components"]["schemas"]["SendPointsTransaction"];
    let properties = transaction["properties"].as_object_mut().unwrap();
    for (name, schema) in [
        (
            "created_at",
            json!({ "type": "string", "format": "date-time" }),
        ),
        ("settled_on", json!({ "type": "string", "format": "date" })),
        ("batch_id", json!({ "type": "string", "format": "uuid" })),
        (
            "reference",
            json!({ "type": "string", "pattern": "^[A-Z]{3}-[0-9]+$" }),
        ),
        (
            "metadata",
            json!({ "type": "object", "additionalProperties": { "type": "string" } }),
        ),
        (
            "status",
            json!({ "type": "string", "enum": ["credited", "pending", "cancelled"] }),
        ),
        ("tier", json!({ "type": "integer", "enum": [1, 2, 3] })),
    ] {
        properties.insert(name.into(), schema);
    }
    document["components"]["parameters"] = json!({ "TransactionId": {
        "name": "transactionId", "in": "path", "required": true,
        "schema": { "type": "integer", "format": "int64" }
    } });
    document["paths"]["/transactions/{transactionId}"] = json!({ "get": {
        "operationId": "getTransaction",
        "parameters": [
            { "$ref": "#/components/parameters/TransactionId" },
            { "name": "X-Request-Id", "in": "header", "schema": { "type": "string", "format": "uuid" } },
            { "name": "include", "in": "query", "schema": { "type": "array",
              "items": { "type": "string", "enum": ["recipient", "sender"] } } }
        ],
        "responses": {
            "200": { "description": "ok", "content": { "application/json": { "schema": {
                "allOf": [
                    { "$ref": "#/components/schemas/SendPointsTransaction" },
                    { "type": "object", "properties": { "history": { "type": "array", "items": {
                        "type": "object", "properties": { "at": { "type": "string", "format": "date-time" } }
                    } } } }
                ]
            } } } },
            "401": { "$ref": "#/components/responses/Unauthorized" }
        },
        "servers": [{ "url": "https://accounts.xoxoday.com/chef/v1/oauth/api" }]
    } });
    document
}

/// A renamed operationId: the hand-written code that names the operation
/// stops compiling, naming it, instead of failing at run time.
#[test]
fn a_renamed_operation_breaks_the_hand_written_code_at_compile_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut document = workspace_document("specs/reward-points-api.yaml");
    document["paths"]["/fetchPoints"]["post"]["operationId"] = json!("getBalance");
    let spec = write_json(dir.path(), "spec.json", &document);
    scratch_workspace(dir.path(), &["generated-client"]);

    let (ok, report) = regen(
        &spec,
        &root().join("specs/reward-points-api.overlay.yaml"),
        Some(dir.path()),
    );
    assert!(ok, "{report}");
    let output = cargo_check(dir.path(), &["xoxoday-reward-points"]);

    assert!(!output.status.success());
    let errors = String::from_utf8_lossy(&output.stderr);
    for place in [
        "generated-client/src/values/setters.rs",
        "generated-client/src/call/points_answers.rs",
    ] {
        assert!(errors.contains(place), "no error in {place}:\n{errors}");
    }
    assert!(errors.contains("FetchPoints"), "{errors}");
}

/// The overlay makes `token_type` an enum of the one value the vendor
/// documents; the day the vendor lists a value of its own, regen stops
/// rather than let the overlay hide it from the client and the report.
#[test]
fn a_value_the_vendor_adds_to_an_enum_the_overlay_writes_is_never_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let mut document = workspace_document("specs/reward-points-api.yaml");
    document["components"]["schemas"]["TokenResponse"]["properties"]["token_type"]["enum"] =
        json!(["bearer", "mac"]);
    let spec = write_json(dir.path(), "spec.json", &document);

    let (ok, refusal) = regen(
        &spec,
        &root().join("specs/reward-points-api.overlay.yaml"),
        None,
    );

    assert!(!ok, "{refusal}");
    assert!(
        refusal.contains(
            "error: the vendor's document lists \"mac\" in this enum \
             (/components/schemas/TokenResponse/properties/token_type/enum), which this update \
             would drop"
        ),
        "{refusal}"
    );
    assert!(refusal.contains("regen stopped on 1 problem"), "{refusal}");
}
