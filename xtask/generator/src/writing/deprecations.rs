//! What the document marks `deprecated` carries `#[deprecated]` in the
//! generated code, so that callers' builds warn where they use it: an
//! operation's method on `Client`, a property's field. progenitor and typify
//! read `deprecated` but emit nothing for it.
//!
//! Operations are found by their method's name (the route's hook id).
//! Properties have no name of their own in the generated code (typify names
//! inline types), so before generation each deprecated property's
//! description ends with [`MARK`], which typify copies into the field's doc;
//! after generation the fields whose doc carries it are marked.

use crate::document::operations::operations;
use std::collections::BTreeSet;

use serde_json::Value;
use syn::{ImplItem, Item, parse_quote};

use crate::generated_docs::{doc_text, is_impl_of};
use crate::routes::Route;

/// The sentence a deprecated property's doc ends with.
pub const MARK: &str = "Deprecated in the vendor's document.";

/// The operationIds the document marks deprecated.
pub fn deprecated_operations(document: &Value) -> BTreeSet<String> {
    operations(document)
        .into_iter()
        .filter(|found| found.operation.get("deprecated") == Some(&Value::Bool(true)))
        .filter_map(|found| found.operation.get("operationId").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// Ends each deprecated property's description with [`MARK`].
pub fn mark_properties(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if let Some(Value::Object(properties)) = object.get_mut("properties") {
                for property in properties.values_mut() {
                    let Some(property) = property.as_object_mut() else {
                        continue;
                    };
                    if property.get("deprecated") == Some(&Value::Bool(true)) {
                        let text = match property.get("description").and_then(Value::as_str) {
                            Some(text) => format!("{}\n\n{MARK}", text.trim_end()),
                            None => MARK.to_owned(),
                        };
                        property.insert("description".into(), Value::String(text));
                    }
                }
            }
            for inner in object.values_mut() {
                mark_properties(inner);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mark_properties),
        _ => {}
    }
}

/// Marks the methods of deprecated operations and the fields whose doc
/// carries [`MARK`].
pub fn mark_items(client: &mut syn::File, routes: &[Route], operations: &BTreeSet<String>) {
    let methods: BTreeSet<&str> = routes
        .iter()
        .filter(|route| operations.contains(&route.operation_id))
        .map(|route| route.hook_id.as_str())
        .collect();
    for item in &mut client.items {
        match item {
            Item::Impl(block) if is_impl_of(block, "Client") => {
                for member in &mut block.items {
                    if let ImplItem::Fn(method) = member
                        && methods.contains(method.sig.ident.to_string().as_str())
                    {
                        method.attrs.push(parse_quote!(
                            #[deprecated(note = "the vendor's document marks this operation deprecated")]
                        ));
                    }
                }
            }
            Item::Mod(module) if module.ident == "types" => {
                let Some((_, items)) = module.content.as_mut() else {
                    continue;
                };
                for item in items {
                    let Item::Struct(item) = item else { continue };
                    for field in &mut item.fields {
                        if doc_text(&field.attrs).contains(MARK) {
                            field.attrs.push(parse_quote!(
                                #[deprecated(note = "the vendor's document marks this field deprecated")]
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
