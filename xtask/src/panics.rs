//! Which part of the document made progenitor (or typify under it) panic.
//!
//! A panic names no place in the document. On the rare path where one
//! happens, regen generates again from parts of the document until the panic
//! goes: first without any operation (is it a schema?), then with one
//! operation at a time, or with one schema at a time replaced by `{}`. The
//! first part that carries the panic becomes the diagnostic's place.

use openapiv3::OpenAPI;
use progenitor::{GenerationSettings, Generator};
use serde_json::{Value, json};

use crate::diagnostic::Diagnostic;
use crate::naming::escape;
use crate::pipeline::{first_line, without_panics};
use crate::validate::HTTP_METHODS;

const HINT: &str = "change what it uses in the overlay (a simpler schema, or one of the \
                    workspace's own), and report the document to progenitor";

pub fn culprit(
    document: &Value,
    settings: &GenerationSettings,
    spec_file: &str,
    panic: &str,
) -> Diagnostic {
    let panics = |probe: &Value| {
        let Ok(spec) = serde_json::from_value::<OpenAPI>(probe.clone()) else {
            return false;
        };
        without_panics(|| Generator::new(settings).generate_tokens(&spec)).is_err()
    };
    let message = first_line(panic);
    let mut without_operations = document.clone();
    without_operations["paths"] = json!({});

    if panics(&without_operations) {
        let names: Vec<String> = document
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .map(|schemas| schemas.keys().cloned().collect())
            .unwrap_or_default();
        for name in names {
            let mut probe = without_operations.clone();
            probe["components"]["schemas"][&name] = json!({});
            if !panics(&probe) {
                return Diagnostic::at(
                    spec_file,
                    format!("/components/schemas/{}", escape(&name)),
                    format!(
                        "progenitor cannot generate the schema `{name}` (it panicked: {message})"
                    ),
                )
                .with_hint(HINT);
            }
        }
    } else {
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
                let mut probe = without_operations.clone();
                probe["paths"][path] = alone;
                if panics(&probe) {
                    let id = operation
                        .get("operationId")
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    return Diagnostic::at(
                        spec_file,
                        format!("/paths/{}/{method}", escape(path)),
                        format!(
                            "progenitor cannot generate operation `{id}` (it panicked: {message})"
                        ),
                    )
                    .with_hint(HINT);
                }
            }
        }
    }
    Diagnostic::new(
        spec_file,
        format!("progenitor cannot generate a client (it panicked: {message})"),
    )
    .with_hint(HINT)
}
