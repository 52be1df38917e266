//! What changed for callers of the generated crate between two API surfaces
//! (`surface/`), each change marked breaking or compatible with the reason,
//! judged by what a caller's Rust code does (not by the wire, as oasdiff
//! judges):
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
//! them into the one entry for the operation ([`Renames`]). One function per
//! kind of change; [`compare`] runs them all. `release.rs` turns the entries
//! into a version and a changelog entry.

mod between;
mod document;
mod members;
mod this_crate;

pub use between::{Recorded, every_change};
pub use document::changes as document_changes;
pub use this_crate::{deprecated_uses, hand_written_breaks};

use std::collections::BTreeSet;

use crate::naming::pascal_case;
use crate::surface::{Operation, Shape, Surface, operation_credential_text};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// What the change means, decided where the change is found.
    pub impact: Impact,
    /// What changed, such as "field `Pet.tag` added (optional)".
    pub what: String,
    /// What it means for callers.
    pub why: String,
    /// The place in the document, for a change of the contract.
    pub at: Option<String>,
    /// The keyword a tightened request constraint is about (`pattern`).
    pub rule: Option<&'static str>,
}

/// How a change concerns whoever reviews it: the report's groups, and what
/// the next version follows from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Impact {
    /// Callers' code no longer compiles, or compiles to something else.
    BreakingForCallers,
    /// Callers' code compiles; the vendor may refuse what it took, or
    /// deployed clients cannot read what it sends.
    BreakingAtRunTime,
    /// This crate's own hand-written code, fixed with the regen.
    ToFixInThisCrate,
    /// Something new callers may use (an operation, a field, a variant):
    /// a minor version after 1.0.
    Addition,
    /// Nothing a caller must do.
    Compatible,
}

impl Impact {
    /// Whether callers (their code, or their services) break.
    pub fn is_breaking(self) -> bool {
        matches!(self, Impact::BreakingForCallers | Impact::BreakingAtRunTime)
    }

    /// The group's heading, as the reports print it.
    pub fn heading(self) -> &'static str {
        match self {
            Impact::BreakingForCallers => "Breaking for callers",
            Impact::BreakingAtRunTime => "Breaking at run time",
            Impact::ToFixInThisCrate => "To fix in this crate",
            Impact::Addition => "Additions",
            Impact::Compatible => "Compatible",
        }
    }

    /// Its name in the JSON report.
    pub fn key(self) -> &'static str {
        match self {
            Impact::BreakingForCallers => "breaking",
            Impact::BreakingAtRunTime => "breaking-at-run-time",
            Impact::ToFixInThisCrate => "to-fix-in-this-crate",
            Impact::Addition => "addition",
            Impact::Compatible => "compatible",
        }
    }

    /// Its mark in the changelog.
    pub fn mark(self) -> &'static str {
        match self {
            Impact::BreakingForCallers => "**breaking**",
            Impact::BreakingAtRunTime => "**breaking at run time**",
            Impact::ToFixInThisCrate => "**to fix in this crate**",
            Impact::Addition => "addition",
            Impact::Compatible => "compatible",
        }
    }

    pub const ALL: [Impact; 5] = [
        Impact::BreakingForCallers,
        Impact::BreakingAtRunTime,
        Impact::ToFixInThisCrate,
        Impact::Addition,
        Impact::Compatible,
    ];
}

pub fn entry(impact: Impact, what: String, why: impl Into<String>) -> Entry {
    Entry {
        impact,
        what,
        why: why.into(),
        at: None,
        rule: None,
    }
}

/// Every change from `old` to `new`, breaking ones first.
pub fn compare(old: &Surface, new: &Surface) -> Vec<Entry> {
    let renames = Renames::between(old, new);
    let mut entries = Vec::new();
    entries.extend(renamed_operations(&renames));
    entries.extend(environments(old, new));
    entries.extend(operations(old, new, &renames));
    entries.extend(routes(old, new));
    entries.extend(parameters(old, new, &renames));
    entries.extend(types(old, new, &renames));
    entries.extend(members::fields(old, new, &renames));
    entries.extend(members::variants(old, new, &renames));
    entries.sort_by_key(|entry| entry.impact);
    entries
}

