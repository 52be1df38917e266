//! The surface of a generated client, read from its code (syn).

use quote::ToTokens;
use syn::{Fields, ImplItem, Item, ReturnType, Type};

use crate::routes::{Environment, Route};
use crate::send_wrappers::{first_type_argument, response_type};
use crate::surface::{Member, Need, Operation, Route as SurfaceRoute, Shape, Surface};

/// The surface of a generated client.
pub fn surface(client: &syn::File, environments: &[Environment], routes: &[Route]) -> Surface {
    let mut surface = Surface::default();
    for environment in environments {
        surface
            .environments
            .insert(environment.variant.clone(), environment.url.clone());
    }
    for (method, builder) in operations(client) {
        let Some(route) = routes.iter().find(|route| route.hook_id == method) else {
            continue;
        };
        let builder_fields = builder_fields(client, &builder);
        let body = builder_fields
            .iter()
            .find(|(name, ..)| name == "body")
            .map(|(_, body, _)| body.trim_start_matches("builder::").to_owned());
        surface.operations.insert(
            method.clone(),
            Operation {
                http_method: route.http_method.clone(),
                body,
                answer: answer_type(client, &builder),
                credential: route.credential,
            },
        );
        for (name, ty, optional) in builder_fields {
            if name != "body" {
                let need = if optional {
                    Need::Optional
                } else {
                    Need::Required
                };
                surface
                    .parameters
                    .insert((method.clone(), name), Member { ty, need });
            }
        }
        for (environment, server) in environments.iter().zip(&route.servers) {
            let url = if route.virtual_path {
                server.clone()
            } else {
                format!("{server}{}", route.spec_path)
            };
            surface.routes.insert(
                (method.clone(), environment.variant.clone()),
                SurfaceRoute {
                    http_method: route.http_method.clone(),
                    url,
                },
            );
        }
    }
    types(client, &mut surface);
    surface
}

/// The items of `mod types`, without its `builder`, `defaults` and `error`
/// modules.
fn types(client: &syn::File, surface: &mut Surface) {
    let Some(items) = module(&client.items, "types") else {
        return;
    };
    for item in items {
        match item {
            Item::Struct(item) if is_pub(&item.vis) => struct_type(item, surface),
            Item::Enum(item) if is_pub(&item.vis) => enum_type(item, surface),
            Item::Type(item) if is_pub(&item.vis) => {
                surface
                    .types
                    .insert(item.ident.to_string(), Shape::Alias(type_text(&item.ty)));
            }
            _ => {}
        }
    }
}

/// A public struct: a struct with its public fields, or a newtype.
fn struct_type(item: &syn::ItemStruct, surface: &mut Surface) {
    let name = item.ident.to_string();
    match &item.fields {
        Fields::Named(fields) => {
            surface.types.insert(name.clone(), Shape::Struct);
            for field in fields.named.iter().filter(|field| is_pub(&field.vis)) {
                let field_name = field
                    .ident
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let ty = type_text(&field.ty);
                let need = field_need(field, &ty);
                surface
                    .fields
                    .insert((name.clone(), field_name), Member { ty, need });
            }
        }
        Fields::Unnamed(fields) => {
            let inner: Vec<String> = fields
                .unnamed
                .iter()
                .map(|field| type_text(&field.ty))
                .collect();
            surface.types.insert(name, Shape::Newtype(inner.join(", ")));
        }
        Fields::Unit => {
            surface.types.insert(name, Shape::Struct);
        }
    }
}

/// Whether a field of type `ty` (as [`type_text`] writes it) must be set.
fn field_need(field: &syn::Field, ty: &str) -> Need {
    if ty.starts_with("Option<") {
        Need::Optional
    } else if has_serde_default(&field.attrs) {
        Need::HasDefault
    } else {
        Need::Required
    }
}

/// A public enum, with each variant's payload.
fn enum_type(item: &syn::ItemEnum, surface: &mut Surface) {
    let name = item.ident.to_string();
    surface.types.insert(name.clone(), Shape::Enum);
    for variant in &item.variants {
        surface.variants.insert(
            (name.clone(), variant.ident.to_string()),
            payload(&variant.fields),
        );
    }
}

