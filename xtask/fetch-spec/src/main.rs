//! `cargo xtask fetch-spec` (which runs this program): the vendor's
//! document, assembled from its
//! documentation pages. The index (`llms.txt`, its address in
//! `specs/vendor-pages.toml`) lists the pages; each page that carries the
//! document cut to one operation (`pages.rs`) gives that operation and what
//! it needs; `assemble.rs` puts them together into one document in the shape
//! of `specs/reward-points-api.yaml`, refusing pages that disagree. The
//! result is compared with the checked-in document as data, and written only
//! with `--write`. Any page missing, unreadable or in disagreement stops it
//! with the page named, and nothing is written.

//!
//! A program of its own, so that the HTTP stack it needs is built when it is
//! first used, not before every `cargo xtask regen`.

mod assemble;
mod pages;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use reward_points_document::input_digest::spec_file;
use reward_points_document::output::{GeneratedFile, write_changed};
use reward_points_document::read_input::parse_document;
use serde_json::Value;

/// The workspace's configuration of where the pages are.
pub const CONFIG_FILE: &str = "specs/vendor-pages.toml";

/// What `fetch-spec` came to, and what it kept of the checked-in document
/// that no page carries (`kept`).
pub struct Fetched {
    /// What differs (empty: the pages say what the checked-in document says).
    pub changes: Vec<String>,
    pub written: bool,
    pub kept: Vec<String>,
}

/// Reads the configuration: the index's address (unless `index` overrides
/// it) and the document's name in the pages' blocks.
fn config(root: &Path, index: Option<&str>) -> Result<(String, String), String> {
    let text = std::fs::read_to_string(root.join(CONFIG_FILE))
        .map_err(|error| format!("{CONFIG_FILE}: {error}"))?;
    let config: toml_edit::DocumentMut = text
        .parse()
        .map_err(|error| format!("{CONFIG_FILE} does not read as TOML: {error}"))?;
    let field = |name: &str| {
        config
            .get(name)
            .and_then(|item| item.as_str())
            .map(str::to_owned)
            .ok_or_else(|| format!("{CONFIG_FILE} has no `{name} = \"…\"`"))
    };
    let index = match index {
        Some(index) => index.to_owned(),
        None => field("index")?,
    };
    Ok((index, field("document")?))
}

/// Fetches the pages listed at the index, assembles the document, compares
/// it with the checked-in one and, with `write`, writes it.
pub fn run(root: &Path, index: Option<&str>, write: bool) -> Result<Fetched, String> {
    let (index, document_name) = config(root, index)?;
    let pages = pages::fetch(&index, &document_name)?;
    let assembled = assemble::assemble(&pages)?;
    let file = spec_file(root).map_err(|problem| format!("specs/: {problem}"))?;
    let checked_in = std::fs::read(root.join(file)).map_err(|error| format!("{file}: {error}"))?;
    let checked_in = parse_document(file, &checked_in).map_err(|problem| problem.to_string())?;
    let mut assembled = assembled;
    // What no page carries (a component no operation reaches, a part no
    // page repeats) is the vendor's too: kept, and said.
    let kept = assemble::keep_unmentioned(&checked_in, &mut assembled);
    let changes = assemble::differences(&checked_in, &assembled);
    let written = write && !changes.is_empty();
    if written {
        let content = match file.ends_with(".json") {
            true => format!("{:#}\n", assembled),
            false => serde_yaml::to_string(&assembled).map_err(|error| error.to_string())?,
        };
        let files = [GeneratedFile {
            relative_path: file,
            content,
        }];
        write_changed(root, &files).map_err(|problem| problem.to_string())?;
    }
    Ok(Fetched {
        changes,
        written,
        kept,
    })
}

/// A document's operations by `METHOD /path`, for messages.
pub fn operations(document: &Value) -> Vec<String> {
    reward_points_document::operations::operations(document)
        .into_iter()
        .map(|at| format!("{} {}", at.method.to_uppercase(), at.path))
        .collect()
}

/// The vendor's document assembled from its documentation pages, compared
/// with the checked-in one as data.
#[derive(Parser)]
#[command(name = "cargo xtask fetch-spec", bin_name = "cargo xtask fetch-spec")]
struct Arguments {
    /// The workspace (`cargo xtask` passes it).
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// Write the assembled document over specs/'s.
    #[arg(long)]
    write: bool,
    /// Read this index instead of the configured one.
    #[arg(long, value_name = "URL")]
    index: Option<String>,
}

/// Exit 0 when the pages say what specs/ says (or, with --write, once the
/// pages' document is written), 1 when they differ without --write, 2 when a
/// page is missing, unreadable or disagrees with another.
fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let fetched = match run(&arguments.root, arguments.index.as_deref(), arguments.write) {
        Ok(fetched) => fetched,
        Err(problem) => {
            eprintln!("error: {problem}");
            return ExitCode::from(2);
        }
    };
    for kept in &fetched.kept {
        println!("fetch-spec: kept {kept} of specs/: no page carries it");
    }
    if fetched.changes.is_empty() {
        println!("fetch-spec: the vendor's pages say what specs/ says: no change");
        return ExitCode::SUCCESS;
    }
    println!("fetch-spec: the vendor's pages differ from specs/:");
    for change in &fetched.changes {
        println!("  - {change}");
    }
    if fetched.written {
        println!("written to specs/: now run `cargo xtask regen`");
        ExitCode::SUCCESS
    } else {
        println!("nothing written (give --write to write it)");
        ExitCode::FAILURE
    }
}
