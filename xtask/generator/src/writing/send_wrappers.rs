//! Gives every operation's builder a `send` that returns the client crate's
//! own error type, `crate::Error`, and runs the call with its state passed
//! explicitly.
//!
//! progenitor's `send` returns `progenitor_client::Error<E>`, whose variants
//! carry raw response bodies (which can hold tokens), and it reaches the
//! runtime through hooks that are told nothing of the call but an
//! operation id. So each builder's generated `send` is renamed `send_raw`,
//! made private, and given the call: `send_raw(self, call: &crate::call::Call)`,
//! in which progenitor's hook calls become the call's own (`call.pre(client,
//! &mut request)`, `call.exec(client, request)`) and whose failures are a
//! `crate::call::Failure<E>` (a stop before sending, with the crate's error,
//! or progenitor's error). The new `send` makes the call — the operation as
//! the generated `Operation` type, never a string — runs `send_raw` with it
//! and lets the call turn the outcome into a value a caller can `match`.
//!
//! Every success type the hand-written runtime does not judge itself gets
//! the default judgement (`impl crate::call::Answer for types::X {}`).

use std::collections::BTreeSet;

use quote::{ToTokens, format_ident};
use syn::{
    Block, Expr, GenericArgument, ImplItem, Item, ItemImpl, PathArguments, ReturnType, Stmt, Type,
    parse_quote,
};

use crate::diagnostic::Diagnostic;
use crate::hand_written::ANSWER_TRAIT;
use crate::routes::{Environment, Route};

/// Wraps the `send` of each route's builder (see the module's doc), and
/// gives each success type no hand-written code judges (`judged_answers`)
/// the default judgement.
pub fn wrap_sends(
    file: &mut syn::File,
    environments: &[Environment],
    routes: &[Route],
    judged_answers: &BTreeSet<String>,
    spec_file: &str,
) -> Result<(), Diagnostic> {
    let internal =
        |message: String| Diagnostic::new(spec_file, format!("internal error: {message}"));
    let builders = builder_module(file)
        .ok_or_else(|| internal("progenitor's client has no `builder` module".into()))?;
    // By their Rust text: syn's types have no equality here.
    let mut unjudged: Vec<(String, Type)> = Vec::new();
    for route in routes {
        let response = wrap_send(builders, route, environments).map_err(internal)?;
        let judged = last_ident(&response).is_some_and(|name| judged_answers.contains(&name));
        let text = response.to_token_stream().to_string();
        if !judged && !unjudged.iter().any(|(known, _)| *known == text) {
            unjudged.push((text, response));
        }
    }
    let answer = format_ident!("{ANSWER_TRAIT}");
    for (_, response) in unjudged {
        file.items.push(parse_quote! {
            /// Judged by its HTTP status alone: the hand-written runtime
            /// reads nothing more in it.
            impl crate::call::#answer for #response {}
        });
    }
    Ok(())
}

/// The items of progenitor's `mod builder`.
fn builder_module(file: &mut syn::File) -> Option<&mut Vec<Item>> {
    file.items.iter_mut().find_map(|item| match item {
        Item::Mod(module) if module.ident == "builder" => {
            module.content.as_mut().map(|(_, items)| items)
        }
        _ => None,
    })
}

/// Renames the `send` of `route`'s builder `send_raw`, given the call, and
/// puts the new `send` before it; returns the success type (`T` of
/// `ResponseValue<T>`). What went wrong otherwise (an internal error).
fn wrap_send(
    builders: &mut [Item],
    route: &Route,
    environments: &[Environment],
) -> Result<Type, String> {
    let (block, index) = send_of(builders, route).ok_or_else(|| {
        format!(
            "progenitor generated no `send` for operation `{}`",
            route.operation_id
        )
    })?;
    let ImplItem::Fn(raw) = &mut block.items[index] else {
        unreachable!("found as a function above");
    };
    let response = into_send_raw(raw, route)?;
    let raw = raw.clone();
    let doc = send_doc(route, environments);
    let operation = format_ident!("{}", route.variant);
    let wrapper: syn::ImplItemFn = parse_quote! {
        #[doc = #doc]
        pub async fn send(self) -> Result<ResponseValue<#response>, crate::Error> {
            let call = crate::call::Call::new(self.client, crate::Operation::#operation);
            let raw = self.send_raw(&call).await;
            call.finish(raw).await
        }
    };
    block.items[index] = ImplItem::Fn(wrapper);
    block.items.insert(index + 1, ImplItem::Fn(raw));
    Ok(response)
}

