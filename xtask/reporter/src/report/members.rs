//! Changes to the members of types on both sides: fields and enum variants.
//! A type renamed with its operation is compared under its new name, its
//! members' types read with the renamed types' new names.

use std::collections::BTreeSet;

use super::{Entry, Impact, Renames, entry};
use crate::surface::request_types;
use crate::surface::{Member, Need, Surface, member_text};

/// `(owner, name)` after the renames, when the renamed key is in `new`.
fn counterpart<V>(
    key: &(String, String),
    renames: &Renames,
    new: &std::collections::BTreeMap<(String, String), V>,
) -> (String, String) {
    if new.contains_key(key) {
        return key.clone();
    }
    match renames.type_name(&key.0) {
        Some(owner) if new.contains_key(&(owner.clone(), key.1.clone())) => (owner, key.1.clone()),
        _ => key.clone(),
    }
}

/// Whether `owner` is a type on the old side, or one named after a rename:
/// members of types that are new are not reported one by one.
fn owner_was_there(old: &Surface, renames: &Renames, owner: &str) -> bool {
    old.types.contains_key(owner) || renames.renamed_into(owner)
}

/// The fields removed, changed or added on types both sides have (under
/// their new names when renamed).
pub fn fields(old: &Surface, new: &Surface, renames: &Renames) -> Vec<Entry> {
    let old_requests = request_types(old);
    let new_requests = request_types(new);
    let mut entries = Vec::new();
    let mut seen = BTreeSet::new();
    for (key, before) in &old.fields {
        let new_key = counterpart(key, renames, &new.fields);
        if !new.types.contains_key(&new_key.0) {
            continue; // the type itself was removed or renamed
        }
        let request = new_requests.contains(&key.0) || old_requests.contains(&key.0);
        let after = new.fields.get(&new_key);
        entries.extend(old_field_change(key, before, after, request, renames));
        seen.insert(new_key);
    }
    for (key, field) in &new.fields {
        if seen.contains(key)
            || old.fields.contains_key(key)
            || !owner_was_there(old, renames, &key.0)
        {
            continue;
        }
        entries.push(field_added(key, field, new_requests.contains(&key.0)));
    }
    entries
}

/// What became of the old field `key` (`after` on the new side, if any),
/// when it is not the same: removed, retyped, or required or optional now.
fn old_field_change(
    key: &(String, String),
    before: &Member,
    after: Option<&Member>,
    request: bool,
    renames: &Renames,
) -> Option<Entry> {
    let name = format!("{}.{}", key.0, key.1);
    let Some(after) = after else {
        return Some(entry(
            Impact::BreakingForCallers,
            format!("field `{name}` removed"),
            format!("callers using `{name}` no longer compile"),
        ));
    };
    if same_member(before, after, renames) {
        return None;
    }
    let (impact, why) = if before.ty != after.ty {
        (
            Impact::BreakingForCallers,
            "retyped: callers using it as the old type no longer compile".to_owned(),
        )
    } else if after.need == Need::Required && request {
        (
            Impact::BreakingForCallers,
            "now required in a request: callers must set it".to_owned(),
        )
    } else {
        (
            Impact::Compatible,
            format!("now {}; its Rust type is the same", after.need.text()),
        )
    };
    Some(entry(
        impact,
        format!(
            "field `{name}`: `{}` → `{}`",
            member_text(before),
            member_text(after)
        ),
        why,
    ))
}

/// A field added to a type that was there: breaking when a request's
/// field is required, an addition otherwise.
fn field_added(key: &(String, String), field: &Member, in_request: bool) -> Entry {
    let (impact, why) = match (in_request, field.need) {
        (true, Need::Required) => (
            Impact::BreakingForCallers,
            "new required request field: callers must set it",
        ),
        (true, _) => (
            Impact::Addition,
            "an optional request field: callers need not set it",
        ),
        (false, _) => (
            Impact::Addition,
            "a new field of an answer; the type is non-exhaustive, so callers' code is \
             unchanged",
        ),
    };
    entry(
        impact,
        format!("field `{}.{}` added ({})", key.0, key.1, member_text(field)),
        why,
    )
}

/// Whether a field is the same on both sides, reading the old type with
/// the renamed types' new names.
fn same_member(before: &Member, after: &Member, renames: &Renames) -> bool {
    before == after || (before.need == after.need && renames.text(&before.ty) == after.ty)
}

pub fn variants(old: &Surface, new: &Surface, renames: &Renames) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut seen = BTreeSet::new();
    for (key, before) in &old.variants {
        let new_key = counterpart(key, renames, &new.variants);
        if !new.types.contains_key(&new_key.0) {
            continue; // the enum itself was removed or renamed
        }
        let name = format!("{}::{}", key.0, key.1);
        match new.variants.get(&new_key) {
            None => entries.push(entry(
                Impact::BreakingForCallers,
                format!("variant `{name}` removed"),
                format!("callers using `{name}` no longer compile"),
            )),
            Some(after) if after != before && *after != renames.text(before) => {
                entries.push(entry(
                    Impact::BreakingForCallers,
                    format!("variant `{name}`: `{before}` → `{after}`"),
                    "retyped: callers using it as the old type no longer compile",
                ));
            }
            Some(_) => {}
        }
        seen.insert(new_key);
    }
    for (key, payload) in &new.variants {
        if seen.contains(key)
            || old.variants.contains_key(key)
            || !owner_was_there(old, renames, &key.0)
        {
            continue;
        }
        entries.push(entry(
            Impact::Addition,
            format!("variant `{}::{}` added ({payload})", key.0, key.1),
            "the enum is non-exhaustive: callers' `match`es still compile",
        ));
    }
    entries
}