/// Operations renamed (one removed and one added with the same routes), and
/// the type names the renames carry (`FetchPoints…` → `GetBalance…`).
pub struct Renames {
    removed: Vec<String>,
    added: Vec<String>,
    operations: Vec<(String, String)>,
    prefixes: Vec<(String, String)>,
}

impl Renames {
    fn between(old: &Surface, new: &Surface) -> Self {
        let removed: Vec<String> = old
            .operations
            .keys()
            .filter(|method| !new.operations.contains_key(*method))
            .cloned()
            .collect();
        let added: Vec<String> = new
            .operations
            .keys()
            .filter(|method| !old.operations.contains_key(*method))
            .cloned()
            .collect();
        let mut operations = Vec::new();
        for from in &removed {
            let routes = old.routes_of(from);
            if let Some(to) = added
                .iter()
                .find(|to| !routes.is_empty() && new.routes_of(to) == routes)
            {
                operations.push((from.clone(), to.clone()));
            }
        }
        let prefixes = operations
            .iter()
            .map(|(from, to)| (pascal_case(from), pascal_case(to)))
            .collect();
        Self {
            removed,
            added,
            operations,
            prefixes,
        }
    }

    /// Whether `method` was renamed, or is a rename's new name.
    fn involves(&self, method: &str) -> bool {
        self.operations
            .iter()
            .any(|(from, to)| from == method || to == method)
    }

    /// A type's name after the renames.
    fn type_name(&self, name: &str) -> Option<String> {
        self.prefixes
            .iter()
            .find(|(from, _)| name.starts_with(from.as_str()))
            .map(|(from, to)| format!("{to}{}", &name[from.len()..]))
    }

    /// Whether `name` is a type named after a rename's new name.
    fn renamed_into(&self, name: &str) -> bool {
        self.prefixes
            .iter()
            .any(|(_, to)| name.starts_with(to.as_str()))
    }

    /// A type's text with the renamed types' new names, to compare.
    fn text(&self, text: &str) -> String {
        let mut out = String::new();
        let mut word = String::new();
        for c in text.chars().chain(std::iter::once(' ')) {
            if c.is_alphanumeric() || c == '_' {
                word.push(c);
                continue;
            }
            out.push_str(&self.type_name(&word).unwrap_or_else(|| word.clone()));
            word.clear();
            out.push(c);
        }
        out.pop();
        out
    }

    /// Whether type `name` comes and goes with an operation added or removed
    /// (not renamed).
    fn belongs_to_one_of(&self, name: &str, methods: &[String]) -> bool {
        methods
            .iter()
            .any(|method| !self.involves(method) && name.starts_with(&pascal_case(method)))
    }
}

fn renamed_operations(renames: &Renames) -> Vec<Entry> {
    renames
        .operations
        .iter()
        .map(|(from, to)| {
            entry(
                Impact::BreakingForCallers,
                format!(
                    "operation `{from}` renamed `{to}` (and its types `{}…` → `{}…`)",
                    pascal_case(from),
                    pascal_case(to)
                ),
                format!("callers of `client.{from}()` and of those types no longer compile"),
            )
        })
        .collect()
}

fn environments(old: &Surface, new: &Surface) -> Vec<Entry> {
    let mut entries = Vec::new();
    // Another name for the same server: a rename.
    let renamed_to = |url: &String| {
        new.environments
            .iter()
            .find(|(name, new_url)| *new_url == url && !old.environments.contains_key(*name))
            .map(|(name, _)| name.clone())
    };
    for (name, url) in &old.environments {
        let gone = format!("callers naming `Environment::{name}` no longer compile");
        match new.environments.get(name) {
            None => match renamed_to(url) {
                Some(to) => entries.push(entry(
                    Impact::BreakingForCallers,
                    format!("environment `{name}` renamed `{to}`"),
                    gone,
                )),
                None => entries.push(entry(
                    Impact::BreakingForCallers,
                    format!("environment `{name}` removed"),
                    gone,
                )),
            },
            Some(new_url) if new_url != url => entries.push(entry(
                Impact::Compatible,
                format!("environment `{name}`'s server: `{url}` → `{new_url}`"),
                "calls in this environment go to the new server; callers' code is unchanged",
            )),
            Some(_) => {}
        }
    }
    for (name, url) in &new.environments {
        let renamed = old
            .environments
            .iter()
            .any(|(old_name, old_url)| old_url == url && !new.environments.contains_key(old_name));
        if !old.environments.contains_key(name) && !renamed {
            entries.push(entry(
                Impact::Addition,
                format!("environment `{name}` added ({url})"),
                "a new `Environment` variant; the enum is non-exhaustive, so callers' \
                 `match`es still compile",
            ));
        }
    }
    entries
}

