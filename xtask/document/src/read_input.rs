//! Reading an input file safely: a size cap (so `/dev/zero` or a huge file
//! ends at once, in bounded memory), UTF-8 checked with a line and column,
//! then parsed: JSON (a `.json` file, or text that starts with `{`) with
//! serde_json, which reads every valid JSON document (surrogate-pair escapes
//! such as `\ud83d\udc4d` included); YAML with serde_yaml's own recursion
//! and alias-repetition limits, turned into JSON values (unquoted `200:` keys
//! become `"200"`).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde_json::{Map, Number, Value};
use serde_yaml::Value as Yaml;

use crate::diagnostic::{Diagnostic, Location};

/// Far above any real OpenAPI document (the vendor's is about 20 KiB).
pub const MAX_INPUT_BYTES: u64 = 8 * 1024 * 1024;

pub fn read_capped(path: &Path, shown: &str) -> Result<Vec<u8>, Diagnostic> {
    let file = File::open(path)
        .map_err(|error| Diagnostic::new(shown, format!("cannot read the file: {error}")))?;
    if file.metadata().is_ok_and(|metadata| metadata.is_dir()) {
        return Err(Diagnostic::new(shown, "this is a directory, not a file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| Diagnostic::new(shown, format!("cannot read the file: {error}")))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(Diagnostic::new(
            shown,
            format!(
                "the file is larger than {} MiB, the most regen reads",
                MAX_INPUT_BYTES / 1024 / 1024
            ),
        )
        .with_hint("an OpenAPI document this large is almost certainly not the vendor's"));
    }
    Ok(bytes)
}

/// Whether `text` (named `shown`) is read as JSON rather than YAML.
pub fn is_json(shown: &str, text: &str) -> bool {
    shown.ends_with(".json") || text.trim_start().starts_with('{')
}

/// The file as text, checked to be UTF-8 and not empty.
pub fn text<'a>(shown: &str, bytes: &'a [u8]) -> Result<&'a str, Diagnostic> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let (line, column) = line_column(&bytes[..error.valid_up_to()]);
        Diagnostic::new(shown, "not UTF-8 text: the byte here is not valid UTF-8")
            .located(Location::LineColumn(line, column))
            .with_hint("save the document as UTF-8")
    })?;
    if text.trim().is_empty() {
        return Err(Diagnostic::new(shown, "the file is empty")
            .with_hint("expected an OpenAPI document in YAML or JSON"));
    }
    Ok(text)
}

/// Parses a JSON or YAML document into a JSON value.
pub fn parse_document(shown: &str, bytes: &[u8]) -> Result<Value, Diagnostic> {
    let text = text(shown, bytes)?;
    if is_json(shown, text) {
        return serde_json::from_str(text).map_err(|error| {
            // The message without serde's own " at line L column C".
            let message = error.to_string();
            let message = message
                .find(" at line ")
                .map_or(message.as_str(), |index| &message[..index])
                .to_owned();
            Diagnostic::new(shown, format!("not valid JSON: {message}"))
                .located(Location::LineColumn(error.line(), error.column()))
                .with_hint("a `.json` document, or one that starts with `{`, is read as JSON")
        });
    }
    let yaml: Yaml = serde_yaml::from_str(text).map_err(|error| {
        let (message, hint) = yaml_message(&error);
        let mut failure = Diagnostic::new(shown, message).with_hint(hint);
        if let Some(location) = error.location() {
            failure = failure.located(Location::LineColumn(location.line(), location.column()));
        }
        failure
    })?;
    to_json(yaml, "").map_err(|(pointer, message)| Diagnostic::at(shown, pointer, message))
}

/// serde_yaml's message, without its trailing "at line L column C" (the
/// failure states it in its own place), in plain words, and a hint.
fn yaml_message(error: &serde_yaml::Error) -> (String, &'static str) {
    let message = error.to_string();
    let message = match message.find(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message,
    };
    match message.as_str() {
        "recursion limit exceeded" => (
            "not read: the YAML nests deeper than the parser allows (128 levels)".into(),
            "an OpenAPI document is never this deep; is this the right file?",
        ),
        "repetition limit exceeded" => (
            "not read: YAML aliases expand beyond the parser's limit (an alias bomb?)".into(),
            "write the repeated parts out, or use `$ref`",
        ),
        _ if message.contains("duplicate entry with key") => (
            format!("not read: a mapping has a key twice ({message})"),
            "YAML allows each key once in a mapping: keep one of them",
        ),
        _ if message.contains("more than one document") => (
            "not read: the file holds several YAML documents (or is not YAML)".into(),
            "expected one OpenAPI document in YAML or JSON",
        ),
        _ => (
            format!("not valid YAML (nor JSON): {message}"),
            "expected an OpenAPI document in YAML or JSON",
        ),
    }
}

fn line_column(valid_prefix: &[u8]) -> (usize, usize) {
    let line = valid_prefix.iter().filter(|&&byte| byte == b'\n').count() + 1;
    let line_start = valid_prefix
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |index| index + 1);
    let column = String::from_utf8_lossy(&valid_prefix[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

fn to_json(yaml: Yaml, pointer: &str) -> Result<Value, (String, String)> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(value) => Value::Bool(value),
        Yaml::Number(number) => {
            if let Some(value) = number.as_u64() {
                Value::Number(value.into())
            } else if let Some(value) = number.as_i64() {
                Value::Number(value.into())
            } else {
                let value = number.as_f64().unwrap_or(f64::NAN);
                Value::Number(Number::from_f64(value).ok_or_else(|| {
                    (
                        pointer.to_owned(),
                        format!("the number `{number}` has no JSON form"),
                    )
                })?)
            }
        }
        Yaml::String(value) => Value::String(value),
        Yaml::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(index, item)| to_json(item, &format!("{pointer}/{index}")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(mapping) => {
            let mut map = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Yaml::String(key) => key,
                    Yaml::Number(number) => number.to_string(),
                    Yaml::Bool(value) => value.to_string(),
                    other => {
                        return Err((
                            pointer.to_owned(),
                            format!("a mapping key must be a string, not {}", kind(&other)),
                        ));
                    }
                };
                let child = format!("{pointer}/{}", crate::naming::escape(&key));
                let value = to_json(value, &child)?;
                map.insert(key, value);
            }
            Value::Object(map)
        }
        Yaml::Tagged(tagged) => {
            return Err((
                pointer.to_owned(),
                format!("YAML tags such as `{}` are not supported", tagged.tag),
            ));
        }
    })
}

fn kind(yaml: &Yaml) -> &'static str {
    match yaml {
        Yaml::Null => "null",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value",
    }
}
