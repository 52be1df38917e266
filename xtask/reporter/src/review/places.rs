//! Where in the document each generated item comes from, so that a report
//! entry names its line: operations by `operationId`, environments by their
//! server, and types by the names typify gives them — a component schema's
//! own name (or `title`), an operation's body `{Operation}Body` and success
//! answer `{Operation}Response`, a property `{Parent}{Property}`, an array's
//! items `{Parent}Item`. A name this does not find falls back to the
//! operation its name starts with.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::naming::{escape, pascal_case, snake_case};
use reward_points_document::operations::operations;

/// The document's places by the names the report uses.
#[derive(Debug, Default)]
pub struct PlaceIndex {
    /// Method name (`send_points`) → the operation's pointer.
    operations: BTreeMap<String, String>,
    /// `Environment` variant → its global server's pointer.
    environments: BTreeMap<String, String>,
    /// Type name → the schema's pointer.
    types: BTreeMap<String, String>,
    /// `Type.field` (the Rust field's name) → the property's pointer.
    fields: BTreeMap<String, String>,
}

impl PlaceIndex {
    /// The index of `document` (the vendor's document, the overlay not applied).
    pub fn of(document: &Value) -> Self {
        let mut index = Self::default();
        for (n, server) in array(document.get("servers")).iter().enumerate() {
            if let Some(name) = server.get("description").and_then(Value::as_str) {
                index
                    .environments
                    .insert(pascal_case(name), format!("/servers/{n}"));
            }
        }
        if let Some(schemas) = document
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            for (name, schema) in schemas {
                let pointer = format!("/components/schemas/{}", escape(name));
                index.schema(&type_name(schema, name), &pointer, schema);
            }
        }
        for at in operations(document) {
            if let Some(id) = at.operation.get("operationId").and_then(Value::as_str) {
                index.operation(id, &at.pointer, at.operation);
            }
        }
        index
    }

    fn operation(&mut self, id: &str, pointer: &str, operation: &Value) {
        self.operations.insert(snake_case(id), pointer.to_owned());
        let name = pascal_case(id);
        let body = "/requestBody/content/application~1json/schema";
        if let Some(schema) = operation.pointer(body) {
            let at = format!("{pointer}{body}");
            self.schema(&type_name(schema, &format!("{name}Body")), &at, schema);
        }
        let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
            return;
        };
        for (status, response) in responses {
            let schema = response.pointer("/content/application~1json/schema");
            if let (true, Some(schema)) = (status.starts_with('2'), schema) {
                let at = format!(
                    "{pointer}/responses/{}/content/application~1json/schema",
                    escape(status)
                );
                self.schema(&type_name(schema, &format!("{name}Response")), &at, schema);
            }
        }
    }

    /// Records `name` at `pointer`, and the inline schemas under it.
    fn schema(&mut self, name: &str, pointer: &str, schema: &Value) {
        if schema.get("$ref").is_some() {
            return;
        }
        self.types
            .entry(name.to_owned())
            .or_insert_with(|| pointer.to_owned());
        if let Some(items) = schema.get("items") {
            let at = format!("{pointer}/items");
            self.schema(&type_name(items, &format!("{name}Item")), &at, items);
        }
        for (property, value) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let at = format!("{pointer}/properties/{}", escape(property));
            self.fields
                .entry(format!("{name}.{}", snake_case(property)))
                .or_insert_with(|| at.clone());
            let inner = format!("{name}{}", pascal_case(property));
            self.schema(&type_name(value, &inner), &at, value);
        }
    }

    /// The place of what a report entry's text names (its first name in
    /// backquotes), or `None`.
    pub fn place_of(&self, what: &str) -> Option<String> {
        let name = what.split('`').nth(1)?;
        let kind = what.split('`').next()?.trim();
        match kind {
            "operation" => self.operations.get(name).cloned(),
            "route" => {
                let operation = name.split(" in ").next()?;
                self.operations.get(operation).cloned()
            }
            "environment" => self.environments.get(name).cloned(),
            "parameter" => {
                let operation = name.split('.').next()?;
                self.operations.get(operation).cloned()
            }
            "field" => self.fields.get(name).cloned().or_else(|| {
                let (owner, _) = name.split_once('.')?;
                self.type_place(owner)
            }),
            "type" | "variant" => {
                let owner = name.split("::").next()?;
                self.type_place(owner)
            }
            _ => None,
        }
    }

    /// The schema of type `name`, or the operation its name starts with.
    fn type_place(&self, name: &str) -> Option<String> {
        self.types
            .get(name)
            .cloned()
            .or_else(|| self.operation_of(name))
    }

    /// The operation whose type names begin `name`'s, if any.
    pub fn operation_of(&self, name: &str) -> Option<String> {
        self.operations
            .iter()
            .filter(|(method, _)| name.starts_with(&pascal_case(method)))
            .max_by_key(|(method, _)| method.len())
            .map(|(_, at)| at.clone())
    }
}

/// typify's name for `schema`: its `title`, else `contextual`.
fn type_name(schema: &Value, contextual: &str) -> String {
    match schema.get("title").and_then(Value::as_str) {
        Some(title) => pascal_case(title),
        None => pascal_case(contextual),
    }
}

fn array(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}
