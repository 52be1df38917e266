//! The one error type of the generator: a file, a place in it, what is wrong
//! and, where there is one, the fix. It prints as one line.

use std::fmt;

#[derive(Debug)]
pub struct Failure {
    /// The input file, as the user named it or relative to the workspace.
    pub file: String,
    /// `line:column` for syntax errors, a JSON pointer for semantic ones.
    pub location: Option<String>,
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
        Self {
            location: Some(if pointer.is_empty() {
                "/".into()
            } else {
                pointer
            }),
            ..Self::new(file, message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(location) = &self.location {
            write!(f, " at {location}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}