/// What a variant holds, as text: `T, U`, `a: T, b: U`, or nothing.
fn payload(fields: &Fields) -> String {
    match fields {
        Fields::Unit => String::new(),
        Fields::Unnamed(fields) => fields
            .unnamed
            .iter()
            .map(|field| type_text(&field.ty))
            .collect::<Vec<_>>()
            .join(", "),
        Fields::Named(fields) => fields
            .named
            .iter()
            .map(|field| {
                let name = field
                    .ident
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                format!("{name}: {}", type_text(&field.ty))
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn module<'a>(items: &'a [Item], name: &str) -> Option<&'a [Item]> {
    items.iter().find_map(|item| match item {
        Item::Mod(module) if module.ident == name => {
            module.content.as_ref().map(|(_, items)| items.as_slice())
        }
        _ => None,
    })
}

fn is_pub(visibility: &syn::Visibility) -> bool {
    matches!(visibility, syn::Visibility::Public(_))
}

fn has_serde_default(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("serde") && attr.to_token_stream().to_string().contains("default")
    })
}

/// `(method name, builder struct name)` for each `impl Client` method that
/// returns a `builder::…`.
pub fn operations(client: &syn::File) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for item in &client.items {
        let Item::Impl(block) = item else { continue };
        if block.trait_.is_some() || block.self_ty.to_token_stream().to_string() != "Client" {
            continue;
        }
        for item in &block.items {
            let ImplItem::Fn(function) = item else {
                continue;
            };
            let ReturnType::Type(_, returned) = &function.sig.output else {
                continue;
            };
            let Type::Path(path) = returned.as_ref() else {
                continue;
            };
            let segments: Vec<_> = path.path.segments.iter().collect();
            if segments.len() == 2 && segments[0].ident == "builder" {
                found.push((
                    function.sig.ident.to_string(),
                    segments[1].ident.to_string(),
                ));
            }
        }
    }
    found
}

/// The operation builder's fields other than the client: (name, type,
/// optional), from `name: Result<T, String>` or `Result<Option<T>, String>`.
fn builder_fields(client: &syn::File, builder: &str) -> Vec<(String, String, bool)> {
    let Some(items) = module(&client.items, "builder") else {
        return Vec::new();
    };
    let Some(structure) = items.iter().find_map(|item| match item {
        Item::Struct(structure) if structure.ident == builder => Some(structure),
        _ => None,
    }) else {
        return Vec::new();
    };
    let mut fields = Vec::new();
    for field in &structure.fields {
        let name = field
            .ident
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        if name == "client" {
            continue;
        }
        let Some(inner) = first_type_argument(&field.ty) else {
            continue;
        };
        let text = type_text(&inner);
        match text
            .strip_prefix("Option<")
            .and_then(|rest| rest.strip_suffix('>'))
        {
            Some(optional) => fields.push((name, optional.to_owned(), true)),
            None => fields.push((name, text, false)),
        }
    }
    fields
}

/// `T` of the builder's `send(self) -> Result<ResponseValue<T>, crate::Error>`.
fn answer_type(client: &syn::File, builder: &str) -> Option<String> {
    let items = module(&client.items, "builder")?;
    items.iter().find_map(|item| {
        let Item::Impl(block) = item else { return None };
        let Type::Path(path) = block.self_ty.as_ref() else {
            return None;
        };
        if path.path.segments.last()?.ident != builder {
            return None;
        }
        block.items.iter().find_map(|item| match item {
            ImplItem::Fn(function) if function.sig.ident == "send" => {
                response_type(&function.sig.output).map(|answer| type_text(&answer))
            }
            _ => None,
        })
    })
}

/// A type as a caller writes it: `Option<Vec<String>>`, not
/// `:: std :: option :: Option < :: std :: vec :: Vec < …`.
pub fn type_text(ty: &Type) -> String {
    let text: String = ty
        .to_token_stream()
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut text = text
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" < ", "<")
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" > ", ">")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace(',', ", ")
        .replace(",  ", ", ");
    for prefix in [
        "::std::option::",
        "::std::vec::",
        "::std::string::",
        "::std::collections::",
        "::std::primitive::",
        "std::option::",
        "std::vec::",
        "std::string::",
        "::serde_json::",
        "crate::",
        "types::",
        "super::",
    ] {
        let kept = if prefix.contains("serde_json") {
            "serde_json::"
        } else {
            ""
        };
        text = text.replace(prefix, kept);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::type_text;

    #[test]
    fn types_read_as_written() {
        let ty: syn::Type =
            syn::parse_str("::std::option::Option<::std::vec::Vec<types::Foo>>").unwrap();
        assert_eq!(type_text(&ty), "Option<Vec<Foo>>");
        let ty: syn::Type = syn::parse_str(
            "::std::collections::HashMap<::std::string::String, ::serde_json::Value>",
        )
        .unwrap();
        assert_eq!(type_text(&ty), "HashMap<String, serde_json::Value>");
    }
}
