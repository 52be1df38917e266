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
//! (`ip`, `ipv4` and `ipv6` map to `std::net` types, and `minLength` and
//! `maxLength` to a checked newtype without a dependency: both stay.)

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
    let is_string = match schema.get("type") {
        Some(Value::String(kind)) => kind == "string",
        None => true,
        Some(_) => false,
    };
    if !is_string {
        return;
    }
    let mut notes = Vec::new();
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
            "count": { "type": "integer", "format": "int64" }
        }, "example": { "format": "date-time", "pattern": "x" } });

        plain_strings(&mut document);

        assert_eq!(
            document,
            json!({ "properties": {
                "at": { "type": "string", "description": "When. Format: date-time." },
                "id": { "type": "string", "description": "Format: uuid. Pattern: `^[0-9a-f-]+$`." },
                "ip": { "type": "string", "format": "ipv4" },
                "format": { "type": "string", "format": "email" },
                "count": { "type": "integer", "format": "int64" }
            }, "example": { "format": "date-time", "pattern": "x" } })
        );
    }
}
