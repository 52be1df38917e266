//! Checks a document before generation, so that what progenitor or typify
//! would reject (some of it with a panic) is reported with a JSON pointer
//! instead, every problem at once.
//!
//! `structure` runs on the document as the user wrote it; `semantics` on the
//! document after the overlay, whose pointers are the same for everything the
//! overlay did not add.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::diagnostic::{Diagnostic, Problems};
use crate::document::operations::METHODS;
use crate::naming::escape;

/// Request body media types progenitor can send.
const REQUEST_TYPES: [&str; 5] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "text/plain",
    "text/x-markdown",
];

pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// What makes a file an OpenAPI 3.0 document at all. Problems here stop
/// regen before the overlay: nothing after them would make sense.
pub fn structure(document: &Value, file: &str, problems: &mut Problems) {
    let Some(root) = document.as_object() else {
        problems.push(Diagnostic::at(
            file,
            "",
            format!(
                "not an OpenAPI document: the top level is {}, not a mapping",
                kind(document)
            ),
        ));
        return;
    };
    if root.contains_key("swagger") {
        problems.push(
            Diagnostic::at(file, "/swagger", "Swagger 2.0 documents are not supported")
                .with_hint("convert it to OpenAPI 3.0.x first"),
        );
        return;
    }
    match root.get("openapi") {
        None => problems.push(
            Diagnostic::at(
                file,
                "",
                "not an OpenAPI document: it has no `openapi` field",
            )
            .with_hint("an OpenAPI 3.0 document starts with `openapi: 3.0.3`"),
        ),
        Some(Value::String(version)) if !version.trim().starts_with("3.0.") => problems.push(
            Diagnostic::at(
                file,
                "/openapi",
                format!(
                    "OpenAPI {} is not supported: the generator reads OpenAPI 3.0.x",
                    version.trim()
                ),
            )
            .with_hint("write the document as OpenAPI 3.0.3"),
        ),
        Some(Value::String(_)) => {}
        Some(other) => problems.push(
            Diagnostic::at(
                file,
                "/openapi",
                format!(
                    "`openapi` is {}; it must be a string such as \"3.0.3\"",
                    kind(other)
                ),
            )
            .with_hint("quote the version: `openapi: '3.0.3'`"),
        ),
    }
    match root.get("info") {
        Some(Value::Object(info)) => {
            for field in ["title", "version"] {
                if !info.get(field).is_some_and(Value::is_string) {
                    problems.push(Diagnostic::at(
                        file,
                        "/info",
                        format!("`info` has no `{field}` string"),
                    ));
                }
            }
        }
        _ => problems.push(Diagnostic::at(
            file,
            "",
            "the document has no `info` mapping",
        )),
    }
    match root.get("paths") {
        Some(Value::Object(_)) => {}
        Some(other) => problems.push(Diagnostic::at(
            file,
            "/paths",
            format!("`paths` is {}; it must be a mapping of paths", kind(other)),
        )),
        None => problems.push(Diagnostic::at(file, "", "the document has no `paths`")),
    }
}

/// Everything else regen can check in the document, after the overlay.
pub fn semantics(document: &Value, file: &str, problems: &mut Problems) {
    operations(document, file, problems);
    references(document, "", document, file, problems);
    reference_cycles(document, file, problems);
}

