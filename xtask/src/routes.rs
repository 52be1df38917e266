//! Derives where each operation really goes, which progenitor ignores:
//! the global `servers` become `Environment`, and each operation gets its
//! server URL per environment and whether its path is virtual.
//!
//! Resolution, per operation and environment: the operation's (or its path
//! item's) server whose description equals the environment's; otherwise, when
//! the operation lists exactly one server, that server in every environment;
//! otherwise regen fails naming the operation and the environment. An
//! operation without servers of its own uses the global server.

use openapiv3::{OpenAPI, ReferenceOr, Server};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::failure::Failure;
use crate::naming::{escape, pascal_case, snake_case};

/// The extension (set by the overlay) that marks a path as virtual: the call
/// goes to the server URL itself, without the path.
pub const VIRTUAL_PATH_EXTENSION: &str = "x-virtual-path";

/// The extension (set by the overlay) that marks a non-GET operation as safe
/// to repeat, so the client may retry it.
pub const IDEMPOTENT_EXTENSION: &str = "x-idempotent";

pub struct Environment {
    pub variant: String,
    pub description: String,
    pub url: String,
}

pub struct Route {
    /// The document's operationId.
    pub operation_id: String,
    /// What progenitor passes to hooks as `OperationInfo::operation_id`.
    pub hook_id: String,
    pub http_method: String,
    pub spec_path: String,
    pub virtual_path: bool,
    pub authenticated: bool,
    /// Safe to repeat: a GET, HEAD, PUT, DELETE or OPTIONS, or marked idempotent.
    pub idempotent: bool,
    /// The server URL in each environment, in `Environment` order.
    pub servers: Vec<String>,
}

pub fn environments(spec: &OpenAPI, spec_file: &str) -> Result<Vec<Environment>, Failure> {
    if spec.servers.is_empty() {
        return Err(Failure::at(
            spec_file,
            "/servers",
            "the document has no global `servers`",
        )
        .with_hint("each global server, with a description, becomes an environment"));
    }
    let mut environments: Vec<Environment> = Vec::new();
    for (index, server) in spec.servers.iter().enumerate() {
        let pointer = format!("/servers/{index}");
        let Some(description) = server.description.as_deref().map(str::trim) else {
            return Err(
                Failure::at(spec_file, pointer, "this server has no `description`")
                    .with_hint("the description names the environment, such as `Sandbox`"),
            );
        };
        let variant = pascal_case(description);
        if !variant.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(Failure::at(
                spec_file,
                format!("{pointer}/description"),
                format!("`{description}` cannot name an environment: it must start with a letter"),
            ));
        }
        if environments.iter().any(|known| known.variant == variant) {
            return Err(Failure::at(
                spec_file,
                format!("{pointer}/description"),
                format!("two global servers are described as `{description}`"),
            ));
        }
        environments.push(Environment {
            variant,
            description: description.to_owned(),
            url: server_url(server, spec_file, &pointer)?,
        });
    }
    Ok(environments)
}

pub fn routes(
    spec: &OpenAPI,
    environments: &[Environment],
    spec_file: &str,
) -> Result<Vec<Route>, Failure> {
    let mut routes = Vec::new();
    for (path, item) in spec.paths.paths.iter() {
        let ReferenceOr::Item(item) = item else {
            return Err(Failure::at(
                spec_file,
                format!("/paths/{}", escape(path)),
                "a `$ref` path item is not supported",
            ));
        };
        for (method, operation) in item.iter() {
            let pointer = format!("/paths/{}/{method}", escape(path));
            let operation_id = operation.operation_id.clone().ok_or_else(|| {
                Failure::at(spec_file, &pointer, "the operation has no `operationId`")
            })?;
            let own_servers = if !operation.servers.is_empty() {
                Some((&operation.servers, format!("{pointer}/servers")))
            } else if !item.servers.is_empty() {
                Some((&item.servers, format!("/paths/{}/servers", escape(path))))
            } else {
                None
            };
            let mut servers = Vec::new();
            for environment in environments {
                let url = match &own_servers {
                    None => environment.url.clone(),
                    Some((list, list_pointer)) => {
                        let described = list.iter().position(|server| {
                            server.description.as_deref().map(str::trim)
                                == Some(environment.description.as_str())
                        });
                        match (described, list.len()) {
                            (Some(index), _) => server_url(
                                &list[index],
                                spec_file,
                                &format!("{list_pointer}/{index}"),
                            )?,
                            (None, 1) => {
                                server_url(&list[0], spec_file, &format!("{list_pointer}/0"))?
                            }
                            (None, _) => {
                                return Err(Failure::at(
                                    spec_file,
                                    list_pointer,
                                    format!(
                                        "operation `{operation_id}` lists {} servers and none is \
                                         described as `{}`, so its URL in that environment is \
                                         unknown",
                                        list.len(),
                                        environment.description
                                    ),
                                )
                                .with_hint(format!(
                                    "describe one of them as `{}`, or list exactly one server",
                                    environment.description
                                )));
                            }
                        }
                    }
                };
                servers.push(url);
            }
            let flag = |name: &str| match operation.extensions.get(name) {
                None => Ok(false),
                Some(value) => value.as_bool().ok_or_else(|| {
                    Failure::at(
                        spec_file,
                        format!("{pointer}/{name}"),
                        format!("`{name}` must be true or false"),
                    )
                }),
            };
            let virtual_path = flag(VIRTUAL_PATH_EXTENSION)?;
            let idempotent = matches!(method, "get" | "head" | "put" | "delete" | "options")
                || flag(IDEMPOTENT_EXTENSION)?;
            let security = operation.security.as_ref().or(spec.security.as_ref());
            let authenticated = security.is_some_and(|requirements| !requirements.is_empty());
            routes.push(Route {
                hook_id: snake_case(&operation_id),
                operation_id,
                http_method: method.to_uppercase(),
                spec_path: path.clone(),
                virtual_path,
                authenticated,
                idempotent,
                servers,
            });
        }
    }
    Ok(routes)
}

