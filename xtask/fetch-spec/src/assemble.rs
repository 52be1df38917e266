//! One document from the pages' cut ones: each page's operation under its
//! path, the components they bring, and what every page repeats (`openapi`,
//! `info`, `servers`, `security`, `tags`), which must agree. Two pages that
//! disagree on anything they share is an error naming both.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use reward_points_document::operations::is_method;

use super::pages::Page;

/// The document the pages make together.
pub fn assemble(pages: &[Page]) -> Result<Value, String> {
    let mut document = Map::new();
    // Where each part was first read, to name it in a disagreement.
    let mut from: BTreeMap<String, &str> = BTreeMap::new();
    for page in pages {
        let Some(parts) = page.document.as_object() else {
            continue;
        };
        for (key, value) in parts {
            match key.as_str() {
                "paths" | "components" => {
                    let into = document
                        .entry(key.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                    merge_two_levels(into, value, &format!("/{key}"), page, &mut from)?;
                }
                "tags" => merge_tags(&mut document, value, page, &mut from)?,
                _ => agree(
                    &mut document,
                    key,
                    value,
                    &format!("/{key}"),
                    page,
                    &mut from,
                )?,
            }
        }
    }
    Ok(Value::Object(document))
}

/// `value`'s entries two levels down (a path's methods, a section's
/// components) added to `into`; the same one twice must agree.
fn merge_two_levels<'a>(
    into: &mut Value,
    value: &Value,
    at: &str,
    page: &'a Page,
    from: &mut BTreeMap<String, &'a str>,
) -> Result<(), String> {
    let Some(groups) = value.as_object() else {
        return Err(format!("page {}: `{at}` is not a map", page.url));
    };
    for (group, entries) in groups {
        let target = into
            .as_object_mut()
            .expect("a map")
            .entry(group.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(entries) = entries.as_object() else {
            return Err(format!("page {}: `{at}/{group}` is not a map", page.url));
        };
        for (name, entry) in entries {
            let pointer = format!("{at}/{}/{}", escape(group), escape(name));
            let target = target.as_object_mut().expect("a map");
            agree(target, name, entry, &pointer, page, from)?;
        }
    }
    Ok(())
}

/// Tags, one per name, each the same on every page that has it.
fn merge_tags<'a>(
    document: &mut Map<String, Value>,
    value: &Value,
    page: &'a Page,
    from: &mut BTreeMap<String, &'a str>,
) -> Result<(), String> {
    let tags = document
        .entry("tags".to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    for tag in value.as_array().into_iter().flatten() {
        let name = tag.get("name").and_then(Value::as_str).unwrap_or_default();
        let pointer = format!("/tags/{name}");
        let list = tags.as_array_mut().expect("a list");
        match list
            .iter()
            .find(|known| known.get("name") == tag.get("name"))
        {
            Some(known) if known != tag => return Err(disagreement(&pointer, page, from)),
            Some(_) => {}
            None => {
                list.push(tag.clone());
                from.insert(pointer, &page.url);
            }
        }
    }
    Ok(())
}

/// Sets `map[key]` to `value`, or checks that it already is `value`.
fn agree<'a>(
    map: &mut Map<String, Value>,
    key: &str,
    value: &Value,
    pointer: &str,
    page: &'a Page,
    from: &mut BTreeMap<String, &'a str>,
) -> Result<(), String> {
    match map.get(key) {
        Some(known) if known != value => Err(disagreement(pointer, page, from)),
        Some(_) => Ok(()),
        None => {
            map.insert(key.to_owned(), value.clone());
            from.insert(pointer.to_owned(), &page.url);
            Ok(())
        }
    }
}

fn disagreement(pointer: &str, page: &Page, from: &BTreeMap<String, &str>) -> String {
    format!(
        "pages {} and {} disagree on `{pointer}`: the vendor's pages are inconsistent; nothing \
         was written (compare the two pages, and tell the vendor)",
        from.get(pointer).copied().unwrap_or("?"),
        page.url
    )
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Copies into `assembled` what `checked_in` has that no page carried: a
/// top-level part, or a component. Returns what it kept, to be said.
pub fn keep_unmentioned(checked_in: &Value, assembled: &mut Value) -> Vec<String> {
    let mut kept = Vec::new();
    let (Some(old), Some(new)) = (checked_in.as_object(), assembled.as_object_mut()) else {
        return kept;
    };
    for (key, value) in old {
        if key == "components" {
            continue;
        }
        if !new.contains_key(key) {
            new.insert(key.clone(), value.clone());
            kept.push(format!("part `{key}`"));
        }
    }
    let empty = Map::new();
    let old_components = old
        .get("components")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let new_components = new
        .entry("components")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .expect("a map");
    for (section, entries) in old_components {
        let into = new_components
            .entry(section.clone())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("a map");
        for (name, value) in entries.as_object().unwrap_or(&empty) {
            if !into.contains_key(name) {
                into.insert(name.clone(), value.clone());
                kept.push(format!("component `{section}/{name}`"));
            }
        }
    }
    kept
}

/// What differs between the checked-in document and the assembled one:
/// operations, components and the other parts, each added, removed or
/// changed.
pub fn differences(checked_in: &Value, assembled: &Value) -> Vec<String> {
    let mut changes = Vec::new();
    let empty = Map::new();
    let parts = |document: &Value| document.as_object().cloned().unwrap_or_default();
    let (old, new) = (parts(checked_in), parts(assembled));
    for (key, kind) in [("paths", "operation"), ("components", "component")] {
        let entries = |document: &Map<String, Value>| {
            let mut entries = BTreeMap::new();
            for (group, values) in document
                .get(key)
                .and_then(Value::as_object)
                .unwrap_or(&empty)
            {
                for (name, value) in values.as_object().unwrap_or(&empty) {
                    let shown = match key {
                        "paths" if is_method(name) => {
                            format!("{} {group}", name.to_uppercase())
                        }
                        "paths" => format!("{group} ({name})"),
                        _ => format!("{group}/{name}"),
                    };
                    entries.insert(shown, value.clone());
                }
            }
            entries
        };
        changes.extend(compared(kind, &entries(&old), &entries(&new)));
    }
    let rest = |document: &Map<String, Value>| -> BTreeMap<String, Value> {
        document
            .iter()
            .filter(|(key, _)| *key != "paths" && *key != "components")
            .map(|(key, value)| (key.clone(), in_any_order(key, value)))
            .collect()
    };
    changes.extend(compared("part", &rest(&old), &rest(&new)));
    changes
}

fn compared(
    kind: &str,
    old: &BTreeMap<String, Value>,
    new: &BTreeMap<String, Value>,
) -> Vec<String> {
    let mut changes = Vec::new();
    for (name, value) in old {
        match new.get(name) {
            None => changes.push(format!("{kind} `{name}` removed")),
            Some(now) if now != value => changes.push(format!("{kind} `{name}` changed")),
            Some(_) => {}
        }
    }
    for name in new.keys().filter(|name| !old.contains_key(*name)) {
        changes.push(format!("{kind} `{name}` added"));
    }
    changes
}

/// `tags` compared whatever the order the pages gave them in.
fn in_any_order(key: &str, value: &Value) -> Value {
    match (key, value) {
        ("tags", Value::Array(tags)) => {
            let mut tags = tags.clone();
            tags.sort_by_key(|tag| tag.get("name").and_then(Value::as_str).map(str::to_owned));
            Value::Array(tags)
        }
        _ => value.clone(),
    }
}
