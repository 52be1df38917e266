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

/// Why [`apply`] did not apply the whole overlay.
#[derive(Debug)]
pub enum NotApplied {
    /// Not an Overlay 1.0 document (no `overlay: 1.0.x` version, or no list
    /// of `actions`), each problem said: nothing was applied.
    Malformed(Problems),
    /// The overlay does not fit the document (most of its targets match
    /// nothing, and the document is not the one the overlay `extends`),
    /// said in one problem: nothing was applied.
    DoesNotFit(Diagnostic),
    /// Actions with problems, each reported at its action: those were not
    /// applied, the others were.
    Actions(Problems),
}

/// Applies `overlay` to `document`, action by action; an action with a
/// problem is not applied, and every problem is reported.
pub fn apply(
    document: &mut Value,
    overlay: &Value,
    overlay_file: &str,
    written_for_it: bool,
) -> Result<(), NotApplied> {
    let actions = actions_of(overlay, overlay_file).map_err(NotApplied::Malformed)?;
    // The document the overlay `extends` (its title) always fits: each
    // target the vendor's change left unmatched is reported where it is.
    if !written_for_it && !fits(document, actions) {
        return Err(NotApplied::DoesNotFit(does_not_fit(
            document,
            actions,
            overlay_file,
        )));
    }
    let mut run = Run {
        document,
        overlay_file,
        removed: Vec::new(),
    };
    let problems: Problems = actions
        .iter()
        .enumerate()
        .flat_map(|(index, action)| run.action(index, action).err().unwrap_or_default())
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(NotApplied::Actions(problems))
    }
}

// ---------------------------------------------------------------------------
// The overlay as a whole.

/// The overlay's `actions`, once its `overlay` field says it is an Overlay
/// 1.0 document; what is wrong with it otherwise.
fn actions_of<'a>(overlay: &'a Value, overlay_file: &str) -> Result<&'a [Value], Problems> {
    let mut problems = Problems::new();
    match overlay.get("overlay") {
        Some(Value::String(version)) if version.starts_with("1.0.") => {}
        Some(Value::String(version)) => problems.push(Diagnostic::at(
            overlay_file,
            "/overlay",
            format!("overlay version {version:?} is not supported; expected 1.0.x"),
        )),
        Some(other) => problems.push(
            Diagnostic::at(
                overlay_file,
                "/overlay",
                format!(
                    "the overlay version must be a string such as `1.0.0`, not {} (`{other}`)",
                    crate::validate::kind(other)
                ),
            )
            .with_hint("quote it: `overlay: \"1.0.0\"` (YAML reads `1.0` as a number)"),
        ),
        None => problems.push(Diagnostic::at(
            overlay_file,
            "",
            "not an Overlay 1.0 document: the `overlay: 1.0.0` field is missing",
        )),
    }
    let actions = overlay.get("actions").and_then(Value::as_array);
    if actions.is_none() {
        problems.push(Diagnostic::at(
            overlay_file,
            "/actions",
            "an overlay needs a list of `actions`",
        ));
    }
    match actions {
        Some(actions) if problems.is_empty() => Ok(actions),
        _ => Err(problems),
    }
}

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

/// The one problem of an overlay that does not fit the document.
fn does_not_fit(document: &Value, actions: &[Value], overlay_file: &str) -> Diagnostic {
    let targets = actions.len();
    let unmatched = unmatched_targets(document, actions);
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
    )
}

// ---------------------------------------------------------------------------
// One action.

/// The overlay being applied to the document, action by action.
struct Run<'a> {
    document: &'a mut Value,
    overlay_file: &'a str,
    /// Nodes removed so far: an update may put exactly these back, changed.
    removed: Vec<String>,
}

/// Where a node is in the document, step by step.
type Location = Vec<Segment>;

/// What an action does to the nodes its target selects.
enum Change<'a> {
    Remove,
    Update(&'a Value),
}