fn operations(document: &Value, file: &str, problems: &mut Problems) {
    let empty = serde_json::Map::new();
    let paths = document
        .get("paths")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut operation_ids: HashMap<&str, String> = HashMap::new();
    for (path, item) in paths {
        let item_pointer = format!("/paths/{}", escape(path));
        if !path.starts_with('/') {
            problems.push(Diagnostic::at(
                file,
                &item_pointer,
                format!("the path `{path}` does not start with `/`"),
            ));
        }
        let Some(item) = item.as_object() else {
            problems.push(Diagnostic::at(
                file,
                &item_pointer,
                format!("a path item must be a mapping, not {}", kind(item)),
            ));
            continue;
        };
        if item.contains_key("$ref") {
            problems.push(
                Diagnostic::at(file, &item_pointer, "a `$ref` path item is not supported")
                    .with_hint("write the operations under the path itself"),
            );
            continue;
        }
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let pointer = format!("{item_pointer}/{method}");
            let Some(operation) = operation.as_object() else {
                problems.push(Diagnostic::at(
                    file,
                    &pointer,
                    format!("an operation must be a mapping, not {}", kind(operation)),
                ));
                continue;
            };
            match operation.get("operationId") {
                Some(Value::String(id)) if !id.trim().is_empty() => {
                    if let Some(first) = operation_ids.insert(id, pointer.clone()) {
                        problems.push(
                            Diagnostic::at(
                                file,
                                format!("{pointer}/operationId"),
                                format!("the operationId `{id}` is already used at {first}"),
                            )
                            .with_hint("each operation needs an operationId of its own"),
                        );
                    }
                }
                _ => problems.push(
                    Diagnostic::at(file, &pointer, "the operation has no `operationId`")
                        .with_hint("the generated method is named after it; add one"),
                ),
            }
            responses(operation.get("responses"), &pointer, file, problems);
            if let Some(body) = operation.get("requestBody") {
                request_body(body, &format!("{pointer}/requestBody"), file, problems);
            }
            path_parameters(document, path, item, operation, &pointer, file, problems);
            parameter_shapes(document, item, operation, &pointer, file, problems);
        }
    }
}

fn responses(responses: Option<&Value>, pointer: &str, file: &str, problems: &mut Problems) {
    let Some(Value::Object(responses)) =
        responses.filter(|r| r.as_object().is_some_and(|r| !r.is_empty()))
    else {
        problems.push(
            Diagnostic::at(file, pointer, "the operation has no responses")
                .with_hint("describe at least its success response"),
        );
        return;
    };
    for (status, response) in responses {
        let here = format!("{pointer}/responses/{}", escape(status));
        let status_code = status.len() == 3
            && (status.chars().all(|c| c.is_ascii_digit()) || status.ends_with("XX"));
        if status != "default" && !status_code {
            problems.push(
                Diagnostic::at(
                    file,
                    &here,
                    format!("`{status}` is not an HTTP status code"),
                )
                .with_hint("use a code such as \"200\", a range such as \"4XX\", or \"default\""),
            );
        }
        response_media(response, &here, file, problems);
    }
}

fn request_body(body: &Value, pointer: &str, file: &str, problems: &mut Problems) {
    let Some(content) = body.get("content").and_then(Value::as_object) else {
        return; // a `$ref` body is checked by `references`
    };
    if content.len() > 1 {
        problems.push(
            Diagnostic::at(
                file,
                format!("{pointer}/content"),
                format!(
                    "the request body offers {} media types, none of them application/json; \
                     the client sends one",
                    content.len()
                ),
            )
            .with_hint("keep the one to send, in the overlay"),
        );
        return;
    }
    for (media_type, media) in content {
        let here = format!("{pointer}/content/{}", escape(media_type));
        let essence = media_type.split(';').next().unwrap_or_default().trim();
        if !REQUEST_TYPES.contains(&essence) {
            problems.push(
                Diagnostic::at(
                    file,
                    &here,
                    format!("the client cannot send a `{media_type}` request body"),
                )
                .with_hint(format!("supported: {}", REQUEST_TYPES.join(", "))),
            );
            continue;
        }
        if media.get("schema").is_none() {
            problems.push(Diagnostic::at(
                file,
                &here,
                "the request body has no `schema`",
            ));
        }
        no_encoding(media, &here, file, problems);
    }
}

fn response_media(response: &Value, pointer: &str, file: &str, problems: &mut Problems) {
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return;
    };
    for (media_type, media) in content {
        if !(media_type == "application/json" || media_type.starts_with("application/json;")) {
            continue; // other types are returned as raw bytes
        }
        let here = format!("{pointer}/content/{}", escape(media_type));
        if media.get("schema").is_none() {
            problems.push(
                Diagnostic::at(file, &here, "a JSON response needs a `schema` for its type")
                    .with_hint("add `schema: {}` to accept any JSON"),
            );
        }
        no_encoding(media, &here, file, problems);
    }
}

