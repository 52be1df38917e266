//! Where each node of an input file is: a JSON pointer → the byte range of
//! the node's key (or, for a list item or the root, its value) in the text.
//! Diagnostics use it to show the source line of a problem found by JSON
//! pointer.
//!
//! YAML is indexed from saphyr-parser's events (which carry spans; the values
//! themselves come from serde_yaml), JSON from jsonc-parser's syntax tree. An
//! index that cannot be built (the file does not parse) is empty: the
//! diagnostics then give the JSON pointer alone.

use std::collections::HashMap;
use std::ops::Range;

use crate::naming::escape;

/// One input file, its text, and where its nodes are.
pub struct SourceMap {
    pub name: String,
    pub text: String,
    nodes: HashMap<String, Range<usize>>,
}

impl SourceMap {
    /// An input without an index (a file that is not text).
    pub fn unindexed(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            text: String::new(),
            nodes: HashMap::new(),
        }
    }

    pub fn yaml(name: &str, text: &str) -> Self {
        Self {
            name: name.to_owned(),
            text: text.to_owned(),
            nodes: yaml_nodes(text).unwrap_or_default(),
        }
    }

    pub fn json(name: &str, text: &str) -> Self {
        Self {
            name: name.to_owned(),
            text: text.to_owned(),
            nodes: json_nodes(text).unwrap_or_default(),
        }
    }

    /// The range of the node at `pointer`, or of its nearest ancestor that
    /// the file has (a node the overlay added is shown at its parent);
    /// `None` when nothing of it is in the file.
    pub fn locate(&self, pointer: &str) -> Option<Range<usize>> {
        let mut pointer = pointer.trim_end_matches('/');
        loop {
            if let Some(range) = self.nodes.get(pointer) {
                return Some(range.clone());
            }
            pointer = &pointer[..pointer.rfind('/')?];
        }
    }

    /// The range of the node at exactly `pointer`, if the file has it.
    pub fn locate_exact(&self, pointer: &str) -> Option<Range<usize>> {
        self.nodes.get(pointer.trim_end_matches('/')).cloned()
    }

    /// The 1-based line of byte `offset`.
    pub fn line_at(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    /// The byte offset of a 1-based line and column (in characters).
    pub fn offset_of(&self, line: usize, column: usize) -> Option<usize> {
        let start = if line <= 1 {
            0
        } else {
            self.text.match_indices('\n').nth(line - 2)?.0 + 1
        };
        let line_text = &self.text[start..];
        let within = line_text
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(line_text.len(), |(index, _)| index);
        Some(start + within)
    }
}

/// Turns character positions (which saphyr's markers count) into byte
/// offsets.
struct CharToByte<'a> {
    text: &'a str,
    /// (char index, byte index) of the last lookup: events come in order.
    last: (usize, usize),
}

impl CharToByte<'_> {
    fn byte(&mut self, char_index: usize) -> usize {
        let (mut chars, mut bytes) = self.last;
        if char_index < chars {
            (chars, bytes) = (0, 0);
        }
        for c in self.text[bytes..].chars() {
            if chars == char_index {
                break;
            }
            chars += 1;
            bytes += c.len_utf8();
        }
        self.last = (chars, bytes);
        bytes
    }
}

enum Frame {
    Mapping {
        key: Option<String>,
    },
    Sequence {
        next: usize,
    },
    /// A complex mapping key, or what an alias stands for: not indexed.
    Skipped {
        depth: usize,
    },
}

fn yaml_nodes(text: &str) -> Option<HashMap<String, Range<usize>>> {
    use saphyr_parser::{Event, Parser};

    let mut nodes = HashMap::new();
    let mut bytes = CharToByte { text, last: (0, 0) };
    let mut frames: Vec<Frame> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    for item in Parser::new_from_str(text) {
        let (event, span) = item.ok()?;
        let range = bytes.byte(span.start.index())..bytes.byte(span.end.index());
        let opens = matches!(event, Event::MappingStart(..) | Event::SequenceStart(..));
        let closes = matches!(event, Event::MappingEnd | Event::SequenceEnd);
        if let Some(Frame::Skipped { depth }) = frames.last_mut() {
            match (opens, closes) {
                (true, _) => *depth += 1,
                (_, true) if *depth > 0 => *depth -= 1,
                (_, true) => {
                    frames.pop();
                    path.pop();
                    close_value(&mut frames, &mut path);
                }
                _ => {}
            }
            continue;
        }
        if closes {
            frames.pop();
            close_value(&mut frames, &mut path);
            continue;
        }
        let is_node = opens || matches!(event, Event::Scalar(..) | Event::Alias(..));
        if !is_node {
            continue;
        }
        // A mapping key?
        if let Some(Frame::Mapping { key }) = frames.last_mut()
            && key.is_none()
        {
            match &event {
                Event::Scalar(value, ..) => {
                    *key = Some(value.to_string());
                    path.push(escape(value));
                    nodes.insert(pointer(&path), range);
                }
                _ => {
                    // A complex key: its subtree and value are not indexed.
                    *key = Some(String::new());
                    path.push(String::new());
                    if opens {
                        frames.push(Frame::Skipped { depth: 0 });
                    }
                }
            }
            continue;
        }
        // A value: in a list it is indexed here, in a mapping at its key.
        if let Some(Frame::Sequence { next }) = frames.last_mut() {
            path.push(next.to_string());
            *next += 1;
            nodes.insert(pointer(&path), range.clone());
        } else if frames.is_empty() {
            nodes.entry(String::new()).or_insert(range.clone());
        }
        match event {
            Event::MappingStart(..) => frames.push(Frame::Mapping { key: None }),
            Event::SequenceStart(..) => frames.push(Frame::Sequence { next: 0 }),
            _ => close_value(&mut frames, &mut path),
        }
    }
    Some(nodes)
}