fn operations(old: &Surface, new: &Surface, renames: &Renames) -> Vec<Entry> {
    let mut entries = Vec::new();
    for method in &renames.removed {
        if !renames.involves(method) {
            entries.push(entry(
                Impact::BreakingForCallers,
                format!(
                    "operation `{method}` removed (and its types `{}…`)",
                    pascal_case(method)
                ),
                format!("callers of `client.{method}()` no longer compile"),
            ));
        }
    }
    for method in &renames.added {
        if !renames.involves(method) {
            let operation = &new.operations[method];
            entries.push(entry(
                Impact::Addition,
                format!(
                    "operation `{method}` added ({}; its types `{}…`)",
                    crate::surface::operation_text(operation),
                    pascal_case(method)
                ),
                format!("a new method `client.{method}()`; nothing else changes"),
            ));
        }
    }
    for (method, before) in &old.operations {
        if let Some(after) = new.operations.get(method) {
            entries.extend(operation_changes(method, before, after));
        }
    }
    entries
}

/// One entry per part of an operation that changed: its HTTP method, its
/// body or answer type, its credential (compared part by part, so an answer
/// type that comes or goes is named as such).
fn operation_changes(method: &str, before: &Operation, after: &Operation) -> Vec<Entry> {
    let body = |operation: &Operation| match &operation.body {
        Some(body) => format!("body {body}"),
        None => "no body".to_owned(),
    };
    let answer = |operation: &Operation| match &operation.answer {
        Some(answer) => format!("answers {answer}"),
        None => "no answer type".to_owned(),
    };
    let credential = |operation: &Operation| operation_credential_text(operation).to_owned();
    let typed = "callers using the old type here no longer compile";
    let parts: [(String, String, Impact, &str); 4] = [
        (
            before.http_method.clone(),
            after.http_method.clone(),
            Impact::Compatible,
            "the HTTP method changed; callers' code is unchanged",
        ),
        (body(before), body(after), Impact::BreakingForCallers, typed),
        (
            answer(before),
            answer(after),
            Impact::BreakingForCallers,
            typed,
        ),
        (
            credential(before),
            credential(after),
            Impact::Compatible,
            "the call is sent differently; callers' code is unchanged",
        ),
    ];
    parts
        .into_iter()
        .filter(|(old_part, new_part, _, _)| old_part != new_part)
        .map(|(old_part, new_part, impact, why)| {
            entry(
                impact,
                format!("operation `{method}`: {old_part} → {new_part}"),
                why,
            )
        })
        .collect()
}

fn routes(old: &Surface, new: &Surface) -> Vec<Entry> {
    old.routes
        .iter()
        .filter_map(|(key @ (method, environment), before)| {
            let after = new.routes.get(key)?;
            (before != after).then(|| {
                entry(
                    Impact::Compatible,
                    format!(
                        "route `{method} in {environment}`: `{} {}` → `{} {}`",
                        before.http_method, before.url, after.http_method, after.url
                    ),
                    format!("calls to `{method}` go to the new URL; callers' code is unchanged"),
                )
            })
        })
        .collect()
}

