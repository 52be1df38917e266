//! Documentation for every public item of the generated client, so that
//! `#![deny(missing_docs)]` holds for the whole crate and `cargo doc` reads
//! well.
//!
//! progenitor and typify document what the document describes; the rest they
//! leave bare, or give a type its own name as its only doc. This pass fills
//! those in from what the generated code itself shows — where a type is used
//! (the `recipients` of `CancelPointsBodyVariablesRecipientsData`), a field's
//! JSON name, a variant's JSON value — and rewrites the operation methods'
//! docs: progenitor's say "Sends a `POST` request to `/fetchPoints`", a
//! virtual path that is never sent, above an `ignore`d example. Each method
//! says instead where its request really goes in each environment and, when
//! `generated-client/operation-examples/<operationId>.md` exists, includes that
//! hand-written example, which runs as a doctest.

use std::collections::{BTreeMap, BTreeSet};

use syn::{
    Attribute, Fields, GenericArgument, ImplItem, Item, ItemImpl, PathArguments, Type, Visibility,
    parse_quote,
};

use crate::routes::{Environment, Route};
use crate::send_wrappers::destinations;

/// Where the hand-written per-operation examples live, in the client crate.
pub const EXAMPLES_DIR: &str = "generated-client/operation-examples";

/// Documents every public item of `file`; returns the operations that have
/// no example file, for regen to mention.
pub fn document(
    file: &mut syn::File,
    routes: &[Route],
    environments: &[Environment],
    examples: &BTreeSet<String>,
) -> Vec<String> {
    let mut without_example = Vec::new();
    for item in &mut file.items {
        match item {
            Item::Mod(module) if module.ident == "types" => {
                if let Some((_, items)) = module.content.as_mut() {
                    document_types(items, routes);
                }
            }
            Item::Mod(module) if module.ident == "builder" => {
                if let Some((_, items)) = module.content.as_mut() {
                    document_request_builders(items);
                }
            }
            Item::Impl(block) if is_impl_of(block, "Client") => {
                for item in &mut block.items {
                    let ImplItem::Fn(method) = item else { continue };
                    let name = method.sig.ident.to_string();
                    let Some(route) = routes.iter().find(|route| route.hook_id == name) else {
                        continue;
                    };
                    let has_example = examples.contains(&route.operation_id);
                    if !has_example {
                        without_example.push(route.operation_id.clone());
                    }
                    let doc = operation_doc(&method.attrs, route, environments);
                    set_doc(&mut method.attrs, &doc);
                    if has_example {
                        let path = format!("../operation-examples/{}.md", route.operation_id);
                        method
                            .attrs
                            .push(parse_quote!(#[doc = include_str!(#path)]));
                    }
                }
            }
            _ => {}
        }
    }
    without_example
}

/// The method's doc: the document's summary and description (progenitor's
/// first paragraphs), then the real URLs.
fn operation_doc(attrs: &[Attribute], route: &Route, environments: &[Environment]) -> String {
    let progenitors = doc_text(attrs);
    // progenitor appends "Sends a `METHOD` request to `PATH`" and an
    // `ignore`d example after the document's text.
    let document_text = progenitors
        .split("\nSends a `")
        .next()
        .unwrap_or_default()
        .trim();
    let mut doc = String::new();
    if !document_text.is_empty() {
        doc.push_str(document_text);
        doc.push_str("\n\n");
    }
    doc.push_str(&format!(
        "Operation `{}` of the document; its request goes to:\n\n",
        route.operation_id
    ));
    doc.push_str(&destinations(route, environments));
    doc.push_str("\nBuild it, then `.send().await`: see [`builder::");
    doc.push_str(&crate::naming::pascal_case(&route.operation_id));
    doc.push_str("`].\n");
    doc
}

// ---------------------------------------------------------------------------
// `types`: the schemas' types and typify's builders of them.

/// How a generated type is reached from another: as a field or a variant.
enum Use {
    Field {
        parent: String,
        json: String,
        rust: String,
        in_list: bool,
    },
    Variant {
        parent: String,
        variant: String,
    },
}

/// Documents the items of `mod types`: the bare types, their public fields
/// and variants, their `builder()` functions, and typify's builders.
fn document_types(items: &mut [Item], routes: &[Route]) {
    let names: BTreeSet<String> = items
        .iter()
        .filter_map(|item| match item {
            Item::Struct(item) => Some(item.ident.to_string()),
            Item::Enum(item) => Some(item.ident.to_string()),
            _ => None,
        })
        .collect();
    let uses = uses_of(items, &names);
    for item in items.iter_mut() {
        match item {
            Item::Struct(item) => {
                document_bare_type(&mut item.attrs, &item.ident, &uses, routes);
                document_fields(item);
            }
            Item::Enum(item) => {
                document_bare_type(&mut item.attrs, &item.ident, &uses, routes);
                for variant in &mut item.variants {
                    if !has_doc(&variant.attrs) {
                        let doc = variant_doc(variant, &names);
                        set_doc(&mut variant.attrs, &doc);
                    }
                }
            }
            Item::Impl(block) => document_builder_function(block),
            Item::Mod(module) if module.ident == "builder" => {
                if let Some((_, items)) = module.content.as_mut() {
                    document_type_builders(items);
                }
            }
            _ => {}
        }
    }
}

/// Gives the type `ident` its doc ([`type_doc`]) when it has none of its
/// own.
fn document_bare_type(
    attrs: &mut Vec<Attribute>,
    ident: &syn::Ident,
    uses: &BTreeMap<String, Vec<Use>>,
    routes: &[Route],
) {
    let name = ident.to_string();
    if is_bare(attrs, &name) {
        set_doc(attrs, &type_doc(&name, uses, routes));
    }
}

/// Each public field without a doc: the vendor's JSON name.
fn document_fields(item: &mut syn::ItemStruct) {
    for field in item.fields.iter_mut() {
        if !matches!(field.vis, Visibility::Public(_)) || has_doc(&field.attrs) {
            continue;
        }
        let rust = field
            .ident
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let json = serde_rename(&field.attrs).unwrap_or(rust);
        set_doc(
            &mut field.attrs,
            &format!("The vendor's `{json}` (the document does not describe it further)."),
        );
    }
}

/// A variant's doc, from its JSON value or what it holds (`names`: the
/// generated types).
fn variant_doc(variant: &syn::Variant, names: &BTreeSet<String>) -> String {
    match (&variant.fields, serde_rename(&variant.attrs)) {
        (Fields::Unit, Some(json)) => format!("The value `{json:?}`."),
        (Fields::Unit, None) => format!("The value `{:?}`.", variant.ident),
        (Fields::Unnamed(fields), _) => {
            let inner = fields
                .unnamed
                .first()
                .map(|field| type_name(&field.ty))
                .unwrap_or_default();
            if names.contains(&inner) {
                format!("In the shape of [`{inner}`].")
            } else {
                format!("As a JSON {}.", json_kind(&inner))
            }
        }
        (Fields::Named(fields), _) => {
            let keys: Vec<String> = fields
                .named
                .iter()
                .filter_map(|field| field.ident.as_ref())
                .map(|ident| format!("`{ident}`"))
                .collect();
            format!("An object with {}.", keys.join(", "))
        }
    }
}

/// A type's public `builder()` function, when it has no doc.
fn document_builder_function(block: &mut ItemImpl) {
    let Some(name) = self_type_name(block) else {
        return;
    };
    for item in &mut block.items {
        let ImplItem::Fn(function) = item else {
            continue;
        };
        if function.sig.ident == "builder"
            && matches!(function.vis, Visibility::Public(_))
            && !has_doc(&function.attrs)
        {
            set_doc(
                &mut function.attrs,
                &format!(
                    "A [`builder::{name}`] to set the fields one by one; converting it into a \
                     `{name}` fails while a required field is unset."
                ),
            );
        }
    }
}

/// Each generated type, and where the others use it.
fn uses_of(items: &[Item], names: &BTreeSet<String>) -> BTreeMap<String, Vec<Use>> {
    let mut uses: BTreeMap<String, Vec<Use>> = BTreeMap::new();
    for item in items {
        match item {
            Item::Struct(item) => {
                for field in &item.fields {
                    let Some(ident) = &field.ident else { continue };
                    let rust = ident.to_string();
                    for (used, in_list) in named_types(&field.ty, false) {
                        if names.contains(&used) {
                            uses.entry(used).or_default().push(Use::Field {
                                parent: item.ident.to_string(),
                                json: serde_rename(&field.attrs).unwrap_or(rust.clone()),
                                rust: rust.clone(),
                                in_list,
                            });
                        }
                    }
                }
            }
            Item::Enum(item) => {
                for variant in &item.variants {
                    for field in &variant.fields {
                        for (used, _) in named_types(&field.ty, false) {
                            if names.contains(&used) {
                                uses.entry(used).or_default().push(Use::Variant {
                                    parent: item.ident.to_string(),
                                    variant: variant.ident.to_string(),
                                });
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    uses
}

/// A type's doc, from what it is to an operation or where it is used.
fn type_doc(name: &str, uses: &BTreeMap<String, Vec<Use>>, routes: &[Route]) -> String {
    for route in routes {
        let operation = crate::naming::pascal_case(&route.operation_id);
        if name == format!("{operation}Body") {
            return format!(
                "The JSON body of a `{}` request (see [`Client::{}`](crate::Client::{})).",
                route.operation_id, route.hook_id, route.hook_id
            );
        }
        if name == format!("{operation}Response") {
            return format!(
                "The JSON answer to a `{}` request (see [`Client::{}`](crate::Client::{})).",
                route.operation_id, route.hook_id, route.hook_id
            );
        }
    }
    let Some(found) = uses.get(name).filter(|found| !found.is_empty()) else {
        return format!("The document's `{name}` schema.");
    };
    let places: Vec<String> = found
        .iter()
        .map(|place| match place {
            Use::Field {
                parent,
                json,
                rust,
                in_list: true,
            } => format!("one item of the `{json}` list of [`{parent}`]({parent}::{rust})"),
            Use::Field {
                parent, json, rust, ..
            } => format!("the `{json}` of [`{parent}`]({parent}::{rust})"),
            Use::Variant { parent, variant } => {
                format!("the `{variant}` shape of [`{parent}`]({parent}::{variant})")
            }
        })
        .collect();
    let mut doc = places.join("; ");
    if let Some(first) = doc.get(..1) {
        doc = first.to_uppercase() + &doc[1..];
    }
    doc.push('.');
    doc
}

/// typify's builders (`types::builder::X`) and their setters.
fn document_type_builders(items: &mut [Item]) {
    for item in items.iter_mut() {
        match item {
            Item::Struct(item) if !has_doc(&item.attrs) => {
                let name = item.ident.to_string();
                set_doc(
                    &mut item.attrs,
                    &format!(
                        "Builds a [`{name}`](super::{name}) field by field; start from \
                         [`{name}::builder`](super::{name}::builder)."
                    ),
                );
            }
            Item::Impl(block) => document_bare_methods(block, |name, field| {
                format!(
                    "Sets [`{field}`](super::{name}::{field}); a value that does not convert \
                     is reported when the builder is converted."
                )
            }),
            _ => {}
        }
    }
}

/// Gives each public method of an inherent `impl` that has no doc the one
/// `doc(type name, method name)` writes.
fn document_bare_methods(block: &mut ItemImpl, doc: impl Fn(&str, &str) -> String) {
    let Some(name) = self_type_name(block) else {
        return;
    };
    for item in &mut block.items {
        let ImplItem::Fn(function) = item else {
            continue;
        };
        if matches!(function.vis, Visibility::Public(_)) && !has_doc(&function.attrs) {
            let text = doc(&name, &function.sig.ident.to_string());
            set_doc(&mut function.attrs, &text);
        }
    }
}

// ---------------------------------------------------------------------------
// `builder`: progenitor's per-operation request builders.

fn document_request_builders(items: &mut [Item]) {
    for item in items.iter_mut() {
        let Item::Impl(block) = item else { continue };
        document_bare_methods(block, |name, method| match method {
            "new" => format!(
                "A `{name}` request with nothing set yet; the client's method of the same \
                 name starts one."
            ),
            "body" => "Sets the whole JSON body.".to_owned(),
            "body_map" => {
                "Changes the JSON body through its builder, keeping what is already set.".to_owned()
            }
            other => format!("Sets the request's `{other}` parameter."),
        });
    }
}

// ---------------------------------------------------------------------------
// Attributes and types.

pub(crate) fn doc_text(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(meta) = &attr.meta
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) = &meta.value
        {
            lines.push(text.value());
        }
    }
    lines.join("\n")
}

fn has_doc(attrs: &[Attribute]) -> bool {
    !doc_text(attrs).trim().is_empty()
}

/// No doc, or typify's doc that is only the type's own name.
fn is_bare(attrs: &[Attribute], name: &str) -> bool {
    let text = doc_text(attrs);
    let text = text.trim();
    text.is_empty() || text == format!("`{name}`")
}

/// Replaces `attrs`' docs with `doc`.
pub fn set_doc(attrs: &mut Vec<Attribute>, doc: &str) {
    attrs.retain(|attr| !attr.path().is_ident("doc"));
    attrs.insert(0, parse_quote!(#[doc = #doc]));
}

/// `#[serde(rename = "…")]`.
fn serde_rename(attrs: &[Attribute]) -> Option<String> {
    let mut renamed = None;
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let value: syn::LitStr = meta.value()?.parse()?;
                renamed = Some(value.value());
            } else if meta.input.peek(syn::Token![=]) {
                // Another `key = value`: skip its value.
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
    }
    renamed
}

pub(crate) fn is_impl_of(block: &ItemImpl, name: &str) -> bool {
    block.trait_.is_none() && self_type_name(block).as_deref() == Some(name)
}

/// `X` of an inherent `impl X` (or `impl X<'_>`).
fn self_type_name(block: &ItemImpl) -> Option<String> {
    if block.trait_.is_some() {
        return None;
    }
    match &*block.self_ty {
        Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// The last path segment's name: `::std::string::String` → `String`.
fn type_name(ty: &Type) -> String {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .map(|segment| segment.ident.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn json_kind(rust: &str) -> &'static str {
    match rust {
        "String" => "string",
        "i64" | "i32" | "u64" | "u32" => "integer",
        "f64" | "f32" => "number",
        "bool" => "boolean",
        "Vec" => "array",
        _ => "value",
    }
}

/// Every named type inside `ty`, and whether it sits inside a `Vec`.
fn named_types(ty: &Type, in_list: bool) -> Vec<(String, bool)> {
    let Type::Path(path) = ty else {
        return Vec::new();
    };
    let Some(last) = path.path.segments.last() else {
        return Vec::new();
    };
    let mut found = vec![(last.ident.to_string(), in_list)];
    if let PathArguments::AngleBracketed(arguments) = &last.arguments {
        let list = in_list || last.ident == "Vec";
        for argument in &arguments.args {
            if let GenericArgument::Type(inner) = argument {
                found.extend(named_types(inner, list));
            }
        }
    }
    found
}
