//! The route model read from the document (`servers`, `paths`, `security`
//! and the overlay's extensions), every problem reported at once.

use openapiv3::{OpenAPI, ReferenceOr, SecurityRequirement, SecurityScheme, Server};
use serde_json::Value;

use crate::diagnostic::{Diagnostic, Problems};
use crate::naming::{escape, pascal_case, snake_case};
use crate::routes::{Credential, Environment, IDEMPOTENT_EXTENSION, Route, VIRTUAL_PATH_EXTENSION};

pub fn environments(spec: &OpenAPI, spec_file: &str, problems: &mut Problems) -> Vec<Environment> {
    if spec.servers.is_empty() {
        // No global servers, but a server on every operation (as some
        // public documents are written): one environment, each operation
        // sent to its own server.
        if let Some((server, pointer)) = first_of_every_operations_servers(spec) {
            return server_url(server, spec_file, &pointer, problems)
                .map(only_environment)
                .into_iter()
                .collect();
        }
        problems.push(
            Diagnostic::at(
                spec_file,
                "/servers",
                "the document has no global `servers`, and not every operation has its own",
            )
            .with_hint(
                "each global server, with a description, becomes an environment; a document \
                 with one server (or one per operation) gets one environment, `Default`",
            ),
        );
        return Vec::new();
    }
    if let [server] = &spec.servers[..]
        && server
            .description
            .as_deref()
            .is_none_or(|text| text.trim().is_empty())
    {
        return server_url(server, spec_file, "/servers/0", problems)
            .map(only_environment)
            .into_iter()
            .collect();
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

/// The one environment of a document with one server that names none.
fn only_environment(url: String) -> Environment {
    Environment {
        variant: ONLY_ENVIRONMENT.into(),
        description: ONLY_ENVIRONMENT.into(),
        url,
    }
}

/// The name of a document's only environment.
pub const ONLY_ENVIRONMENT: &str = "Default";

/// The first server of the first operation, when every operation (or its
/// path) lists servers of its own; with its pointer.
fn first_of_every_operations_servers(spec: &OpenAPI) -> Option<(&openapiv3::Server, String)> {
    let mut first = None;
    for (path, item) in spec.paths.paths.iter() {
        let ReferenceOr::Item(item) = item else {
            return None;
        };
        for (method, operation) in item.iter() {
            let found = if let Some(server) = operation.servers.first() {
                (
                    server,
                    format!("/paths/{}/{method}/servers/0", escape(path)),
                )
            } else if let Some(server) = item.servers.first() {
                (server, format!("/paths/{}/servers/0", escape(path)))
            } else {
                return None;
            };
            first.get_or_insert(found);
        }
    }
    first
}

/// Every operation's route: where it goes in each environment, whether its
/// path is sent, whether it may be sent twice, and the credential it is sent
/// with.
pub fn routes(
    spec: &OpenAPI,
    document: &Value,
    environments: &[Environment],
    files: &Files,
    problems: &mut Problems,
) -> Vec<Route> {
    let mut routes = Vec::new();
    for (path, item) in spec.paths.paths.iter() {
        let ReferenceOr::Item(item) = item else {
            problems.push(Diagnostic::at(
                files.spec,
                format!("/paths/{}", escape(path)),
                "a `$ref` path item is not supported",
            ));
            continue;
        };
        for (method, operation) in item.iter() {
            let pointer = format!("/paths/{}/{method}", escape(path));
            let Some(operation_id) = operation.operation_id.clone() else {
                problems.push(Diagnostic::at(
                    files.spec,
                    &pointer,
                    "the operation has no `operationId`",
                ));
                continue;
            };
            let found = Found {
                path,
                item,
                method,
                operation,
                operation_id,
                pointer,
            };
            routes.push(route(spec, document, environments, found, files, problems));
        }
    }
    unnameable(&routes, files.spec, problems);
    indistinguishable(&routes, files, problems);
    routes
}

/// The two input files, as named to the user.
pub struct Files<'a> {
    pub spec: &'a str,
    pub overlay: &'a str,
}

/// An operation of the document, where it was found.
struct Found<'a> {
    path: &'a str,
    item: &'a openapiv3::PathItem,
    method: &'a str,
    operation: &'a openapiv3::Operation,
    operation_id: String,
    /// `/paths/{path}/{method}`.
    pointer: String,
}

