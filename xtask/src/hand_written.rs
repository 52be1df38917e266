//! What the client crate's hand-written runtime provides for generated
//! types, read from its sources with syn: the answer types it judges itself
//! (`impl Answer for types::X`, with the vendor's verdict inside HTTP 200).
//! regen gives every other success type the default judgement, so that an
//! operation the vendor adds compiles without a line of hand-written code.
//! An input of regen like the operations' examples: its output depends on
//! its inputs alone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::{Item, Type};

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

/// The names of the generated types (`FetchPointsResponse`) the hand-written
/// sources under `sources` implement [`ANSWER_TRAIT`] for. A file that does
/// not parse is passed over: the compiler says what is wrong with it.
pub fn judged_answers(sources: &Path) -> BTreeSet<String> {
    let mut judged = BTreeSet::new();
    for file in rust_files(sources) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(parsed) = syn::parse_file(&text) else {
            continue;
        };
        collect(&parsed.items, &mut judged);
    }
    judged
}

fn collect(items: &[Item], judged: &mut BTreeSet<String>) {
    for item in items {
        match item {
            Item::Impl(block) => {
                let implements_answer = block.trait_.as_ref().is_some_and(|(path, _)| {
                    path.segments
                        .last()
                        .is_some_and(|last| last.ident == ANSWER_TRAIT)
                });
                if let (true, Type::Path(ty)) = (implements_answer, block.self_ty.as_ref())
                    && let Some(last) = ty.path.segments.last()
                {
                    judged.insert(last.ident.to_string());
                }
            }
            Item::Mod(module) => {
                if let Some((_, inner)) = &module.content {
                    collect(inner, judged);
                }
            }
            _ => {}
        }
    }
}

/// Every `.rs` file under `dir` but the generated one, in a stable order.
fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
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
