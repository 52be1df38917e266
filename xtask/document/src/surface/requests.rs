//! The types reached from what callers send (bodies and parameters): a field
//! added there is one callers may have to set.

use std::collections::{BTreeSet, HashMap};

use crate::surface::{Shape, Surface};

/// The names of the types callers send, directly or inside another.
pub fn request_types(surface: &Surface) -> BTreeSet<String> {
    let mentioned = |text: &str| -> Vec<String> {
        text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|word| surface.types.contains_key(*word))
            .map(str::to_owned)
            .collect()
    };
    // What each type refers to.
    let mut refers: HashMap<&str, Vec<String>> = HashMap::new();
    for ((owner, _), field) in &surface.fields {
        refers
            .entry(owner)
            .or_default()
            .extend(mentioned(&field.ty));
    }
    for ((owner, _), payload) in &surface.variants {
        refers.entry(owner).or_default().extend(mentioned(payload));
    }
    for (name, shape) in &surface.types {
        if let Shape::Newtype(inner) | Shape::Alias(inner) = shape {
            refers.entry(name).or_default().extend(mentioned(inner));
        }
    }
    let mut roots = Vec::new();
    for operation in surface.operations.values() {
        if let Some(body) = &operation.body {
            roots.extend(mentioned(body));
        }
    }
    for parameter in surface.parameters.values() {
        roots.extend(mentioned(&parameter.ty));
    }
    let mut seen = BTreeSet::new();
    let mut stack = roots;
    while let Some(name) = stack.pop() {
        if !seen.contains(&name) {
            stack.extend(refers.get(name.as_str()).cloned().unwrap_or_default());
            seen.insert(name);
        }
    }
    seen
}