/// The route of one operation.
fn route(
    spec: &OpenAPI,
    document: &Value,
    environments: &[Environment],
    found: Found<'_>,
    files: &Files,
    problems: &mut Problems,
) -> Route {
    let own_servers = own_servers(&found);
    let servers = environments
        .iter()
        .filter_map(|environment| {
            server_in(environment, own_servers.as_ref(), &found, files, problems)
        })
        .collect();
    let body_constants = body_constants(document, found.path, found.method);
    let virtual_path = match flag(&found, VIRTUAL_PATH_EXTENSION, files, problems) {
        Some(stated) => stated,
        None if own_servers.is_none() && !body_constants.is_empty() => {
            problems.push(unknown_virtual_path(&found, &body_constants, files));
            false
        }
        None => false,
    };
    let idempotent = matches!(found.method, "get" | "head" | "put" | "delete" | "options")
        || flag(&found, IDEMPOTENT_EXTENSION, files, problems).unwrap_or(false);
    let credential = credential(spec, &found, files, problems);
    let Found {
        path,
        method,
        operation_id,
        ..
    } = found;
    Route {
        hook_id: snake_case(&operation_id),
        variant: pascal_case(&operation_id),
        operation_id,
        http_method: method.to_uppercase(),
        spec_path: path.to_owned(),
        virtual_path,
        credential,
        idempotent,
        servers,
        body_constants,
    }
}

/// The servers the operation lists, or else its path item (with where the
/// list is): `None` when it goes to the environments' own.
fn own_servers<'a>(found: &Found<'a>) -> Option<(&'a [Server], String)> {
    if !found.operation.servers.is_empty() {
        Some((
            &found.operation.servers,
            format!("{}/servers", found.pointer),
        ))
    } else if !found.item.servers.is_empty() {
        let pointer = format!("/paths/{}/servers", escape(found.path));
        Some((&found.item.servers, pointer))
    } else {
        None
    }
}

/// The operation's URL in `environment`: the environment's own, or the one
/// of its own servers described as the environment (or its only one).
fn server_in(
    environment: &Environment,
    own_servers: Option<&(&[Server], String)>,
    found: &Found<'_>,
    files: &Files,
    problems: &mut Problems,
) -> Option<String> {
    let Some((list, list_pointer)) = own_servers else {
        return Some(environment.url.clone());
    };
    let described = list.iter().position(|server| {
        server.description.as_deref().map(str::trim) == Some(environment.description.as_str())
    });
    let index = match (described, list.len()) {
        (Some(index), _) => index,
        (None, 1) => 0,
        (None, listed) => {
            problems.push(
                Diagnostic::at(
                    files.spec,
                    list_pointer,
                    format!(
                        "operation `{}` lists {listed} servers and none is described as `{}`, \
                         so its URL in that environment is unknown",
                        found.operation_id, environment.description
                    ),
                )
                .with_hint(format!(
                    "describe one of them as `{}`, or list exactly one server",
                    environment.description
                )),
            );
            return None;
        }
    };
    let pointer = format!("{list_pointer}/{index}");
    server_url(&list[index], files.spec, &pointer, problems)
}

/// The operation's extension `name`, which must be true or false when it
/// is there.
fn flag(found: &Found<'_>, name: &str, files: &Files, problems: &mut Problems) -> Option<bool> {
    let value = found.operation.extensions.get(name)?;
    let flag = value.as_bool();
    if flag.is_none() {
        problems.push(Diagnostic::at(
            files.spec,
            format!("{}/{name}", found.pointer),
            format!("`{name}` must be true or false"),
        ));
    }
    flag
}

