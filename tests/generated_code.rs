//! Snapshots of what `cargo xtask regen` generated, so that a spec change or a
//! progenitor bump is a readable diff to accept with `cargo insta review`.

use std::fmt::Write;

use quote::ToTokens;
use syn::{FnArg, GenericArgument, ImplItem, Item, PathArguments, ReturnType, Type};

const GENERATED: &str = include_str!("../generated-client/src/generated.rs");
const GENERATED_MOCKS: &str = include_str!("../generated-mocks/src/generated.rs");

#[test]
fn generated_source() {
    insta::assert_snapshot!("generated_source", GENERATED);
}

#[test]
fn generated_mocks_source() {
    insta::assert_snapshot!("generated_mocks_source", GENERATED_MOCKS);
}

/// For each operation: method name, HTTP method, spec path, and the request,
/// response and error types, read from the generated code itself.
#[test]
fn public_api_summary() {
    let file = syn::parse_file(GENERATED).expect("the generated client parses");
    let mut rows = vec![[
        "method".to_owned(),
        "http".to_owned(),
        "spec path".to_owned(),
        "request body".to_owned(),
        "response".to_owned(),
        "error".to_owned(),
    ]];
    for (method, builder) in operations(&file) {
        // progenitor's own `send`, kept private as `send_raw`: it holds the
        // HTTP method, the path and the documented error body.
        let send = builder_fn(&file, &builder, "send_raw").expect("every builder has `send_raw`");
        let body_type = builder_fn(&file, &builder, "body")
            .map(|body| last_segment(&trait_bound_target(&body)))
            .unwrap_or_else(|| "-".to_owned());
        let send_source = send.block.to_token_stream().to_string();
        let (response, error) = result_types(&send);
        rows.push([
            method,
            http_method(&send_source),
            spec_path(&send_source),
            body_type,
            response,
            error,
        ]);
    }
    insta::assert_snapshot!("public_api_summary", table(&rows));
}

/// `(method name, builder struct name)` for each `impl Client` method that
/// returns a `builder::…`, in the order they are generated.
fn operations(file: &syn::File) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for item in &file.items {
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

/// A method of `builder::<name>`.
fn builder_fn(file: &syn::File, builder: &str, name: &str) -> Option<syn::ImplItemFn> {
    let builder_mod = file.items.iter().find_map(|item| match item {
        Item::Mod(module) if module.ident == "builder" => module.content.as_ref(),
        _ => None,
    })?;
    builder_mod.1.iter().find_map(|item| {
        let Item::Impl(block) = item else { return None };
        let Type::Path(path) = block.self_ty.as_ref() else {
            return None;
        };
        if path.path.segments.last()?.ident != builder {
            return None;
        }
        block.items.iter().find_map(|item| match item {
            ImplItem::Fn(function) if function.sig.ident == name => Some(function.clone()),
            _ => None,
        })
    })
}

/// `T` and `E` of `Result<ResponseValue<T>, Error<E>>`.
fn result_types(send: &syn::ImplItemFn) -> (String, String) {
    let ReturnType::Type(_, returned) = &send.sig.output else {
        panic!("`send` returns a Result")
    };
    let arguments = generic_arguments(returned);
    let response = generic_arguments(&arguments[0]);
    let error = generic_arguments(&arguments[1]);
    (last_segment(&response[0]), last_segment(&error[0]))
}

fn generic_arguments(ty: &Type) -> Vec<Type> {
    let Type::Path(path) = ty else {
        panic!("not a path type: {}", ty.to_token_stream())
    };
    let PathArguments::AngleBracketed(arguments) = &path.path.segments.last().unwrap().arguments
    else {
        panic!("no generic arguments: {}", ty.to_token_stream())
    };
    arguments
        .args
        .iter()
        .filter_map(|argument| match argument {
            GenericArgument::Type(ty) => Some(ty.clone()),
            _ => None,
        })
        .collect()
}

/// `B` of `fn body<V>(…) where V: TryInto<types::B>`.
fn trait_bound_target(body: &syn::ImplItemFn) -> Type {
    assert!(matches!(body.sig.inputs.last(), Some(FnArg::Typed(_))));
    let clause = body
        .sig
        .generics
        .where_clause
        .as_ref()
        .expect("`body` has a where clause");
    let bound = clause
        .predicates
        .first()
        .unwrap()
        .to_token_stream()
        .to_string();
    let target = bound
        .split("TryInto <")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .expect("V: TryInto<…>");
    syn::parse_str(target.trim()).unwrap()
}

fn last_segment(ty: &Type) -> String {
    match ty {
        Type::Path(path) => path.path.segments.last().unwrap().ident.to_string(),
        Type::Tuple(tuple) if tuple.elems.is_empty() => "()".to_owned(),
        other => other.to_token_stream().to_string(),
    }
}

fn http_method(send_source: &str) -> String {
    ["get", "post", "put", "patch", "delete", "head"]
        .into_iter()
        .find(|method| send_source.contains(&format!("client . client . {method} (")))
        .map(str::to_uppercase)
        .expect("`send` calls client.client.<method>(url)")
}

fn spec_path(send_source: &str) -> String {
    let after = send_source
        .split("format ! (\"{}")
        .nth(1)
        .expect("`send` formats its URL from the base URL");
    after.split('"').next().unwrap().to_owned()
}

fn table(rows: &[[String; 6]]) -> String {
    let widths: Vec<usize> = (0..6)
        .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap())
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end()).unwrap();
    }
    out
}
