//! Applies an OpenAPI Overlay 1.0 document to an OpenAPI document.
//!
//! Written by hand because no maintained Rust crate implements Overlay; the
//! JSONPath queries themselves are RFC 9535, evaluated by `serde_json_path`.
//!
//! Semantics (Overlay 1.0.0, "Action Object"), applied in document order:
//! - `remove: true` removes every node the target selects from its parent;
//! - `update` on an object merges recursively (objects merge key by key, any
//!   other value replaces), and on an array appends the update as one entry.
//!
//! Unlike a lenient implementation, an action whose target selects nothing is
//! an error: it means the upstream document moved and the overlay is stale.

use serde_json::Value;
use serde_json_path::{JsonPath, NormalizedPath, PathElement};

use crate::naming::escape;

use crate::failure::Failure;

/// Applies `overlay` to `document`. `overlay_file` names the overlay in errors.
pub fn apply(document: &mut Value, overlay: &Value, overlay_file: &str) -> Result<(), Failure> {
    let fail = |pointer: String, message: String| Failure::at(overlay_file, pointer, message);

    match overlay.get("overlay").and_then(Value::as_str) {
        Some(version) if version.starts_with("1.0.") => {}
        Some(version) => {
            return Err(fail(
                "/overlay".into(),
                format!("overlay version {version:?} is not supported; expected 1.0.x"),
            ));
        }
        None => {
            return Err(fail(
                String::new(),
                "not an Overlay 1.0 document: the `overlay: 1.0.0` field is missing".into(),
            ));
        }
    }
    let Some(actions) = overlay.get("actions").and_then(Value::as_array) else {
        return Err(fail(
            "/actions".into(),
            "an overlay needs a list of `actions`".into(),
        ));
    };

    for (index, action) in actions.iter().enumerate() {
        let here = format!("/actions/{index}");
        let Some(target) = action.get("target").and_then(Value::as_str) else {
            return Err(fail(here, "the action has no `target`".into()));
        };
        let path = JsonPath::parse(target).map_err(|error| {
            fail(
                format!("{here}/target"),
                format!("`{target}` is not an RFC 9535 JSONPath: {error}"),
            )
        })?;
        let mut located: Vec<Vec<Segment>> = path
            .query_located(document)
            .into_iter()
            .map(|node| segments(node.location()))
            .collect();
        if located.is_empty() {
            return Err(fail(
                format!("{here}/target"),
                format!("the target `{target}` matches nothing in the document"),
            ));
        }

        let remove = action
            .get("remove")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if remove {
            // Remove deepest and last first, so earlier locations stay valid.
            located.sort();
            for location in located.iter().rev() {
                remove_at(document, location);
            }
        } else if let Some(update) = action.get("update") {
            for location in &located {
                let pointer = to_pointer(location);
                let node = document
                    .pointer_mut(&pointer)
                    .expect("a located node exists until this action changes it");
                match node {
                    Value::Object(_) if update.is_object() => merge(node, update),
                    Value::Array(items) => items.push(update.clone()),
                    _ => {
                        return Err(fail(
                            format!("{here}/update"),
                            format!(
                                "the target `{target}` selects `{pointer}`, which is not an \
                                 object or array, or the update is not an object"
                            ),
                        ));
                    }
                }
            }
        } else {
            return Err(fail(
                here,
                "the action has neither `update` nor `remove: true`".into(),
            ));
        }
    }
    Ok(())
}

/// One step of a node's location, owned so the document can be changed.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Segment {
    Index(usize),
    Name(String),
}

fn segments(path: &NormalizedPath<'_>) -> Vec<Segment> {
    path.iter()
        .map(|element| match element {
            PathElement::Name(name) => Segment::Name((*name).to_owned()),
            PathElement::Index(index) => Segment::Index(*index),
        })
        .collect()
}

fn to_pointer(segments: &[Segment]) -> String {
    segments
        .iter()
        .map(|segment| match segment {
            Segment::Name(name) => format!("/{}", escape(name)),
            Segment::Index(index) => format!("/{index}"),
        })
        .collect()
}

fn remove_at(document: &mut Value, location: &[Segment]) {
    let Some((last, parent)) = location.split_last() else {
        // The root itself: removing the whole document leaves nothing.
        *document = Value::Null;
        return;
    };
    match (document.pointer_mut(&to_pointer(parent)), last) {
        (Some(Value::Object(map)), Segment::Name(name)) => {
            map.shift_remove(name);
        }
        (Some(Value::Array(items)), Segment::Index(index)) if *index < items.len() => {
            items.remove(*index);
        }
        _ => {}
    }
}

/// Recursive merge: objects merge key by key; any other value replaces.
fn merge(target: &mut Value, update: &Value) {
    match (target, update) {
        (Value::Object(target), Value::Object(update)) => {
            for (key, value) in update {
                match target.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value)
                    }
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, update) => *target = update.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::apply;

    fn overlay(actions: Value) -> Value {
        json!({ "overlay": "1.0.0", "info": { "title": "t", "version": "1" }, "actions": actions })
    }

    #[test]
    fn update_merges_objects_and_appends_to_arrays() {
        let mut document = json!({ "a": { "b": 1, "c": { "d": 2 } }, "list": [1] });
        let actions = overlay(json!([
            { "target": "$.a", "update": { "c": { "e": 3 }, "f": 4 } },
            { "target": "$.list", "update": 2 },
        ]));

        apply(&mut document, &actions, "o.yaml").unwrap();

        assert_eq!(
            document,
            json!({ "a": { "b": 1, "c": { "d": 2, "e": 3 }, "f": 4 }, "list": [1, 2] })
        );
    }

    #[test]
    fn remove_deletes_every_selected_node() {
        let mut document = json!({ "p": { "x": 1, "y": 2, "z": 3 }, "l": [0, 1, 2, 3] });
        let actions = overlay(json!([
            { "target": "$.p['x','z']", "remove": true },
            { "target": "$.l[1,3]", "remove": true },
        ]));

        apply(&mut document, &actions, "o.yaml").unwrap();

        assert_eq!(document, json!({ "p": { "y": 2 }, "l": [0, 2] }));
    }

    #[test]
    fn a_target_that_matches_nothing_is_an_error() {
        let mut document = json!({ "a": {} });
        let actions = overlay(json!([{ "target": "$.missing", "update": { "x": 1 } }]));

        let failure = apply(&mut document, &actions, "o.yaml").unwrap_err();

        assert_eq!(
            failure.to_string(),
            "o.yaml at /actions/0/target: the target `$.missing` matches nothing in the document"
        );
        assert_eq!(document, json!({ "a": {} }));
    }

    #[test]
    fn refuses_what_is_not_overlay_1_0() {
        let mut document = json!({});
        let failure = apply(&mut document, &json!({ "actions": [] }), "o.yaml").unwrap_err();
        assert_eq!(
            failure.to_string(),
            "o.yaml at /: not an Overlay 1.0 document: the `overlay: 1.0.0` field is missing"
        );
        let failure = apply(&mut document, &json!({ "overlay": "2.0.0" }), "o.yaml").unwrap_err();
        assert_eq!(
            failure.to_string(),
            "o.yaml at /overlay: overlay version \"2.0.0\" is not supported; expected 1.0.x"
        );
    }
}