/// An operation on the points servers whose body selects it by constant
/// fields, like the vendor's virtual paths, that the overlay does not say is
/// one.
fn unknown_virtual_path(
    found: &Found<'_>,
    body_constants: &serde_json::Map<String, Value>,
    files: &Files,
) -> Diagnostic {
    let Found {
        path,
        method,
        operation_id,
        pointer,
        ..
    } = found;
    let fields: Vec<&str> = body_constants.keys().map(String::as_str).collect();
    Diagnostic::at(
        files.spec,
        pointer,
        format!(
            "operation `{operation_id}` ({} {path}) goes to the points servers and its body \
             selects the operation by a constant field (`{}`), like the vendor's virtual \
             paths: regen cannot tell whether `{path}` is really sent",
            method.to_uppercase(),
            fields.join("`, `")
        ),
    )
    .with_hint(format!(
        "say so in the overlay ({}), an action such as:\n  - target: \
         $.paths['{path}'].{method}\n    update:\n      {VIRTUAL_PATH_EXTENSION}: \
         true   # POST to the server URL itself; false: the path is sent",
        files.overlay
    ))
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

/// The credential the document asks the operation to be sent with: a
/// bearer token when one of its security requirements asks only for schemes
/// that take one; none when it asks for nothing (or one requirement is
/// empty), or only for schemes the client cannot send (a problem).
fn credential(
    spec: &OpenAPI,
    found: &Found<'_>,
    files: &Files,
    problems: &mut Problems,
) -> Credential {
    let Some((requirements, requirements_pointer)) = security_of(spec, found) else {
        return Credential::None;
    };
    if requirements.is_empty() {
        return Credential::None;
    }
    let mut anonymous = false;
    let mut refused: Vec<String> = Vec::new();
    for requirement in requirements {
        if requirement.is_empty() {
            anonymous = true;
            continue;
        }
        let mut all_bearer = true;
        for name in requirement.keys() {
            match scheme_of(spec, name) {
                Scheme::Bearer => {}
                Scheme::Unsendable(described) => {
                    all_bearer = false;
                    refused.push(described);
                }
                Scheme::Undefined => {
                    all_bearer = false;
                    let message = format!(
                        "operation `{}` asks for the security scheme `{name}`, which \
                         `components/securitySchemes` does not define",
                        found.operation_id
                    );
                    problems.push(Diagnostic::at(files.spec, &requirements_pointer, message));
                }
            }
        }
        if all_bearer {
            return Credential::BearerToken;
        }
    }
    if !anonymous && !refused.is_empty() {
        problems.push(unsendable(found, &requirements_pointer, &refused, files));
    }
    Credential::None
}

/// The operation's security requirements (or else the document's), with
/// where they are; `None` when neither has any.
fn security_of<'a>(
    spec: &'a OpenAPI,
    found: &Found<'a>,
) -> Option<(&'a [SecurityRequirement], String)> {
    match (&found.operation.security, &spec.security) {
        (Some(requirements), _) => Some((requirements, format!("{}/security", found.pointer))),
        (None, Some(requirements)) => Some((requirements, "/security".to_owned())),
        (None, None) => None,
    }
}

/// A security scheme, as the client can send it.
enum Scheme {
    /// It takes a bearer token.
    Bearer,
    /// It takes something else, as described to the user.
    Unsendable(String),
    /// `components/securitySchemes` does not define it.
    Undefined,
}

