//! The report's four renderings. The JSON is stable (its `schema` field
//! names its version; within a version, fields are only ever added, and a
//! field's values never change meaning). Version 2 added the `addition`
//! impact (and its count), which version 1 reported as `compatible`:
//!
//! ```json
//! {
//!   "schema": "xoxoday-client-report/2",
//!   "base": { "name": "main (1a2b3c4d5e6f)", "version": "0.6.0" },
//!   "head": { "name": "the working tree", "version": "0.7.0" },
//!   "next_version": "0.7.0",
//!   "breaking": true,
//!   "counts": { "breaking": 1, "breaking-at-run-time": 0, "to-fix-in-this-crate": 0,
//!               "addition": 1, "compatible": 1 },
//!   "entries": [
//!     { "impact": "breaking", "what": "…", "why": "…",
//!       "place": { "file": "specs/reward-points-api.yaml", "line": 12,
//!                  "pointer": "/paths/…", "before": false } }
//!   ],
//!   "notes": []
//! }
//! ```
//!
//! `impact` is one of `breaking` (for callers' code), `breaking-at-run-time`,
//! `to-fix-in-this-crate`, `addition`, `compatible`; `place` is `null` when the entry has
//! none, `pointer` is `null` for a place in this crate's own code, and
//! `before` says the line is the base's file's (what the change removed);
//! `notes` say what could not be compared.

use std::fmt::Write;

use serde_json::json;

use super::{Place, Review, Reviewed};
use crate::report::Impact;

/// How the report is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// For a terminal.
    Text,
    /// A pull request's comment or job summary.
    Markdown,
    /// For tools: stable, documented in xtask/reporter/src/review/render.rs.
    Json,
    /// GitHub Actions workflow commands: an `::error` at the document's line
    /// for each breaking entry, a `::warning` for each to fix in this crate.
    Github,
}

pub fn render(review: &Review, format: Format) -> String {
    match format {
        Format::Text => text(review),
        Format::Markdown => markdown(review),
        Format::Json => format!("{:#}\n", json(review)),
        Format::Github => github(review),
    }
}

/// `0.6.0 → 0.7.0 (breaking)`, and what the head records when it differs.
fn version_line(review: &Review) -> String {
    let verdict = if review.breaking() > 0 {
        "breaking"
    } else if review.entries.is_empty() {
        "no change to the client"
    } else {
        "compatible"
    };
    let mut line = format!(
        "{} → {} ({verdict})",
        review.base_version, review.next_version
    );
    if older(&review.head_version, &review.next_version) {
        write!(
            line,
            "; {} records {}: run `cargo xtask regen`, which sets the version",
            review.head, review.head_version
        )
        .unwrap();
    }
    line
}

/// Whether version `a` comes before `b` (`major.minor.patch`).
fn older(a: &str, b: &str) -> bool {
    let parts = |version: &str| -> Vec<u64> {
        version
            .split('.')
            .map(|part| part.parse().unwrap_or(0))
            .collect()
    };
    parts(a) < parts(b)
}

fn place_text(place: Option<&Place>) -> String {
    place.map_or_else(String::new, |place| match place.before {
        true => format!("{}:{} (before the change)", place.file, place.line),
        false => format!("{}:{}", place.file, place.line),
    })
}

fn groups(review: &Review) -> impl Iterator<Item = (Impact, Vec<&Reviewed>)> {
    Impact::ALL.into_iter().filter_map(|impact| {
        let entries: Vec<&Reviewed> = review
            .entries
            .iter()
            .filter(|reviewed| reviewed.impact == impact)
            .collect();
        (!entries.is_empty()).then_some((impact, entries))
    })
}

fn text(review: &Review) -> String {
    let mut out = format!(
        "report: {} → {}\nversion {}\n",
        review.base,
        review.head,
        version_line(review)
    );
    for note in &review.notes {
        writeln!(out, "note: {note}").unwrap();
    }
    for (impact, entries) in groups(review) {
        writeln!(out, "\n{} ({})", impact.heading(), entries.len()).unwrap();
        for reviewed in entries {
            writeln!(out, "  - {}: {}", reviewed.entry.what, reviewed.entry.why).unwrap();
            if let Some(place) = &reviewed.place {
                writeln!(out, "    at {}", place_text(Some(place))).unwrap();
            }
        }
    }
    out
}

