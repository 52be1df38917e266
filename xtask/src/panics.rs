//! Which part of the document made progenitor (or typify under it) panic.
//!
//! A panic names no place in the document. On the rare path where one
//! happens, regen generates again from parts of the document: each schema
//! alone (the others replaced by `{}`, so references still hold), then each
//! operation alone (with the schemas that panicked replaced). Every part that
//! carries a panic becomes a diagnostic at its place.

use openapiv3::OpenAPI;
use progenitor::{GenerationSettings, Generator};
use serde_json::{Value, json};

use crate::diagnostic::Diagnostic;
use crate::generator::{first_line, without_panics};
use crate::naming::escape;
use crate::validate::HTTP_METHODS;

const HINT: &str = "change what it uses in the overlay (a simpler schema, or one of the \
                    workspace's own), and report the document to progenitor";

pub fn culprits(
    document: &Value,
    settings: &GenerationSettings,
    spec_file: &str,
    panic: &str,
) -> Vec<Diagnostic> {
    let panics = |probe: &Value| {
        let Ok(spec) = serde_json::from_value::<OpenAPI>(probe.clone()) else {
            return false;
        };
        without_panics(|| Generator::new(settings).generate_tokens(&spec)).is_err()
    };
    let message = first_line(panic);
    let mut found = Vec::new();

    // Each schema alone (the others made `{}`, so references still hold).
    let mut sanitized = document.clone();
    sanitized["paths"] = json!({});
    let names: Vec<String> = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|schemas| schemas.keys().cloned().collect())
        .unwrap_or_default();
    for name in &names {
        let mut probe = sanitized.clone();
        for other in names.iter().filter(|other| *other != name) {
            probe["components"]["schemas"][other] = json!({});
        }
        if panics(&probe) {
            found.push(
                Diagnostic::at(
                    spec_file,
                    format!("/components/schemas/{}", escape(name)),
                    format!(
                        "progenitor cannot generate the schema `{name}` (it panicked: {message})"
                    ),
                )
                .with_hint(HINT),
            );
        }
    }
    // Each operation alone, with the schemas that panic made `{}`.
    for name in &names {
        if found
            .iter()
            .any(|problem| problem.message.contains(&format!("`{name}`")))
        {
            sanitized["components"]["schemas"][name] = json!({});
        }
    }
    let paths = document.get("paths").and_then(Value::as_object);
    for (path, item) in paths.into_iter().flatten() {
        for method in HTTP_METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let mut alone = item.clone();
            if let Some(item) = alone.as_object_mut() {
                item.retain(|key, _| key == method || !HTTP_METHODS.contains(&key.as_str()));
            }
            let mut probe = sanitized.clone();
            probe["paths"][path] = alone;
            if panics(&probe) {
                let id = operation
                    .get("operationId")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                found.push(
                    Diagnostic::at(
                        spec_file,
                        format!("/paths/{}/{method}", escape(path)),
                        format!(
                            "progenitor cannot generate operation `{id}` (it panicked: {message})"
                        ),
                    )
                    .with_hint(HINT),
                );
            }
        }
    }
    if found.is_empty() {
        found.push(
            Diagnostic::new(
                spec_file,
                format!("progenitor cannot generate a client (it panicked: {message})"),
            )
            .with_hint(HINT),
        );
    }
    found
}
