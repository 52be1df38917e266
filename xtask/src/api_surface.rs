//! The public API of the generated client, one item per line, read from the
//! generated code itself: environments, operations (method, HTTP method,
//! body, answer, credential), each operation's parameters and real URL per
//! environment, and every type of `types` with its fields (Rust type, and
//! whether a caller must set it) or variants. Sorted, without a digest or
//! padding, so that one change of the API is one line of diff.
//!
//! `cargo xtask regen` writes it to `generated-client/api-surface.txt`, and
//! `change_report.rs` compares two of them.

use std::collections::BTreeMap;

use quote::ToTokens;
use syn::{Fields, ImplItem, Item, ReturnType, Type};

use crate::routes::{Credential, Environment, Route};
use crate::send_wrappers::{first_type_argument, response_type};

/// The file's first lines.
pub const HEADER: &str = "\
# The public API of the generated client, one item per line, sorted.
# Written by `cargo xtask regen` (do not edit); what changed is in CHANGELOG.md.
";

/// The lines of the surface, as `kind key` and an optional `: value`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Surface {
    /// (kind, key) → value (empty when the line has none).
    pub items: BTreeMap<(String, String), String>,
}

impl Surface {
    pub fn insert(&mut self, kind: &str, key: impl Into<String>, value: impl Into<String>) {
        self.items
            .insert((kind.to_owned(), key.into()), value.into());
    }

    pub fn get(&self, kind: &str, key: &str) -> Option<&String> {
        self.items.get(&(kind.to_owned(), key.to_owned()))
    }

    /// The keys of one kind.
    pub fn keys<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.items
            .keys()
            .filter(move |(item_kind, _)| item_kind == kind)
            .map(|(_, key)| key)
    }

    /// The lines grouped for a reader: the environments; each operation with
    /// its parameters and routes; each type with its fields or variants. In
    /// each group, sorted by name.
    pub fn to_text(&self) -> String {
        let mut text = String::from(HEADER);
        text.push('\n');
        let mut lines: Vec<(&(String, String), &String)> = self.items.iter().collect();
        lines.sort_by_key(|((kind, key), _)| {
            let (section, group, rank) = match kind.as_str() {
                "environment" => (0, key.as_str(), 0),
                "operation" => (1, key.as_str(), 0),
                "parameter" => (1, key.split('.').next().unwrap_or_default(), 1),
                "route" => (1, key.split(" in ").next().unwrap_or_default(), 2),
                "field" => (2, key.split('.').next().unwrap_or_default(), 1),
                "variant" => (2, key.split("::").next().unwrap_or_default(), 1),
                _ => (2, key.as_str(), 0),
            };
            (section, group.to_owned(), rank, key.clone())
        });
        for ((kind, key), value) in lines {
            if value.is_empty() {
                text.push_str(&format!("{kind} {key}\n"));
            } else {
                text.push_str(&format!("{kind} {key}: {value}\n"));
            }
        }
        text
    }

    pub fn parse(text: &str) -> Self {
        let mut surface = Self::default();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (head, value) = line.split_once(": ").unwrap_or((line, ""));
            let Some((kind, key)) = head.split_once(' ') else {
                continue;
            };
            surface.insert(kind, key, value);
        }
        surface
    }
}

/// The surface of a generated client.
pub fn surface(client: &syn::File, environments: &[Environment], routes: &[Route]) -> Surface {
    let mut surface = Surface::default();
    for environment in environments {
        surface.insert("environment", &environment.variant, &environment.url);
    }
    for (method, builder) in operations(client) {
        let Some(route) = routes.iter().find(|route| route.hook_id == method) else {
            continue;
        };
        let mut parts = vec![route.http_method.clone()];
        let builder_fields = builder_fields(client, &builder);
        match builder_fields.iter().find(|(name, ..)| name == "body") {
            Some((_, body, _)) => {
                parts.push(format!("body {}", body.trim_start_matches("builder::")))
            }
            None => parts.push("no body".into()),
        }
        if let Some(answer) = answer_type(client, &builder) {
            parts.push(format!("answers {answer}"));
        }
        parts.push(match route.credential {
            Credential::BearerToken => "sends a bearer token".into(),
            Credential::None => "sends no credential".into(),
        });
        surface.insert("operation", &method, parts.join(", "));
        for (name, ty, optional) in &builder_fields {
            if name != "body" {
                let need = if *optional { "optional" } else { "required" };
                surface.insert(
                    "parameter",
                    format!("{method}.{name}"),
                    format!("{ty} ({need})"),
                );
            }
        }
        for (environment, server) in environments.iter().zip(&route.servers) {
            let url = if route.virtual_path {
                server.clone()
            } else {
                format!("{server}{}", route.spec_path)
            };
            surface.insert(
                "route",
                format!("{method} in {}", environment.variant),
                format!("{} {url}", route.http_method),
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
            Item::Struct(item) if is_pub(&item.vis) => {
                let name = item.ident.to_string();
                match &item.fields {
                    Fields::Named(fields) => {
                        surface.insert("struct", &name, "");
                        for field in &fields.named {
                            if !is_pub(&field.vis) {
                                continue;
                            }
                            let field_name = field
                                .ident
                                .as_ref()
                                .map(ToString::to_string)
                                .unwrap_or_default();
                            let ty = type_text(&field.ty);
                            let need = if ty.starts_with("Option<") {
                                "optional"
                            } else if has_serde_default(&field.attrs) {
                                "has a default"
                            } else {
                                "required"
                            };
                            surface.insert(
                                "field",
                                format!("{name}.{field_name}"),
                                format!("{ty} ({need})"),
                            );
                        }
                    }
                    Fields::Unnamed(fields) => {
                        let inner: Vec<String> = fields
                            .unnamed
                            .iter()
                            .map(|field| type_text(&field.ty))
                            .collect();
                        surface.insert("newtype", &name, inner.join(", "));
                    }
                    Fields::Unit => surface.insert("struct", &name, ""),
                }
            }
            Item::Enum(item) if is_pub(&item.vis) => {
                let name = item.ident.to_string();
                surface.insert("enum", &name, "");
                for variant in &item.variants {
                    let payload = match &variant.fields {
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
                                format!(
                                    "{}: {}",
                                    field
                                        .ident
                                        .as_ref()
                                        .map(ToString::to_string)
                                        .unwrap_or_default(),
                                    type_text(&field.ty)
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(", "),
                    };
                    surface.insert("variant", format!("{name}::{}", variant.ident), payload);
                }
            }
            Item::Type(item) if is_pub(&item.vis) => {
                surface.insert("alias", item.ident.to_string(), type_text(&item.ty));
            }
            _ => {}
        }
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
    use super::{Surface, type_text};

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

    #[test]
    fn the_text_parses_back() {
        let mut surface = Surface::default();
        surface.insert("struct", "Pet", "");
        surface.insert("field", "Pet.name", "String (required)");
        surface.insert(
            "route",
            "list_pets in Production",
            "GET https://example.com/pets",
        );
        assert_eq!(Surface::parse(&surface.to_text()), surface);
    }
}