fn server_url(server: &Server, spec_file: &str, pointer: &str) -> Result<String, Failure> {
    if server
        .variables
        .as_ref()
        .is_some_and(|variables| !variables.is_empty())
    {
        return Err(Failure::at(
            spec_file,
            format!("{pointer}/variables"),
            "server variables are not supported",
        )
        .with_hint("write the URL out in full"));
    }
    let url = server.url.trim_end_matches('/');
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(Failure::at(
            spec_file,
            format!("{pointer}/url"),
            format!("`{}` is not an absolute http(s) URL", server.url),
        ));
    }
    Ok(url.to_owned())
}

/// The Rust source of `mod routes` (without header): `Environment`,
/// `Operation` and the route table, indexed by `Operation`.
pub fn routes_source(
    environments: &[Environment],
    routes: &[Route],
    spec_file: &str,
) -> Result<TokenStream, Failure> {
    let variants: Vec<_> = environments
        .iter()
        .map(|environment| format_ident!("{}", environment.variant))
        .collect();
    let variant_docs = environments
        .iter()
        .map(|environment| format!("`{}`: `{}`", environment.description, environment.url));
    let descriptions = environments
        .iter()
        .map(|environment| &environment.description);
    let urls = environments.iter().map(|environment| &environment.url);
    let count = Literal::usize_unsuffixed(environments.len());
    let route_count = Literal::usize_unsuffixed(routes.len());
    let operations = operation_variants(routes, spec_file)?;
    let operation_ids = routes.iter().map(|route| &route.operation_id);
    let operation_docs = routes.iter().map(|route| {
        format!(
            "`{}`: `{} {}` in the document.",
            route.operation_id, route.http_method, route.spec_path
        )
    });
    let route_items = routes.iter().zip(&operations).map(|(route, operation)| {
        let Route {
            operation_id: _,
            hook_id: _,
            http_method,
            spec_path,
            virtual_path,
            authenticated,
            idempotent,
            servers,
        } = route;
        quote! {
            Route {
                operation: Operation::#operation,
                http_method: #http_method,
                spec_path: #spec_path,
                virtual_path: #virtual_path,
                authenticated: #authenticated,
                idempotent: #idempotent,
                servers: [#(#servers),*],
            }
        }
    });
    Ok(quote! {
        /// The vendor's environments: one per global server of the document.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Environment {
            #(#[doc = #variant_docs] #variants,)*
        }

        impl Environment {
            /// Every environment, in the document's order.
            pub const ALL: [Environment; #count] = [#(Environment::#variants),*];

            /// The server's description in the document, such as `Sandbox`.
            pub const fn name(self) -> &'static str {
                match self {
                    #(Environment::#variants => #descriptions,)*
                }
            }

            /// The global server URL of this environment.
            pub const fn server_url(self) -> &'static str {
                match self {
                    #(Environment::#variants => #urls,)*
                }
            }

            pub(crate) const fn index(self) -> usize {
                self as usize
            }
        }

        /// The document's operations, one variant each: hand-written code
        /// names an operation by this type, never by a string, so a renamed or
        /// removed operation is a compile error where it is used.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Operation {
            #(#[doc = #operation_docs] #operations,)*
        }

        impl Operation {
            /// Every operation, in the document's order.
            pub const ALL: [Operation; #route_count] = [#(Operation::#operations),*];

            /// The document's `operationId`, such as `fetchPoints`.
            pub const fn id(self) -> &'static str {
                match self {
                    #(Operation::#operations => #operation_ids,)*
                }
            }

            /// Where this operation is sent.
            pub const fn route(self) -> &'static Route<#count> {
                &ROUTES[self as usize]
            }
        }

        impl ::std::fmt::Display for Operation {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.id())
            }
        }

        /// Where each operation of the document is sent, in `Operation` order.
        pub static ROUTES: [Route<#count>; #route_count] = [#(#route_items),*];
    })
}

