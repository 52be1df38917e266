//! Derives where each operation really goes, which progenitor ignores:
//! the global `servers` become `Environment`, and each operation gets its
//! server URL per environment, whether its path is virtual, and the
//! credential it sends.
//!
//! Server, per operation and environment: the operation's (or its path
//! item's) server whose description equals the environment's; otherwise,
//! when the operation lists exactly one server, that server in every
//! environment; otherwise regen stops, naming the operation and the
//! environment. An operation without servers of its own uses the global
//! server.
//!
//! Path: sent after the server URL (OpenAPI's own rule), unless the overlay
//! marks it virtual (`x-virtual-path: true`: the call goes to the server URL
//! itself, as the vendor's points operations do). An operation on the global
//! servers whose JSON body has a constant field (one allowed value, like the
//! points operations' `query`) is the vendor's virtual-path pattern: regen
//! cannot tell whether its path is real, so the overlay must say
//! (`x-virtual-path: true` or `false`), and regen stops until it does.
//! Virtual-path operations that share a URL must differ in a constant body
//! field, or the vendor could not tell them apart.
//!
//! Credential: from the document's `security` requirements (the operation's,
//! or the document's) and `securitySchemes`. The runtime sends an HTTP bearer
//! token: that honours `http`/`bearer`, and OAuth 2 and OpenID Connect, whose
//! access tokens travel the same way (RFC 6750; the client is given the
//! token, it runs no OAuth flow). An operation that can only be called with
//! another scheme (an API key, HTTP basic) stops regen. An operation that
//! asks for none is sent with none.

use openapiv3::{OpenAPI, ReferenceOr, SecurityScheme, Server};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;

use crate::diagnostic::{Diagnostic, Problems};
use crate::naming::{escape, pascal_case, snake_case};

/// The extension (set by the overlay) that says whether a path is virtual:
/// `true`, the call goes to the server URL itself, without the path.
pub const VIRTUAL_PATH_EXTENSION: &str = "x-virtual-path";

/// The extension (set by the overlay) that marks a non-GET operation as safe
/// to repeat, so the client may retry it.
pub const IDEMPOTENT_EXTENSION: &str = "x-idempotent";

pub struct Environment {
    pub variant: String,
    pub description: String,
    pub url: String,
}

/// The credential an operation is sent with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    None,
    BearerToken,
}

pub struct Route {
    /// The document's operationId.
    pub operation_id: String,
    /// What progenitor passes to hooks as `OperationInfo::operation_id`.
    pub hook_id: String,
    pub http_method: String,
    pub spec_path: String,
    pub virtual_path: bool,
    pub credential: Credential,
    /// Safe to repeat: a GET, HEAD, PUT, DELETE or OPTIONS, or marked idempotent.
    pub idempotent: bool,
    /// The server URL in each environment, in `Environment` order.
    pub servers: Vec<String>,
    /// Body fields with one allowed value: what tells virtual-path
    /// operations on one URL apart.
    pub body_constants: serde_json::Map<String, Value>,
}

pub fn environments(spec: &OpenAPI, spec_file: &str, problems: &mut Problems) -> Vec<Environment> {
    if spec.servers.is_empty() {
        problems.push(
            Diagnostic::at(
                spec_file,
                "/servers",
                "the document has no global `servers`",
            )
            .with_hint("each global server, with a description, becomes an environment"),
        );
        return Vec::new();
    }
    let mut environments: Vec<Environment> = Vec::new();
    for (index, server) in spec.servers.iter().enumerate() {
        let pointer = format!("/servers/{index}");
        let Some(description) = server.description.as_deref().map(str::trim) else {
            problems.push(
                Diagnostic::at(spec_file, pointer, "this server has no `description`")
                    .with_hint("the description names the environment, such as `Sandbox`"),
            );
            continue;
        };
        let variant = pascal_case(description);
        if !variant.starts_with(|c: char| c.is_ascii_alphabetic()) {
            problems.push(Diagnostic::at(
                spec_file,
                format!("{pointer}/description"),
                format!("`{description}` cannot name an environment: it must start with a letter"),
            ));
            continue;
        }
        if environments.iter().any(|known| known.variant == variant) {
            problems.push(Diagnostic::at(
                spec_file,
                format!("{pointer}/description"),
                format!("two global servers are described as `{description}`"),
            ));
            continue;
        }
        let Some(url) = server_url(server, spec_file, &pointer, problems) else {
            continue;
        };
        environments.push(Environment {
            variant,
            description: description.to_owned(),
            url,
        });
    }
    environments
}

