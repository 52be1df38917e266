//! Applies an OpenAPI Overlay 1.0 document to an OpenAPI document, strictly.
//!
//! Written by hand because no maintained Rust crate implements Overlay; the
//! JSONPath queries themselves are RFC 9535, evaluated by `serde_json_path`.
//!
//! Semantics (Overlay 1.0.0, "Action Object"), applied in document order:
//! - `remove: true` removes every node the target selects from its parent;
//! - `update` on an object merges recursively (objects merge key by key, any
//!   other value replaces), and on an array appends the update as one entry.
//!
//! Stricter than the specification, because the vendor's document changes
//! under the overlay and a lenient overlay then changes the client silently:
//! - every selector of a target must select something: in
//!   `$.paths['/a','/b']` both `/a` and `/b` must exist;
//! - an update only adjusts what the document has: it never adds a path, an
//!   operation, a property, a response or a media type (unless an earlier
//!   action of the overlay removed exactly that one, to replace it);
//! - a component the overlay adds carries `x-added-by-overlay: true`, and
//!   must not exist in the document already.
//!
//! Every problem is reported, each at its action in the overlay, which is
//! the place to fix: the vendor's document stays as the vendor publishes it.

use serde_json::Value;
use serde_json_path::{JsonPath, NormalizedPath, PathElement};

use crate::diagnostic::{Diagnostic, Problems};
use crate::document::operations::is_method;
use crate::naming::escape;

/// Marks a component the overlay adds (rather than adjusts).
pub const ADDED_BY_OVERLAY: &str = "x-added-by-overlay";

const FIX_THE_OVERLAY: &str = "fix the overlay, not the vendor's document";

/// Applies `overlay` to `document`, adding every problem to `problems`; an
/// action with a problem is not applied.
/// How many of `actions`' targets match nothing in `document`.
fn unmatched_targets(document: &Value, actions: &[Value]) -> usize {
    actions
        .iter()
        .filter_map(|action| action.get("target").and_then(Value::as_str))
        .filter_map(|target| JsonPath::parse(target).ok())
        .filter(|path| path.query(document).is_empty())
        .count()
}

/// Whether an overlay fits a document: a vendor's change leaves some of
/// its targets unmatched (each reported where it is); an overlay for
/// another document leaves most of them (at least three, and over half).
fn fits(document: &Value, actions: &[Value]) -> bool {
    let unmatched = unmatched_targets(document, actions);
    unmatched < 3 || unmatched * 2 <= actions.len()
}