fn parameters(old: &Surface, new: &Surface, renames: &Renames) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (key @ (method, name), before) in &old.parameters {
        if renames.involves(method) || !new.operations.contains_key(method) {
            continue;
        }
        match new.parameters.get(key) {
            None => entries.push(entry(
                Impact::BreakingForCallers,
                format!("parameter `{method}.{name}` removed"),
                "callers setting it no longer compile",
            )),
            Some(after) if after != before => entries.push(entry(
                Impact::BreakingForCallers,
                format!(
                    "parameter `{method}.{name}`: `{}` → `{}`",
                    crate::surface::member_text(before),
                    crate::surface::member_text(after)
                ),
                "callers setting it the old way no longer compile, or must now set it",
            )),
            Some(_) => {}
        }
    }
    for (key @ (method, name), parameter) in &new.parameters {
        if old.parameters.contains_key(key)
            || renames.involves(method)
            || !old.operations.contains_key(method)
        {
            continue;
        }
        let required = parameter.need == crate::surface::Need::Required;
        entries.push(entry(
            if required {
                Impact::BreakingForCallers
            } else {
                Impact::Addition
            },
            format!(
                "parameter `{method}.{name}` added ({})",
                crate::surface::member_text(parameter)
            ),
            if required {
                "a new required parameter: callers must set it, or `send()` refuses the call"
            } else {
                "callers need not set it"
            },
        ));
    }
    entries
}

fn types(old: &Surface, new: &Surface, renames: &Renames) -> Vec<Entry> {
    let mut entries = Vec::new();
    let old_names: BTreeSet<&String> = old.types.keys().collect();
    let new_names: BTreeSet<&String> = new.types.keys().collect();
    for name in old_names.difference(&new_names) {
        let renamed = renames
            .type_name(name)
            .is_some_and(|to| new.types.contains_key(&to));
        if renamed || renames.belongs_to_one_of(name, &renames.removed) {
            continue;
        }
        entries.push(entry(
            Impact::BreakingForCallers,
            format!("type `{name}` removed"),
            "callers naming it no longer compile",
        ));
    }
    for name in new_names.difference(&old_names) {
        if renames.belongs_to_one_of(name, &renames.added) {
            continue;
        }
        let folded = renames.prefixes.iter().any(|(from, to)| {
            name.starts_with(to.as_str())
                && old
                    .types
                    .contains_key(&format!("{from}{}", &name[to.len()..]))
        });
        if !folded {
            entries.push(entry(
                Impact::Addition,
                format!("type `{name}` added"),
                "a new type; nothing else changes",
            ));
        }
    }
    for name in old_names.intersection(&new_names) {
        let (before, after) = (&old.types[*name], &new.types[*name]);
        if before.kind() != after.kind() {
            entries.push(entry(
                Impact::BreakingForCallers,
                format!("type `{name}`: {} → {}", before.kind(), after.kind()),
                "callers using it as before no longer compile",
            ));
        } else if let (
            Shape::Newtype(was) | Shape::Alias(was),
            Shape::Newtype(is) | Shape::Alias(is),
        ) = (before, after)
            && was != is
        {
            entries.push(entry(
                Impact::BreakingForCallers,
                format!("type `{name}`: `{was}` → `{is}`"),
                "callers using the old inner type no longer compile",
            ));
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::compare;
    use crate::surface::{Operation, Surface};
    use reward_points_document::routes::Credential;

    fn with(http_method: &str, body: &str, answer: Option<&str>) -> Surface {
        let mut surface = Surface::default();
        surface.operations.insert(
            "tag_pets".into(),
            Operation {
                http_method: http_method.into(),
                body: Some(body.into()),
                answer: answer.map(Into::into),
                credential: Credential::BearerToken,
            },
        );
        surface
    }

    #[test]
    fn an_operations_parts_are_compared_one_by_one() {
        let before = with("POST", "HashMap<String, String>", Some("Pet"));
        let after = with("PUT", "HashMap<String, u32>", None);
        let changes: Vec<(bool, String)> = compare(&before, &after)
            .into_iter()
            .map(|entry| (entry.impact.is_breaking(), entry.what))
            .collect();
        assert_eq!(
            changes,
            [
                (
                    true,
                    "operation `tag_pets`: body HashMap<String, String> → body HashMap<String, u32>"
                        .to_owned()
                ),
                (
                    true,
                    "operation `tag_pets`: answers Pet → no answer type".to_owned()
                ),
                (false, "operation `tag_pets`: POST → PUT".to_owned()),
            ]
        );
    }
}