pub fn routes(
    spec: &OpenAPI,
    document: &Value,
    environments: &[Environment],
    files: &Files,
    problems: &mut Problems,
) -> Vec<Route> {
    let spec_file = files.spec;
    let mut routes = Vec::new();
    for (path, item) in spec.paths.paths.iter() {
        let ReferenceOr::Item(item) = item else {
            problems.push(Diagnostic::at(
                spec_file,
                format!("/paths/{}", escape(path)),
                "a `$ref` path item is not supported",
            ));
            continue;
        };
        for (method, operation) in item.iter() {
            let pointer = format!("/paths/{}/{method}", escape(path));
            let Some(operation_id) = operation.operation_id.clone() else {
                problems.push(Diagnostic::at(
                    spec_file,
                    &pointer,
                    "the operation has no `operationId`",
                ));
                continue;
            };
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
                    None => Some(environment.url.clone()),
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
                                problems,
                            ),
                            (None, 1) => server_url(
                                &list[0],
                                spec_file,
                                &format!("{list_pointer}/0"),
                                problems,
                            ),
                            (None, _) => {
                                problems.push(
                                    Diagnostic::at(
                                        spec_file,
                                        list_pointer,
                                        format!(
                                            "operation `{operation_id}` lists {} servers and none \
                                             is described as `{}`, so its URL in that \
                                             environment is unknown",
                                            list.len(),
                                            environment.description
                                        ),
                                    )
                                    .with_hint(format!(
                                        "describe one of them as `{}`, or list exactly one \
                                         server",
                                        environment.description
                                    )),
                                );
                                None
                            }
                        }
                    }
                };
                servers.extend(url);
            }
            let flag = |name: &str, problems: &mut Problems| match operation.extensions.get(name) {
                None => None,
                Some(value) => {
                    let flag = value.as_bool();
                    if flag.is_none() {
                        problems.push(Diagnostic::at(
                            spec_file,
                            format!("{pointer}/{name}"),
                            format!("`{name}` must be true or false"),
                        ));
                    }
                    flag
                }
            };
            let body_constants = body_constants(document, path, method);
            let virtual_path = match flag(VIRTUAL_PATH_EXTENSION, problems) {
                Some(stated) => stated,
                None if own_servers.is_none() && !body_constants.is_empty() => {
                    let fields: Vec<&str> = body_constants.keys().map(String::as_str).collect();
                    problems.push(
                        Diagnostic::at(
                            spec_file,
                            &pointer,
                            format!(
                                "operation `{operation_id}` ({} {path}) goes to the points \
                                 servers and its body selects the operation by a constant \
                                 field (`{}`), like the vendor's virtual paths: regen cannot \
                                 tell whether `{path}` is really sent",
                                method.to_uppercase(),
                                fields.join("`, `")
                            ),
                        )
                        .with_hint(format!(
                            "say so in the overlay ({}), an action such as:\n  - target: \
                             $.paths['{path}'].{method}\n    update:\n      {VIRTUAL_PATH_EXTENSION}: \
                             true   # POST to the server URL itself; false: the path is sent",
                            files.overlay
                        )),
                    );
                    false
                }
                None => false,
            };
            let idempotent = matches!(method, "get" | "head" | "put" | "delete" | "options")
                || flag(IDEMPOTENT_EXTENSION, problems).unwrap_or(false);
            let credential = credential(spec, operation, &operation_id, &pointer, files, problems);
            routes.push(Route {
                hook_id: snake_case(&operation_id),
                operation_id,
                http_method: method.to_uppercase(),
                spec_path: path.clone(),
                virtual_path,
                credential,
                idempotent,
                servers,
                body_constants,
            });
        }
    }
    indistinguishable(&routes, files, problems);
    routes
}

/// The two input files, as named to the user.
pub struct Files<'a> {
    pub spec: &'a str,
    pub overlay: &'a str,
}

/// Virtual-path operations that go to the same URL must differ in a
/// constant body field.
fn indistinguishable(routes: &[Route], files: &Files, problems: &mut Problems) {
    let virtual_routes: Vec<&Route> = routes.iter().filter(|route| route.virtual_path).collect();
    for (index, first) in virtual_routes.iter().enumerate() {
        for second in &virtual_routes[index + 1..] {
            let same_url = first.http_method == second.http_method
                && first.servers.iter().any(|url| second.servers.contains(url));
            let told_apart = first.body_constants.iter().any(|(field, value)| {
                second
                    .body_constants
                    .get(field)
                    .is_some_and(|other| other != value)
            });
            if same_url && !told_apart {
                problems.push(
                    Diagnostic::at(
                        files.spec,
                        format!(
                            "/paths/{}/{}",
                            escape(&second.spec_path),
                            second.http_method.to_lowercase()
                        ),
                        format!(
                            "operations `{}` and `{}` are both sent to the same URL and no \
                             constant body field tells them apart",
                            first.operation_id, second.operation_id
                        ),
                    )
                    .with_hint(format!(
                        "give each a `query` with one allowed value (`enum: [...]`), or mark a \
                         path that is really sent `x-virtual-path: false`, in {}",
                        files.overlay
                    )),
                );
            }
        }
    }
}

