//! An answer's string enum stays readable when the vendor adds a value: each
//! enum that only answers carry (no request body or parameter reaches it)
//! gains a variant `Unknown(String)`, marked `#[serde(untagged)]`, that
//! keeps a value this build was not generated with. A client built today
//! decodes tomorrow's answers, so a value added to an answer's enum is
//! compatible at run time as well as for callers' `match`es (the enums are
//! `#[non_exhaustive]`). Requests never carry these types, so an unknown
//! value is never sent. typify has no setting for this; the generated code
//! is edited as syntax, like `non_exhaustive.rs` does.

use syn::punctuated::Punctuated;

use crate::surface::{Surface, request_types, type_text};
use syn::{Arm, Attribute, Expr, Fields, ImplItem, Item, ItemEnum, Meta, Path, Token, parse_quote};

/// The variant's name, or this one when the vendor has a value `Unknown`.
const NAMES: [&str; 2] = ["Unknown", "UnknownValue"];

/// Opens every answer-only string enum of `types` (none that a request
/// reaches, as `surface` shows them), and records each variant it adds in
/// `surface`, which is then the surface of the code as it is now.
pub fn open_answer_enums(client: &mut syn::File, surface: &mut Surface) {
    let request_types = request_types(surface);
    let Some((_, items)) = client.items.iter_mut().find_map(|item| match item {
        Item::Mod(module) if module.ident == "types" => module.content.as_mut(),
        _ => None,
    }) else {
        return;
    };
    let mut opened = Vec::new();
    for item in items.iter_mut() {
        if let Item::Enum(item) = item
            && !request_types.contains(&item.ident.to_string())
            && is_string_enum(item)
            && let Some(variant) = open(item)
        {
            opened.push((item.ident.to_string(), variant));
        }
    }
    for item in items.iter_mut() {
        let Item::Impl(item) = item else { continue };
        let Some((trait_path, _)) = &item.trait_ else {
            continue;
        };
        let is_display = trait_path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Display");
        let self_name = match &*item.self_ty {
            syn::Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        let Some((_, variant)) = opened
            .iter()
            .find(|(name, _)| Some(name) == self_name.as_ref())
        else {
            continue;
        };
        if !is_display {
            continue;
        }
        for member in &mut item.items {
            if let ImplItem::Fn(function) = member {
                for statement in &mut function.block.stmts {
                    if let syn::Stmt::Expr(Expr::Match(matching), _) = statement {
                        let variant = syn::Ident::new(variant, proc_macro2::Span::call_site());
                        let arm: Arm =
                            parse_quote!(Self::#variant(ref value) => f.write_str(value),);
                        matching.arms.push(arm);
                    }
                }
            }
        }
    }
    let payload = type_text(&parse_quote!(::std::string::String));
    for (owner, variant) in opened {
        surface
            .variants
            .insert((owner, variant.to_owned()), payload.clone());
    }
}

/// An enum of unit variants that serde reads from strings (typify's string
/// enums; untagged and tagged enums carry `#[serde(...)]` on the type).
fn is_string_enum(item: &ItemEnum) -> bool {
    let serde_on_type = item.attrs.iter().any(|attr| attr.path().is_ident("serde"));
    let derives_deserialize = item.attrs.iter().any(|attr| {
        attr.path().is_ident("derive")
            && derives(attr).iter().any(|path| {
                path.segments
                    .last()
                    .is_some_and(|s| s.ident == "Deserialize")
            })
    });
    !serde_on_type
        && derives_deserialize
        && !item.variants.is_empty()
        && item
            .variants
            .iter()
            .all(|variant| matches!(variant.fields, Fields::Unit))
}

fn derives(attr: &Attribute) -> Vec<Path> {
    attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
        .map(|paths| paths.into_iter().collect())
        .unwrap_or_default()
}

/// Adds the variant (not `Copy` any more: it holds a `String`); its name.
fn open(item: &mut ItemEnum) -> Option<&'static str> {
    let name = NAMES
        .into_iter()
        .find(|name| !item.variants.iter().any(|variant| variant.ident == name))?;
    for attr in &mut item.attrs {
        if attr.path().is_ident("derive") {
            let kept: Vec<Path> = derives(attr)
                .into_iter()
                .filter(|path| !path.is_ident("Copy"))
                .collect();
            attr.meta = Meta::List(parse_quote!(derive(#(#kept),*)));
        }
    }
    let ident = syn::Ident::new(name, proc_macro2::Span::call_site());
    item.variants.push(parse_quote! {
        /// A value this client was built without (the vendor added it
        /// since), as answered. Answers only: requests never carry this
        /// type, so it is never sent.
        #[serde(untagged)]
        #ident(::std::string::String)
    });
    Some(name)
}