/// A value ended: leave its place in the path.
fn close_value(frames: &mut [Frame], path: &mut Vec<String>) {
    match frames.last_mut() {
        Some(Frame::Mapping { key }) => {
            *key = None;
            path.pop();
        }
        Some(Frame::Sequence { .. }) => {
            path.pop();
        }
        _ => {}
    }
}

fn pointer(path: &[String]) -> String {
    path.iter().map(|segment| format!("/{segment}")).collect()
}

fn json_nodes(text: &str) -> Option<HashMap<String, Range<usize>>> {
    use jsonc_parser::ast::Value;
    use jsonc_parser::common::Ranged;

    fn walk(value: &Value<'_>, path: &str, nodes: &mut HashMap<String, Range<usize>>) {
        match value {
            Value::Object(object) => {
                for property in &object.properties {
                    let name = property.name.as_str();
                    let here = format!("{path}/{}", escape(name));
                    let range = property.name.range();
                    nodes.insert(here.clone(), range.start..range.end);
                    walk(&property.value, &here, nodes);
                }
            }
            Value::Array(array) => {
                for (index, element) in array.elements.iter().enumerate() {
                    let here = format!("{path}/{index}");
                    let range = element.range();
                    nodes.insert(here.clone(), range.start..range.end);
                    walk(element, &here, nodes);
                }
            }
            _ => {}
        }
    }

    let parsed = jsonc_parser::parse_to_ast(
        text,
        &jsonc_parser::CollectOptions::default(),
        &jsonc_parser::ParseOptions::default(),
    )
    .ok()?;
    let root = parsed.value?;
    let mut nodes = HashMap::new();
    let range = root.range();
    nodes.insert(String::new(), range.start..range.end);
    walk(&root, "", &mut nodes);
    Some(nodes)
}

#[cfg(test)]
mod tests {
    use super::SourceMap;

    fn line_of(source: &SourceMap, pointer: &str) -> String {
        let range = source.locate(pointer).unwrap();
        source.text[range].to_owned()
    }

    #[test]
    fn yaml_keys_and_list_items_are_found_by_pointer() {
        let text = "openapi: 3.0.3\npaths:\n  /a/b:\n    get:\n      tags: [x, \"é\"]\n      \
                    responses:\n        '200': {description: ok}\nlist:\n  - first\n  - k: v\n";
        let source = SourceMap::yaml("s.yaml", text);
        assert_eq!(line_of(&source, "/openapi"), "openapi");
        assert_eq!(line_of(&source, "/paths/~1a~1b/get"), "get");
        assert_eq!(line_of(&source, "/paths/~1a~1b/get/tags/1"), "\"é\"");
        assert_eq!(line_of(&source, "/paths/~1a~1b/get/responses/200"), "'200'");
        assert_eq!(line_of(&source, "/list/0"), "first");
        assert_eq!(line_of(&source, "/list/1/k"), "k");
        // Not in the file: its nearest ancestor.
        assert_eq!(line_of(&source, "/paths/~1a~1b/get/x-added"), "get");
    }

    #[test]
    fn json_with_surrogate_escapes_is_indexed() {
        let text = "{\n  \"info\": {\"title\": \"\\ud83d\\udc4d\"},\n  \"paths\": {}\n}\n";
        let source = SourceMap::json("s.json", text);
        assert_eq!(line_of(&source, "/info/title"), "\"title\"");
        assert_eq!(line_of(&source, "/paths"), "\"paths\"");
        assert_eq!(
            source.offset_of(3, 3),
            Some(text.find("\"paths\"").unwrap())
        );
    }
}