/// Fields of the operation's JSON request body that allow one value only.
fn body_constants(document: &Value, path: &str, method: &str) -> serde_json::Map<String, Value> {
    let pointer = format!(
        "/paths/{}/{method}/requestBody/content/application~1json/schema",
        escape(path)
    );
    let mut constants = serde_json::Map::new();
    let Some(schema) = document.pointer(&pointer) else {
        return constants;
    };
    let schema = crate::validate::resolved(document, schema);
    for (name, property) in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let property = crate::validate::resolved(document, property);
        let single = property
            .get("enum")
            .and_then(Value::as_array)
            .filter(|values| values.len() == 1)
            .map(|values| values[0].clone());
        if let Some(value) = single {
            constants.insert(name.clone(), value);
        }
    }
    constants
}

/// The credential the document asks `operation` to be sent with.
fn credential(
    spec: &OpenAPI,
    operation: &openapiv3::Operation,
    operation_id: &str,
    pointer: &str,
    files: &Files,
    problems: &mut Problems,
) -> Credential {
    let (requirements, requirements_pointer) = match &operation.security {
        Some(requirements) => (requirements, format!("{pointer}/security")),
        None => match &spec.security {
            Some(requirements) => (requirements, "/security".to_owned()),
            None => return Credential::None,
        },
    };
    if requirements.is_empty() {
        return Credential::None;
    }
    let schemes = spec
        .components
        .as_ref()
        .map(|components| &components.security_schemes);
    let mut anonymous = false;
    let mut refused: Vec<String> = Vec::new();
    for requirement in requirements {
        if requirement.is_empty() {
            anonymous = true;
            continue;
        }
        let mut all_bearer = true;
        for name in requirement.keys() {
            let scheme = schemes.and_then(|schemes| schemes.get(name));
            match scheme {
                Some(ReferenceOr::Item(SecurityScheme::HTTP { scheme, .. }))
                    if scheme.eq_ignore_ascii_case("bearer") => {}
                // Their access tokens travel as bearer tokens (RFC 6750);
                // the client is given the token, it runs no OAuth flow.
                Some(ReferenceOr::Item(
                    SecurityScheme::OAuth2 { .. } | SecurityScheme::OpenIDConnect { .. },
                )) => {}
                Some(ReferenceOr::Item(scheme)) => {
                    all_bearer = false;
                    refused.push(format!("`{name}` ({})", describe_scheme(scheme)));
                }
                Some(ReferenceOr::Reference { .. }) => {
                    all_bearer = false;
                    refused.push(format!("`{name}` (a `$ref` security scheme)"));
                }
                None => {
                    all_bearer = false;
                    problems.push(Diagnostic::at(
                        files.spec,
                        &requirements_pointer,
                        format!(
                            "operation `{operation_id}` asks for the security scheme `{name}`, \
                             which `components/securitySchemes` does not define"
                        ),
                    ));
                }
            }
        }
        if all_bearer {
            return Credential::BearerToken;
        }
    }
    if anonymous {
        return Credential::None;
    }
    if !refused.is_empty() {
        problems.push(
            Diagnostic::at(
                files.spec,
                &requirements_pointer,
                format!(
                    "operation `{operation_id}` can only be called with {}, which the client \
                     cannot send: it sends HTTP bearer tokens (`Authorization: Bearer …`)",
                    refused.join(" or ")
                ),
            )
            .with_hint(format!(
                "if the vendor also accepts a bearer token there, say so in {} (`security: \
                 [{{BearerAuth: []}}]` on the operation); otherwise the runtime has to learn \
                 this scheme first",
                files.overlay
            )),
        );
    }
    Credential::None
}

