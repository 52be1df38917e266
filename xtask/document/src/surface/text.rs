//! The surface as `api-surface.txt` holds it: `kind key: value`, one item
//! per line, grouped for a reader (the environments; each operation with its
//! parameters and routes; each type with its fields or variants), sorted by
//! name in each group.

use super::{Member, Need, Operation, Route, Shape, Surface};
use crate::routes::Credential;

/// The file's first lines.
const HEADER: &str = "\
# The public API of the generated client, one item per line, sorted.
# Written by `cargo xtask regen` (do not edit); what changed is in CHANGELOG.md.
";

/// One line: where it sorts, and what it says.
struct Line {
    /// (section, group, rank in the group, key).
    order: (u8, String, u8, String),
    kind: &'static str,
    key: String,
    value: String,
}

/// A parameter's or field's value: `String (required)`.
pub fn member_text(member: &Member) -> String {
    format!("{} ({})", member.ty, member.need.text())
}

/// How an operation's credential reads: `sends a bearer token`.
pub fn operation_credential_text(operation: &Operation) -> &'static str {
    match operation.credential {
        Credential::BearerToken => "sends a bearer token",
        Credential::None => "sends no credential",
    }
}

/// An operation's value, part by part: its HTTP method, its body, its
/// answer (if any), its credential.
fn operation_parts(operation: &Operation) -> Vec<String> {
    let mut parts = vec![operation.http_method.clone()];
    parts.push(match &operation.body {
        Some(body) => format!("body {body}"),
        None => "no body".into(),
    });
    if let Some(answer) = &operation.answer {
        parts.push(format!("answers {answer}"));
    }
    parts.push(operation_credential_text(operation).into());
    parts
}

/// An operation's value: `POST, body Foo, answers Bar, sends a bearer token`.
pub fn operation_text(operation: &Operation) -> String {
    operation_parts(operation).join(", ")
}

impl Surface {
    pub fn to_text(&self) -> String {
        let mut lines = Vec::new();
        let mut line = |order: (u8, &str, u8), kind, key: String, value: String| {
            lines.push(Line {
                order: (order.0, order.1.to_owned(), order.2, key.clone()),
                kind,
                key,
                value,
            });
        };
        for (name, url) in &self.environments {
            line((0, name, 0), "environment", name.clone(), url.clone());
        }
        for (method, operation) in &self.operations {
            line(
                (1, method, 0),
                "operation",
                method.clone(),
                operation_text(operation),
            );
        }
        for ((method, name), parameter) in &self.parameters {
            line(
                (1, method, 1),
                "parameter",
                format!("{method}.{name}"),
                member_text(parameter),
            );
        }
        for ((method, environment), route) in &self.routes {
            line(
                (1, method, 2),
                "route",
                format!("{method} in {environment}"),
                format!("{} {}", route.http_method, route.url),
            );
        }
        for (name, shape) in &self.types {
            let value = match shape {
                Shape::Struct | Shape::Enum => String::new(),
                Shape::Newtype(inner) | Shape::Alias(inner) => inner.clone(),
            };
            line((2, name, 0), shape.kind(), name.clone(), value);
        }
        for ((owner, name), field) in &self.fields {
            line(
                (2, owner, 1),
                "field",
                format!("{owner}.{name}"),
                member_text(field),
            );
        }
        for ((owner, name), payload) in &self.variants {
            line(
                (2, owner, 1),
                "variant",
                format!("{owner}::{name}"),
                payload.clone(),
            );
        }
        lines.sort_by(|a, b| a.order.cmp(&b.order));
        let mut text = String::from(HEADER);
        text.push('\n');
        for Line {
            kind, key, value, ..
        } in lines
        {
            if value.is_empty() {
                text.push_str(&format!("{kind} {key}\n"));
            } else {
                text.push_str(&format!("{kind} {key}: {value}\n"));
            }
        }
        text
    }

    /// Reads the text back; the error names the first line that does not
    /// read (the file was edited by hand, or written by another version).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut surface = Self::default();
        for (number, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let unreadable = || format!("line {}: `{line}` is not an API surface line", number + 1);
            let (head, value) = line.split_once(": ").unwrap_or((line, ""));
            let (kind, key) = head.split_once(' ').ok_or_else(unreadable)?;
            let key = key.to_owned();
            let value = value.to_owned();
            let split = |separator: &str| -> Result<(String, String), String> {
                key.split_once(separator)
                    .map(|(owner, name)| (owner.to_owned(), name.to_owned()))
                    .ok_or_else(unreadable)
            };
            match kind {
                "environment" => {
                    surface.environments.insert(key, value);
                }
                "operation" => {
                    let operation = parse_operation(&value).ok_or_else(unreadable)?;
                    surface.operations.insert(key, operation);
                }
                "parameter" => {
                    let member = parse_member(&value).ok_or_else(unreadable)?;
                    surface.parameters.insert(split(".")?, member);
                }
                "route" => {
                    let (http_method, url) = value.split_once(' ').ok_or_else(unreadable)?;
                    let route = Route {
                        http_method: http_method.to_owned(),
                        url: url.to_owned(),
                    };
                    surface.routes.insert(split(" in ")?, route);
                }
                "struct" => {
                    surface.types.insert(key, Shape::Struct);
                }
                "enum" => {
                    surface.types.insert(key, Shape::Enum);
                }
                "newtype" => {
                    surface.types.insert(key, Shape::Newtype(value));
                }
                "alias" => {
                    surface.types.insert(key, Shape::Alias(value));
                }
                "field" => {
                    let member = parse_member(&value).ok_or_else(unreadable)?;
                    surface.fields.insert(split(".")?, member);
                }
                "variant" => {
                    surface.variants.insert(split("::")?, value);
                }
                _ => return Err(unreadable()),
            }
        }
        Ok(surface)
    }
}

