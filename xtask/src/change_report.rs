//! What changed for callers of the generated crate between two API surfaces,
//! each change marked breaking or compatible with the reason, judged by what
//! a caller's Rust code does (not by the wire, as oasdiff judges):
//!
//! - every generated type, `Environment` and `Operation` is
//!   `#[non_exhaustive]`: a new optional response field, enum variant,
//!   environment or operation leaves callers' code as it was;
//! - request values are built with builders or constructors: a new optional
//!   request field is compatible, a new required one is breaking;
//! - anything removed, renamed or retyped that a caller can name is
//!   breaking;
//! - a new URL or credential changes what a call does, not whether the
//!   caller's code compiles: compatible, and said.
//!
//! A renamed operation renames the types named after it: the report folds
//! them into the one entry for the operation.

use std::collections::{BTreeSet, HashMap};

use std::path::Path;

use crate::api_surface::Surface;
use crate::naming::pascal_case;
use crate::output::{API_SURFACE_FILE, CLIENT_FILE, GeneratedFile};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub breaking: bool,
    /// What changed, such as "field `Pet.tag` added (optional)".
    pub what: String,
    /// What it means for callers.
    pub why: String,
}

/// The types reached from what callers send (bodies and parameters): a
/// field added there is one callers may have to set.
fn request_types(surface: &Surface) -> BTreeSet<String> {
    let type_names: BTreeSet<String> = ["struct", "enum", "newtype", "alias"]
        .iter()
        .flat_map(|kind| surface.keys(kind).cloned().collect::<Vec<_>>())
        .collect();
    let mentioned = |text: &str| -> Vec<String> {
        text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|word| type_names.contains(*word))
            .map(str::to_owned)
            .collect()
    };
    // What each type refers to.
    let mut refers: HashMap<String, Vec<String>> = HashMap::new();
    for ((kind, key), value) in &surface.items {
        let owner = match kind.as_str() {
            "field" => key.split('.').next().unwrap_or_default(),
            "variant" => key.split("::").next().unwrap_or_default(),
            "newtype" | "alias" => key.as_str(),
            _ => continue,
        };
        refers
            .entry(owner.to_owned())
            .or_default()
            .extend(mentioned(value));
    }
    let reach = |roots: Vec<String>| {
        let mut seen = BTreeSet::new();
        let mut stack = roots;
        while let Some(name) = stack.pop() {
            if seen.insert(name.clone()) {
                stack.extend(refers.get(&name).cloned().unwrap_or_default());
            }
        }
        seen
    };
    let mut roots = Vec::new();
    for ((kind, _), value) in &surface.items {
        match kind.as_str() {
            "operation" => {
                for part in value.split(", ") {
                    if let Some(body) = part.strip_prefix("body ") {
                        roots.extend(mentioned(body));
                    }
                }
            }
            "parameter" => roots.extend(mentioned(value)),
            _ => {}
        }
    }
    reach(roots)
}

fn entry(breaking: bool, what: String, why: impl Into<String>) -> Entry {
    Entry {
        breaking,
        what,
        why: why.into(),
    }
}

/// The value's Rust type and requirement: `String (required)` → both.
fn split_need(value: &str) -> (&str, &str) {
    match value.rsplit_once(" (") {
        Some((ty, need)) => (ty, need.trim_end_matches(')')),
        None => (value, ""),
    }
}

