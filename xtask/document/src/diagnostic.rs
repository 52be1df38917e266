//! The generator's one error type, `Diagnostic`: a file, a place in it (a
//! line and column, or a JSON pointer), what is wrong and, where there is
//! one, the fix. Regen collects every problem it can find and renders them
//! all at once, like a compiler: each with its source line (annotate-snippets),
//! then one line that says how many there were.

use std::fmt;

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

use crate::source_map::SourceMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// For syntax errors: 1-based line and column.
    LineColumn(usize, usize),
    /// For semantic errors: an RFC 6901 JSON pointer (`/` is the document).
    Pointer(String),
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// The input file, as the user named it or relative to the workspace.
    pub file: String,
    pub location: Option<Location>,
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

/// Problems found so far; a stage adds to it and goes on where it can.
pub type Problems = Vec<Diagnostic>;

impl Diagnostic {
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            location: None,
            message: message.into(),
            hint: None,
        }
    }

    /// A problem at a JSON pointer (`""` is the whole document).
    pub fn at(
        file: impl Into<String>,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let pointer = pointer.into();
        let pointer = if pointer.is_empty() {
            "/".into()
        } else {
            pointer
        };
        Self::new(file, message).located(Location::Pointer(pointer))
    }

    pub fn located(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// One line: `file:line:column: message (hint)` or `file at /pointer: …`.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        match &self.location {
            Some(Location::LineColumn(line, column)) => write!(f, ":{line}:{column}")?,
            Some(Location::Pointer(pointer)) => write!(f, " at {pointer}")?,
            None => {}
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// Every problem, each with its source line where the file has one, then a
/// closing line.
pub fn render(problems: &[Diagnostic], sources: &[SourceMap], styled: bool) -> String {
    let renderer = if styled {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for problem in problems {
        let source = sources.iter().find(|source| source.name == problem.file);
        let span = source.and_then(|source| match &problem.location {
            Some(Location::Pointer(pointer)) => source.locate(pointer),
            Some(Location::LineColumn(line, column)) => source
                .offset_of(*line, *column)
                .map(|offset| offset..next_char(&source.text, offset)),
            None => None,
        });
        let pointer = match &problem.location {
            Some(Location::Pointer(pointer)) => pointer.as_str(),
            _ => "",
        };
        let mut group = Group::with_title(Level::ERROR.primary_title(problem.message.as_str()));
        match (source, span) {
            (Some(source), Some(span)) => {
                group = group.element(
                    Snippet::source(source.text.as_str())
                        .path(source.name.as_str())
                        .fold(true)
                        .annotation(AnnotationKind::Primary.span(span).label(pointer)),
                );
            }
            _ => {
                let mut origin = Origin::path(problem.file.as_str());
                if let Some(Location::LineColumn(line, column)) = &problem.location {
                    origin = origin.line(*line).char_column(*column);
                }
                group = group.element(origin);
                if let Some(Location::Pointer(pointer)) = &problem.location {
                    group = group.element(Level::NOTE.message(format!("at {pointer}")));
                }
            }
        }
        if let Some(hint) = &problem.hint {
            group = group.element(Level::HELP.message(hint.as_str()));
        }
        out.push_str(&renderer.render(&[group]));
        out.push_str("\n\n");
    }
    let count = problems.len();
    out.push_str(&format!(
        "error: regen stopped on {count} problem{}; nothing was written\n",
        if count == 1 { "" } else { "s" }
    ));
    out
}

fn next_char(text: &str, offset: usize) -> usize {
    text[offset.min(text.len())..]
        .chars()
        .next()
        .map_or(offset, |c| offset + c.len_utf8())
}
