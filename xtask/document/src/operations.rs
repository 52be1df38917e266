//! A document's operations, walked one way by every pass: the HTTP methods
//! OpenAPI 3.0 allows in a path item, in one list, and each operation with
//! its path, method and JSON pointer, paths in the document's order,
//! methods in this list's.

use serde_json::Value;

use crate::naming::escape;

/// The methods a path item may hold an operation under.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One operation of a document.
pub struct OperationAt<'a> {
    pub path: &'a str,
    pub method: &'static str,
    /// `/paths/{path}/{method}`.
    pub pointer: String,
    pub operation: &'a Value,
    /// The path item that holds it (its `servers`, `parameters`).
    pub item: &'a Value,
}

/// Every operation of `document`.
pub fn operations(document: &Value) -> Vec<OperationAt<'_>> {
    let mut found = Vec::new();
    let paths = document.get("paths").and_then(Value::as_object);
    for (path, item) in paths.into_iter().flatten() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                found.push(OperationAt {
                    path,
                    method,
                    pointer: format!("/paths/{}/{method}", escape(path)),
                    operation,
                    item,
                });
            }
        }
    }
    found
}

/// The pointers of every operation of `document`, for a pass that changes
/// them (`document.pointer_mut`).
pub fn operation_pointers(document: &Value) -> Vec<String> {
    operations(document)
        .into_iter()
        .map(|found| found.pointer)
        .collect()
}

/// Whether a path item's key names an operation.
pub fn is_method(key: &str) -> bool {
    METHODS.contains(&key)
}
