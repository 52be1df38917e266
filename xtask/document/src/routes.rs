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
//!
//! The model is here; the generator reads it from the document
//! (`shaping/routes.rs`) and writes it as the generated crate's `mod routes`
//! (`writing/routes.rs`); the API surface records it.

use serde_json::Value;

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
    /// Its `Operation` variant: the operationId in PascalCase.
    pub variant: String,
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
