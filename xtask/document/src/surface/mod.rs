//! The public API of the generated client as a typed model ([`Surface`]):
//! environments, operations (method, HTTP method, body, answer, credential),
//! each operation's parameters and real URL per environment, and every type
//! of `types` with its fields (Rust type, and whether a caller must set it)
//! or variants. Read from the generated code (the generator's
//! `writing/surface.rs`), written to and read
//! back from `generated-client/api-surface.txt` (`text.rs`): one item per
//! line, sorted, without a digest or padding, so that one change of the API
//! is one line of diff. `report/` compares two models.

mod requests;
mod text;

use std::collections::BTreeMap;

pub use requests::request_types;
pub use text::{member_text, operation_credential_text, operation_text};

use crate::routes::Credential;

/// Whether a caller must set a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    Required,
    Optional,
    /// Optional too: the value has a default (`#[serde(default)]`).
    HasDefault,
}

impl Need {
    pub fn text(self) -> &'static str {
        match self {
            Need::Required => "required",
            Need::Optional => "optional",
            Need::HasDefault => "has a default",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Need::Required, Need::Optional, Need::HasDefault]
            .into_iter()
            .find(|need| need.text() == text)
    }
}

/// A value a caller sets or reads: its Rust type, and whether it must be
/// set (parameters and fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub ty: String,
    pub need: Need,
}

/// How an operation is sent, as its method on the client shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub http_method: String,
    /// The body's type, if it has one.
    pub body: Option<String>,
    /// The answer's type.
    pub answer: Option<String>,
    pub credential: Credential,
}

/// Where an operation's request goes in one environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub http_method: String,
    pub url: String,
}

/// What kind of type a name of `types` is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    Struct,
    Enum,
    /// A tuple struct: its fields' types.
    Newtype(String),
    /// A type alias: the type it names.
    Alias(String),
}

impl Shape {
    /// The kind, as the text names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Shape::Struct => "struct",
            Shape::Enum => "enum",
            Shape::Newtype(_) => "newtype",
            Shape::Alias(_) => "alias",
        }
    }
}

/// The public API of a generated client. Keys are names: an operation's
/// method (`fetch_points`), a type's name (`FetchPointsBody`); members are
/// keyed by their owner and their own name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Surface {
    /// Environment variant → its server's URL.
    pub environments: BTreeMap<String, String>,
    pub operations: BTreeMap<String, Operation>,
    /// (operation, parameter) → the parameter.
    pub parameters: BTreeMap<(String, String), Member>,
    /// (operation, environment) → the route.
    pub routes: BTreeMap<(String, String), Route>,
    pub types: BTreeMap<String, Shape>,
    /// (type, field) → the field.
    pub fields: BTreeMap<(String, String), Member>,
    /// (enum, variant) → its payload's types (empty for none).
    pub variants: BTreeMap<(String, String), String>,
}

impl Surface {
    /// Each environment's route of `operation`, as `Environment METHOD URL`:
    /// what tells a renamed operation apart from a new one.
    pub fn routes_of(&self, operation: &str) -> Vec<String> {
        self.routes
            .iter()
            .filter(|((method, _), _)| method == operation)
            .map(|((_, environment), route)| {
                format!("{environment} {} {}", route.http_method, route.url)
            })
            .collect()
    }
}