/// Every change from `old` to `new`, breaking ones first.
pub fn compare(old: &Surface, new: &Surface) -> Vec<Entry> {
    let mut entries = Vec::new();
    let old_requests = request_types(old);
    let new_requests = request_types(new);

    // Operations renamed: one removed and one added with the same routes.
    let routes_of = |surface: &Surface, method: &str| -> Vec<String> {
        surface
            .items
            .iter()
            .filter(|((kind, key), _)| kind == "route" && key.split(" in ").next() == Some(method))
            .map(|((_, key), value)| {
                format!("{} {value}", key.split(" in ").nth(1).unwrap_or_default())
            })
            .collect()
    };
    let removed_ops: Vec<&String> = old
        .keys("operation")
        .filter(|m| new.get("operation", m).is_none())
        .collect();
    let added_ops: Vec<&String> = new
        .keys("operation")
        .filter(|m| old.get("operation", m).is_none())
        .collect();
    let mut renamed_ops: Vec<(String, String)> = Vec::new();
    for removed in &removed_ops {
        let routes = routes_of(old, removed);
        if let Some(added) = added_ops
            .iter()
            .find(|added| routes_of(new, added) == routes && !routes.is_empty())
        {
            renamed_ops.push(((*removed).clone(), (*added).clone()));
        }
    }
    // Type prefixes the renames carry: `FetchPoints…` → `GetBalance…`.
    let renamed_prefixes: Vec<(String, String)> = renamed_ops
        .iter()
        .map(|(from, to)| (pascal_case(from), pascal_case(to)))
        .collect();
    let renamed_type = |name: &str| -> Option<String> {
        renamed_prefixes
            .iter()
            .find(|(from, _)| name.starts_with(from.as_str()))
            .map(|(from, to)| format!("{to}{}", &name[from.len()..]))
    };
    // A type's text with the renamed types' new names, to compare.
    let renamed_text = |text: &str| {
        let mut out = String::new();
        let mut word = String::new();
        for c in text.chars().chain(std::iter::once(' ')) {
            if c.is_alphanumeric() || c == '_' {
                word.push(c);
                continue;
            }
            out.push_str(&renamed_type(&word).unwrap_or_else(|| word.clone()));
            word.clear();
            out.push(c);
        }
        out.pop();
        out
    };
    let operation_renamed = |method: &str| {
        renamed_ops
            .iter()
            .any(|(from, to)| from == method || to == method)
    };
    for (from, to) in &renamed_ops {
        entries.push(entry(
            true,
            format!(
                "operation `{from}` renamed `{to}` (and its types `{}…` → `{}…`)",
                pascal_case(from),
                pascal_case(to)
            ),
            format!("callers of `client.{from}()` and of those types no longer compile"),
        ));
    }

    // Environments.
    for name in old.keys("environment") {
        let url = old.get("environment", name).cloned().unwrap_or_default();
        match new.get("environment", name) {
            None => {
                let renamed = new
                    .items
                    .iter()
                    .find(|((kind, key), value)| {
                        kind == "environment"
                            && **value == url
                            && old.get("environment", key).is_none()
                    })
                    .map(|((_, key), _)| key.clone());
                match renamed {
                    Some(to) => entries.push(entry(
                        true,
                        format!("environment `{name}` renamed `{to}`"),
                        format!("callers naming `Environment::{name}` no longer compile"),
                    )),
                    None => entries.push(entry(
                        true,
                        format!("environment `{name}` removed"),
                        format!("callers naming `Environment::{name}` no longer compile"),
                    )),
                }
            }
            Some(new_url) if *new_url != url => entries.push(entry(
                false,
                format!("environment `{name}`'s server: `{url}` → `{new_url}`"),
                "calls in this environment go to the new server; callers' code is unchanged",
            )),
            Some(_) => {}
        }
    }
    for name in new.keys("environment") {
        if old.get("environment", name).is_none() {
            let url = new.get("environment", name).cloned().unwrap_or_default();
            let renamed = old.items.iter().any(|((kind, key), value)| {
                kind == "environment" && *value == url && new.get("environment", key).is_none()
            });
            if !renamed {
                entries.push(entry(
                    false,
                    format!("environment `{name}` added ({url})"),
                    "a new `Environment` variant; the enum is non-exhaustive, so callers' \
                     `match`es still compile",
                ));
            }
        }
    }

    // Operations.
    for method in &removed_ops {
        if !operation_renamed(method) {
            entries.push(entry(
                true,
                format!(
                    "operation `{method}` removed (and its types `{}…`)",
                    pascal_case(method)
                ),
                format!("callers of `client.{method}()` no longer compile"),
            ));
        }
    }
    for method in &added_ops {
        if !operation_renamed(method) {
            let value = new.get("operation", method).cloned().unwrap_or_default();
            entries.push(entry(
                false,
                format!(
                    "operation `{method}` added ({value}; its types `{}…`)",
                    pascal_case(method)
                ),
                format!("a new method `client.{method}()`; nothing else changes"),
            ));
        }
    }
    for method in old.keys("operation") {
        let (Some(before), Some(after)) =
            (old.get("operation", method), new.get("operation", method))
        else {
            continue;
        };
        let parts = |text: &str| text.split(", ").map(str::to_owned).collect::<Vec<_>>();
        let (before, after) = (parts(before), parts(after));
        for (old_part, new_part) in before.iter().zip(&after) {
            if old_part == new_part {
                continue;
            }
            let (breaking, why) = if old_part.starts_with("body") || old_part.starts_with("answers")
            {
                (true, "callers using the old type here no longer compile")
            } else if old_part.starts_with("sends") {
                (
                    false,
                    "the call is sent differently; callers' code is unchanged",
                )
            } else {
                (false, "the HTTP method changed; callers' code is unchanged")
            };
            entries.push(entry(
                breaking,
                format!("operation `{method}`: {old_part} → {new_part}"),
                why,
            ));
        }
    }
    for key in old.keys("route") {
        let method = key.split(" in ").next().unwrap_or_default();
        if let (Some(before), Some(after)) = (old.get("route", key), new.get("route", key))
            && before != after
        {
            entries.push(entry(
                false,
                format!("route `{key}`: `{before}` → `{after}`"),
                format!("calls to `{method}` go to the new URL; callers' code is unchanged"),
            ));
        }
    }

    // Parameters.
    for key in old.keys("parameter") {
        let method = key.split('.').next().unwrap_or_default();
        if operation_renamed(method) || new.get("operation", method).is_none() {
            continue;
        }
        match (old.get("parameter", key), new.get("parameter", key)) {
            (Some(_), None) => entries.push(entry(
                true,
                format!("parameter `{key}` removed"),
                "callers setting it no longer compile",
            )),
            (Some(before), Some(after)) if before != after => entries.push(entry(
                true,
                format!("parameter `{key}`: `{before}` → `{after}`"),
                "callers setting it the old way no longer compile, or must now set it",
            )),
            _ => {}
        }
    }
    for key in new.keys("parameter") {
        let method = key.split('.').next().unwrap_or_default();
        if old.get("parameter", key).is_some()
            || operation_renamed(method)
            || old.get("operation", method).is_none()
        {
            continue;
        }
        let value = new.get("parameter", key).cloned().unwrap_or_default();
        let required = split_need(&value).1 == "required";
        entries.push(entry(
            required,
            format!("parameter `{key}` added ({value})"),
            if required {
                "a new required parameter: callers must set it, or `send()` refuses the call"
            } else {
                "callers need not set it"
            },
        ));
    }

    // Types, fields, variants.
    let type_kinds = ["struct", "enum", "newtype", "alias"];
    let kind_of = |surface: &Surface, name: &str| {
        type_kinds
            .iter()
            .find(|kind| surface.get(kind, name).is_some())
            .copied()
    };
    let mut old_types: BTreeSet<String> = BTreeSet::new();
    let mut new_types: BTreeSet<String> = BTreeSet::new();
    for kind in type_kinds {
        old_types.extend(old.keys(kind).cloned());
        new_types.extend(new.keys(kind).cloned());
    }
    // Types named after an operation added or removed come and go with it.
    let belongs_to = |name: &str, methods: &[&String]| {
        methods
            .iter()
            .any(|method| !operation_renamed(method) && name.starts_with(&pascal_case(method)))
    };
    for name in old_types.difference(&new_types) {
        if renamed_type(name).is_some_and(|to| new_types.contains(&to))
            || belongs_to(name, &removed_ops)
        {
            continue;
        }
        entries.push(entry(
            true,
            format!("type `{name}` removed"),
            "callers naming it no longer compile",
        ));
    }
    for name in new_types.difference(&old_types) {
        if belongs_to(name, &added_ops) {
            continue;
        }
        let folded = renamed_prefixes.iter().any(|(from, to)| {
            name.starts_with(to.as_str())
                && old_types.contains(&format!("{from}{}", &name[to.len()..]))
        });
        if !folded {
            entries.push(entry(
                false,
                format!("type `{name}` added"),
                "a new type; nothing else changes",
            ));
        }
    }
    for name in old_types.intersection(&new_types) {
        let (before, after) = (kind_of(old, name), kind_of(new, name));
        if before != after {
            entries.push(entry(
                true,
                format!(
                    "type `{name}`: {} → {}",
                    before.unwrap_or("?"),
                    after.unwrap_or("?")
                ),
                "callers using it as before no longer compile",
            ));
        } else if let Some(kind @ ("newtype" | "alias")) = before
            && old.get(kind, name) != new.get(kind, name)
        {
            entries.push(entry(
                true,
                format!(
                    "type `{name}`: `{}` → `{}`",
                    old.get(kind, name).cloned().unwrap_or_default(),
                    new.get(kind, name).cloned().unwrap_or_default()
                ),
                "callers using the old inner type no longer compile",
            ));
        }
    }
    // Fields and variants of types on both sides (or renamed with an
    // operation: compared under the new name).
    for (kind, separator, noun) in [("field", ".", "field"), ("variant", "::", "variant")] {
        let owner = |key: &str| key.split(separator).next().unwrap_or_default().to_owned();
        let counterpart = |key: &str| {
            let (owner_name, member) = key.split_once(separator).unwrap_or((key, ""));
            renamed_type(owner_name).map(|to| format!("{to}{separator}{member}"))
        };
        let mut seen_new: BTreeSet<String> = BTreeSet::new();
        for key in old.keys(kind) {
            let before = old.get(kind, key).cloned().unwrap_or_default();
            let new_key = if new.get(kind, key).is_some() {
                key.clone()
            } else {
                match counterpart(key) {
                    Some(renamed) if new.get(kind, &renamed).is_some() => renamed,
                    _ => key.clone(),
                }
            };
            let owner_name = owner(key);
            if !new_types.contains(&owner(&new_key)) {
                continue; // the type itself was removed or renamed
            }
            match new.get(kind, &new_key) {
                None => entries.push(entry(
                    true,
                    format!("{noun} `{key}` removed"),
                    format!("callers using `{key}` no longer compile"),
                )),
                Some(after) if *after != before && *after != renamed_text(&before) => {
                    let (old_ty, _) = split_need(&before);
                    let (new_ty, new_need) = split_need(after);
                    let request =
                        new_requests.contains(&owner_name) || old_requests.contains(&owner_name);
                    let (breaking, why) = if old_ty != new_ty {
                        (
                            true,
                            "retyped: callers using it as the old type no longer compile"
                                .to_owned(),
                        )
                    } else if new_need == "required" && request {
                        (
                            true,
                            "now required in a request: callers must set it".to_owned(),
                        )
                    } else {
                        (false, format!("now {new_need}; its Rust type is the same"))
                    };
                    entries.push(entry(
                        breaking,
                        format!("{noun} `{key}`: `{before}` → `{after}`"),
                        why,
                    ));
                }
                Some(_) => {}
            }
            seen_new.insert(new_key);
        }
        for key in new.keys(kind) {
            if seen_new.contains(key) || old.get(kind, key).is_some() {
                continue;
            }
            let owner_name = owner(key);
            if !old_types.contains(&owner_name)
                && !renamed_prefixes
                    .iter()
                    .any(|(_, to)| owner_name.starts_with(to.as_str()))
            {
                continue; // a member of a new type
            }
            let value = new.get(kind, key).cloned().unwrap_or_default();
            let (breaking, why) = if kind == "variant" {
                (
                    false,
                    "the enum is non-exhaustive: callers' `match`es still compile".to_owned(),
                )
            } else {
                let (_, need) = split_need(&value);
                let request = new_requests.contains(&owner_name);
                match (request, need) {
                    (true, "required") => (
                        true,
                        "new required request field: callers must set it".to_owned(),
                    ),
                    (true, _) => (
                        false,
                        "an optional request field: callers need not set it".to_owned(),
                    ),
                    (false, _) => (
                        false,
                        "a new field of an answer; the type is non-exhaustive, so callers' code \
                         is unchanged"
                            .to_owned(),
                    ),
                }
            };
            entries.push(entry(
                breaking,
                format!("{noun} `{key}` added ({value})"),
                why,
            ));
        }
    }
    entries.sort_by_key(|entry| !entry.breaking);
    entries
}