impl Run<'_> {
    /// A problem at `pointer` in the overlay.
    fn fail(&self, pointer: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(self.overlay_file, pointer, message)
    }

    /// Applies the action at `/actions/{index}`; its problems otherwise
    /// (then it changed nothing, unless its update met a node it cannot
    /// merge into).
    fn action(&mut self, index: usize, action: &Value) -> Result<(), Problems> {
        let here = format!("/actions/{index}");
        let (target, located) = self.selected(action, &here)?;
        match self
            .change(action, &here)
            .map_err(|problem| vec![problem])?
        {
            Change::Remove => {
                self.remove_all(located);
                Ok(())
            }
            Change::Update(update) => self.update_all(&located, update, target, &here),
        }
    }

    /// The action's target, and the nodes it selects; every problem of the
    /// target otherwise.
    fn selected<'v>(
        &self,
        action: &'v Value,
        here: &str,
    ) -> Result<(&'v str, Vec<Location>), Problems> {
        let at_target = format!("{here}/target");
        let target = match action.get("target") {
            Some(Value::String(target)) => target.as_str(),
            Some(other) => {
                let kind = crate::validate::kind(other);
                let message =
                    format!("the action's `target` must be a JSONPath string, not {kind}");
                return Err(vec![self.fail(at_target, message)]);
            }
            None => return Err(vec![self.fail(here, "the action has no `target`")]),
        };
        let path = JsonPath::parse(target).map_err(|error| {
            let message = format!("`{target}` is not an RFC 9535 JSONPath: {error}");
            vec![self.fail(&at_target, message)]
        })?;
        let located: Vec<Location> = path
            .query_located(self.document)
            .into_iter()
            .map(|node| segments(node.location()))
            .collect();
        if located.is_empty() {
            return Err(vec![self.matches_nothing(target, at_target)]);
        }
        let missing = unmatched_selectors(target, self.document);
        if !missing.is_empty() {
            return Err(missing
                .iter()
                .map(|selector| self.selector_matches_nothing(target, selector, &at_target))
                .collect());
        }
        Ok((target, located))
    }

    fn matches_nothing(&self, target: &str, at_target: String) -> Diagnostic {
        self.fail(
            at_target,
            format!("the target `{target}` matches nothing in the document"),
        )
        .with_hint(format!(
            "the vendor's document changed under this action: {FIX_THE_OVERLAY} \
             (point the target at what the document has now, or drop the action)"
        ))
    }

    fn selector_matches_nothing(
        &self,
        target: &str,
        selector: &str,
        at_target: &str,
    ) -> Diagnostic {
        self.fail(
            at_target,
            format!(
                "in the target `{target}`, the selector {selector} matches nothing in the \
                 document"
            ),
        )
        .with_hint(format!(
            "the vendor's document no longer has it: {FIX_THE_OVERLAY} (drop {selector} from \
             the target, or name what replaced it)"
        ))
    }

    /// What the action does: `remove: true`, or else its `update`.
    fn change<'v>(&self, action: &'v Value, here: &str) -> Result<Change<'v>, Diagnostic> {
        match (action.get("remove"), action.get("update")) {
            (Some(Value::Bool(true)), _) => Ok(Change::Remove),
            (None | Some(Value::Bool(false)), Some(update)) => Ok(Change::Update(update)),
            (None | Some(Value::Bool(false)), None) => {
                Err(self.fail(here, "the action has neither `update` nor `remove: true`"))
            }
            (Some(other), _) => Err(self.fail(
                format!("{here}/remove"),
                format!(
                    "`remove` must be true or false, not {} (`{other}`)",
                    crate::validate::kind(other)
                ),
            )),
        }
    }

    /// Removes every located node.
    fn remove_all(&mut self, mut located: Vec<Location>) {
        // Remove deepest and last first, so earlier locations stay valid.
        located.sort();
        for location in located.iter().rev() {
            self.removed.push(to_pointer(location));
            remove_at(self.document, location);
        }
    }

    /// Merges `update` into every located node, once the rules allow every
    /// one of its additions.
    fn update_all(
        &mut self,
        located: &[Location],
        update: &Value,
        target: &str,
        here: &str,
    ) -> Result<(), Problems> {
        let at_update = format!("{here}/update");
        let mut refused = Vec::new();
        for location in located {
            let pointer = to_pointer(location);
            let node = self.document.pointer(&pointer).expect("located above");
            let place = Place {
                document: &pointer,
                overlay: &at_update,
            };
            additions(node, update, place, &self.removed, &mut refused);
        }
        if !refused.is_empty() {
            return Err(refused
                .into_iter()
                .map(|refusal| {
                    self.fail(refusal.at, refusal.message)
                        .with_hint(format!("{FIX_THE_OVERLAY}: {}", refusal.fix))
                })
                .collect());
        }
        for location in located {
            let pointer = to_pointer(location);
            let node = self
                .document
                .pointer_mut(&pointer)
                .expect("a located node exists until this action changes it");
            match node {
                Value::Object(_) if update.is_object() => merge(node, update),
                Value::Array(items) => items.push(update.clone()),
                _ => {
                    let message = format!(
                        "the target `{target}` selects `{pointer}`, which is not an object or \
                         array, or the update is not an object"
                    );
                    return Err(vec![self.fail(at_update, message)]);
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// What an update may add.

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

/// Whether the object at `pointer` is one of `components`' maps (`schemas`,
/// `responses`, …), whose keys name components.
fn holds_components(pointer: &str) -> bool {
    let segments: Vec<&str> = pointer.split('/').skip(1).collect();
    matches!(segments.as_slice(), ["components", _])
}

/// Whether a component is marked as the overlay's own.
fn marked(component: &Value) -> bool {
    component.get(ADDED_BY_OVERLAY) == Some(&Value::Bool(true))
}

/// Where an update is being merged: in the document, and in the overlay.
#[derive(Clone, Copy)]
struct Place<'a> {
    document: &'a str,
    overlay: &'a str,
}

/// A key of an update that the rules refuse.
struct Refusal {
    /// The key's place in the overlay.
    at: String,
    message: String,
    /// How to fix the overlay.
    fix: String,
}

/// What `update` would add to `node` that the rules refuse, recursing where
/// `update` merges into existing objects.
fn additions(
    node: &Value,
    update: &Value,
    place: Place<'_>,
    removed: &[String],
    refused: &mut Vec<Refusal>,
) {
    let (Value::Object(node), Value::Object(update)) = (node, update) else {
        return;
    };
    let in_components = holds_components(place.document);
    for (key, value) in update {
        let child = format!("{}/{}", place.document, escape(key));
        let at = format!("{}/{}", place.overlay, escape(key));
        match node.get(key) {
            Some(existing) if in_components && marked(value) && !marked(existing) => {
                refused.push(clashing_component(key, &child, at));
            }
            Some(Value::Array(listed)) if key == "enum" => {
                refused.extend(dropped_enum_values(listed, value, &child, at));
            }
            Some(existing) => {
                let inner = Place {
                    document: &child,
                    overlay: &at,
                };
                additions(existing, value, inner, removed, refused);
            }
            None => refused.extend(new_key(key, value, place.document, removed, at)),
        }
    }
}

/// The overlay's own component (`key`, at `child`) now has a namesake in
/// the vendor's document.
fn clashing_component(key: &str, child: &str, at: String) -> Refusal {
    Refusal {
        at,
        message: format!(
            "this update adds the overlay's own component `{key}`, but the vendor's document \
             now has a `{key}` of its own ({child})"
        ),
        fix: format!("rename the overlay's `{key}` (and the references to it)"),
    }
}

/// An update of the vendor's enum (`listed`, at `child`) to `kept` that
/// drops values: never allowed (the overlay would hide them from the client
/// and from the change report).
fn dropped_enum_values(listed: &[Value], kept: &Value, child: &str, at: String) -> Option<Refusal> {
    let kept = kept.as_array().cloned().unwrap_or_default();
    let dropped: Vec<String> = listed
        .iter()
        .filter(|listed| !kept.contains(listed))
        .map(|listed| listed.to_string())
        .collect();
    (!dropped.is_empty()).then(|| Refusal {
        at,
        message: format!(
            "the vendor's document lists {} in this enum ({child}), which this update would drop",
            dropped.join(", ")
        ),
        fix: "list every value the vendor lists, or drop the action if the vendor's enum says \
              it all"
            .into(),
    })
}

/// A `key` the object at `pointer` does not have, when the rules refuse to
/// add it: a thing of the vendor's (unless an earlier action removed exactly
/// that one), or a component not marked as the overlay's own.
fn new_key(
    key: &str,
    value: &Value,
    pointer: &str,
    removed: &[String],
    at: String,
) -> Option<Refusal> {
    // A path item also holds `parameters`, `servers`, `x-…`: only its HTTP
    // methods are operations.
    let named = match collection_of(pointer) {
        Some("operation") if !is_method(key) => None,
        other => other,
    };
    if let Some(what) = named {
        let child = format!("{pointer}/{}", escape(key));
        return (!removed.contains(&child)).then(|| Refusal {
            at,
            message: format!(
                "this update would add the {what} `{key}` at {pointer}, which the vendor's \
                 document does not have: an overlay only adjusts what the document has"
            ),
            fix: format!(
                "drop `{key}` from the update (the vendor removed it, or never had it), or \
                 target what the document has now"
            ),
        });
    }
    (holds_components(pointer) && !marked(value)).then(|| Refusal {
        at,
        message: format!(
            "this update adds the component `{key}`, which the vendor's document does not \
             have, without marking it as the overlay's own"
        ),
        fix: format!(
            "if it is the overlay's own, add `{ADDED_BY_OVERLAY}: true` to it; if the vendor \
             had it, the vendor removed it: drop it"
        ),
    })
}

// ---------------------------------------------------------------------------
// Targets and locations.

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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{NotApplied, apply};

    fn document() -> Value {
        json!({
            "openapi": "3.0.3",
            "info": { "title": "t", "version": "1" },
            "paths": { "/thing": { "get": { "summary": "old" } } }
        })
    }

    /// What applying `overlay` to [`document`] says, as one line a problem;
    /// and the document afterwards.
    fn applied(overlay: Value) -> (Result<(), Vec<String>>, Value) {
        let mut document = document();
        let lines = |problems: Vec<crate::diagnostic::Diagnostic>| {
            problems.iter().map(ToString::to_string).collect()
        };
        let said = match apply(&mut document, &overlay, "overlay.yaml", false) {
            Ok(()) => Ok(()),
            Err(NotApplied::Malformed(problems)) => Err(lines(problems)),
            Err(other) => panic!("not reported as malformed: {other:?}"),
        };
        (said, document)
    }

    #[test]
    fn a_malformed_overlay_is_an_error_naming_what_is_wrong() {
        let actions =
            json!([{ "target": "$.paths['/thing'].get", "update": { "summary": "new" } }]);
        let cases = [
            (
                json!({ "actions": actions }),
                vec![
                    "overlay.yaml at /: not an Overlay 1.0 document: the `overlay: 1.0.0` field \
                     is missing",
                ],
            ),
            (
                json!({ "overlay": "2.0.0", "actions": actions }),
                vec![
                    "overlay.yaml at /overlay: overlay version \"2.0.0\" is not supported; expected 1.0.x",
                ],
            ),
            (
                json!({ "overlay": 1.0, "actions": actions }),
                vec![
                    "overlay.yaml at /overlay: the overlay version must be a string such as \
                     `1.0.0`, not a number (`1.0`) (quote it: `overlay: \"1.0.0\"` (YAML reads \
                     `1.0` as a number))",
                ],
            ),
            (
                json!({ "overlay": "1.0.0", "actions": { "target": "$.info" } }),
                vec!["overlay.yaml at /actions: an overlay needs a list of `actions`"],
            ),
            (
                json!({ "overlay": 1 }),
                vec![
                    "overlay.yaml at /overlay: the overlay version must be a string such as \
                     `1.0.0`, not a number (`1`) (quote it: `overlay: \"1.0.0\"` (YAML reads \
                     `1.0` as a number))",
                    "overlay.yaml at /actions: an overlay needs a list of `actions`",
                ],
            ),
        ];
        for (overlay, expected) in cases {
            let (said, after) = applied(overlay.clone());
            assert_eq!(
                said,
                Err(expected.iter().map(|line| line.to_string()).collect()),
                "{overlay}"
            );
            assert_eq!(after, document(), "{overlay} changed the document");
        }
        let well_formed = json!({ "overlay": "1.0.0", "actions": actions });
        let (said, after) = applied(well_formed);
        assert_eq!(said, Ok(()));
        assert_eq!(after["paths"]["/thing"]["get"]["summary"], "new");
    }

    #[test]
    fn an_action_whose_remove_is_not_true_or_false_is_an_error_and_not_applied() {
        let overlay = json!({ "overlay": "1.0.0", "actions": [
            { "target": "$.paths['/thing'].get", "remove": "yes", "update": { "summary": "new" } }
        ] });
        let mut document = document();
        let Err(NotApplied::Actions(problems)) =
            apply(&mut document, &overlay, "overlay.yaml", false)
        else {
            panic!("applied an action whose `remove` is a string");
        };
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "overlay.yaml at /actions/0/remove: `remove` must be true or false, not a string \
              (`\"yes\"`)"
            ]
        );
        assert_eq!(document, super::tests::document());
    }
}
