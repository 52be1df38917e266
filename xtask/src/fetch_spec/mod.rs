//! `cargo xtask fetch-spec`: the vendor's document, assembled from its
//! documentation pages. The index (`llms.txt`, its address in
//! `specs/vendor-pages.toml`) lists the pages; each page that carries the
//! document cut to one operation (`pages.rs`) gives that operation and what
//! it needs; `assemble.rs` puts them together into one document in the shape
//! of `specs/reward-points-api.yaml`, refusing pages that disagree. The
//! result is compared with the checked-in document as data, and written only
//! with `--write`. Any page missing, unreadable or in disagreement stops it
//! with the page named, and nothing is written.

mod assemble;
mod pages;

use std::path::Path;

use serde_json::Value;

use crate::input_digest::spec_file;
use crate::output::{GeneratedFile, write_changed};
use crate::read_input::parse_document;

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
    let mut operations = Vec::new();
    for (path, item) in document
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for method in item
            .as_object()
            .into_iter()
            .flatten()
            .map(|(method, _)| method)
        {
            operations.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    operations
}