/// The builder `impl` whose `send` builds `route`'s `OperationInfo`, and
/// where that `send` is in it.
fn send_of<'a>(builders: &'a mut [Item], route: &Route) -> Option<(&'a mut ItemImpl, usize)> {
    builders
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
}

/// Turns progenitor's `send` into the private `send_raw(self, call)` that
/// fails with a `crate::call::Failure`; returns its success type.
fn into_send_raw(raw: &mut syn::ImplItemFn, route: &Route) -> Result<Type, String> {
    let shape = || {
        format!(
            "the `send` of `{}` does not return `Result<ResponseValue<T>, Error<E>>`",
            route.operation_id
        )
    };
    let response = response_type(&raw.sig.output).ok_or_else(shape)?;
    let error = error_type(&raw.sig.output).ok_or_else(shape)?;
    raw.sig.ident = format_ident!("send_raw");
    raw.vis = syn::Visibility::Inherited;
    raw.attrs.clear();
    raw.sig.inputs.push(parse_quote!(call: &crate::call::Call));
    raw.sig.output = parse_quote! {
        -> Result<ResponseValue<#response>, crate::call::Failure<#error>>
    };
    with_the_calls_hooks(&mut raw.block).map_err(|what| {
        format!(
            "the `send` of `{}` is not what regen knows of progenitor's: {what}",
            route.operation_id
        )
    })?;
    Ok(response)
}

/// In progenitor's `send` body: the `OperationInfo` and the hooks'
/// calls replaced by the call's own, and the closing `match` on the
/// status mapped into a `Failure`. Says what it did not find.
fn with_the_calls_hooks(block: &mut Block) -> Result<(), &'static str> {
    let (mut info, mut pre, mut exec, mut post) = (false, false, false, false);
    let mut statements = Vec::with_capacity(block.stmts.len());
    for statement in block.stmts.drain(..) {
        let text = statement.to_token_stream().to_string();
        if text.starts_with("let info = OperationInfo") {
            info = true;
        } else if text.starts_with("client . pre (& mut request , & info)") {
            pre = true;
            statements.push(parse_quote!(call.pre(client, &mut request).await?;));
        } else if text.starts_with("let result = client . exec (request , & info)") {
            exec = true;
            statements.push(parse_quote!(let result = call.exec(client, request).await;));
        } else if text.starts_with("client . post (& result , & info)") {
            post = true;
        } else {
            statements.push(statement);
        }
    }
    match statements.last_mut() {
        Some(Stmt::Expr(expr @ Expr::Match(_), None)) => {
            let matched = expr.clone();
            *expr = parse_quote!((#matched).map_err(crate::call::Failure::from));
        }
        _ => return Err("it does not end in a `match` on the status"),
    }
    block.stmts = statements;
    match (info, pre, exec, post) {
        (true, true, true, true) => Ok(()),
        (false, ..) => Err("it builds no `OperationInfo`"),
        (_, false, ..) => Err("it calls no `pre` hook"),
        (_, _, false, _) => Err("it calls no `exec` hook"),
        (.., false) => Err("it calls no `post` hook"),
    }
}

/// The last segment's name of a type's path: `FetchPointsResponse` of
/// `types::FetchPointsResponse`.
fn last_ident(ty: &Type) -> Option<String> {
    let Type::Path(path) = ty else { return None };
    Some(path.path.segments.last()?.ident.to_string())
}

/// `E` of `Result<ResponseValue<T>, Error<E>>`.
fn error_type(output: &ReturnType) -> Option<Type> {
    let ReturnType::Type(_, returned) = output else {
        return None;
    };
    let Type::Path(path) = returned.as_ref() else {
        return None;
    };
    let PathArguments::AngleBracketed(arguments) = &path.path.segments.last()?.arguments else {
        return None;
    };
    let error = arguments
        .args
        .iter()
        .filter_map(|argument| match argument {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        })
        .nth(1)?;
    first_type_argument(error)
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
