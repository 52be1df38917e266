//! `cargo xtask report`: what a change does to the generated client between
//! two commits (or a commit and the working tree), read from what regen
//! recorded on each side — `api-surface.txt`, `api-contract.json`, the
//! client's version — without regenerating. The entries are those of
//! regen's changelog (`report::every_change`), grouped by [`Impact`], each
//! with its place in the document (file and line), and the version that
//! follows. Rendered as text, Markdown (a pull request's comment), JSON
//! (stable, documented in `render.rs`) or GitHub annotations; `--gate`
//! refuses a breaking change without the approving label. A side whose
//! generated files were not made from its `specs/` (regen not run) is
//! refused: its record would say nothing changed.

mod places;
mod render;
mod tree;

use std::path::Path;

use serde_json::Value;

use crate::contract::{CONTRACT_FILE, Contract};
use crate::input_digest::{OVERLAY_FILE, SPEC_FILES, digest, recorded_digest};
use crate::output::{API_SURFACE_FILE, CLIENT_FILE};
use crate::read_input::parse_document;
use crate::release::{MANIFEST_FILE, next_version, package_version};
use crate::report::{Entry, Impact, Recorded, every_change};
use crate::source_map::SourceMap;
use crate::surface::Surface;

use places::PlaceIndex;
pub use render::Format;
pub use tree::Tree;

/// A report entry with where it is.
pub struct Reviewed {
    pub entry: Entry,
    pub impact: Impact,
    pub place: Option<Place>,
}

/// A line of a file: of the document, or of this crate's own code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub file: String,
    pub line: usize,
    /// The JSON pointer, for a place in the document.
    pub pointer: Option<String>,
    /// A line of the base's file (what the change removed), not the head's.
    pub before: bool,
}

/// The report between two sides.
pub struct Review {
    pub base: String,
    pub head: String,
    /// The client's version at the base, the one the changes call for, and
    /// the one the head records.
    pub base_version: String,
    pub next_version: String,
    pub head_version: String,
    pub entries: Vec<Reviewed>,
    /// The label that approves a breaking change.
    pub approval_label: String,
    /// What the report could not compare, said with it.
    pub notes: Vec<String>,
}

impl Review {
    pub fn breaking(&self) -> usize {
        self.entries
            .iter()
            .filter(|reviewed| reviewed.impact.is_breaking())
            .count()
    }

    pub fn count(&self, impact: Impact) -> usize {
        self.entries.iter().filter(|r| r.impact == impact).count()
    }
}

/// What regen recorded on one side, and its document.
struct Side {
    surface: Surface,
    contract: Option<Contract>,
    version: String,
    document: Option<Document>,
}

/// The vendor's document on one side: its file, where its nodes are, and
/// the index of its places (the vendor's file as it is: the reporter
/// never applies the overlay, which is the generator's; a type the overlay
/// added is placed at the operation its name begins with, else nowhere).
struct Document {
    map: SourceMap,
    places: PlaceIndex,
}

impl Side {
    fn read(tree: &Tree) -> Result<Self, String> {
        let surface = tree.read(API_SURFACE_FILE)?.ok_or_else(|| {
            format!(
                "{} has no {API_SURFACE_FILE}: it predates the recorded API surface, so there is \
                 nothing to compare (pick a later base)",
                tree.name()
            )
        })?;
        let surface = Surface::parse(&surface)
            .map_err(|problem| format!("{API_SURFACE_FILE} at {}: {problem}", tree.name()))?;
        let contract = match tree.read(CONTRACT_FILE)? {
            Some(text) => Some(
                Contract::parse(&text)
                    .map_err(|problem| format!("{CONTRACT_FILE} at {}: {problem}", tree.name()))?,
            ),
            None => None,
        };
        let manifest = tree.read(MANIFEST_FILE)?.unwrap_or_default();
        let version = package_version(&manifest).unwrap_or_else(|| "?".into());
        regenerated(tree)?;
        Ok(Self {
            surface,
            contract,
            version,
            document: Document::read(tree)?,
        })
    }
}

/// Whether what regen recorded on `tree` was generated from its `specs/`:
/// a document changed without regen would be reported as no change.
fn regenerated(tree: &Tree) -> Result<(), String> {
    let Some(generated) = tree.read(CLIENT_FILE)? else {
        return Ok(());
    };
    let Some(recorded) = recorded_digest(&generated).map(str::to_owned) else {
        return Ok(());
    };
    let mut inputs = Vec::new();
    for file in SPEC_FILES.into_iter().chain([OVERLAY_FILE]) {
        if let Some(text) = tree.read(file)? {
            inputs.push((file, text));
        }
    }
    let digest = digest(inputs.iter().map(|(file, text)| (*file, text.as_bytes())));
    if digest == recorded {
        return Ok(());
    }
    Err(format!(
        "{}: {CLIENT_FILE} was not generated from its specs/ (the document changed and regen \
         was not run): run `cargo xtask regen` and commit what it writes, then report again",
        tree.name()
    ))
}

impl Document {
    fn read(tree: &Tree) -> Result<Option<Self>, String> {
        for file in SPEC_FILES {
            let Some(text) = tree.read(file)? else {
                continue;
            };
            let map = if file.ends_with(".json") {
                SourceMap::json(file, &text)
            } else {
                SourceMap::yaml(file, &text)
            };
            // The vendor's document as it is: a type the overlay made is
            // found by the operation its name begins with.
            let document = parse_document(file, text.as_bytes()).unwrap_or(Value::Null);
            let places = PlaceIndex::of(&document);
            return Ok(Some(Self { map, places }));
        }
        Ok(None)
    }

