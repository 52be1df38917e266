//! The one error type of the generator: a file, a place in it, what is wrong
//! and, where there is one, the fix. It prints as one line.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// For syntax errors: 1-based line and column.
    LineColumn(usize, usize),
    /// For semantic errors: an RFC 6901 JSON pointer (`/` is the document).
    Pointer(String),
}

#[derive(Debug)]
pub struct Failure {
    /// The input file, as the user named it or relative to the workspace.
    pub file: String,
    pub location: Option<Location>,
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            location: None,
            message: message.into(),
            hint: None,
        }
    }

    /// A failure at a JSON pointer (`""` is the whole document).
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

impl fmt::Display for Failure {
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
