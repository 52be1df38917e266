//! Checks a document before generation, so that what progenitor or typify
//! would reject (some of it with a panic) is reported as a `Failure` with a
//! JSON pointer instead.
//!
//! `structure` runs on the document as the user wrote it; `semantics` on the
//! document after the overlay, whose pointers are the same for everything the
//! overlay did not add.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::failure::Failure;
use crate::naming::escape;

pub const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Request body media types progenitor can send.
const REQUEST_TYPES: [&str; 5] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "text/plain",
    "text/x-markdown",
];

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

pub fn structure(document: &Value, file: &str) -> Result<(), Failure> {
    let Some(root) = document.as_object() else {
        return Err(Failure::at(
            file,
            "",
            format!(
                "not an OpenAPI document: the top level is {}, not a mapping",
                kind(document)
            ),
        ));
    };
    if root.contains_key("swagger") {
        return Err(
            Failure::at(file, "/swagger", "Swagger 2.0 documents are not supported")
                .with_hint("convert it to OpenAPI 3.0.x first"),
        );
    }
    let version = match root.get("openapi") {
        None => {
            return Err(Failure::at(
                file,
                "",
                "not an OpenAPI document: it has no `openapi` field",
            )
            .with_hint("an OpenAPI 3.0 document starts with `openapi: 3.0.3`"));
        }
        Some(Value::String(version)) => version.trim(),
        Some(other) => {
            return Err(Failure::at(
                file,
                "/openapi",
                format!(
                    "`openapi` is {}; it must be a string such as \"3.0.3\"",
                    kind(other)
                ),
            )
            .with_hint("quote the version: `openapi: '3.0.3'`"));
        }
    };
    if !version.starts_with("3.0.") {
        return Err(Failure::at(
            file,
            "/openapi",
            format!("OpenAPI {version} is not supported: the generator reads OpenAPI 3.0.x"),
        )
        .with_hint("write the document as OpenAPI 3.0.3"));
    }
    match root.get("info") {
        Some(Value::Object(info)) => {
            for field in ["title", "version"] {
                if !info.get(field).is_some_and(Value::is_string) {
                    return Err(Failure::at(
                        file,
                        "/info",
                        format!("`info` has no `{field}` string"),
                    ));
                }
            }
        }
        _ => return Err(Failure::at(file, "", "the document has no `info` mapping")),
    }
    match root.get("paths") {
        Some(Value::Object(_)) => Ok(()),
        Some(other) => Err(Failure::at(
            file,
            "/paths",
            format!("`paths` is {}; it must be a mapping of paths", kind(other)),
        )),
        None => Err(Failure::at(file, "", "the document has no `paths`")),
    }
}

pub fn semantics(document: &Value, file: &str) -> Result<(), Failure> {
    operations(document, file)?;
    references(document, "", document, file)?;
    reference_cycles(document, file)
}

fn operations(document: &Value, file: &str) -> Result<(), Failure> {
    let empty = serde_json::Map::new();
    let paths = document
        .get("paths")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut operation_ids: HashMap<&str, String> = HashMap::new();
    for (path, item) in paths {
        let item_pointer = format!("/paths/{}", escape(path));
        if !path.starts_with('/') {
            return Err(Failure::at(
                file,
                &item_pointer,
                format!("the path `{path}` does not start with `/`"),
            ));
        }
        let Some(item) = item.as_object() else {
            return Err(Failure::at(
                file,
                &item_pointer,
                format!("a path item must be a mapping, not {}", kind(item)),
            ));
        };
        if item.contains_key("$ref") {
            return Err(
                Failure::at(file, &item_pointer, "a `$ref` path item is not supported")
                    .with_hint("write the operations under the path itself"),
            );
        }
        for method in HTTP_METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let pointer = format!("{item_pointer}/{method}");
            let Some(operation) = operation.as_object() else {
                return Err(Failure::at(
                    file,
                    &pointer,
                    format!("an operation must be a mapping, not {}", kind(operation)),
                ));
            };
            match operation.get("operationId") {
                Some(Value::String(id)) if !id.trim().is_empty() => {
                    if let Some(first) = operation_ids.insert(id, pointer.clone()) {
                        return Err(Failure::at(
                            file,
                            format!("{pointer}/operationId"),
                            format!("the operationId `{id}` is already used at {first}"),
                        )
                        .with_hint("each operation needs an operationId of its own"));
                    }
                }
                _ => {
                    return Err(
                        Failure::at(file, &pointer, "the operation has no `operationId`")
                            .with_hint("the generated method is named after it; add one"),
                    );
                }
            }
            match operation.get("responses") {
                Some(Value::Object(responses)) if !responses.is_empty() => {
                    for (status, response) in responses {
                        response_media(response, &format!("{pointer}/responses/{status}"), file)?;
                        if status != "default"
                            && !(status.len() == 3
                                && (status.chars().all(|c| c.is_ascii_digit())
                                    || status.ends_with("XX")))
                        {
                            return Err(Failure::at(
                                file,
                                format!("{pointer}/responses/{}", escape(status)),
                                format!("`{status}` is not an HTTP status code"),
                            )
                            .with_hint("use a code such as \"200\", a range such as \"4XX\", or \"default\""));
                        }
                    }
                }
                _ => {
                    return Err(
                        Failure::at(file, &pointer, "the operation has no responses")
                            .with_hint("describe at least its success response"),
                    );
                }
            }
            if let Some(body) = operation.get("requestBody") {
                request_body(body, &format!("{pointer}/requestBody"), file)?;
            }
            path_parameters(path, item, operation, &pointer, file)?;
        }
    }
    Ok(())
}

