//! Gives every error body a named type of its own.
//!
//! progenitor names each inline response schema `<OperationId>Response`,
//! whatever its status. So an inline `401` body (such as the vendor's
//! `components/responses/Unauthorized`) gets the success body's name, typify
//! merges the two, and `{"error": "Unauthorized"}` decodes into an empty
//! success value: the message is lost. This pass moves each inline error body
//! into `components/schemas` under a name of its own and points the response
//! at it, leaving the vendor's document untouched on disk.
//!
//! Names: a shared response `components/responses/Unauthorized` gives the
//! schema `Unauthorized`; an operation's own inline error body gives
//! `<OperationId><Status>Body` (say `FetchPoints400Body`). An existing schema
//! of that name gets `Body` appended; still taken is an error.

use serde_json::{Map, Value};

use crate::diagnostic::Diagnostic;
use crate::document::operations::operations;
use crate::naming::{escape, pascal_case};

const JSON: &str = "application/json";

pub fn name_error_bodies(document: &mut Value, spec_file: &str) -> Result<(), Diagnostic> {
    let mut hoisted: Vec<(String, Value, String)> = Vec::new();
    let mut taken: Vec<String> = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|schemas| schemas.keys().cloned().collect())
        .unwrap_or_default();
    let mut claim = |wanted: String, pointer: &str| -> Result<String, Diagnostic> {
        for candidate in [wanted.clone(), format!("{wanted}Body")] {
            if !taken.contains(&candidate) {
                taken.push(candidate.clone());
                return Ok(candidate);
            }
        }
        Err(Diagnostic::at(
            spec_file,
            pointer,
            format!(
                "cannot name this error body: schemas `{wanted}` and `{wanted}Body` both exist"
            ),
        )
        .with_hint("rename one of them in the overlay"))
    };

    // Shared responses: hoisted whatever status refers to them, since a shared
    // response is an error response in every operation this document has.
    if let Some(responses) = document
        .pointer_mut("/components/responses")
        .and_then(Value::as_object_mut)
    {
        for (name, response) in responses.iter_mut() {
            let pointer = format!("/components/responses/{}", escape(name));
            if let Some(schema) = inline_json_schema(response) {
                let type_name = claim(pascal_case(name), &pointer)?;
                hoisted.push((type_name, schema, pointer));
            }
        }
    }

    // Operations' own inline error bodies.
    for found in operations(document) {
        let operation_id = found
            .operation
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let responses = found.operation.get("responses").and_then(Value::as_object);
        for (status, response) in responses.into_iter().flatten() {
            if status.starts_with('2') {
                continue;
            }
            let pointer = format!("{}/responses/{status}", found.pointer);
            if let Some(schema) = inline_json_schema(response) {
                let wanted = format!("{}{}Body", pascal_case(operation_id), status);
                let type_name = claim(wanted, &pointer)?;
                hoisted.push((type_name, schema, pointer));
            }
        }
    }

    // Re-point each response at its schema, then add the schemas.
    for (type_name, _, pointer) in &hoisted {
        let schema_pointer = format!("{pointer}/content/{}/schema", escape(JSON));
        if let Some(slot) = document.pointer_mut(&schema_pointer) {
            *slot = reference(type_name);
        }
    }
    if hoisted.is_empty() {
        return Ok(());
    }
    let root = document
        .as_object_mut()
        .ok_or_else(|| Diagnostic::new(spec_file, "the document is not a mapping"))?;
    let schemas = component_schemas(root)
        .ok_or_else(|| Diagnostic::at(spec_file, "/components", "`components` is not a mapping"))?;
    for (type_name, schema, _) in hoisted {
        schemas.insert(type_name, schema);
    }
    Ok(())
}

/// The response's inline `application/json` schema, if it has one (a `$ref`
/// response or a `$ref` schema already has a name).
fn inline_json_schema(response: &Value) -> Option<Value> {
    if response.get("$ref").is_some() {
        return None;
    }
    let schema = response.get("content")?.get(JSON)?.get("schema")?;
    (schema.get("$ref").is_none()).then(|| schema.clone())
}

fn reference(type_name: &str) -> Value {
    let mut map = Map::new();
    map.insert(
        "$ref".into(),
        Value::String(format!("#/components/schemas/{type_name}")),
    );
    Value::Object(map)
}

/// `components.schemas` of a document, made when missing; `None` when either
/// is there but not a mapping.
pub(crate) fn component_schemas(root: &mut Map<String, Value>) -> Option<&mut Map<String, Value>> {
    root.entry("components")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .and_then(|components| {
            components
                .entry("schemas")
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::name_error_bodies;

    #[test]
    fn shared_and_inline_error_bodies_get_names_of_their_own() {
        let body = json!({ "type": "object", "properties": { "error": { "type": "string" } } });
        let mut document = json!({
            "paths": { "/x": { "post": {
                "operationId": "doThing",
                "responses": {
                    "200": { "description": "ok", "content": { "application/json": { "schema": { "type": "object" } } } },
                    "400": { "description": "bad", "content": { "application/json": { "schema": body } } },
                    "401": { "$ref": "#/components/responses/Unauthorized" }
                }
            } } },
            "components": {
                "schemas": { "Unauthorized": { "type": "string" } },
                "responses": { "Unauthorized": { "description": "no", "content": { "application/json": { "schema": body } } } }
            }
        });

        name_error_bodies(&mut document, "spec.yaml").unwrap();

        let schema_of = |pointer: &str| document.pointer(pointer).unwrap().clone();
        // The success body stays inline; the error bodies become references.
        assert_eq!(
            schema_of("/paths/~1x/post/responses/200/content/application~1json/schema"),
            json!({ "type": "object" })
        );
        assert_eq!(
            schema_of("/paths/~1x/post/responses/400/content/application~1json/schema"),
            json!({ "$ref": "#/components/schemas/DoThing400Body" })
        );
        // `Unauthorized` is taken by another schema, so the shared body is `UnauthorizedBody`.
        assert_eq!(
            schema_of("/components/responses/Unauthorized/content/application~1json/schema"),
            json!({ "$ref": "#/components/schemas/UnauthorizedBody" })
        );
        assert_eq!(schema_of("/components/schemas/DoThing400Body"), body);
        assert_eq!(schema_of("/components/schemas/UnauthorizedBody"), body);
        assert_eq!(
            schema_of("/components/schemas/Unauthorized"),
            json!({ "type": "string" })
        );
    }
}