/// A version after `entries`: breaking changes bump what semver requires
/// for the current version, other changes the next smaller part.
pub fn next_version(current: &str, entries: &[Entry]) -> String {
    let parts: Vec<u64> = current
        .split('.')
        .map(|part| part.parse().unwrap_or(0))
        .chain(std::iter::repeat(0))
        .take(3)
        .collect();
    let (major, minor, patch) = (parts[0], parts[1], parts[2]);
    let breaking = entries.iter().any(|entry| entry.breaking);
    match (major, breaking) {
        (0, true) => format!("0.{}.0", minor + 1),
        (0, false) => format!("0.{minor}.{}", patch + 1),
        (_, true) => format!("{}.0.0", major + 1),
        (_, false) if entries.iter().any(|entry| entry.what.contains(" added")) => {
            format!("{major}.{}.0", minor + 1)
        }
        (_, false) => format!("{major}.{minor}.{}", patch + 1),
    }
}

/// The changelog entry: the new version, the verdict, one line a change.
pub fn changelog_entry(from: &str, to: &str, entries: &[Entry]) -> String {
    let breaking = entries.iter().filter(|entry| entry.breaking).count();
    let compatible = entries.len() - breaking;
    let verdict = if breaking > 0 {
        "**breaking**"
    } else {
        "compatible"
    };
    let mut text = format!(
        "## {to}\n\nFrom {from}: {verdict} ({breaking} breaking, {compatible} compatible).\n\n"
    );
    for entry in entries {
        let mark = if entry.breaking {
            "**breaking**"
        } else {
            "compatible"
        };
        text.push_str(&format!("- {mark} — {}: {}\n", entry.what, entry.why));
    }
    text
}