/// Applies `overlay` to `document`; `false` when the overlay does not fit
/// the document (most of its targets match nothing, and the document is not
/// the one the overlay `extends`), which is then left as it was, with one
/// problem that says so.
pub fn apply(
    document: &mut Value,
    overlay: &Value,
    overlay_file: &str,
    written_for_it: bool,
    problems: &mut Problems,
) -> bool {
    let fail = |pointer: String, message: String| Diagnostic::at(overlay_file, pointer, message);

    match overlay.get("overlay").and_then(Value::as_str) {
        Some(version) if version.starts_with("1.0.") => {}
        Some(version) => {
            problems.push(fail(
                "/overlay".into(),
                format!("overlay version {version:?} is not supported; expected 1.0.x"),
            ));
            return true;
        }
        None => {
            problems.push(fail(
                String::new(),
                "not an Overlay 1.0 document: the `overlay: 1.0.0` field is missing".into(),
            ));
            return true;
        }
    }
    let Some(actions) = overlay.get("actions").and_then(Value::as_array) else {
        problems.push(fail(
            "/actions".into(),
            "an overlay needs a list of `actions`".into(),
        ));
        return true;
    };

    // The document the overlay `extends` (its title) always fits: each
    // target the vendor's change left unmatched is reported where it is.
    if !written_for_it && !fits(document, actions) {
        let targets = actions.len();
        let unmatched = unmatched_targets(document, actions);
        problems.push(
            Diagnostic::new(
                overlay_file,
                format!(
                    "the overlay does not fit this document: {unmatched} of its {targets} \
                     actions' targets match nothing in it (it was written for another \
                     document), so it was not applied"
                ),
            )
            .with_hint(
                "pass the overlay written for this document (`--overlay PATH`), or none \
                 (`--no-overlay`); the document's own problems, if any, follow",
            ),
        );
        return false;
    }

    // Nodes removed so far: an update may put exactly these back, changed.
    let mut removed: Vec<String> = Vec::new();
    for (index, action) in actions.iter().enumerate() {
        let here = format!("/actions/{index}");
        let Some(target) = action.get("target").and_then(Value::as_str) else {
            problems.push(fail(here, "the action has no `target`".into()));
            continue;
        };
        let path = match JsonPath::parse(target) {
            Ok(path) => path,
            Err(error) => {
                problems.push(fail(
                    format!("{here}/target"),
                    format!("`{target}` is not an RFC 9535 JSONPath: {error}"),
                ));
                continue;
            }
        };
        let mut located: Vec<Vec<Segment>> = path
            .query_located(document)
            .into_iter()
            .map(|node| segments(node.location()))
            .collect();
        if located.is_empty() {
            problems.push(
                fail(
                    format!("{here}/target"),
                    format!("the target `{target}` matches nothing in the document"),
                )
                .with_hint(format!(
                    "the vendor's document changed under this action: {FIX_THE_OVERLAY} \
                     (point the target at what the document has now, or drop the action)"
                )),
            );
            continue;
        }
        let missing = unmatched_selectors(target, document);
        if !missing.is_empty() {
            for selector in missing {
                problems.push(
                    fail(
                        format!("{here}/target"),
                        format!(
                            "in the target `{target}`, the selector {selector} matches nothing \
                             in the document"
                        ),
                    )
                    .with_hint(format!(
                        "the vendor's document no longer has it: {FIX_THE_OVERLAY} (drop \
                         {selector} from the target, or name what replaced it)"
                    )),
                );
            }
            continue;
        }

        let remove = action
            .get("remove")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if remove {
            // Remove deepest and last first, so earlier locations stay valid.
            located.sort();
            for location in located.iter().rev() {
                removed.push(to_pointer(location));
                remove_at(document, location);
            }
        } else if let Some(update) = action.get("update") {
            let mut refused = Vec::new();
            for location in &located {
                let pointer = to_pointer(location);
                let node = document.pointer(&pointer).expect("located above");
                let place = Place {
                    document: &pointer,
                    overlay: &format!("{here}/update"),
                };
                additions(node, update, place, &removed, &mut refused);
            }
            if !refused.is_empty() {
                for (at, message, hint) in refused {
                    problems
                        .push(fail(at, message).with_hint(format!("{FIX_THE_OVERLAY}: {hint}")));
                }
                continue;
            }
            for location in &located {
                let pointer = to_pointer(location);
                let node = document
                    .pointer_mut(&pointer)
                    .expect("a located node exists until this action changes it");
                match node {
                    Value::Object(_) if update.is_object() => merge(node, update),
                    Value::Array(items) => items.push(update.clone()),
                    _ => {
                        problems.push(fail(
                            format!("{here}/update"),
                            format!(
                                "the target `{target}` selects `{pointer}`, which is not an \
                                 object or array, or the update is not an object"
                            ),
                        ));
                        break;
                    }
                }
            }
        } else {
            problems.push(fail(
                here,
                "the action has neither `update` nor `remove: true`".into(),
            ));
        }
    }
    true
}

/// What kind of thing the keys of the object at `pointer` name, when they
/// name the vendor's things (that an overlay must not add).
fn collection_of(pointer: &str) -> Option<&'static str> {
    let segments: Vec<&str> = pointer.split('/').skip(1).collect();
    match segments.as_slice() {
        ["paths"] => Some("path"),
        ["paths", _] => Some("operation"),
        [.., "responses"] => Some("response"),
        [.., "content"] => Some("media type"),
        [.., "properties"] => Some("property"),
        _ => None,
    }
}

/// Where an update is being merged: in the document, and in the overlay.
#[derive(Clone, Copy)]
struct Place<'a> {
    document: &'a str,
    overlay: &'a str,
}

