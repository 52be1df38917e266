//! What the client crate's own hand-written code reads of the generated
//! code (types, fields, operations) and the vendor's change touched: named
//! with the file and line that reads it, so that the regen's author fixes
//! it in the same change, before anyone runs `cargo build`. (The generated
//! types are `#[non_exhaustive]` for callers, but the crate itself may build
//! them with struct literals.)

use std::collections::BTreeMap;
use std::path::PathBuf;

use std::collections::BTreeSet;

use super::{Entry, Impact, entry};
use crate::contract::Contract;
use crate::hand_written::builds_literally;
use crate::naming::{pascal_case, snake_case};
use crate::surface::{Surface, member_text};

const WHY: &str = "this crate's own code, not its callers': change it with this regen (`cargo \
                   build` fails there until then)";

/// One entry per generated item the hand-written code names (`uses`: word
/// → first `file:line`) that changed from `old` to `new`.
pub fn hand_written_breaks(
    old: &Surface,
    new: &Surface,
    uses: &BTreeMap<String, String>,
    sources: &[PathBuf],
) -> Vec<Entry> {
    let mut entries = type_breaks(old, new, uses);
    entries.extend(field_breaks(old, new, uses));
    entries.extend(added_field_breaks(old, new, uses, sources));
    entries.extend(variant_breaks(old, new, uses));
    entries.extend(environment_break(old, new, uses));
    entries.extend(operation_breaks(old, new, uses));
    entries
}

/// The entry for the hand-written line that names `name`, when one does.
fn fix_where_used(uses: &BTreeMap<String, String>, name: &str, change: String) -> Option<Entry> {
    uses.get(name).map(|place| {
        entry(
            Impact::ToFixInThisCrate,
            format!("hand-written `{place}` uses `{name}`: {change}"),
            WHY,
        )
    })
}

/// Types gone, or of another kind (a struct now an enum).
fn type_breaks(old: &Surface, new: &Surface, uses: &BTreeMap<String, String>) -> Vec<Entry> {
    old.types
        .iter()
        .filter_map(|(name, shape)| {
            let change = match new.types.get(name) {
                None => "the type is gone (removed or renamed)".into(),
                Some(after) if after != shape => format!("{} → {}", shape.kind(), after.kind()),
                Some(_) => return None,
            };
            fix_where_used(uses, name, change)
        })
        .collect()
}

/// Fields removed or retyped: named where the code names their type, or
/// where it names the field of a type it reaches without naming it.
fn field_breaks(old: &Surface, new: &Surface, uses: &BTreeMap<String, String>) -> Vec<Entry> {
    // The types the code reaches without naming them (`answer.data` of a
    // type it names): a field of theirs it reads is named by the field.
    let reached = reached_from(old, uses);
    let mut entries = Vec::new();
    let mut reached_changes = Vec::new();
    for (owner, field, change) in changed_fields(old, new) {
        if uses.contains_key(owner) {
            entries.extend(fix_where_used(uses, owner, change));
        } else if reached.contains(owner) {
            reached_changes.push((owner, field, change));
        }
    }
    for (owner, field, change) in reached_changes {
        if let Some(place) = uses.get(field) {
            entries.push(entry(
                Impact::ToFixInThisCrate,
                format!(
                    "hand-written `{place}` names `{field}`, like the field of `{owner}` it \
                     reaches: {change}"
                ),
                WHY,
            ));
        }
    }
    entries
}

/// Each field removed or retyped on a type still there: the type, the
/// field and the change.
fn changed_fields<'a>(old: &'a Surface, new: &Surface) -> Vec<(&'a str, &'a str, String)> {
    old.fields
        .iter()
        .filter(|((owner, _), _)| new.types.contains_key(owner))
        .filter_map(|((owner, field), before)| {
            let change = match new.fields.get(&(owner.clone(), field.clone())) {
                None => format!("field `{field}` removed"),
                Some(after) if after.ty != before.ty => format!(
                    "field `{field}` retyped: `{}` → `{}`",
                    member_text(before),
                    member_text(after)
                ),
                Some(_) => return None,
            };
            Some((owner.as_str(), field.as_str(), change))
        })
        .collect()
}

/// Fields added to a type the crate builds with a struct literal, which
/// then lacks them.
fn added_field_breaks(
    old: &Surface,
    new: &Surface,
    uses: &BTreeMap<String, String>,
    sources: &[PathBuf],
) -> Vec<Entry> {
    new.fields
        .keys()
        .filter(|(owner, field)| {
            old.types.contains_key(owner)
                && !old.fields.contains_key(&(owner.clone(), field.clone()))
                && builds_literally(sources, owner)
        })
        .filter_map(|(owner, field)| {
            fix_where_used(
                uses,
                owner,
                format!("field `{field}` added, and the crate builds `{owner}` literally"),
            )
        })
        .collect()
}