    /// The line of `pointer` in the file, when the file has it (not only an
    /// ancestor: what the overlay added is not in the vendor's file).
    fn line_of(&self, pointer: &str) -> Option<usize> {
        let range = self.map.locate_exact(pointer)?;
        Some(self.map.line_at(range.start))
    }

    /// The pointer of what an entry is about: its own, else where its name
    /// is found.
    fn pointer(&self, entry: &Entry) -> Option<String> {
        entry
            .at
            .clone()
            .or_else(|| self.places.place_of(&entry.what))
    }

    /// Where an entry is, when this file has its node (or, for a type the
    /// index does not know, the operation it belongs to).
    fn exact(&self, entry: &Entry, before: bool) -> Option<Place> {
        let at = |pointer: &str| {
            self.line_of(pointer).map(|line| Place {
                file: self.map.name.clone(),
                line,
                pointer: Some(pointer.to_owned()),
                before,
            })
        };
        self.pointer(entry)
            .and_then(|pointer| at(&pointer))
            .or_else(|| {
                let name = entry.what.split('`').nth(1)?;
                at(&self.places.operation_of(name)?)
            })
    }

    /// The nearest ancestor of an entry's node that this file has.
    fn ancestor(&self, entry: &Entry) -> Option<Place> {
        let pointer = self.pointer(entry)?;
        let range = self.map.locate(&pointer)?;
        Some(Place {
            file: self.map.name.clone(),
            line: self.map.line_at(range.start),
            pointer: Some(pointer),
            before: false,
        })
    }
}

/// The hand-written `file:line` an entry for this crate names.
fn crate_place(entry: &Entry) -> Option<Place> {
    let named = entry.what.strip_prefix("hand-written `")?;
    let (file, rest) = named.split_once(':')?;
    let line = rest.split('`').next()?.parse().ok()?;
    Some(Place {
        file: file.to_owned(),
        line,
        pointer: None,
        before: false,
    })
}

/// Where an entry is: in this crate's own code; else at its node in the
/// head's document; else in the base's (what the change removed); else at
/// the nearest ancestor the head's document has.
fn place(entry: &Entry, head: Option<&Document>, base: Option<&Document>) -> Option<Place> {
    crate_place(entry)
        .or_else(|| head?.exact(entry, false))
        .or_else(|| base?.exact(entry, true))
        .or_else(|| head?.ancestor(entry))
}

/// The report from `base` to `head`.
pub fn review(base: &Tree, head: &Tree, approval_label: &str) -> Result<Review, String> {
    let (old, new) = (Side::read(base)?, Side::read(head)?);
    let (sources, _copy) = head.sources()?;
    let mut notes = Vec::new();
    if old.contract.is_none() {
        notes.push(format!(
            "{} has no {CONTRACT_FILE}: what the document promises beyond the types (run-time \
             changes) is not compared",
            base.name()
        ));
    }
    let entries = if old.surface == new.surface && old.contract == new.contract {
        Vec::new()
    } else {
        every_change(
            Recorded {
                surface: &old.surface,
                contract: old.contract.as_ref(),
            },
            Recorded {
                surface: &new.surface,
                contract: new.contract.as_ref(),
            },
            &sources,
        )
    };
    let entries: Vec<Reviewed> = entries
        .into_iter()
        .map(|entry| Reviewed {
            impact: entry.impact,
            place: place(&entry, new.document.as_ref(), old.document.as_ref()),
            entry,
        })
        .collect();
    let plain: Vec<Entry> = entries.iter().map(|r| r.entry.clone()).collect();
    let next = if plain.is_empty() {
        old.version.clone()
    } else {
        next_version(&old.version, &plain)
    };
    Ok(Review {
        base: base.name(),
        head: head.name(),
        base_version: old.version,
        next_version: next,
        head_version: new.version,
        entries,
        approval_label: approval_label.to_owned(),
        notes,
    })
}

/// `cargo xtask report`: prints the report in `format`; with `gate`, exits
/// 1 on a breaking change unless `labels` (comma-separated) hold
/// `approval_label`.
pub fn run(root: &Path, arguments: &ReportArguments) -> Result<bool, String> {
    let base = Tree::commit(root, &arguments.base)?;
    let head = match &arguments.head {
        Some(rev) => Tree::commit(root, rev)?,
        None => Tree::WorkingTree(root.to_path_buf()),
    };
    let review = review(&base, &head, &arguments.approval_label)?;
    match &arguments.semver_checks {
        // Its verdict alone, beside a report already printed.
        Some(outcome) => print!(
            "{}",
            render::semver_checks(&review, outcome, arguments.format)
        ),
        None if !arguments.gate => print!("{}", render::render(&review, arguments.format)),
        None => {}
    }
    if !arguments.gate {
        return Ok(true);
    }
    let approved = arguments
        .labels
        .split(',')
        .any(|label| label.trim() == arguments.approval_label);
    Ok(render::gate(&review, approved, &arguments.approval_label))
}

/// What `cargo xtask report` is asked.
pub struct ReportArguments {
    pub base: String,
    pub head: Option<String>,
    pub format: Format,
    pub gate: bool,
    pub labels: String,
    pub approval_label: String,
    /// cargo-semver-checks' outcome on the same change (`success` or
    /// `failure`), to say whether it agrees.
    pub semver_checks: Option<String>,
}
