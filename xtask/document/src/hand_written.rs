//! The hand-written sources that use the generated client: where they are,
//! and where their code names each generated item (text, not resolved
//! paths), for the report's entries "to fix in this crate".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The client crate's sources, in the workspace.
pub const CLIENT_SOURCES: &str = "generated-client/src";
/// Every crate's sources that use the generated client (the client's own
/// hand-written runtime first): what a change of the generated code can
/// break.
pub const USING_SOURCES: [&str; 4] = [
    CLIENT_SOURCES,
    "generated-mocks/src",
    "payouts/src",
    "cli/src",
];
/// The generated file among them, which is not read.
const GENERATED: &str = "generated.rs";
/// The trait whose implementations are looked for.
pub const ANSWER_TRAIT: &str = "Answer";

/// Every `.rs` file under `dir` but the generated one, in a stable order.
pub fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs")
            && path.file_name().is_some_and(|name| name != GENERATED)
        {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Where the code of the hand-written sources under `sources` first names
/// each word (an identifier; comments are passed over): word → `file:line`,
/// the file as `shown_from` sees it. Words, not resolved paths: a field is
/// found by its name wherever the code uses that name.
pub fn first_uses(sources: &[PathBuf], shown_from: &Path) -> BTreeMap<String, String> {
    let mut uses = BTreeMap::new();
    for file in sources.iter().flat_map(|dir| rust_files(dir)) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let shown = file
            .strip_prefix(shown_from)
            .unwrap_or(&file)
            .display()
            .to_string();
        for (index, line) in text.lines().enumerate() {
            // Code, not comments or docs (whose examples run as doctests,
            // which `cargo test` checks).
            let code = line.split("//").next().unwrap_or_default();
            for word in code.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                if !word.is_empty() && !uses.contains_key(word) {
                    uses.insert(word.to_owned(), format!("{shown}:{}", index + 1));
                }
            }
        }
    }
    uses
}

/// Whether the hand-written sources build `name` with a struct literal
/// (`Name {`), which a field added to it breaks.
pub fn builds_literally(sources: &[PathBuf], name: &str) -> bool {
    let literal = format!("{name} {{");
    sources
        .iter()
        .flat_map(|dir| rust_files(dir))
        .any(|file| std::fs::read_to_string(file).is_ok_and(|text| text.contains(&literal)))
}