/// The marker that finds the pull request's one report comment again.
pub const COMMENT_MARKER: &str = "<!-- xoxoday-client-report -->";

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn markdown(review: &Review) -> String {
    let mut out = format!(
        "{COMMENT_MARKER}\n## What this change does to the Xoxoday client\n\n\
         From {} to {}: **version {}**.\n",
        review.base,
        review.head,
        version_line(review)
    );
    for note in &review.notes {
        writeln!(out, "\n> {note}").unwrap();
    }
    if review.entries.is_empty() {
        out.push_str("\nNo change to the client's API or to what the document promises.\n");
        return out;
    }
    let counts: Vec<String> = Impact::ALL
        .into_iter()
        .map(|impact| match (impact, review.count(impact)) {
            (Impact::Addition, 1) => "1 addition".to_owned(),
            (impact, count) => format!("{count} {}", impact.heading().to_lowercase()),
        })
        .collect();
    writeln!(out, "\n{}.", counts.join(", ")).unwrap();
    for (impact, entries) in groups(review) {
        writeln!(out, "\n### {}\n", impact.heading()).unwrap();
        out.push_str("| Change | What it means | Where |\n|---|---|---|\n");
        for reviewed in entries {
            writeln!(
                out,
                "| {} | {} | {} |",
                cell(&reviewed.entry.what),
                cell(&reviewed.entry.why),
                cell(&place_text(reviewed.place.as_ref()))
            )
            .unwrap();
        }
    }
    if review.breaking() > 0 {
        writeln!(
            out,
            "\nA breaking change merges once a maintainer adds the label `{}` to this pull \
             request.",
            review.approval_label
        )
        .unwrap();
    }
    out
}

fn json(review: &Review) -> serde_json::Value {
    let entries: Vec<serde_json::Value> = review
        .entries
        .iter()
        .map(|reviewed| {
            json!({
                "impact": reviewed.impact.key(),
                "what": reviewed.entry.what,
                "why": reviewed.entry.why,
                "place": reviewed.place.as_ref().map(|place| json!({
                    "file": place.file,
                    "line": place.line,
                    "pointer": place.pointer,
                    "before": place.before,
                })),
            })
        })
        .collect();
    let counts: serde_json::Map<String, serde_json::Value> = Impact::ALL
        .into_iter()
        .map(|impact| (impact.key().to_owned(), review.count(impact).into()))
        .collect();
    json!({
        "schema": "xoxoday-client-report/2",
        "base": { "name": review.base, "version": review.base_version },
        "head": { "name": review.head, "version": review.head_version },
        "next_version": review.next_version,
        "breaking": review.breaking() > 0,
        "counts": counts,
        "entries": entries,
        "notes": review.notes,
    })
}

/// GitHub's escaping of a workflow command's message, and of a property.
fn escaped(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn property(text: &str) -> String {
    escaped(text).replace(':', "%3A").replace(',', "%2C")
}

fn github(review: &Review) -> String {
    let mut out = String::new();
    for reviewed in &review.entries {
        let command = match reviewed.impact {
            Impact::BreakingForCallers | Impact::BreakingAtRunTime => "error",
            Impact::ToFixInThisCrate => "warning",
            Impact::Addition | Impact::Compatible => continue,
        };
        // A line of the base's file would land on another line of the
        // head's: such an entry is annotated without one.
        let at = match &reviewed.place {
            Some(place) if !place.before => {
                format!("file={},line={},", property(&place.file), place.line)
            }
            _ => String::new(),
        };
        writeln!(
            out,
            "::{command} {at}title={}::{}",
            property(reviewed.impact.heading()),
            escaped(&format!("{}: {}", reviewed.entry.what, reviewed.entry.why))
        )
        .unwrap();
    }
    out
}

/// Whether cargo-semver-checks (`outcome`: `success` or `failure`, as a
/// GitHub step's outcome) agrees with the report's version. It fails when
/// the version is too small for the Rust API change it finds; the report
/// may ask for more than it (a change at run time it cannot see).
pub fn semver_checks(review: &Review, outcome: &str, format: Format) -> String {
    let failed = outcome.trim() == "failure";
    let message = match (failed, review.breaking() > 0) {
        (false, _) => return String::new(),
        (true, true) => format!(
            "cargo-semver-checks failed: it finds version {} too small for the change (the \
             report calls it breaking too: check the version regen set), or it could not run \
             (read its step's output)",
            review.head_version
        ),
        (true, false) => format!(
            "cargo-semver-checks failed: it finds a breaking change of the Rust API that the \
             report does not (the report calls it compatible, version {}), or it could not \
             run; read its step's output, and report a miss",
            review.next_version
        ),
    };
    match format {
        Format::Github => format!(
            "::error title=cargo-semver-checks disagrees::{}\n",
            escaped(&message)
        ),
        Format::Markdown => format!("\n> **cargo-semver-checks disagrees.** {message}\n"),
        Format::Json => String::new(),
        Format::Text => format!("\n{message}\n"),
    }
}

/// The merge gate: `false` (and why, on stderr) for a breaking change
/// without the approving label.
pub fn gate(review: &Review, approved: bool, label: &str) -> bool {
    let breaking = review.breaking();
    if breaking == 0 {
        eprintln!("report gate: no breaking change");
        return true;
    }
    if approved {
        eprintln!("report gate: {breaking} breaking change(s), approved by the label `{label}`");
        return true;
    }
    eprintln!(
        "error: this change breaks callers ({breaking} breaking entr{}, version {} → {}); a \
         maintainer who accepts it adds the label `{label}` to the pull request, and the check \
         runs again",
        if breaking == 1 { "y" } else { "ies" },
        review.base_version,
        review.next_version
    );
    false
}
