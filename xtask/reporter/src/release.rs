//! The release step of regen: when the generated client changed, the change
//! report (`report/`) becomes the next version by semver, a changelog entry
//! in `generated-client/CHANGELOG.md`, and that version in the client's
//! `Cargo.toml` and in `Cargo.lock`, both edited as TOML (toml_edit keeps
//! their layout and comments).

use std::path::Path;

use toml_edit::{DocumentMut, Value};

use crate::contract::{CONTRACT_FILE, Contract};
use crate::diagnostic::Diagnostic;
use crate::output::{API_SURFACE_FILE, CLIENT_FILE, GeneratedFile};
use crate::report::{Entry, Impact, Recorded, document_changes, every_change};
use crate::surface::Surface;

/// A version after `entries`: breaking changes bump what semver requires
/// for the current version, additions the minor version after 1.0, other
/// changes the patch.
pub fn next_version(current: &str, entries: &[Entry]) -> String {
    let parts: Vec<u64> = current
        .split('.')
        .map(|part| part.parse().unwrap_or(0))
        .chain(std::iter::repeat(0))
        .take(3)
        .collect();
    let (major, minor, patch) = (parts[0], parts[1], parts[2]);
    let breaking = entries.iter().any(|entry| entry.impact.is_breaking());
    let addition = entries.iter().any(|entry| entry.impact == Impact::Addition);
    match (major, breaking, addition) {
        (0, true, _) => format!("0.{}.0", minor + 1),
        (0, false, _) => format!("0.{minor}.{}", patch + 1),
        (_, true, _) => format!("{}.0.0", major + 1),
        (_, false, true) => format!("{major}.{}.0", minor + 1),
        (_, false, false) => format!("{major}.{minor}.{}", patch + 1),
    }
}

/// The changelog entry: the new version, the verdict, one line a change.
pub fn changelog_entry(from: &str, to: &str, entries: &[Entry]) -> String {
    let breaking = entries
        .iter()
        .filter(|entry| entry.impact.is_breaking())
        .count();
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
        text.push_str(&format!(
            "- {} — {}: {}\n",
            entry.impact.mark(),
            entry.what,
            entry.why
        ));
    }
    text
}

/// What regen writes besides the generated files when the client changed,
/// and what it says.
pub struct FollowUp {
    pub files: Vec<GeneratedFile>,
    pub summary: Option<String>,
}

impl FollowUp {
    /// Nothing to write and nothing to say.
    fn nothing() -> Self {
        FollowUp {
            files: Vec::new(),
            summary: None,
        }
    }

    /// Nothing to write, only `summary` to print.
    fn said(summary: String) -> Self {
        FollowUp {
            files: Vec::new(),
            summary: Some(summary),
        }
    }
}

pub const CHANGELOG_FILE: &str = "generated-client/CHANGELOG.md";
pub const MANIFEST_FILE: &str = "generated-client/Cargo.toml";
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
/// the lock file, and a summary to print. An `api-surface.txt` or manifest
/// on disk that does not read stops regen (the report would be a guess).
pub fn follow_up(out_dir: &Path, files: &[GeneratedFile]) -> Result<FollowUp, Diagnostic> {
    let entries = match compare_with_disk(out_dir, files)? {
        Comparison::Unchanged => return Ok(FollowUp::nothing()),
        Comparison::Unreported(summary) => return Ok(FollowUp::said(summary)),
        Comparison::Reported(entries) => entries,
    };
    let Some(manifest) = on_disk(out_dir, MANIFEST_FILE) else {
        return Ok(FollowUp::said(changelog_entry("?", "?", &entries)));
    };
    let manifest = read_toml(MANIFEST_FILE, &manifest)?;
    let Some(release) = Release::decide(&manifest, &entries) else {
        // The generated files are still written; only the version is left
        // to a person, and said so.
        return Ok(FollowUp::said(format!(
            "{}\nthe version is not bumped: {MANIFEST_FILE}'s [package] has no literal `name` and \
             `version`; bump it by hand and add this entry to {CHANGELOG_FILE}",
            changelog_entry("?", "?", &entries)
        )));
    };
    Ok(FollowUp {
        files: release.edited_files(out_dir, manifest)?,
        summary: Some(format!(
            "{}\nversion {} → {}, in {MANIFEST_FILE} and {CHANGELOG_FILE}",
            release.entry, release.version, release.next
        )),
    })
}

/// What comparing the generated client with the one in `out_dir` found.
enum Comparison {
    /// No client on disk yet, or the same client.
    Unchanged,
    /// A change that has no report, and what to say about it.
    Unreported(String),
    /// The report: every change of the client, for its callers.
    Reported(Vec<Entry>),
}

/// The text of a file regen generated (empty when it generated none).
fn generated<'a>(files: &'a [GeneratedFile], path: &str) -> &'a str {
    files
        .iter()
        .find(|file| file.relative_path == path)
        .map(|file| file.content.as_str())
        .unwrap_or_default()
}