fn describe_scheme(scheme: &SecurityScheme) -> String {
    match scheme {
        SecurityScheme::APIKey { location, name, .. } => {
            let place = match location {
                openapiv3::APIKeyLocation::Header => "header",
                openapiv3::APIKeyLocation::Query => "query parameter",
                openapiv3::APIKeyLocation::Cookie => "cookie",
            };
            format!("an API key in the {place} `{name}`")
        }
        SecurityScheme::HTTP { scheme, .. } => format!("HTTP `{scheme}` authentication"),
        SecurityScheme::OAuth2 { .. } => "OAuth 2".into(),
        SecurityScheme::OpenIDConnect { .. } => "OpenID Connect".into(),
    }
}

fn server_url(
    server: &Server,
    spec_file: &str,
    pointer: &str,
    problems: &mut Problems,
) -> Option<String> {
    if server
        .variables
        .as_ref()
        .is_some_and(|variables| !variables.is_empty())
    {
        problems.push(
            Diagnostic::at(
                spec_file,
                format!("{pointer}/variables"),
                "server variables are not supported",
            )
            .with_hint("write the URL out in full"),
        );
        return None;
    }
    let url = server.url.trim_end_matches('/');
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        problems.push(Diagnostic::at(
            spec_file,
            format!("{pointer}/url"),
            format!("`{}` is not an absolute http(s) URL", server.url),
        ));
        return None;
    }
    Some(url.to_owned())
}

