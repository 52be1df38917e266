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
    let mut entries = Vec::new();
    let broken = |name: &str, change: String| {
        uses.get(name).map(|place| {
            entry(
                Impact::ToFixInThisCrate,
                format!("hand-written `{place}` uses `{name}`: {change}"),
                WHY,
            )
        })
    };
    for (name, shape) in &old.types {
        match new.types.get(name) {
            None => entries.extend(broken(name, "the type is gone (removed or renamed)".into())),
            Some(after) if after != shape => {
                entries.extend(broken(name, format!("{} → {}", shape.kind(), after.kind())));
            }
            Some(_) => {}
        }
    }
    // The types the code reaches without naming them (`answer.data` of a
    // type it names): a field of theirs it reads is named by the field.
    let reached = reached_from(old, uses);
    let mut field_changes = Vec::new();
    for ((owner, field), before) in &old.fields {
        if !new.types.contains_key(owner) {
            continue;
        }
        let change = match new.fields.get(&(owner.clone(), field.clone())) {
            None => format!("field `{field}` removed"),
            Some(after) if after.ty != before.ty => format!(
                "field `{field}` retyped: `{}` → `{}`",
                member_text(before),
                member_text(after)
            ),
            Some(_) => continue,
        };
        if uses.contains_key(owner) {
            entries.extend(broken(owner, change));
        } else if reached.contains(owner.as_str()) {
            field_changes.push((owner.clone(), field.clone(), change));
        }
    }
    for (owner, field, change) in field_changes {
        if let Some(place) = uses.get(&field) {
            let found = entry(
                Impact::ToFixInThisCrate,
                format!(
                    "hand-written `{place}` names `{field}`, like the field of `{owner}` it \
                     reaches: {change}"
                ),
                WHY,
            );
            entries.push(found);
        }
    }
    for (owner, field) in new.fields.keys() {
        if old.types.contains_key(owner)
            && !old.fields.contains_key(&(owner.clone(), field.clone()))
            && builds_literally(sources, owner)
        {
            entries.extend(broken(
                owner,
                format!("field `{field}` added, and the crate builds `{owner}` literally"),
            ));
        }
    }
    for ((owner, variant), before) in &old.variants {
        if !new.types.contains_key(owner) {
            continue;
        }
        match new.variants.get(&(owner.clone(), variant.clone())) {
            None => entries.extend(broken(owner, format!("variant `{variant}` removed"))),
            Some(after) if after != before => {
                entries.extend(broken(
                    owner,
                    format!("variant `{variant}`: `{before}` → `{after}`"),
                ));
            }
            Some(_) => {}
        }
    }
    // An environment added or removed: an exhaustive `match` on
    // `Environment` stops compiling.
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
    if !added_or_removed.is_empty()
        && let Some(variant) = old
            .environments
            .keys()
            .find(|name| uses.contains_key(*name))
    {
        let found = entry(
            Impact::ToFixInThisCrate,
            format!(
                "hand-written `{}` names `Environment::{variant}`: {} (an exhaustive `match` on \
                 `Environment` stops compiling)",
                uses[variant],
                added_or_removed.join(", ")
            ),
            WHY,
        );
        entries.push(found);
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
                    entries.extend(broken(&name, change.clone()));
                    break;
                }
            }
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