/// The security scheme named `name` in the document's components.
fn scheme_of(spec: &OpenAPI, name: &str) -> Scheme {
    let schemes = spec
        .components
        .as_ref()
        .map(|components| &components.security_schemes);
    match schemes.and_then(|schemes| schemes.get(name)) {
        Some(ReferenceOr::Item(SecurityScheme::HTTP { scheme, .. }))
            if scheme.eq_ignore_ascii_case("bearer") =>
        {
            Scheme::Bearer
        }
        // Their access tokens travel as bearer tokens (RFC 6750); the client
        // is given the token, it runs no OAuth flow.
        Some(ReferenceOr::Item(
            SecurityScheme::OAuth2 { .. } | SecurityScheme::OpenIDConnect { .. },
        )) => Scheme::Bearer,
        Some(ReferenceOr::Item(scheme)) => {
            Scheme::Unsendable(format!("`{name}` ({})", describe_scheme(scheme)))
        }
        Some(ReferenceOr::Reference { .. }) => {
            Scheme::Unsendable(format!("`{name}` (a `$ref` security scheme)"))
        }
        None => Scheme::Undefined,
    }
}

/// An operation that can only be called with schemes the client cannot
/// send (`refused`).
fn unsendable(found: &Found<'_>, pointer: &str, refused: &[String], files: &Files) -> Diagnostic {
    Diagnostic::at(
        files.spec,
        pointer,
        format!(
            "operation `{}` can only be called with {}, which the client cannot send: it sends \
             HTTP bearer tokens (`Authorization: Bearer …`)",
            found.operation_id,
            refused.join(" or ")
        ),
    )
    .with_hint(format!(
        "if the vendor also accepts a bearer token there, say so in {} (`security: \
         [{{BearerAuth: []}}]` on the operation); otherwise the runtime has to learn this \
         scheme first",
        files.overlay
    ))
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

/// Each route's `Operation` variant is its operationId in PascalCase: one
/// that cannot name a type, or two operationIds that make the same one
/// (they differ only in case or punctuation), stop regen.
fn unnameable(routes: &[Route], spec_file: &str, problems: &mut Problems) {
    for (index, route) in routes.iter().enumerate() {
        let pointer = format!(
            "/paths/{}/{}/operationId",
            escape(&route.spec_path),
            route.http_method.to_lowercase()
        );
        if !route.variant.starts_with(|c: char| c.is_ascii_alphabetic()) {
            problems.push(
                Diagnostic::at(
                    spec_file,
                    &pointer,
                    format!(
                        "the operationId `{}` cannot name a Rust type: it must start with a letter",
                        route.operation_id
                    ),
                )
                .with_hint("rename it in the overlay"),
            );
        }
        if let Some(first) = routes[..index]
            .iter()
            .find(|earlier| earlier.variant == route.variant)
        {
            problems.push(
                Diagnostic::at(
                    spec_file,
                    &pointer,
                    format!(
                        "the operationIds `{}` and `{}` both become `Operation::{}`",
                        first.operation_id, route.operation_id, route.variant
                    ),
                )
                .with_hint("rename one of them in the overlay"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use openapiv3::OpenAPI;
    use serde_json::{Value, json};

    use super::{Files, environments, routes};
    use crate::diagnostic::Problems;
    use crate::routes::{Credential, Route};

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

    #[test]
    fn operation_ids_that_cannot_name_one_operation_each_are_all_reported() {
        let mut document = document(operation(json!({})));
        document["paths"]["/other"] = json!({ "get": {
            "operationId": "do_thing",
            "responses": { "200": { "description": "ok" } }
        } });
        document["paths"]["/third"] = json!({ "get": {
            "operationId": "2things",
            "responses": { "200": { "description": "ok" } }
        } });
        let (_, problems) = derive(&document);
        assert_eq!(
            problems,
            [
                "spec.yaml at /paths/~1other/get/operationId: the operationIds `doThing` and \
                 `do_thing` both become `Operation::DoThing` (rename one of them in the overlay)",
                "spec.yaml at /paths/~1third/get/operationId: the operationId `2things` cannot \
                 name a Rust type: it must start with a letter (rename it in the overlay)"
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
