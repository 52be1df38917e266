//! No hand-written function longer than [`LONGEST`] lines, except one that is
//! mostly a `quote!` template: the workspace's rule for bodies a maintainer
//! reads without scrolling.
//!
//! Functions are found by the layout rustfmt gives them (`cargo fmt --check`
//! runs in CI): a line starting `fn` (after visibility and qualifiers) opens a
//! function, and its body ends at the first `}` at the same indentation. Files
//! that start with the generator's `@generated` header are skipped.

use std::path::{Path, PathBuf};

/// The most lines (signature to closing brace) a hand-written function may have.
const LONGEST: usize = 80;

/// Folders of the workspace holding hand-written Rust, relative to its root.
const HAND_WRITTEN: &[&str] = &[
    "src",
    "tests",
    "build.rs",
    "xtask",
    "generated-client/src",
    "generated-client/tests",
    "generated-client/benches",
    "generated-mocks/src",
    "generated-mocks/tests",
    "cli",
    "payouts",
    "testing",
];

#[test]
fn no_hand_written_function_is_longer_than_80_lines() {
    let root = workspace_root();
    let mut too_long = Vec::new();
    for file in rust_files(&root) {
        let text = std::fs::read_to_string(&file).unwrap();
        if text.starts_with("// @generated") {
            continue;
        }
        let shown = file.strip_prefix(&root).unwrap().display().to_string();
        for found in functions(&text) {
            if found.lines > LONGEST && !found.mostly_template() {
                too_long.push(format!(
                    "{shown}:{} {} ({} lines)",
                    found.first_line, found.name, found.lines
                ));
            }
        }
    }
    assert!(
        too_long.is_empty(),
        "hand-written functions over {LONGEST} lines (split them):\n{}",
        too_long.join("\n")
    );
}

#[test]
fn the_scan_finds_functions_and_their_ends_as_rustfmt_lays_them_out() {
    let text = "\
pub(crate) async fn first(
    a: u32,
) -> u32
where
    u32: Copy,
{
    let t = quote! {
        x
    };
    a
}

trait Shape {
    fn declared(&self) -> u32;
    fn given(&self) {}
}

impl Shape for () {
    fn declared(&self) -> u32 {
        1
    }
}
";
    let found: Vec<_> = functions(text)
        .into_iter()
        .map(|f| (f.name, f.first_line, f.lines, f.template_lines))
        .collect();
    assert_eq!(
        found,
        [
            ("first".to_owned(), 1, 11, 2),
            ("given".to_owned(), 15, 1, 0),
            ("declared".to_owned(), 19, 3, 0),
        ]
    );
}

/// One function the scan found.
#[derive(Debug)]
struct Function {
    name: String,
    /// 1-based line of its `fn`.
    first_line: usize,
    lines: usize,
    /// Lines inside `quote!` templates.
    template_lines: usize,
}

impl Function {
    fn mostly_template(&self) -> bool {
        self.template_lines * 2 > self.lines
    }
}

fn functions(text: &str) -> Vec<Function> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(name) = function_name(line) else {
            continue;
        };
        let indent = indentation(line);
        let Some(end) = body_end(&lines, index, indent) else {
            continue;
        };
        found.push(Function {
            name,
            first_line: index + 1,
            lines: end - index + 1,
            template_lines: template_lines(&lines[index..=end]),
        });
    }
    found
}

/// The name of the function a line opens, if it opens one.
fn function_name(line: &str) -> Option<String> {
    let mut rest = line.trim_start();
    if let Some(after) = rest.strip_prefix("pub") {
        rest = match after.strip_prefix('(') {
            Some(scoped) => scoped.split_once(')')?.1,
            None => after,
        }
        .trim_start();
    }
    for qualifier in ["const ", "async ", "unsafe ", "extern \"C\" "] {
        rest = rest.strip_prefix(qualifier).unwrap_or(rest);
    }
    let name: String = rest
        .strip_prefix("fn ")?
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The index of the line closing the body of the function opened at `start`;
/// `None` for a declaration without a body.
fn body_end(lines: &[&str], start: usize, indent: usize) -> Option<usize> {
    let mut in_body = false;
    for (index, line) in lines.iter().enumerate().skip(start) {
        let trimmed = line.trim_end();
        let at_indent = !trimmed.is_empty() && indentation(line) == indent;
        if !in_body && (index == start || at_indent) {
            if trimmed.ends_with("{}") {
                return Some(index);
            }
            if trimmed.ends_with(';') {
                return None;
            }
            in_body = trimmed.ends_with('{');
        } else if in_body && at_indent && trimmed.trim_start().starts_with('}') {
            return Some(index);
        } else if !trimmed.is_empty() && indentation(line) < indent {
            return None;
        }
    }
    None
}

/// How many of `lines` sit inside a `quote! { … }` template.
fn template_lines(lines: &[&str]) -> usize {
    let mut count = 0;
    let mut open: Option<usize> = None;
    for line in lines {
        match open {
            Some(indent) => {
                count += 1;
                if indentation(line) == indent && line.trim_start().starts_with('}') {
                    open = None;
                }
            }
            None if line.trim_end().ends_with("quote! {") => open = Some(indentation(line)),
            None => {}
        }
    }
    count
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Every `.rs` file under the hand-written folders, skipping build output and
/// test fixtures (whole copies of generated crates).
fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending: Vec<PathBuf> = HAND_WRITTEN.iter().map(|place| root.join(place)).collect();
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|name| name == "target" || name == "snapshots")
            {
                continue;
            }
            for entry in std::fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}