/// Variants removed or retyped, on enums still there.
fn variant_breaks(old: &Surface, new: &Surface, uses: &BTreeMap<String, String>) -> Vec<Entry> {
    old.variants
        .iter()
        .filter(|((owner, _), _)| new.types.contains_key(owner))
        .filter_map(|((owner, variant), before)| {
            let change = match new.variants.get(&(owner.clone(), variant.clone())) {
                None => format!("variant `{variant}` removed"),
                Some(after) if after != before => {
                    format!("variant `{variant}`: `{before}` → `{after}`")
                }
                Some(_) => return None,
            };
            fix_where_used(uses, owner, change)
        })
        .collect()
}

/// An environment added or removed, when the code names one: an exhaustive
/// `match` on `Environment` stops compiling.
fn environment_break(
    old: &Surface,
    new: &Surface,
    uses: &BTreeMap<String, String>,
) -> Option<Entry> {
    let added_or_removed: Vec<String> = old
        .environments
        .keys()
        .filter(|name| !new.environments.contains_key(*name))
        .map(|name| format!("environment `{name}` removed"))
        .chain(
            new.environments
                .keys()
                .filter(|name| !old.environments.contains_key(*name))
                .map(|name| format!("environment `{name}` added")),
        )
        .collect();
    if added_or_removed.is_empty() {
        return None;
    }
    let variant = old
        .environments
        .keys()
        .find(|name| uses.contains_key(*name))?;
    Some(entry(
        Impact::ToFixInThisCrate,
        format!(
            "hand-written `{}` names `Environment::{variant}`: {} (an exhaustive `match` on \
             `Environment` stops compiling)",
            uses[variant],
            added_or_removed.join(", ")
        ),
        WHY,
    ))
}

/// Operations gone, or with another body or answer type: named where the
/// code names the method or its `PascalCase` name.
fn operation_breaks(old: &Surface, new: &Surface, uses: &BTreeMap<String, String>) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (method, before) in &old.operations {
        let change = match new.operations.get(method) {
            None => "the operation is gone (removed or renamed)",
            Some(after) if after.body != before.body || after.answer != before.answer => {
                "its body or answer type changed"
            }
            Some(_) => continue,
        };
        let named = [method.clone(), pascal_case(method)]
            .into_iter()
            .find(|name| uses.contains_key(name));
        if let Some(name) = named {
            entries.extend(fix_where_used(uses, &name, change.to_owned()));
        }
    }
    entries
}

/// The generated types the hand-written code reaches from those it names,
/// through fields and variants.
fn reached_from<'a>(surface: &'a Surface, uses: &BTreeMap<String, String>) -> BTreeSet<&'a str> {
    let mentioned = |text: &'a str| {
        text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|word| surface.types.contains_key(*word))
    };
    let mut reached: BTreeSet<&str> = surface
        .types
        .keys()
        .filter(|name| uses.contains_key(*name))
        .map(String::as_str)
        .collect();
    let mut stack: Vec<&str> = reached.iter().copied().collect();
    while let Some(name) = stack.pop() {
        let inner = surface
            .fields
            .iter()
            .filter(|((owner, _), _)| owner == name)
            .flat_map(|(_, field)| mentioned(&field.ty))
            .chain(
                surface
                    .variants
                    .iter()
                    .filter(|((owner, _), _)| owner == name)
                    .flat_map(|(_, payload)| mentioned(payload)),
            )
            .collect::<Vec<_>>();
        for next in inner {
            if reached.insert(next) {
                stack.push(next);
            }
        }
    }
    reached
}

/// What the hand-written code uses that the vendor now deprecates: the
/// generated `#[deprecated]` makes `cargo clippy -D warnings` fail there.
pub fn deprecated_uses(
    old: &Contract,
    new: &Contract,
    uses: &BTreeMap<String, String>,
) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (pointer, place) in &new.places {
        let newly = place.deprecated() && !old.places.get(pointer).is_some_and(|p| p.deprecated());
        if !newly {
            continue;
        }
        let name = match place.names.get("operationId") {
            Some(id) => snake_case(id),
            None if pointer.contains("/properties/") => snake_case(place.name(pointer)),
            None => continue,
        };
        if let Some(used_at) = uses.get(&name) {
            let found = entry(
                Impact::ToFixInThisCrate,
                format!(
                    "hand-written `{used_at}` names `{name}`, which the vendor now deprecates \
                     ({pointer})"
                ),
                "this crate's own code: its `#[deprecated]` warning fails `cargo clippy -D \
                 warnings`; stop using it, or allow it there with the reason",
            );
            entries.push(found);
        }
    }
    entries
}
