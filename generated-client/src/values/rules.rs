//! The document's rules for one request value ([`FieldRules`]), generated
//! into `request_rules` by regen from the document after the overlay, and
//! the checks the typed values make with them before anything is sent. A
//! constraint the vendor adds reaches these checks with the next regen.

use super::{InvalidValue, invalid};

/// How a `pattern` is compiled: ECMAScript with Unicode (`u`), as JSON
/// Schema reads patterns; regen compiles each request pattern the same way
/// before the client is written, so one that does not compile never
/// reaches it.
pub const PATTERN_FLAGS: &str = "u";

/// What the document says a request value must be: its `pattern`,
/// lengths, bounds and allowed values, as written at [`FieldRules::at`].
/// Generated (see `request_rules`); never built by hand.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldRules {
    /// Where the rules are written: a JSON pointer into the document.
    pub at: &'static str,
    /// An ECMAScript regular expression the text must match (anywhere,
    /// unless anchored), as JSON Schema defines `pattern`.
    pub pattern: Option<&'static str>,
    /// The document's `format` (`email`, …): the typed values check the
    /// formats they know by their own rules.
    pub format: Option<&'static str>,
    /// The fewest characters.
    pub min_length: Option<u64>,
    /// The most characters.
    pub max_length: Option<u64>,
    /// The smallest number.
    pub minimum: Option<f64>,
    /// The largest number.
    pub maximum: Option<f64>,
    /// Whether [`FieldRules::minimum`] itself is refused.
    pub exclusive_minimum: bool,
    /// Whether [`FieldRules::maximum`] itself is refused.
    pub exclusive_maximum: bool,
    /// A number the value must be a multiple of.
    pub multiple_of: Option<f64>,
    /// The only values allowed (as text), when the document lists them.
    pub allowed: &'static [&'static str],
}

impl FieldRules {
    /// Checks `text` (a string value) against the text rules: lengths in
    /// characters, `pattern`, the allowed values.
    pub(crate) fn check_text(&self, field: &'static str, text: &str) -> Result<(), InvalidValue> {
        let characters = text.chars().count() as u64;
        if let Some(least) = self.min_length
            && characters < least
        {
            return Err(self.refuse(
                field,
                format!("`{text}` is shorter than {least} characters"),
            ));
        }
        if let Some(most) = self.max_length
            && characters > most
        {
            return Err(self.refuse(field, format!("`{text}` is longer than {most} characters")));
        }
        if let Some(pattern) = self.pattern {
            // The document's own pattern: one it cannot compile is the
            // document's problem, said as such, and nothing is sent.
            let matches = regress::Regex::with_flags(pattern, PATTERN_FLAGS)
                .map_err(|error| {
                    self.refuse(
                        field,
                        format!("its pattern `{pattern}` does not compile: {error}"),
                    )
                })?
                .find(text)
                .is_some();
            if !matches {
                return Err(self.refuse(
                    field,
                    format!("`{text}` does not match the pattern `{pattern}`"),
                ));
            }
        }
        self.check_allowed(field, text)
    }

    /// Checks `number` against the number rules: bounds, `multipleOf`, the
    /// allowed values.
    pub(crate) fn check_number(
        &self,
        field: &'static str,
        number: f64,
    ) -> Result<(), InvalidValue> {
        if let Some(least) = self.minimum
            && (number < least || (self.exclusive_minimum && number == least))
        {
            let bound = if self.exclusive_minimum {
                "more than"
            } else {
                "at least"
            };
            return Err(self.refuse(field, format!("{number} is not {bound} {least}")));
        }
        if let Some(most) = self.maximum
            && (number > most || (self.exclusive_maximum && number == most))
        {
            let bound = if self.exclusive_maximum {
                "less than"
            } else {
                "at most"
            };
            return Err(self.refuse(field, format!("{number} is not {bound} {most}")));
        }
        if let Some(step) = self.multiple_of
            && step > 0.0
            && (number / step).fract() != 0.0
        {
            return Err(self.refuse(field, format!("{number} is not a multiple of {step}")));
        }
        self.check_allowed(field, &number.to_string())
    }

    fn check_allowed(&self, field: &'static str, text: &str) -> Result<(), InvalidValue> {
        if self.allowed.is_empty() || self.allowed.contains(&text) {
            return Ok(());
        }
        Err(self.refuse(
            field,
            format!("`{text}` is not one of {}", self.allowed.join(", ")),
        ))
    }

    fn refuse(&self, field: &'static str, why: String) -> InvalidValue {
        invalid(
            field,
            format!("{why} (the vendor's document, at {})", self.at),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::FieldRules;

    const NONE: FieldRules = FieldRules {
        at: "/x",
        pattern: None,
        format: None,
        min_length: None,
        max_length: None,
        minimum: None,
        maximum: None,
        exclusive_minimum: false,
        exclusive_maximum: false,
        multiple_of: None,
        allowed: &[],
    };

    #[test]
    fn each_rule_refuses_what_it_should_and_names_where_it_is_written() {
        let pattern = FieldRules {
            pattern: Some("^[1-9][0-9]{0,5}$"),
            ..NONE
        };
        assert!(pattern.check_text("amount", "999999").is_ok());
        assert_eq!(
            pattern
                .check_text("amount", "1000000")
                .unwrap_err()
                .to_string(),
            "amount: `1000000` does not match the pattern `^[1-9][0-9]{0,5}$` (the vendor's \
             document, at /x)"
        );
        let lengths = FieldRules {
            min_length: Some(2),
            max_length: Some(3),
            ..NONE
        };
        assert!(lengths.check_text("to_name", "Jö").is_ok());
        assert!(lengths.check_text("to_name", "J").is_err());
        assert!(lengths.check_text("to_name", "Jöhn").is_err());
        let bounds = FieldRules {
            minimum: Some(1.0),
            maximum: Some(12.0),
            exclusive_maximum: true,
            ..NONE
        };
        assert!(bounds.check_number("expiry_month", 11.0).is_ok());
        assert_eq!(
            bounds
                .check_number("expiry_month", 12.0)
                .unwrap_err()
                .to_string(),
            "expiry_month: 12 is not less than 12 (the vendor's document, at /x)"
        );
        assert!(bounds.check_number("expiry_month", 0.0).is_err());
        let allowed = FieldRules {
            allowed: &["a", "b"],
            ..NONE
        };
        assert!(allowed.check_text("f", "c").is_err());
        assert!(NONE.check_text("f", "anything").is_ok());
    }
}