fn request_body(body: &Value, pointer: &str, file: &str) -> Result<(), Failure> {
    let Some(content) = body.get("content").and_then(Value::as_object) else {
        return Ok(()); // a `$ref` body is checked by `references`
    };
    if content.len() > 1 {
        return Err(Failure::at(
            file,
            format!("{pointer}/content"),
            format!(
                "the request body offers {} media types; the client can send one",
                content.len()
            ),
        )
        .with_hint("keep one, such as application/json"));
    }
    for (media_type, media) in content {
        let here = format!("{pointer}/content/{}", escape(media_type));
        let essence = media_type.split(';').next().unwrap_or_default().trim();
        if !REQUEST_TYPES.contains(&essence) {
            return Err(Failure::at(
                file,
                &here,
                format!("the client cannot send a `{media_type}` request body"),
            )
            .with_hint(format!("supported: {}", REQUEST_TYPES.join(", "))));
        }
        if media.get("schema").is_none() {
            return Err(Failure::at(file, &here, "the request body has no `schema`"));
        }
        no_encoding(media, &here, file)?;
    }
    Ok(())
}

fn response_media(response: &Value, pointer: &str, file: &str) -> Result<(), Failure> {
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return Ok(());
    };
    for (media_type, media) in content {
        if !(media_type == "application/json" || media_type.starts_with("application/json;")) {
            continue; // other types are returned as raw bytes
        }
        let here = format!("{pointer}/content/{}", escape(media_type));
        if media.get("schema").is_none() {
            return Err(
                Failure::at(file, &here, "a JSON response needs a `schema` for its type")
                    .with_hint("add `schema: {}` to accept any JSON"),
            );
        }
        no_encoding(media, &here, file)?;
    }
    Ok(())
}

/// progenitor cannot generate a media type's `encoding` (it panics).
fn no_encoding(media: &Value, here: &str, file: &str) -> Result<(), Failure> {
    let encoding = media.get("encoding").and_then(Value::as_object);
    if encoding.is_some_and(|encoding| !encoding.is_empty()) {
        return Err(Failure::at(
            file,
            format!("{here}/encoding"),
            "media type `encoding` is not supported",
        ));
    }
    Ok(())
}

/// Every `{name}` in the path has a path parameter and the other way round.
fn path_parameters(
    path: &str,
    item: &serde_json::Map<String, Value>,
    operation: &serde_json::Map<String, Value>,
    pointer: &str,
    file: &str,
) -> Result<(), Failure> {
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
        .filter(|parameter| parameter.get("in").and_then(Value::as_str) == Some("path"))
        .filter_map(|parameter| parameter.get("name").and_then(Value::as_str))
        .collect();
    for name in &declared {
        if !in_template.contains(name) {
            return Err(Failure::at(
                file,
                format!("{pointer}/parameters"),
                format!("the path parameter `{name}` does not appear in the path `{path}`"),
            ));
        }
    }
    for name in in_template {
        if !declared.contains(&name) {
            return Err(Failure::at(
                file,
                pointer,
                format!("the path `{path}` has `{{{name}}}` but no path parameter `{name}`"),
            ));
        }
    }
    Ok(())
}

/// Every `$ref` points inside this document, at something that exists.
fn references(node: &Value, pointer: &str, document: &Value, file: &str) -> Result<(), Failure> {
    match node {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref") {
                let here = format!("{pointer}/$ref");
                let Some(reference) = reference.as_str() else {
                    return Err(Failure::at(file, here, "`$ref` must be a string"));
                };
                let Some(target) = reference.strip_prefix('#') else {
                    return Err(Failure::at(
                        file,
                        here,
                        format!("`{reference}` points outside this document; external references are not supported"),
                    )
                    .with_hint("bundle the document into one file"));
                };
                if document.pointer(target).is_none() {
                    return Err(Failure::at(
                        file,
                        here,
                        format!("`{reference}` points to nothing in this document"),
                    )
                    .with_hint("add the component, or fix the name"));
                }
            }
            for (key, value) in map {
                references(value, &format!("{pointer}/{}", escape(key)), document, file)?;
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                references(item, &format!("{pointer}/{index}"), document, file)?;
            }
        }
        _ => {}
    }
    Ok(())
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

fn reference_cycles(document: &Value, file: &str) -> Result<(), Failure> {
    let Some(components) = document.get("components").and_then(Value::as_object) else {
        return Ok(());
    };
    for (section, entries) in components {
        let Some(entries) = entries.as_object() else {
            continue;
        };
        for name in entries.keys() {
            let start = format!("#/components/{}/{}", escape(section), escape(name));
            let mut chain = vec![start.clone()];
            if let Some(cycle) = find_cycle(document, &start, &mut chain) {
                return Err(Failure::at(
                    file,
                    &start[1..],
                    format!(
                        "`$ref` cycle that cannot be generated: {}",
                        cycle.join(" → ")
                    ),
                )
                .with_hint("one of them must describe a value, not only refer to the next"));
            }
        }
    }
    Ok(())
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