/// The text of a file in `out_dir`, when it reads.
fn on_disk(out_dir: &Path, path: &str) -> Option<String> {
    std::fs::read_to_string(out_dir.join(path)).ok()
}

/// The report of what changed from the client in `out_dir` (its surface
/// and contract as recorded there) to the one generated.
fn compare_with_disk(out_dir: &Path, files: &[GeneratedFile]) -> Result<Comparison, Diagnostic> {
    let Some(old_client) = on_disk(out_dir, CLIENT_FILE) else {
        return Ok(Comparison::Unchanged);
    };
    let (old_contract, new_contract) = contracts(out_dir, generated(files, CONTRACT_FILE))?;
    let document_changed = old_contract
        .as_ref()
        .is_some_and(|old| !document_changes(old, &new_contract).is_empty());
    let new_client = generated(files, CLIENT_FILE);
    let client_changed = without_header(&old_client) != without_header(new_client);
    if !client_changed && !document_changed {
        if old_client == new_client {
            return Ok(Comparison::Unchanged);
        }
        return Ok(Comparison::Unreported(
            "the document changed, the client did not: no change to the client, nothing to \
             report, the version stays"
                .into(),
        ));
    }
    let Some(old_surface) = on_disk(out_dir, API_SURFACE_FILE) else {
        return Ok(Comparison::Unreported(
            "api-surface.txt recorded for the first time: no report".into(),
        ));
    };
    let (old_surface, new_surface) =
        surfaces(out_dir, &old_surface, generated(files, API_SURFACE_FILE))?;
    Ok(Comparison::Reported(every_change(
        Recorded {
            surface: &old_surface,
            contract: old_contract.as_ref(),
        },
        Recorded {
            surface: &new_surface,
            contract: Some(&new_contract),
        },
        out_dir,
    )))
}

/// The surface on disk and the one generated. One on disk that does not
/// read stops regen.
fn surfaces(
    out_dir: &Path,
    on_disk: &str,
    generated: &str,
) -> Result<(Surface, Surface), Diagnostic> {
    let old = Surface::parse(on_disk)
        .map_err(|problem| unreadable_record(out_dir, API_SURFACE_FILE, problem))?;
    let new = Surface::parse(generated)
        .map_err(|problem| Diagnostic::new(API_SURFACE_FILE, format!("as generated: {problem}")))?;
    Ok((old, new))
}

/// The release decided from the report: the client's package, its version
/// now and next, and the changelog entry between them.
struct Release {
    name: String,
    version: String,
    next: String,
    entry: String,
}

impl Release {
    /// The release after `entries`, when the manifest's `[package]` writes
    /// out its `name` and `version`.
    fn decide(manifest: &DocumentMut, entries: &[Entry]) -> Option<Release> {
        let (name, version) = package_name_and_version(manifest)?;
        let next = next_version(&version, entries);
        let entry = changelog_entry(&version, &next, entries);
        Some(Release {
            name,
            version,
            next,
            entry,
        })
    }

    /// The files the release edits in `out_dir`: the changelog with its
    /// entry, the manifest with the next version, and the lock file with it
    /// when there is one (one that does not read as TOML stops regen).
    fn edited_files(
        &self,
        out_dir: &Path,
        mut manifest: DocumentMut,
    ) -> Result<Vec<GeneratedFile>, Diagnostic> {
        set_version(manifest["package"]["version"].as_value_mut(), &self.next);
        let changelog = on_disk(out_dir, CHANGELOG_FILE);
        let mut files = vec![
            GeneratedFile {
                relative_path: CHANGELOG_FILE,
                content: with_entry(changelog, &self.entry),
            },
            GeneratedFile {
                relative_path: MANIFEST_FILE,
                content: manifest.to_string(),
            },
        ];
        if let Some(lock) = on_disk(out_dir, LOCK_FILE) {
            let mut lock = read_toml(LOCK_FILE, &lock)?;
            set_locked_version(&mut lock, &self.name, &self.next);
            files.push(GeneratedFile {
                relative_path: LOCK_FILE,
                content: lock.to_string(),
            });
        }
        Ok(files)
    }
}

/// The changelog (a new one with its header when there is none yet) with
/// `entry` above the newest one.
fn with_entry(changelog: Option<String>, entry: &str) -> String {
    let changelog = changelog.unwrap_or_else(|| CHANGELOG_HEADER.to_owned());
    match changelog.find("\n## ") {
        Some(index) => format!(
            "{}\n{entry}\n{}",
            &changelog[..index],
            &changelog[index + 1..]
        ),
        None => format!("{}\n{entry}", changelog.trim_end()),
    }
}

/// A TOML file regen edits; one that does not read stops regen.
fn read_toml(file: &str, text: &str) -> Result<DocumentMut, Diagnostic> {
    text.parse()
        .map_err(|error| Diagnostic::new(file, format!("does not read as TOML: {error}")))
}