/// What regen writes besides the generated files when the client changed,
/// and what it says.
pub struct FollowUp {
    pub files: Vec<GeneratedFile>,
    pub summary: Option<String>,
}

pub const CHANGELOG_FILE: &str = "generated-client/CHANGELOG.md";
const MANIFEST_FILE: &str = "generated-client/Cargo.toml";
const LOCK_FILE: &str = "Cargo.lock";

const CHANGELOG_HEADER: &str = "\
# Changes to the generated client

`cargo xtask regen` adds an entry here whenever the generated client changes: each change
of its API, breaking or compatible for callers of this crate (with the reason), and the
version that follows from it by semver. Read it first when reviewing a new version of the
vendor's document; the line-by-line API is in `api-surface.txt`.

";

/// The generated source without its header (which carries the inputs'
/// digest: a reformatted document changes the header only).
fn without_header(source: &str) -> String {
    source
        .lines()
        .skip_while(|line| line.starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compares what regen generated with what `out_dir` holds, and when the
/// client changed: a changelog entry, the next version in the manifest and
/// the lock file, and a summary to print.
pub fn follow_up(out_dir: &Path, files: &[GeneratedFile]) -> FollowUp {
    let generated = |path: &str| {
        files
            .iter()
            .find(|file| file.relative_path == path)
            .map(|file| file.content.as_str())
            .unwrap_or_default()
    };
    let on_disk = |path: &str| std::fs::read_to_string(out_dir.join(path)).ok();
    let nothing = FollowUp {
        files: Vec::new(),
        summary: None,
    };
    let Some(old_client) = on_disk(CLIENT_FILE) else {
        return nothing;
    };
    let new_client = generated(CLIENT_FILE);
    if without_header(&old_client) == without_header(new_client) {
        if old_client == new_client {
            return nothing;
        }
        return FollowUp {
            files: Vec::new(),
            summary: Some(
                "the document changed, the client did not: no change to the client, nothing to \
                 report, the version stays"
                    .into(),
            ),
        };
    }
    let Some(old_surface) = on_disk(API_SURFACE_FILE) else {
        return FollowUp {
            files: Vec::new(),
            summary: Some("api-surface.txt recorded for the first time: no report".into()),
        };
    };
    let mut entries = compare(
        &Surface::parse(&old_surface),
        &Surface::parse(generated(API_SURFACE_FILE)),
    );
    if entries.is_empty() {
        entries.push(entry(
            false,
            "generated code changed (documentation, or the generator), the API did not".into(),
            "callers' code is unchanged",
        ));
    }
    let Some(manifest) = on_disk(MANIFEST_FILE) else {
        return FollowUp {
            files: Vec::new(),
            summary: Some(changelog_entry("?", "?", &entries)),
        };
    };
    let Some((name, version)) = package_name_and_version(&manifest) else {
        return FollowUp {
            files: Vec::new(),
            summary: Some(changelog_entry("?", "?", &entries)),
        };
    };
    let next = next_version(&version, &entries);
    let report = changelog_entry(&version, &next, &entries);
    let changelog = on_disk(CHANGELOG_FILE).unwrap_or_else(|| CHANGELOG_HEADER.to_owned());
    let changelog = match changelog.find("\n## ") {
        Some(index) => format!(
            "{}\n{report}\n{}",
            &changelog[..index],
            &changelog[index + 1..]
        ),
        None => format!("{}\n{report}", changelog.trim_end()),
    };
    let mut files = vec![
        GeneratedFile {
            relative_path: CHANGELOG_FILE,
            content: changelog,
        },
        GeneratedFile {
            relative_path: MANIFEST_FILE,
            content: manifest.replacen(
                &format!("version = \"{version}\""),
                &format!("version = \"{next}\""),
                1,
            ),
        },
    ];
    if let Some(lock) = on_disk(LOCK_FILE) {
        files.push(GeneratedFile {
            relative_path: LOCK_FILE,
            content: lock.replacen(
                &format!("name = \"{name}\"\nversion = \"{version}\""),
                &format!("name = \"{name}\"\nversion = \"{next}\""),
                1,
            ),
        });
    }
    FollowUp {
        files,
        summary: Some(format!(
            "{report}\nversion {version} → {next}, in {MANIFEST_FILE} and {CHANGELOG_FILE}"
        )),
    }
}

/// The `[package]` table's `name` and `version`.
fn package_name_and_version(manifest: &str) -> Option<(String, String)> {
    let package = manifest.split("\n[").next()?;
    let value = |key: &str| {
        package.lines().find_map(|line| {
            let rest = line
                .trim()
                .strip_prefix(key)?
                .trim_start()
                .strip_prefix('=')?;
            Some(rest.trim().trim_matches('"').to_owned())
        })
    };
    Some((value("name")?, value("version")?))
}

#[cfg(test)]
mod tests {
    use super::{Entry, next_version};

    fn change(breaking: bool, what: &str) -> Entry {
        Entry {
            breaking,
            what: what.into(),
            why: String::new(),
        }
    }

    #[test]
    fn versions_follow_semver_for_zero_and_later_majors() {
        let breaking = [change(true, "field removed")];
        let addition = [change(false, "field `A.b` added")];
        let detail = [change(false, "route changed")];
        assert_eq!(next_version("0.1.0", &breaking), "0.2.0");
        assert_eq!(next_version("0.1.0", &addition), "0.1.1");
        assert_eq!(next_version("1.4.2", &breaking), "2.0.0");
        assert_eq!(next_version("1.4.2", &addition), "1.5.0");
        assert_eq!(next_version("1.4.2", &detail), "1.4.3");
    }
}