/// `String (required)`.
fn parse_member(text: &str) -> Option<Member> {
    let (ty, need) = text.rsplit_once(" (")?;
    Some(Member {
        ty: ty.to_owned(),
        need: Need::parse(need.strip_suffix(')')?)?,
    })
}

/// `text` split at each `, ` outside `<…>`, `(…)` and `[…]`: a type such as
/// `HashMap<String, String>` stays one part.
fn top_level_parts(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (index, c) in text.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 && text[index + 1..].starts_with(' ') => {
                parts.push(&text[start..index]);
                start = index + 2;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `POST, body Foo, answers Bar, sends a bearer token`.
fn parse_operation(text: &str) -> Option<Operation> {
    let mut parts = top_level_parts(text).into_iter();
    let http_method = parts.next()?.to_owned();
    let mut operation = Operation {
        http_method,
        body: None,
        answer: None,
        credential: Credential::None,
    };
    let mut credential = None;
    for part in parts {
        if let Some(body) = part.strip_prefix("body ") {
            operation.body = Some(body.to_owned());
        } else if part == "no body" {
        } else if let Some(answer) = part.strip_prefix("answers ") {
            operation.answer = Some(answer.to_owned());
        } else if part == "sends a bearer token" {
            credential = Some(Credential::BearerToken);
        } else if part == "sends no credential" {
            credential = Some(Credential::None);
        } else {
            return None;
        }
    }
    operation.credential = credential?;
    Some(operation)
}

#[cfg(test)]
mod tests {
    use super::super::{Member, Need, Operation, Route, Shape, Surface};
    use crate::routes::Credential;

    #[test]
    fn the_text_reads_back_as_written() {
        let mut surface = Surface::default();
        surface
            .environments
            .insert("Production".into(), "https://example.com".into());
        surface.operations.insert(
            "list_pets".into(),
            Operation {
                http_method: "GET".into(),
                body: None,
                answer: Some("Vec<Pet>".into()),
                credential: Credential::BearerToken,
            },
        );
        surface.parameters.insert(
            ("list_pets".into(), "limit".into()),
            Member {
                ty: "u32".into(),
                need: Need::Optional,
            },
        );
        surface.routes.insert(
            ("list_pets".into(), "Production".into()),
            Route {
                http_method: "GET".into(),
                url: "https://example.com/pets".into(),
            },
        );
        surface.types.insert("Pet".into(), Shape::Struct);
        surface.types.insert("Kind".into(), Shape::Enum);
        surface
            .types
            .insert("Id".into(), Shape::Newtype("String".into()));
        surface.fields.insert(
            ("Pet".into(), "name".into()),
            Member {
                ty: "String".into(),
                need: Need::HasDefault,
            },
        );
        surface
            .variants
            .insert(("Kind".into(), "Cat".into()), String::new());
        surface
            .variants
            .insert(("Kind".into(), "Other".into()), "a: String, b: u32".into());
        let text = surface.to_text();
        assert_eq!(Surface::parse(&text), Ok(surface));
        assert!(text.ends_with(
            "environment Production: https://example.com\n\
             operation list_pets: GET, no body, answers Vec<Pet>, sends a bearer token\n\
             parameter list_pets.limit: u32 (optional)\n\
             route list_pets in Production: GET https://example.com/pets\n\
             newtype Id: String\n\
             enum Kind\n\
             variant Kind::Cat\n\
             variant Kind::Other: a: String, b: u32\n\
             struct Pet\n\
             field Pet.name: String (has a default)\n"
        ));
        assert!(Surface::parse("thing Foo").is_err());
    }

    #[test]
    fn types_with_commas_read_back_as_one_part() {
        let mut surface = Surface::default();
        surface.operations.insert(
            "tag_pets".into(),
            Operation {
                http_method: "POST".into(),
                body: Some("HashMap<String, Vec<(u32, String)>>".into()),
                answer: Some("serde_json::Map<String, serde_json::Value>".into()),
                credential: Credential::None,
            },
        );
        assert_eq!(Surface::parse(&surface.to_text()), Ok(surface));
    }
}
