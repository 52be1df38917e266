//! Documents made into the shapes progenitor can generate, without changing
//! what callers can do, or refused where that is not possible.
//!
//! **One request media type.** progenitor sends one; a request body that
//! offers several, `application/json` among them, is sent as JSON (the
//! document says each is accepted). One without JSON is refused by
//! validation, which names it.
//!
//! **One response type per side.**
//!
//! progenitor gives each operation one success type and one error type, and
//! panics when an operation's success responses (2xx and `default`) or its
//! error responses (4xx, 5xx and `default`) have more than one, counting a
//! response without a body as a type of its own. Real documents do this all
//! the time: petstore answers `200` with `Pets` and `default` with `Error`;
//! an API answers `400` with `Error` and `404` with nothing. So, per
//! operation:
//! - a `default` response beside 2xx responses is the errors' catch-all: it
//!   becomes `4XX` and `5XX` (where those are not given);
//! - error responses of more than one type share one body type, any JSON
//!   (`serde_json::Value`): callers get the status and the vendor's message
//!   through the crate's `Error` either way, never the body;
//! - success responses of more than one type cannot be generated: regen
//!   stops, naming them, and the overlay is where to choose one.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::diagnostic::{Diagnostic, Problems};
use crate::document::operations::operation_pointers;
use crate::error_bodies::component_schemas;
use crate::naming::escape;

/// The shared error body's schema name (with `Body` appended while taken).
const ANY_ERROR_BODY: &str = "AnyErrorBody";

/// Request bodies that offer JSON among other media types keep only JSON.
pub fn json_request_bodies(document: &mut Value) {
    for pointer in operation_pointers(document) {
        let Some(content) = document
            .pointer_mut(&format!("{pointer}/requestBody/content"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        if content.len() > 1 && content.contains_key("application/json") {
            content.retain(|media_type, _| media_type == "application/json");
        }
    }
}

pub fn one_type_per_side(document: &mut Value, spec_file: &str, problems: &mut Problems) {
    let mut needs_any_error_body = false;
    let any_error_body = free_schema_name(document, ANY_ERROR_BODY);
    for operation in operation_pointers(document) {
        let pointer = format!("{operation}/responses");
        let Some(responses) = document
            .pointer_mut(&pointer)
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        default_is_the_errors(responses);
        one_success_type(responses, &pointer, spec_file, problems);
        needs_any_error_body |= one_error_type(responses, &any_error_body);
    }
    if needs_any_error_body {
        let root = document.as_object_mut().expect("checked to be a mapping");
        if let Some(schemas) = component_schemas(root) {
            schemas.insert(
                any_error_body,
                json!({ "description": "An error answer's body, any JSON." }),
            );
        }
    }
}

/// Several success responses of different types: the generated client has
/// one success type per operation, so the overlay must choose.
fn one_success_type(
    responses: &serde_json::Map<String, Value>,
    pointer: &str,
    spec_file: &str,
    problems: &mut Problems,
) {
    let success: Vec<&String> = responses
        .keys()
        .filter(|status| is_success(status))
        .collect();
    let success_types: BTreeSet<String> = success
        .iter()
        .map(|status| type_of(status, &responses[status.as_str()]))
        .collect();
    if success_types.len() <= 1 {
        return;
    }
    let statuses: Vec<String> = success.iter().map(|status| format!("`{status}`")).collect();
    problems.push(
        Diagnostic::at(
            spec_file,
            pointer,
            format!(
                "the success responses {} have different types, and the generated client has \
                 one success type per operation",
                statuses.join(", ")
            ),
        )
        .with_hint("choose one in the overlay: remove the others, or give them the same schema"),
    );
}

/// Error responses of several types share one body type, any JSON
/// (`any_error_body`): whether any did.
fn one_error_type(responses: &mut serde_json::Map<String, Value>, any_error_body: &str) -> bool {
    let errors: Vec<String> = responses
        .keys()
        .filter(|status| !is_success(status))
        .cloned()
        .collect();
    let error_types: BTreeSet<String> = errors
        .iter()
        .map(|status| type_of(status, &responses[status.as_str()]))
        .collect();
    if error_types.len() <= 1 {
        return false;
    }
    for status in errors {
        let response = &mut responses[status.as_str()];
        let description = response
            .get("description")
            .cloned()
            .unwrap_or_else(|| json!("error"));
        *response = json!({
            "description": description,
            "content": { "application/json": { "schema": {
                "$ref": format!("#/components/schemas/{any_error_body}")
            } } }
        });
    }
    true
}

fn is_success(status: &str) -> bool {
    status.starts_with('2')
}

/// `default` beside 2xx responses: the errors' catch-all.
fn default_is_the_errors(responses: &mut Map<String, Value>) {
    if !responses.keys().any(|status| is_success(status)) {
        return;
    }
    let Some(default) = responses.shift_remove("default") else {
        return;
    };
    for range in ["4XX", "5XX"] {
        responses
            .entry(range.to_owned())
            .or_insert_with(|| default.clone());
    }
}

/// What progenitor would make of a response's body, as a comparable key:
/// the schema's `$ref`, an inline schema (a type of its own, whatever it
/// holds), or `none`.
fn type_of(status: &str, response: &Value) -> String {
    if let Some(reference) = response.get("$ref").and_then(Value::as_str) {
        return format!("response {reference}");
    }
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return "none".into();
    };
    let Some((media_type, media)) = content.iter().next() else {
        return "none".into();
    };
    match media.get("schema").and_then(|schema| schema.get("$ref")) {
        Some(reference) => format!("{media_type} {reference}"),
        None => format!("{media_type} inline at {status}"),
    }
}

fn free_schema_name(document: &Value, wanted: &str) -> String {
    let taken = |name: &str| {
        document
            .pointer(&format!("/components/schemas/{}", escape(name)))
            .is_some()
    };
    let mut name = wanted.to_owned();
    while taken(&name) {
        name.push_str("Body");
    }
    name
}
