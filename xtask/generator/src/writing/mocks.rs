//! httpmock helpers for the client's users, from progenitor's `httpmock`
//! generator, made to match what the client really sends. progenitor's
//! helpers match the document's paths (`/fetchPoints`), which the client
//! never sends; so each `<Operation>When::new` is rewritten to match the real
//! path from the route table and, for virtual paths, the constant body fields
//! (`query`, `tag`) that tell the operations apart.

use openapiv3::OpenAPI;
use proc_macro2::TokenStream;
use progenitor::{GenerationSettings, Generator};
use quote::{ToTokens, format_ident, quote};
use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::generated_docs::set_doc;
use crate::naming::pascal_case;
use crate::routes::Route;

pub fn mocks_source(
    spec: &OpenAPI,
    settings: &GenerationSettings,
    routes: &[Route],
    spec_file: &str,
) -> Result<TokenStream, Diagnostic> {
    let tokens = crate::generator::without_panics(|| {
        Generator::new(settings).httpmock(spec, "xoxoday_reward_points")
    })
    .map_err(|panic| {
        Diagnostic::new(
            spec_file,
            format!("progenitor cannot generate the mocks (it panicked: {panic})"),
        )
    })?
    .map_err(|error| {
        Diagnostic::new(
            spec_file,
            format!("progenitor cannot generate the mocks: {error}"),
        )
    })?;
    let mut file: syn::File = syn::parse2(tokens).map_err(|error| {
        Diagnostic::new(
            spec_file,
            format!("internal error: the mocks do not parse: {error}"),
        )
    })?;

    let operations = file
        .items
        .iter_mut()
        .find_map(|item| match item {
            syn::Item::Mod(module) if module.ident == "operations" => module.content.as_mut(),
            _ => None,
        })
        .ok_or_else(|| {
            Diagnostic::new(
                spec_file,
                "internal error: the mocks have no `operations` module",
            )
        })?;
    for route in routes {
        let when = format_ident!("{}When", pascal_case(&route.operation_id));
        let new_fn = operations.1.iter_mut().find_map(|item| match item {
            syn::Item::Impl(block) if is_type(&block.self_ty, &when) => {
                block.items.iter_mut().find_map(|item| match item {
                    syn::ImplItem::Fn(function) if function.sig.ident == "new" => Some(function),
                    _ => None,
                })
            }
            _ => None,
        });
        let Some(new_fn) = new_fn else {
            return Err(Diagnostic::new(
                spec_file,
                format!("internal error: the mocks have no `{when}::new`"),
            ));
        };
        new_fn.block = syn::parse2(when_body(route))
            .map_err(|error| Diagnostic::new(spec_file, format!("internal error: {error}")))?;
    }
    for item in operations.1.iter_mut() {
        let syn::Item::Impl(block) = item else {
            continue;
        };
        for item in block.items.iter_mut() {
            if let syn::ImplItem::Fn(function) = item {
                match_each_listed_value(function);
            }
        }
    }
    document(&mut file, routes);
    Ok(quote!(#file))
}

/// Docs for what progenitor's httpmock generator leaves bare, so the mocks
/// crate holds to `#![deny(missing_docs)]` too.
fn document(file: &mut syn::File, routes: &[Route]) {
    let operation_of = |type_name: &str, suffix: &str| {
        let stem = type_name.strip_suffix(suffix)?;
        routes
            .iter()
            .find(|route| pascal_case(&route.operation_id) == stem)
            .map(|route| route.operation_id.clone())
    };
    for item in &mut file.items {
        match item {
            syn::Item::Mod(module) if module.ident == "operations" => {
                let Some((_, items)) = module.content.as_mut() else {
                    continue;
                };
                for item in items {
                    match item {
                        syn::Item::Struct(item) => {
                            let name = item.ident.to_string();
                            let doc = if let Some(operation) = operation_of(&name, "When") {
                                format!(
                                    "Which `{operation}` requests the mock answers: already \
                                     the method, the real path and the body's constants the \
                                     client sends; narrow it with the methods below."
                                )
                            } else if let Some(operation) = operation_of(&name, "Then") {
                                format!("The mock's answer to a `{operation}` request.")
                            } else {
                                continue;
                            };
                            set_doc(&mut item.attrs, &doc);
                        }
                        syn::Item::Impl(block) => {
                            for item in &mut block.items {
                                let syn::ImplItem::Fn(function) = item else {
                                    continue;
                                };
                                let doc = mock_method_doc(function);
                                set_doc(&mut function.attrs, &doc);
                            }
                        }
                        _ => {}
                    }
                }
            }
            syn::Item::Trait(item) if item.ident == "MockServerExt" => {
                set_doc(
                    &mut item.attrs,
                    "A typed mock per operation on an httpmock `MockServer`: \
                     `server.fetch_points(|when, then| { … })` mounts a mock that matches \
                     only fetch points requests as the client sends them.",
                );
                for item in &mut item.items {
                    let syn::TraitItem::Fn(function) = item else {
                        continue;
                    };
                    let name = function.sig.ident.to_string();
                    let operation = routes
                        .iter()
                        .find(|route| route.hook_id == name)
                        .map_or(name.clone(), |route| route.operation_id.clone());
                    set_doc(
                        &mut function.attrs,
                        &format!(
                            "Mounts a mock of `{operation}`: `config_fn` narrows the match and \
                             sets the answer."
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}

/// A `When`/`Then` method's doc, from what it does.
fn mock_method_doc(function: &syn::ImplItemFn) -> String {
    let name = function.sig.ident.to_string();
    match name.as_str() {
        "new" => "Wraps httpmock's value, adding what every such request has.".to_owned(),
        "into_inner" => {
            "httpmock's value, to match or answer beyond what the document allows.".to_owned()
        }
        "body" => "Matches only requests with exactly this JSON body.".to_owned(),
        _ => {
            let body = function.block.to_token_stream().to_string();
            // `.status(200u16)`, or a status the caller passes.
            let status = body
                .split_once(". status (")
                .map(|(_, rest)| rest.split(')').next().unwrap_or_default().trim().to_owned());
            match status {
                Some(status) if status.ends_with("u16") => format!(
                    "Answers HTTP {} with `value` as the JSON body.",
                    status.trim_end_matches("u16")
                ),
                Some(_) => "Answers with `status` and `value` as the JSON body.".to_owned(),
                None => format!("Matches only requests whose `{name}` is `value`."),
            }
        }
    }
}

/// progenitor's helper for a query parameter that is a list calls
/// `to_string()` on the whole list, which does not compile; the client sends
/// a list as repeated `name=value` pairs, so the helper matches each value.
fn match_each_listed_value(function: &mut syn::ImplItemFn) {
    let signature = function.sig.to_token_stream().to_string();
    let body = function.block.to_token_stream().to_string();
    if !signature.contains("Vec <") || !body.contains("query_param") {
        return;
    }
    let Some(name) = first_string_literal(&function.block) else {
        return;
    };
    let each = quote! {
        value.iter().fold(self.0, |when, item| when.query_param(#name, item.to_string()))
    };
    let block = if body.contains("query_param_missing") {
        quote! {{
            if let Some(value) = value.into() {
                Self(#each)
            } else {
                Self(self.0.query_param_missing(#name))
            }
        }}
    } else {
        quote! {{ Self(#each) }}
    };
    if let Ok(block) = syn::parse2(block) {
        function.block = block;
    }
}

/// The first string literal in a block: the parameter's name in the
/// `query_param` call progenitor generates.
fn first_string_literal(block: &syn::Block) -> Option<String> {
    fn find(tokens: proc_macro2::TokenStream) -> Option<String> {
        for token in tokens {
            match token {
                proc_macro2::TokenTree::Literal(literal) => {
                    if let Ok(syn::Lit::Str(text)) =
                        syn::parse_str::<syn::Lit>(&literal.to_string())
                    {
                        return Some(text.value());
                    }
                }
                proc_macro2::TokenTree::Group(group) => {
                    if let Some(found) = find(group.stream()) {
                        return Some(found);
                    }
                }
                _ => {}
            }
        }
        None
    }
    find(block.to_token_stream())
}

fn is_type(ty: &syn::Type, name: &syn::Ident) -> bool {
    matches!(ty, syn::Type::Path(path) if path.path.is_ident(name))
}

/// `Self(inner.method(M).path_matches(real path).json_body_includes(constants))`
fn when_body(route: &Route) -> TokenStream {
    let method = format_ident!("{}", route.http_method);
    let mut paths: Vec<String> = route
        .servers
        .iter()
        .map(|server| {
            let server_path = server
                .split_once("://")
                .and_then(|(_, rest)| rest.find('/').map(|index| &rest[index..]))
                .unwrap_or("");
            let suffix = if route.virtual_path {
                ""
            } else {
                route.spec_path.as_str()
            };
            path_pattern(&format!("{server_path}{suffix}"))
        })
        .collect();
    paths.sort();
    paths.dedup();
    let pattern = format!("^(?:{})$", paths.join("|"));
    // The constant body fields tell virtual-path operations apart.
    let constants = &route.body_constants;
    let includes = (route.virtual_path && !constants.is_empty()).then(|| {
        let json = Value::Object(constants.clone()).to_string();
        quote!(.json_body_includes(#json))
    });
    quote! {{
        Self(
            inner
                .method(::httpmock::Method::#method)
                .path_matches(regex::Regex::new(#pattern).unwrap())
                #includes
        )
    }}
}

/// A path as a regex: literal text escaped, `{param}` matching one segment.
fn path_pattern(path: &str) -> String {
    let mut pattern = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        pattern.push_str(&regex_escape(&rest[..open]));
        match rest[open..].find('}') {
            Some(close) => {
                pattern.push_str("[^/]+");
                rest = &rest[open + close + 1..];
            }
            None => {
                pattern.push_str(&regex_escape(&rest[open..]));
                rest = "";
            }
        }
    }
    pattern.push_str(&regex_escape(rest));
    pattern
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}
