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
use crate::document::operations::{is_method, operations};
use crate::generator::{first_line, without_panics};
use crate::naming::escape;

const HINT: &str = "change what it uses in the overlay (a simpler schema, or one of the \
                    workspace's own), and report the document to progenitor";

pub fn culprits(
    document: &Value,
    settings: &GenerationSettings,
    spec_file: &str,
    panic: &str,
) -> Vec<Diagnostic> {
    let message = first_line(panic);
    let probe = Probe {
        settings,
        spec_file,
        message: &message,
    };
    let mut found = probe.schemas(document);
    found.extend(probe.operations(document, &found));
    if found.is_empty() {
        found.push(
            Diagnostic::new(
                spec_file,
                format!(
                    "progenitor cannot generate a client (it panicked: {})",
                    probe.message
                ),
            )
            .with_hint(HINT),
        );
    }
    found
}

/// What a probe needs: progenitor's settings, the file to name, and the
/// panic's first line.
struct Probe<'a> {
    settings: &'a GenerationSettings,
    spec_file: &'a str,
    message: &'a str,
}

impl Probe<'_> {
    /// Whether progenitor panics on `document`.
    fn panics(&self, document: &Value) -> bool {
        let Ok(spec) = serde_json::from_value::<OpenAPI>(document.clone()) else {
            return false;
        };
        without_panics(|| Generator::new(self.settings).generate_tokens(&spec)).is_err()
    }

    /// The document without operations, its schemas as in `document`
    /// except those `made_empty` (each then `{}`, so references still hold).
    fn without_operations(document: &Value, made_empty: &[&String]) -> Value {
        let mut sanitized = document.clone();
        sanitized["paths"] = json!({});
        for name in made_empty {
            sanitized["components"]["schemas"][name.as_str()] = json!({});
        }
        sanitized
    }

    /// Each schema alone that progenitor panics on.
    fn schemas(&self, document: &Value) -> Vec<Diagnostic> {
        let names = schema_names(document);
        let mut found = Vec::new();
        for name in &names {
            let others: Vec<&String> = names.iter().filter(|other| *other != name).collect();
            if self.panics(&Self::without_operations(document, &others)) {
                found.push(
                    Diagnostic::at(
                        self.spec_file,
                        format!("/components/schemas/{}", escape(name)),
                        format!(
                            "progenitor cannot generate the schema `{name}` (it panicked: {})",
                            self.message
                        ),
                    )
                    .with_hint(HINT),
                );
            }
        }
        found
    }

    /// Each operation alone that progenitor panics on, with the schemas
    /// already `found` to panic made `{}`.
    fn operations(&self, document: &Value, found: &[Diagnostic]) -> Vec<Diagnostic> {
        let names = schema_names(document);
        let culprits: Vec<&String> = names
            .iter()
            .filter(|name| {
                found
                    .iter()
                    .any(|problem| problem.message.contains(&format!("`{name}`")))
            })
            .collect();
        let sanitized = Self::without_operations(document, &culprits);
        let mut problems = Vec::new();
        for at in operations(document) {
            let mut alone = at.item.clone();
            if let Some(item) = alone.as_object_mut() {
                item.retain(|key, _| key == at.method || !is_method(key));
            }
            let mut probe = sanitized.clone();
            probe["paths"][at.path] = alone;
            if self.panics(&probe) {
                let id = at
                    .operation
                    .get("operationId")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                problems.push(
                    Diagnostic::at(
                        self.spec_file,
                        at.pointer,
                        format!(
                            "progenitor cannot generate operation `{id}` (it panicked: {})",
                            self.message
                        ),
                    )
                    .with_hint(HINT),
                );
            }
        }
        problems
    }
}

fn schema_names(document: &Value) -> Vec<String> {
    document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|schemas| schemas.keys().cloned().collect())
        .unwrap_or_default()
}