/// What `update` would add to `node` that the rules refuse, as (the key's
/// place in the overlay, message, fix); recursing where `update` merges
/// into existing objects.
fn additions(
    node: &Value,
    update: &Value,
    place: Place<'_>,
    removed: &[String],
    refused: &mut Vec<(String, String, String)>,
) {
    let (Value::Object(node), Value::Object(update)) = (node, update) else {
        return;
    };
    let pointer = place.document;
    let collection = collection_of(pointer);
    let in_components = {
        let segments: Vec<&str> = pointer.split('/').skip(1).collect();
        matches!(segments.as_slice(), ["components", _])
    };
    let marked = |value: &Value| value.get(ADDED_BY_OVERLAY) == Some(&Value::Bool(true));
    for (key, value) in update {
        let child = format!("{pointer}/{}", escape(key));
        let at = format!("{}/{}", place.overlay, escape(key));
        match node.get(key) {
            Some(existing) if in_components && marked(value) && !marked(existing) => {
                refused.push((
                    at,
                    format!(
                        "this update adds the overlay's own component `{key}`, but the vendor's \
                         document now has a `{key}` of its own ({child})"
                    ),
                    format!("rename the overlay's `{key}` (and the references to it)"),
                ));
            }
            Some(Value::Array(listed)) if key == "enum" => {
                // Never drop a value the vendor lists (the overlay would
                // hide it from the client and from the change report).
                let kept = value.as_array().cloned().unwrap_or_default();
                let dropped: Vec<String> = listed
                    .iter()
                    .filter(|listed| !kept.contains(listed))
                    .map(|listed| listed.to_string())
                    .collect();
                if !dropped.is_empty() {
                    refused.push((
                        at,
                        format!(
                            "the vendor's document lists {} in this enum ({child}), which this \
                             update would drop",
                            dropped.join(", ")
                        ),
                        "list every value the vendor lists, or drop the action if the vendor's \
                         enum says it all"
                            .into(),
                    ));
                }
            }
            Some(existing) => {
                let inner = Place {
                    document: &child,
                    overlay: &at,
                };
                additions(existing, value, inner, removed, refused);
            }
            None => {
                // A path item also holds `parameters`, `servers`, `x-…`:
                // only its HTTP methods are operations.
                let named = match collection {
                    Some("operation") if !is_method(key) => None,
                    other => other,
                };
                if let Some(what) = named {
                    if !removed.contains(&child) {
                        refused.push((
                            at,
                            format!(
                                "this update would add the {what} `{key}` at {pointer}, which \
                                 the vendor's document does not have: an overlay only adjusts \
                                 what the document has"
                            ),
                            format!(
                                "drop `{key}` from the update (the vendor removed it, or never \
                                 had it), or target what the document has now"
                            ),
                        ));
                    }
                } else if in_components && !marked(value) {
                    refused.push((
                        at,
                        format!(
                            "this update adds the component `{key}`, which the vendor's \
                             document does not have, without marking it as the overlay's own"
                        ),
                        format!(
                            "if it is the overlay's own, add `{ADDED_BY_OVERLAY}: true` to it; \
                             if the vendor had it, the vendor removed it: drop it"
                        ),
                    ));
                }
            }
        }
    }
}

/// In `target`, each selector of a bracketed union (`['/a','/b']`), when
/// that selector alone, with the rest of the target as it is, selects
/// nothing.
///
/// serde_json_path keeps its parsed query private, so the unions are split
/// here, on the text; each narrowed target is parsed by serde_json_path.
fn unmatched_selectors(target: &str, document: &Value) -> Vec<String> {
    let mut missing = Vec::new();
    for (start, end, selectors) in unions(target) {
        if selectors.len() < 2 {
            continue;
        }
        for selector in selectors {
            let narrowed = format!("{}[{}]{}", &target[..start], selector, &target[end + 1..]);
            let Ok(path) = JsonPath::parse(&narrowed) else {
                continue;
            };
            if path.query(document).is_empty() {
                missing.push(selector.trim().to_owned());
            }
        }
    }
    missing
}

/// The bracketed segments of `target`: (index of `[`, index of `]`, the
/// selectors between them, split at top-level commas).
fn unions(target: &str) -> Vec<(usize, usize, Vec<&str>)> {
    let mut found = Vec::new();
    let bytes = target.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] != b'[' {
            index += 1;
            continue;
        }
        let start = index;
        let mut selectors = Vec::new();
        let mut selector_start = index + 1;
        let mut depth = 0usize;
        let mut quote: Option<u8> = None;
        index += 1;
        while index < bytes.len() {
            let byte = bytes[index];
            match quote {
                Some(_) if byte == b'\\' => index += 1,
                Some(q) if byte == q => quote = None,
                Some(_) => {}
                None => match byte {
                    b'\'' | b'"' => quote = Some(byte),
                    b'(' | b'[' => depth += 1,
                    b')' => depth = depth.saturating_sub(1),
                    b']' if depth > 0 => depth -= 1,
                    b',' if depth == 0 => {
                        selectors.push(&target[selector_start..index]);
                        selector_start = index + 1;
                    }
                    b']' => break,
                    _ => {}
                },
            }
            index += 1;
        }
        if index >= bytes.len() {
            break;
        }
        selectors.push(&target[selector_start..index]);
        found.push((start, index, selectors));
        index += 1;
    }
    found
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
