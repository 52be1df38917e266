//! The names of the document's rules for every value a request carries: the
//! constants the generator writes (`pub mod request_rules` of the generated
//! client, over `values::rules::FieldRules`), which the hand-written typed
//! values check before anything is sent, and which the reporter names.
//! When the vendor adds or changes a constraint, regen changes the constant
//! and the typed value enforces it; when the vendor removes the field, the
//! constant is gone and the hand-written code that checked it stops
//! compiling, naming it.
//!
//! A constant is named after where its schema is written: the component
//! (`SEND_POINTS_RECIPIENTS_DATA`) or the operation whose body holds it
//! (`FETCH_POINTS`), then the properties on the way, `__` between them:
//! `SEND_POINTS_RECIPIENTS_DATA__RECIPIENTS__AMOUNT`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::contract::{Contract, Direction, Place};

/// The constant's name for a place, or `None` when the place is not a
/// value a request carries (objects, arrays, answers).
pub fn constant_name(pointer: &str, place: &Place, contract: &Contract) -> Option<String> {
    if !place.directions.contains(&Direction::Request) || !place.names.is_empty() {
        return None;
    }
    let scalar = matches!(
        place.fact("type").and_then(Value::as_str),
        Some("string" | "integer" | "number" | "boolean")
    );
    if !scalar {
        return None;
    }
    let mut parts: Vec<String> = Vec::new();
    let mut segments = pointer.trim_start_matches('/').split('/');
    match segments.next()? {
        "components" => {
            segments.next();
            parts.push(segments.next()?.to_owned());
        }
        "paths" => {
            // The operation's id names what its body holds.
            let operation = format!("/paths/{}/{}", segments.next()?, segments.next()?);
            let id = contract.places.get(&operation)?.names.get("operationId")?;
            parts.push(id.clone());
            let mut before_schema = Vec::new();
            for segment in segments.by_ref() {
                if segment == "schema" {
                    break;
                }
                before_schema.push(segment);
            }
            // A parameter: its name.
            if let ["parameters", index] = before_schema[..] {
                let parameter = format!("{operation}/parameters/{index}");
                parts.push(contract.places.get(&parameter)?.names.get("name")?.clone());
            }
        }
        _ => return None,
    }
    let mut after_keyword = false;
    for segment in segments {
        match segment {
            "properties" => after_keyword = true,
            "items" | "additionalProperties" | "schema" => {}
            _ if after_keyword => {
                parts.push(segment.to_owned());
                after_keyword = false;
            }
            // `oneOf/0` → `ONE_OF_0`.
            index if index.bytes().all(|b| b.is_ascii_digit()) && !parts.is_empty() => {
                let last = parts.len() - 1;
                parts[last] = format!("{}_{index}", parts[last]);
            }
            keyword => parts.push(keyword.to_owned()),
        }
    }
    let name = parts
        .iter()
        .map(|part| screaming(&unescape(part)))
        .collect::<Vec<_>>()
        .join("__");
    Some(name)
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// `sendPointsRecipientsData` → `SEND_POINTS_RECIPIENTS_DATA`, `oneOf` → `ONE_OF`.
fn screaming(text: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && previous_lower {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            previous_lower = false;
        }
    }
    let out = out.trim_end_matches('_').to_owned();
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        format!("N{out}")
    } else {
        out
    }
}

/// Every request value's rules, by constant name. Names two places share
/// are numbered for all of them, in the places' order (`NAME_1`, `NAME_2`):
/// a place that comes to share a name renames the one that had it, which
/// the hand-written code that named it notices at compile time (and the
/// change report first).
pub fn rules(contract: &Contract) -> BTreeMap<String, (&str, &Place)> {
    let mut by_name: BTreeMap<String, Vec<(&str, &Place)>> = BTreeMap::new();
    for (pointer, place) in &contract.places {
        if let Some(name) = constant_name(pointer, place, contract) {
            by_name
                .entry(name)
                .or_default()
                .push((pointer.as_str(), place));
        }
    }
    let mut named = BTreeMap::new();
    for (name, places) in by_name {
        if let [only] = places[..] {
            named.insert(name, only);
        } else {
            for (index, place) in places.into_iter().enumerate() {
                named.insert(format!("{name}_{}", index + 1), place);
            }
        }
    }
    named
}

/// The keywords `FieldRules` checks; the others (`format`, `required`,
/// `nullable`, …) are the vendor's to check.
pub const CHECKED: [&str; 9] = [
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "enum",
];

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::rules;
    use crate::contract::Contract;

    #[test]
    fn constants_are_named_after_the_component_or_operation_and_the_properties() {
        let document = json!({ "openapi": "3.0.3", "paths": {
            "/fetchPoints": { "post": { "operationId": "fetchPoints",
                "requestBody": { "content": { "application/json": { "schema": {
                    "type": "object", "properties": { "variables": { "type": "object",
                        "properties": { "user_data": { "type": "object", "properties": {
                            "email": { "type": "string", "format": "email" } } } } } } } } } },
                "responses": {} } },
            "/sendPoints": { "post": { "operationId": "sendPoints",
                "requestBody": { "content": { "application/json": { "schema": {
                    "$ref": "#/components/schemas/SendPointsRecipientsData" } } } },
                "responses": {} } } },
            "components": { "schemas": { "SendPointsRecipientsData": { "type": "object",
                "properties": { "recipients": { "type": "array", "items": { "type": "object",
                    "properties": { "amount": { "type": "string", "pattern": "^[0-9]+$" } } } },
                    "expiry_month": { "oneOf": [ { "type": "integer" }, { "type": "string" } ] } } } } } });
        let contract = Contract::of(&document);
        let names: Vec<(String, &str)> = rules(&contract)
            .into_iter()
            .map(|(name, (pointer, _))| (name, pointer))
            .collect();
        assert_eq!(
            names,
            [
                (
                    "FETCH_POINTS__VARIABLES__USER_DATA__EMAIL".to_owned(),
                    "/paths/~1fetchPoints/post/requestBody/content/application~1json/schema/properties/variables/properties/user_data/properties/email"
                ),
                (
                    "SEND_POINTS_RECIPIENTS_DATA__EXPIRY_MONTH__ONE_OF_0".to_owned(),
                    "/components/schemas/SendPointsRecipientsData/properties/expiry_month/oneOf/0"
                ),
                (
                    "SEND_POINTS_RECIPIENTS_DATA__EXPIRY_MONTH__ONE_OF_1".to_owned(),
                    "/components/schemas/SendPointsRecipientsData/properties/expiry_month/oneOf/1"
                ),
                (
                    "SEND_POINTS_RECIPIENTS_DATA__RECIPIENTS__AMOUNT".to_owned(),
                    "/components/schemas/SendPointsRecipientsData/properties/recipients/items/properties/amount"
                ),
            ]
        );
    }
}
