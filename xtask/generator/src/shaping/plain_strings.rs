//! Strings the client crate has no type for stay strings.
//!
//! typify turns `format: uuid` into `uuid::Uuid`, `date` and `date-time` into
//! chrono types, and a `pattern` into a newtype checked by the `regress`
//! crate; the client crate depends on none of them, so a document with any
//! of these would generate a client that does not compile. Rather than add
//! three dependencies to every user's build, those strings are generated as
//! `String`: the vendor validates them, and the field's documentation keeps
//! what the document says (`Format: date-time.`, `Pattern: ^[0-9]+$.`).
//!
//! Likewise `minLength` and `maxLength` (a checked newtype in typify) and a
//! number's `enum` (a checked newtype too): a constraint the vendor adds
//! would retype the field, breaking callers' code and the crate's own, and
//! a checked answer type would refuse what the vendor sends tomorrow (a
//! new value of an integer enum). The types stay plain; what a request
//! value must be is checked by the typed values against the generated
//! `request_rules` (`request_rules.rs`), and the change report reads the
//! constraints from the contract (`contract.rs`), both taken before this
//! rewrite. (`ip`, `ipv4` and `ipv6` map to `std::net` types: they stay.)
//! And an object's `additionalProperties: false` goes: typify would refuse
//! unknown fields, so a property the vendor adds to an answer would break
//! every client built before it.

use serde_json::{Map, Value};

/// Formats typify maps to types of crates the client does not depend on.
const FORMATS_WITHOUT_A_TYPE: [&str; 3] = ["uuid", "date", "date-time"];

/// Rewrites every such string schema of `document` in place.
pub fn plain_strings(document: &mut Value) {
    match document {
        Value::Object(map) => {
            rewrite(map);
            for (key, value) in map.iter_mut() {
                // Examples are values, not schemas.
                if key != "example" && key != "examples" {
                    plain_strings(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(plain_strings),
        _ => {}
    }
}

fn rewrite(schema: &mut Map<String, Value>) {
    let kind = schema
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let kind = kind.as_deref();
    // A closed object (`additionalProperties: false`) would refuse, in
    // clients built before, an answer with a property the vendor adds.
    if schema.get("additionalProperties") == Some(&Value::Bool(false))
        && (kind == Some("object") || schema.get("properties").is_some_and(Value::is_object))
    {
        schema.remove("additionalProperties");
    }
    let is_string = match schema.get("type") {
        Some(Value::String(kind)) => kind == "string",
        None => true,
        Some(_) => false,
    };
    let is_number = matches!(kind, Some("integer" | "number"));
    let mut notes = Vec::new();
    if is_string {
        if let Some(Value::String(format)) = schema.get("format")
            && FORMATS_WITHOUT_A_TYPE.contains(&format.as_str())
        {
            notes.push(format!("Format: {format}."));
            schema.remove("format");
        }
        if let Some(Value::String(pattern)) = schema.get("pattern") {
            notes.push(format!("Pattern: `{pattern}`."));
            schema.remove("pattern");
        }
        // Only a number is a length: a `properties` map may hold a property
        // named `minLength`.
        let mut length = |keyword: &str| match schema.get(keyword) {
            Some(Value::Number(_)) => schema.remove(keyword),
            _ => None,
        };
        let least = length("minLength");
        let most = length("maxLength");
        match (least, most) {
            (Some(least), Some(most)) => {
                notes.push(format!("Length: {least} to {most} characters."))
            }
            (Some(least), None) => notes.push(format!("Length: at least {least} characters.")),
            (None, Some(most)) => notes.push(format!("Length: at most {most} characters.")),
            (None, None) => {}
        }
    }
    if is_number && let Some(Value::Array(values)) = schema.remove("enum") {
        let values: Vec<String> = values.iter().map(|value| format!("`{value}`")).collect();
        notes.push(format!("One of: {}.", values.join(", ")));
    }
    if notes.is_empty() {
        return;
    }
    let description = match schema.get("description").and_then(Value::as_str) {
        Some(description) => format!("{} {}", description.trim_end(), notes.join(" ")),
        None => notes.join(" "),
    };
    schema.insert("description".into(), Value::String(description));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::plain_strings;

    #[test]
    fn formats_and_patterns_without_a_type_become_documented_strings() {
        let mut document = json!({ "properties": {
            "at": { "type": "string", "format": "date-time", "description": "When." },
            "id": { "type": "string", "format": "uuid", "pattern": "^[0-9a-f-]+$" },
            "ip": { "type": "string", "format": "ipv4" },
            "format": { "type": "string", "format": "email" },
            "count": { "type": "integer", "format": "int64" },
            "name": { "type": "string", "minLength": 1, "maxLength": 40 },
            "success": { "type": "integer", "enum": [0, 1] },
            "closed": { "type": "object", "additionalProperties": false,
                "properties": { "minLength": { "type": "string" } } }
        }, "example": { "format": "date-time", "pattern": "x" } });

        plain_strings(&mut document);

        assert_eq!(
            document,
            json!({ "properties": {
                "at": { "type": "string", "description": "When. Format: date-time." },
                "id": { "type": "string", "description": "Format: uuid. Pattern: `^[0-9a-f-]+$`." },
                "ip": { "type": "string", "format": "ipv4" },
                "format": { "type": "string", "format": "email" },
                "count": { "type": "integer", "format": "int64" },
                "name": { "type": "string", "description": "Length: 1 to 40 characters." },
                "success": { "type": "integer", "description": "One of: `0`, `1`." },
                "closed": { "type": "object",
                    "properties": { "minLength": { "type": "string" } } }
            }, "example": { "format": "date-time", "pattern": "x" } })
        );
    }
}