/// progenitor cannot generate a media type's `encoding` (it panics).
fn no_encoding(media: &Value, here: &str, file: &str, problems: &mut Problems) {
    let encoding = media.get("encoding").and_then(Value::as_object);
    if encoding.is_some_and(|encoding| !encoding.is_empty()) {
        problems.push(Diagnostic::at(
            file,
            format!("{here}/encoding"),
            "media type `encoding` is not supported",
        ));
    }
}

/// A parameter, through its `$ref` when it is one.
pub fn resolved<'a>(document: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = node;
    // A chain of references ends; a cycle is reported by `reference_cycles`.
    for _ in 0..16 {
        let Some(target) = node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|reference| reference.strip_prefix('#'))
            .and_then(|pointer| document.pointer(pointer))
        else {
            return node;
        };
        node = target;
    }
    node
}

/// Every `{name}` in the path has a path parameter and the other way round.
/// Parameters given by `$ref` (to `components/parameters`) count.
fn path_parameters(
    document: &Value,
    path: &str,
    item: &serde_json::Map<String, Value>,
    operation: &serde_json::Map<String, Value>,
    pointer: &str,
    file: &str,
    problems: &mut Problems,
) {
    let in_template: HashSet<&str> = path
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect();
    let declared: Vec<&str> = [item.get("parameters"), operation.get("parameters")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .map(|parameter| resolved(document, parameter))
        .filter(|parameter| parameter.get("in").and_then(Value::as_str) == Some("path"))
        .filter_map(|parameter| parameter.get("name").and_then(Value::as_str))
        .collect();
    for name in &declared {
        if !in_template.contains(name) {
            problems.push(Diagnostic::at(
                file,
                format!("{pointer}/parameters"),
                format!("the path parameter `{name}` does not appear in the path `{path}`"),
            ));
        }
    }
    let mut missing: Vec<&str> = in_template
        .into_iter()
        .filter(|name| !declared.contains(name))
        .collect();
    missing.sort();
    for name in missing {
        problems.push(Diagnostic::at(
            file,
            pointer,
            format!("the path `{path}` has `{{{name}}}` but no path parameter `{name}`"),
        ));
    }
}

/// What a parameter's schema is, as far as sending it goes.
enum Shape {
    Scalar,
    ArrayOfScalars,
    Other(&'static str),
}

fn shape(document: &Value, schema: &Value) -> Shape {
    let schema = resolved(document, schema);
    match schema.get("type").and_then(Value::as_str) {
        Some("string" | "integer" | "number" | "boolean") | None
            if schema.get("properties").is_none() =>
        {
            Shape::Scalar
        }
        Some("array") => match schema.get("items").map(|items| shape(document, items)) {
            Some(Shape::Scalar) => Shape::ArrayOfScalars,
            _ => Shape::Other("a list of lists or objects"),
        },
        _ => Shape::Other("an object"),
    }
}

/// Parameters the client can send: scalars anywhere, lists of scalars in the
/// query (sent as repeated `name=value`), no cookies.
fn parameter_shapes(
    document: &Value,
    item: &serde_json::Map<String, Value>,
    operation: &serde_json::Map<String, Value>,
    pointer: &str,
    file: &str,
    problems: &mut Problems,
) {
    let lists = [
        (
            item.get("parameters"),
            format!(
                "{}/parameters",
                pointer.rsplit_once('/').map_or("", |(item, _)| item)
            ),
        ),
        (operation.get("parameters"), format!("{pointer}/parameters")),
    ];
    for (list, list_pointer) in lists {
        for (index, parameter) in list
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let here = format!("{list_pointer}/{index}");
            let parameter = resolved(document, parameter);
            let name = parameter.get("name").and_then(Value::as_str).unwrap_or("?");
            let place = parameter.get("in").and_then(Value::as_str).unwrap_or("?");
            let Some(schema) = parameter.get("schema") else {
                continue; // `content` parameters: progenitor's own error
            };
            let refused = match (place, shape(document, schema)) {
                ("cookie", _) => Some("is a cookie, which the client cannot send".to_owned()),
                (_, Shape::Scalar) | ("query", Shape::ArrayOfScalars) => None,
                (_, Shape::ArrayOfScalars) => {
                    Some(format!("is a list, which a {place} parameter cannot carry"))
                }
                (_, Shape::Other(what)) => {
                    Some(format!("is {what}, which a {place} parameter cannot carry"))
                }
            };
            if let Some(why) = refused {
                problems.push(
                    Diagnostic::at(file, here, format!("the {place} parameter `{name}` {why}"))
                        .with_hint(
                            "the client sends strings, numbers and booleans, and lists of them in \
                             the query; change the parameter in the overlay",
                        ),
                );
            }
        }
    }
}

/// Every `$ref` points inside this document, at something that exists.
fn references(node: &Value, pointer: &str, document: &Value, file: &str, problems: &mut Problems) {
    match node {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref") {
                let here = format!("{pointer}/$ref");
                match reference.as_str() {
                    None => problems.push(Diagnostic::at(file, here, "`$ref` must be a string")),
                    Some(reference) => match reference.strip_prefix('#') {
                        None => problems.push(
                            Diagnostic::at(
                                file,
                                here,
                                format!(
                                    "`{reference}` points outside this document; external \
                                     references are not supported"
                                ),
                            )
                            .with_hint("bundle the document into one file"),
                        ),
                        Some(target) if document.pointer(target).is_none() => problems.push(
                            Diagnostic::at(
                                file,
                                here,
                                format!("`{reference}` points to nothing in this document"),
                            )
                            .with_hint("add the component, or fix the name"),
                        ),
                        Some(_) => {}
                    },
                }
            }
            for (key, value) in map {
                references(
                    value,
                    &format!("{pointer}/{}", escape(key)),
                    document,
                    file,
                    problems,
                );
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                references(
                    item,
                    &format!("{pointer}/{index}"),
                    document,
                    file,
                    problems,
                );
            }
        }
        _ => {}
    }
}

