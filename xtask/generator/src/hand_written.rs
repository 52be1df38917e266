//! What the client crate's hand-written runtime provides for generated
//! types, read from its sources with syn: the answer types it judges itself
//! (`impl Answer for types::X`, with the vendor's verdict inside HTTP 200).
//! regen gives every other success type the default judgement, so that an
//! operation the vendor adds compiles without a line of hand-written code.
//! An input of regen like the operations' examples: its output depends on
//! its inputs alone.

use std::collections::BTreeSet;
use std::path::Path;

use syn::{Item, Type};

pub use crate::document::hand_written::*;

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
