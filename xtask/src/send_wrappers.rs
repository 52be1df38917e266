//! Gives every operation's builder a `send` that returns the client crate's
//! own error type, `crate::Error`, instead of progenitor-client's.
//!
//! progenitor's `send` returns `progenitor_client::Error<E>`, whose variants
//! carry raw response bodies (which can hold tokens) and a `Custom(String)`
//! for everything the hooks report. So each builder's generated `send` is
//! renamed `send_raw` and made private, and a `send` is added that runs it
//! through `crate::call::send`, which knows the operation (as the generated
//! `Operation` type, never a string) and turns every failure into a value a
//! caller can `match`.

use quote::{ToTokens, format_ident};
use syn::{GenericArgument, ImplItem, Item, PathArguments, ReturnType, Type, parse_quote};

use crate::diagnostic::Diagnostic;
use crate::routes::{Environment, Route};

pub fn wrap_sends(
    file: &mut syn::File,
    environments: &[Environment],
    routes: &[Route],
    operations: &[syn::Ident],
    spec_file: &str,
) -> Result<(), Diagnostic> {
    let internal =
        |message: String| Diagnostic::new(spec_file, format!("internal error: {message}"));
    let builders = file
        .items
        .iter_mut()
        .find_map(|item| match item {
            Item::Mod(module) if module.ident == "builder" => module.content.as_mut(),
            _ => None,
        })
        .ok_or_else(|| internal("progenitor's client has no `builder` module".into()))?;
    for (route, operation) in routes.iter().zip(operations) {
        let (block, index) = builders
            .1
            .iter_mut()
            .filter_map(|item| match item {
                Item::Impl(block) => Some(block),
                _ => None,
            })
            .find_map(|block| {
                let index = block.items.iter().position(|item| {
                    matches!(item, ImplItem::Fn(function)
                        if function.sig.ident == "send" && names_operation(function, &route.hook_id))
                })?;
                Some((block, index))
            })
            .ok_or_else(|| {
                internal(format!(
                    "progenitor generated no `send` for operation `{}`",
                    route.operation_id
                ))
            })?;
        let ImplItem::Fn(raw) = &mut block.items[index] else {
            unreachable!("found as a function above");
        };
        let response = response_type(&raw.sig.output).ok_or_else(|| {
            internal(format!(
                "the `send` of `{}` does not return `Result<ResponseValue<T>, Error<E>>`",
                route.operation_id
            ))
        })?;
        raw.sig.ident = format_ident!("send_raw");
        raw.vis = syn::Visibility::Inherited;
        raw.attrs.clear();
        let raw = raw.clone();
        let doc = send_doc(route, environments);
        let wrapper: syn::ImplItemFn = parse_quote! {
            #[doc = #doc]
            pub async fn send(self) -> Result<ResponseValue<#response>, crate::Error> {
                let client = self.client;
                crate::call::send(client, crate::Operation::#operation, self.send_raw()).await
            }
        };
        block.items[index] = ImplItem::Fn(wrapper);
        block.items.insert(index + 1, ImplItem::Fn(raw));
    }
    Ok(())
}

/// Whether `send` builds the `OperationInfo` of `hook_id`.
fn names_operation(send: &syn::ImplItemFn, hook_id: &str) -> bool {
    let source = send.block.to_token_stream().to_string();
    source.contains(&format!("operation_id : \"{hook_id}\""))
}

/// `T` of `Result<ResponseValue<T>, Error<E>>`.
pub(crate) fn response_type(output: &ReturnType) -> Option<Type> {
    let ReturnType::Type(_, returned) = output else {
        return None;
    };
    let result = first_type_argument(returned)?;
    first_type_argument(&result)
}

/// `T` of `Name<T, …>`.
pub(crate) fn first_type_argument(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else { return None };
    let PathArguments::AngleBracketed(arguments) = &path.path.segments.last()?.arguments else {
        return None;
    };
    arguments.args.iter().find_map(|argument| match argument {
        GenericArgument::Type(ty) => Some(ty.clone()),
        _ => None,
    })
}

/// Where the request really goes, per environment: progenitor's own text
/// names the document's path, which for a virtual path is never sent.
fn send_doc(route: &Route, environments: &[Environment]) -> String {
    let mut doc =
        String::from("Sends the request and returns the answer, or a [`crate::Error`].\n\n");
    doc.push_str(&destinations(route, environments));
    doc
}

/// Where `route`'s request really goes, one Markdown list item per
/// environment (a virtual path is not sent).
pub fn destinations(route: &Route, environments: &[Environment]) -> String {
    let mut doc = String::new();
    for (environment, server) in environments.iter().zip(&route.servers) {
        let url = if route.virtual_path {
            server.clone()
        } else {
            format!("{server}{}", route.spec_path)
        };
        doc.push_str(&format!(
            "- {}: `{} {url}`\n",
            environment.description, route.http_method
        ));
    }
    doc
}