/// The Rust source of `mod routes` (without header): `Environment`,
/// `Operation` and the route table, indexed by `Operation`.
pub fn routes_source(
    environments: &[Environment],
    routes: &[Route],
    spec_file: &str,
) -> Result<TokenStream, Diagnostic> {
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
    let slugs = environments
        .iter()
        .map(|environment| snake_case(&environment.description).replace('_', "-"));
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
            credential,
            idempotent,
            servers,
            body_constants,
        } = route;
        // Each constant as its JSON text: what tells the operations that
        // share a URL apart in a request's body.
        let constants = body_constants.iter().map(|(name, value)| {
            let json = value.to_string();
            quote!((#name, #json))
        });
        let credential = match credential {
            Credential::None => quote!(Credential::None),
            Credential::BearerToken => quote!(Credential::BearerToken),
        };
        quote! {
            Route {
                operation: Operation::#operation,
                http_method: #http_method,
                spec_path: #spec_path,
                virtual_path: #virtual_path,
                credential: #credential,
                idempotent: #idempotent,
                servers: [#(#servers),*],
                body_constants: &[#(#constants),*],
            }
        }
    });
    Ok(quote! {
        /// The vendor's environments: one per global server of the document.
        /// Non-exhaustive: the vendor may add one, which must not break a
        /// caller's `match`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
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

            /// The description in lower-case words joined by `-`, such as
            /// `sandbox`: what command lines take.
            pub const fn slug(self) -> &'static str {
                match self {
                    #(Environment::#variants => #slugs,)*
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
        /// Non-exhaustive: the vendor may add one, which must not break a
        /// caller's `match`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
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
pub fn operation_variants(routes: &[Route], spec_file: &str) -> Result<Vec<Ident>, Diagnostic> {
    let mut seen: Vec<(String, &str)> = Vec::new();
    let mut variants = Vec::new();
    for route in routes {
        let name = pascal_case(&route.operation_id);
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(Diagnostic::new(
                spec_file,
                format!(
                    "the operationId `{}` cannot name a Rust type: it must start with a letter",
                    route.operation_id
                ),
            ));
        }
        if let Some((_, first)) = seen.iter().find(|(known, _)| *known == name) {
            return Err(Diagnostic::new(
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
    use serde_json::{Value, json};

    use super::{Credential, Files, Route, environments, routes};
    use crate::diagnostic::Problems;

    const FILES: Files = Files {
        spec: "spec.yaml",
        overlay: "overlay.yaml",
    };

    fn document(operation: Value) -> Value {
        json!({
            "openapi": "3.0.3",
            "info": { "title": "t", "version": "1" },
            "servers": [
                { "url": "https://sandbox.example.com/api", "description": "Sandbox" },
                { "url": "https://live.example.com/api/", "description": "Live v2" }
            ],
            "security": [{ "BearerAuth": [] }],
            "components": { "securitySchemes": {
                "BearerAuth": { "type": "http", "scheme": "bearer" },
                "KeyAuth": { "type": "apiKey", "in": "header", "name": "X-Api-Key" }
            } },
            "paths": { "/thing": { "post": operation } }
        })
    }

    fn operation(extra: Value) -> Value {
        let mut operation = json!({
            "operationId": "doThing",
            "responses": { "200": { "description": "ok" } }
        });
        operation
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        operation
    }

    fn derive(document: &Value) -> (Vec<Route>, Vec<String>) {
        let spec: OpenAPI = serde_json::from_value(document.clone()).unwrap();
        let mut problems = Problems::new();
        let environments = environments(&spec, "spec.yaml", &mut problems);
        let routes = routes(&spec, document, &environments, &FILES, &mut problems);
        let texts = problems.iter().map(ToString::to_string).collect();
        (routes, texts)
    }

    #[test]
    fn environments_come_from_the_global_servers() {
        let document = document(operation(json!({})));
        let spec: OpenAPI = serde_json::from_value(document.clone()).unwrap();
        let environments = environments(&spec, "spec.yaml", &mut Problems::new());
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
        let (routes, problems) = derive(&document);
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            routes[0].servers,
            [
                "https://sandbox.example.com/api",
                "https://live.example.com/api"
            ]
        );
        assert_eq!(routes[0].hook_id, "do_thing");
        assert!(routes[0].credential == Credential::BearerToken);
        assert!(!routes[0].virtual_path);
    }

    #[test]
    fn a_single_override_applies_in_every_environment() {
        let (routes, problems) = derive(&document(operation(
            json!({ "servers": [{ "url": "https://accounts.example.com/api" }] }),
        )));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(routes[0].servers, ["https://accounts.example.com/api"; 2]);
    }

    #[test]
    fn overrides_none_described_like_an_environment_fail_naming_the_operation() {
        let (_, problems) = derive(&document(operation(json!({ "servers": [
            { "url": "https://a.example.com", "description": "Primary" },
            { "url": "https://b.example.com", "description": "Fallback" }
        ] }))));
        assert_eq!(
            problems,
            [
                "spec.yaml at /paths/~1thing/post/servers: operation `doThing` lists 2 servers \
                 and none is described as `Sandbox`, so its URL in that environment is unknown \
                 (describe one of them as `Sandbox`, or list exactly one server)",
                "spec.yaml at /paths/~1thing/post/servers: operation `doThing` lists 2 servers \
                 and none is described as `Live v2`, so its URL in that environment is unknown \
                 (describe one of them as `Live v2`, or list exactly one server)"
            ]
        );
    }

    fn selected_by_query(extension: Option<bool>) -> Value {
        let mut extra = json!({ "requestBody": { "content": { "application/json": { "schema": {
            "type": "object",
            "properties": { "query": { "type": "string", "enum": ["things.redeem"] } }
        } } } } });
        if let Some(flag) = extension {
            extra["x-virtual-path"] = json!(flag);
        }
        document(operation(extra))
    }

    #[test]
    fn a_body_selected_operation_on_the_points_servers_needs_the_overlay_to_say_where_it_goes() {
        let (_, problems) = derive(&selected_by_query(None));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with(
                "spec.yaml at /paths/~1thing/post: operation `doThing` (POST /thing) goes to the \
                 points servers and its body selects the operation by a constant field (`query`)"
            ),
            "{}",
            problems[0]
        );
        assert!(
            problems[0].contains("$.paths['/thing'].post"),
            "{}",
            problems[0]
        );

        let (routes, problems) = derive(&selected_by_query(Some(true)));
        assert!(problems.is_empty(), "{problems:?}");
        assert!(routes[0].virtual_path);
        let (routes, problems) = derive(&selected_by_query(Some(false)));
        assert!(problems.is_empty(), "{problems:?}");
        assert!(!routes[0].virtual_path);
    }

    #[test]
    fn security_comes_from_the_document() {
        let credential_of = |security: Value| {
            let (routes, problems) = derive(&document(operation(json!({ "security": security }))));
            (routes[0].credential == Credential::BearerToken, problems)
        };
        assert_eq!(credential_of(json!([])), (false, vec![]));
        assert_eq!(credential_of(json!([{}])), (false, vec![]));
        assert_eq!(
            credential_of(json!([{ "KeyAuth": [] }, { "BearerAuth": [] }])),
            (true, vec![])
        );
        let (bearer, problems) = credential_of(json!([{ "KeyAuth": [] }]));
        assert!(!bearer);
        assert_eq!(
            problems,
            [
                "spec.yaml at /paths/~1thing/post/security: operation `doThing` can only be called \
              with `KeyAuth` (an API key in the header `X-Api-Key`), which the client cannot \
              send: it sends HTTP bearer tokens (`Authorization: Bearer …`) (if the vendor also \
              accepts a bearer token there, say so in overlay.yaml (`security: [{BearerAuth: \
              []}]` on the operation); otherwise the runtime has to learn this scheme first)"
            ]
        );
    }
}
