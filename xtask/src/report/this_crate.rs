//! What the client crate's own hand-written code reads of the generated
//! code (types, fields, operations) and the vendor's change touched: named
//! with the file and line that reads it, so that the regen's author fixes
//! it in the same change, before anyone runs `cargo build`. (The generated
//! types are `#[non_exhaustive]` for callers, but the crate itself may build
//! them with struct literals.)

use std::collections::BTreeMap;
use std::path::Path;

use super::{Entry, entry};
use crate::hand_written::builds_literally;
use crate::naming::pascal_case;
use crate::surface::{Surface, member_text};

/// One entry per generated item the hand-written code names (`uses`: word
/// → first `file:line`) that changed from `old` to `new`.
pub fn hand_written_breaks(
    old: &Surface,
    new: &Surface,
    uses: &BTreeMap<String, String>,
    sources: &Path,
) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut broken = |name: &str, change: String| {
        if let Some(place) = uses.get(name) {
            let mut found = entry(
                false,
                format!("hand-written `{place}` uses `{name}`: {change}"),
                "this crate's own code, not its callers': change it with this regen (`cargo \
                 build` fails there until then)",
            );
            found.for_this_crate = true;
            entries.push(found);
        }
    };
    for (name, shape) in &old.types {
        match new.types.get(name) {
            None => broken(name, "the type is gone (removed or renamed)".into()),
            Some(after) if after != shape => {
                broken(name, format!("{} → {}", shape.kind(), after.kind()));
            }
            Some(_) => {}
        }
    }
    for ((owner, field), before) in &old.fields {
        if !new.types.contains_key(owner) {
            continue;
        }
        match new.fields.get(&(owner.clone(), field.clone())) {
            None => broken(owner, format!("field `{field}` removed")),
            Some(after) if after.ty != before.ty => broken(
                owner,
                format!(
                    "field `{field}` retyped: `{}` → `{}`",
                    member_text(before),
                    member_text(after)
                ),
            ),
            Some(_) => {}
        }
    }
    for (owner, field) in new.fields.keys() {
        if old.types.contains_key(owner)
            && !old.fields.contains_key(&(owner.clone(), field.clone()))
            && builds_literally(sources, owner)
        {
            broken(
                owner,
                format!("field `{field}` added, and the crate builds `{owner}` literally"),
            );
        }
    }
    for ((owner, variant), before) in &old.variants {
        if !new.types.contains_key(owner) {
            continue;
        }
        match new.variants.get(&(owner.clone(), variant.clone())) {
            None => broken(owner, format!("variant `{variant}` removed")),
            Some(after) if after != before => {
                broken(
                    owner,
                    format!("variant `{variant}`: `{before}` → `{after}`"),
                );
            }
            Some(_) => {}
        }
    }
    for (method, before) in &old.operations {
        let change = match new.operations.get(method) {
            None => Some("the operation is gone (removed or renamed)".to_owned()),
            Some(after) if after.body != before.body || after.answer != before.answer => {
                Some("its body or answer type changed".to_owned())
            }
            Some(_) => None,
        };
        if let Some(change) = change {
            for name in [method.clone(), pascal_case(method)] {
                if uses.contains_key(&name) {
                    broken(&name, change.clone());
                    break;
                }
            }
        }
    }
    entries
}