/// A record regen writes and reads back (`api-surface.txt`, the contract)
/// that does not read: a report from it would be a guess.
fn unreadable_record(out_dir: &Path, file: &str, problem: String) -> Diagnostic {
    let path = out_dir.join(file).display().to_string();
    Diagnostic::new(&path, problem).with_hint(format!(
        "it is written by regen and read back to report what changed; restore the committed one \
         (`git checkout -- {path}`) and run regen again"
    ))
}

/// The contract on disk and the one generated; `None` for the one on disk
/// when no contract was recorded yet. One on disk that does not read stops
/// regen, as the surface does.
fn contracts(out_dir: &Path, generated: &str) -> Result<(Option<Contract>, Contract), Diagnostic> {
    let new = Contract::parse(generated)
        .map_err(|problem| Diagnostic::new(CONTRACT_FILE, format!("as generated: {problem}")))?;
    let Ok(old) = std::fs::read_to_string(out_dir.join(CONTRACT_FILE)) else {
        return Ok((None, new));
    };
    let old = Contract::parse(&old)
        .map_err(|problem| unreadable_record(out_dir, CONTRACT_FILE, problem))?;
    Ok((Some(old), new))
}

/// The `[package]` version of a manifest's text, when it is written out.
pub fn package_version(manifest: &str) -> Option<String> {
    let manifest: DocumentMut = manifest.parse().ok()?;
    package_name_and_version(&manifest).map(|(_, version)| version)
}

/// The `[package]` table's `name` and `version`, when both are written out.
fn package_name_and_version(manifest: &DocumentMut) -> Option<(String, String)> {
    let package = manifest.get("package")?;
    let name = package.get("name")?.as_str()?;
    let version = package.get("version")?.as_str()?;
    Some((name.to_owned(), version.to_owned()))
}

/// Sets a string value, keeping the spaces and comment around it.
fn set_version(value: Option<&mut Value>, version: &str) {
    if let Some(value) = value {
        let decor = value.decor().clone();
        *value = Value::from(version);
        *value.decor_mut() = decor;
    }
}

/// The workspace member `name`'s version in the lock file (the entry
/// without a `source`: a registry crate of the same name is left alone).
fn set_locked_version(lock: &mut DocumentMut, name: &str, version: &str) {
    let Some(packages) = lock
        .get_mut("package")
        .and_then(|item| item.as_array_of_tables_mut())
    else {
        return;
    };
    for package in packages.iter_mut() {
        let ours = package.get("name").and_then(|item| item.as_str()) == Some(name)
            && !package.contains_key("source");
        if ours {
            set_version(
                package
                    .get_mut("version")
                    .and_then(|item| item.as_value_mut()),
                version,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{DocumentMut, Entry, Impact, next_version, set_locked_version, set_version};

    fn change(impact: Impact, what: &str) -> Entry {
        Entry {
            impact,
            what: what.into(),
            why: String::new(),
            at: None,
            rule: None,
        }
    }

    #[test]
    fn versions_follow_semver_for_zero_and_later_majors() {
        let breaking = [change(Impact::BreakingForCallers, "field removed")];
        let addition = [change(Impact::Addition, "field `A.b` added")];
        let detail = [change(Impact::Compatible, "route changed")];
        assert_eq!(next_version("0.1.0", &breaking), "0.2.0");
        assert_eq!(next_version("0.1.0", &addition), "0.1.1");
        assert_eq!(next_version("1.4.2", &breaking), "2.0.0");
        assert_eq!(next_version("1.4.2", &addition), "1.5.0");
        assert_eq!(next_version("1.4.2", &detail), "1.4.3");
    }

    #[test]
    fn versions_are_edited_in_place_keeping_layout_and_other_entries() {
        let mut manifest: DocumentMut = "[package]\nname = \"client\"\nversion   =  \"0.1.0\"  # bumped by regen\n\n[dependencies]\nserde = { version = \"0.1.0\" }\n"
            .parse()
            .unwrap();
        set_version(manifest["package"]["version"].as_value_mut(), "0.2.0");
        assert_eq!(
            manifest.to_string(),
            "[package]\nname = \"client\"\nversion   =  \"0.2.0\"  # bumped by regen\n\n[dependencies]\nserde = { version = \"0.1.0\" }\n"
        );
        let mut lock: DocumentMut = "version = 4\n\n[[package]]\nname = \"client\"\nversion = \"0.1.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"client\"\nversion = \"0.1.0\"\ndependencies = [\n \"serde\",\n]\n"
            .parse()
            .unwrap();
        set_locked_version(&mut lock, "client", "0.2.0");
        assert_eq!(
            lock.to_string(),
            "version = 4\n\n[[package]]\nname = \"client\"\nversion = \"0.1.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"client\"\nversion = \"0.2.0\"\ndependencies = [\n \"serde\",\n]\n"
        );
    }
}
