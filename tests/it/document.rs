//! The vendor's document, read as data: each operation's request example,
//! the answers it documents, and the schemas its request reaches.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::{Map, Value};
use xoxoday_reward_points::Operation;

#[path = "../../generated-client/input_digest.rs"]
mod input_digest;

/// The document, parsed once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let file = input_digest::spec_file(root).expect("the workspace's document");
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        serde_yaml::from_str(&text).expect("the document reads as YAML or JSON")
    })
}

/// `operation`'s object in the document, and its pointer.
pub fn operation(operation: Operation) -> (String, &'static Value) {
    let paths = document()["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, value) in item.as_object().into_iter().flatten() {
            if value.get("operationId").and_then(Value::as_str) == Some(operation.id()) {
                let pointer = format!("/paths/{}/{method}", escape(path));
                return (pointer, value);
            }
        }
    }
    panic!("the document has no operation {}", operation.id())
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// `$ref`s followed (within the document).
fn resolved(value: &Value) -> &Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => resolved(
            document()
                .pointer(reference.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("the document has no {reference}")),
        ),
        None => value,
    }
}

/// An example built from a schema's own `example`s.
fn schema_example(schema: &Value) -> Option<Value> {
    let schema = resolved(schema);
    if let Some(example) = schema.get("example") {
        return Some(example.clone());
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        let object: Map<String, Value> = properties
            .iter()
            .filter_map(|(name, property)| Some((name.clone(), schema_example(property)?)))
            .collect();
        return (!object.is_empty()).then_some(Value::Object(object));
    }
    let item = schema_example(schema.get("items")?)?;
    Some(Value::Array(vec![item]))
}

/// A media type's examples: its `example`, each of its `examples`, or one
/// made of its schema's.
fn media_examples(media: &Value) -> Vec<(String, Value)> {
    if let Some(example) = media.get("example") {
        return vec![(String::new(), example.clone())];
    }
    if let Some(examples) = media.get("examples").and_then(Value::as_object) {
        // By name, whatever order the document's maps are read in.
        let mut examples: Vec<(String, Value)> = examples
            .iter()
            .filter_map(|(name, example)| {
                Some((name.clone(), resolved(example).get("value")?.clone()))
            })
            .collect();
        examples.sort_by(|a, b| a.0.cmp(&b.0));
        return examples;
    }
    media
        .get("schema")
        .and_then(schema_example)
        .map(|example| vec![(String::new(), example)])
        .unwrap_or_default()
}

/// The example body of `operation`'s request, if it has a body.
pub fn request_example(operation: Operation) -> Option<Value> {
    let (_, value) = self::operation(operation);
    let media = resolved(value.get("requestBody")?).pointer("/content/application~1json")?;
    media_examples(media)
        .into_iter()
        .next()
        .map(|(_, example)| example)
}

/// Each answer `operation` documents with an example: its status, the
/// example's name (empty for a lone one) and the body, in that order
/// (whatever order the document's maps are read in).
pub fn answers(operation: Operation) -> Vec<(String, String, Value)> {
    let (_, value) = self::operation(operation);
    let mut answers = Vec::new();
    for (status, response) in value["responses"].as_object().into_iter().flatten() {
        let Some(media) = resolved(response).pointer("/content/application~1json") else {
            continue;
        };
        for (name, example) in media_examples(media) {
            answers.push((status.clone(), name, example));
        }
    }
    answers.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    answers
}

/// The pointers of every schema `operation`'s request body reaches, its
/// components' included.
pub fn request_places(operation: Operation) -> BTreeSet<String> {
    let (pointer, value) = self::operation(operation);
    let mut places = BTreeSet::new();
    let body = "/requestBody/content/application~1json/schema";
    if let Some(schema) = value.pointer(body) {
        reach(&format!("{pointer}{body}"), schema, &mut places);
    }
    places
}

fn reach(pointer: &str, schema: &Value, places: &mut BTreeSet<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = reference.trim_start_matches('#');
        if places.insert(target.to_owned()) {
            reach(target, resolved(schema), places);
        }
        return;
    }
    places.insert(pointer.to_owned());
    for (key, value) in schema.as_object().into_iter().flatten() {
        match (key.as_str(), value) {
            ("properties", Value::Object(properties)) => {
                for (name, property) in properties {
                    let at = format!("{pointer}/properties/{}", escape(name));
                    reach(&at, property, places);
                }
            }
            ("items", item) => reach(&format!("{pointer}/items"), item, places),
            ("oneOf" | "anyOf" | "allOf", Value::Array(options)) => {
                for (n, option) in options.iter().enumerate() {
                    reach(&format!("{pointer}/{key}/{n}"), option, places);
                }
            }
            _ => {}
        }
    }
}