/// Each route's `Operation` variant: the operationId in PascalCase. Two
/// operationIds that differ only in case or punctuation would make one.
pub fn operation_variants(routes: &[Route], spec_file: &str) -> Result<Vec<Ident>, Failure> {
    let mut seen: Vec<(String, &str)> = Vec::new();
    let mut variants = Vec::new();
    for route in routes {
        let name = pascal_case(&route.operation_id);
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(Failure::new(
                spec_file,
                format!(
                    "the operationId `{}` cannot name a Rust type: it must start with a letter",
                    route.operation_id
                ),
            ));
        }
        if let Some((_, first)) = seen.iter().find(|(known, _)| *known == name) {
            return Err(Failure::new(
                spec_file,
                format!(
                    "the operationIds `{first}` and `{}` both become `Operation::{name}`",
                    route.operation_id
                ),
            )
            .with_hint("rename one of them in the overlay"));
        }
        seen.push((name.clone(), &route.operation_id));
        variants.push(format_ident!("{name}"));
    }
    Ok(variants)
}

#[cfg(test)]
mod tests {
    use openapiv3::OpenAPI;
    use serde_json::json;

    use super::{environments, routes};

    fn document(operation_servers: serde_json::Value) -> OpenAPI {
        serde_json::from_value(json!({
            "openapi": "3.0.3",
            "info": { "title": "t", "version": "1" },
            "servers": [
                { "url": "https://sandbox.example.com/api", "description": "Sandbox" },
                { "url": "https://live.example.com/api/", "description": "Live v2" }
            ],
            "security": [{ "BearerAuth": [] }],
            "paths": { "/thing": { "post": {
                "operationId": "doThing",
                "servers": operation_servers,
                "responses": { "200": { "description": "ok" } }
            } } }
        }))
        .unwrap()
    }

    #[test]
    fn environments_come_from_the_global_servers() {
        let spec = document(json!([]));
        let environments = environments(&spec, "spec.yaml").unwrap();
        let names: Vec<_> = environments
            .iter()
            .map(|e| (e.variant.as_str(), e.url.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("Sandbox", "https://sandbox.example.com/api"),
                ("LiveV2", "https://live.example.com/api")
            ]
        );
        let routes = routes(&spec, &environments, "spec.yaml").unwrap();
        assert_eq!(
            routes[0].servers,
            environments
                .iter()
                .map(|e| e.url.clone())
                .collect::<Vec<_>>()
        );
        assert_eq!(routes[0].hook_id, "do_thing");
        assert!(routes[0].authenticated);
    }

    #[test]
    fn a_single_override_applies_in_every_environment() {
        let spec = document(json!([{ "url": "https://accounts.example.com/api" }]));
        let environments = environments(&spec, "spec.yaml").unwrap();
        let routes = routes(&spec, &environments, "spec.yaml").unwrap();
        assert_eq!(routes[0].servers, ["https://accounts.example.com/api"; 2]);
    }

    #[test]
    fn overrides_none_described_like_an_environment_fail_naming_the_operation() {
        let spec = document(json!([
            { "url": "https://a.example.com", "description": "Primary" },
            { "url": "https://b.example.com", "description": "Fallback" }
        ]));
        let environments = environments(&spec, "spec.yaml").unwrap();
        let failure = routes(&spec, &environments, "spec.yaml").err().unwrap();
        assert_eq!(
            failure.to_string(),
            "spec.yaml at /paths/~1thing/post/servers: operation `doThing` lists 2 servers and \
             none is described as `Sandbox`, so its URL in that environment is unknown \
             (describe one of them as `Sandbox`, or list exactly one server)"
        );
    }
}