/// The references a node is made of: itself a `$ref`, or an `allOf` of
/// them. A cycle of these has no end to generate: `A = B`, `B = A`.
fn alias_targets(node: &Value) -> Vec<&str> {
    if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        return vec![reference];
    }
    node.get("allOf")
        .and_then(Value::as_array)
        .map(|members| {
            members
                .iter()
                .filter_map(|member| member.get("$ref").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

fn reference_cycles(document: &Value, file: &str, problems: &mut Problems) {
    let Some(components) = document.get("components").and_then(Value::as_object) else {
        return;
    };
    let mut reported: Vec<Vec<String>> = Vec::new();
    for (section, entries) in components {
        let Some(entries) = entries.as_object() else {
            continue;
        };
        for name in entries.keys() {
            let start = format!("#/components/{}/{}", escape(section), escape(name));
            let mut chain = vec![start.clone()];
            let Some(cycle) = find_cycle(document, &start, &mut chain) else {
                continue;
            };
            // One report per cycle, whichever member it was found from.
            let mut members = cycle[..cycle.len() - 1].to_vec();
            members.sort();
            if reported.contains(&members) {
                continue;
            }
            reported.push(members);
            problems.push(
                Diagnostic::at(
                    file,
                    &cycle[0][1..],
                    format!(
                        "`$ref` cycle that cannot be generated: {}",
                        cycle.join(" → ")
                    ),
                )
                .with_hint("one of them must describe a value, not only refer to the next"),
            );
        }
    }
}

fn find_cycle(document: &Value, reference: &str, chain: &mut Vec<String>) -> Option<Vec<String>> {
    let node = document.pointer(reference.strip_prefix('#')?)?;
    for target in alias_targets(node) {
        if let Some(position) = chain.iter().position(|seen| seen == target) {
            let mut cycle = chain[position..].to_vec();
            cycle.push(target.to_owned());
            return Some(cycle);
        }
        chain.push(target.to_owned());
        if let Some(cycle) = find_cycle(document, target, chain) {
            return Some(cycle);
        }
        chain.pop();
    }
    None
}
