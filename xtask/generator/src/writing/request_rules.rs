//! The generated `request_rules` module (the document's rules for every
//! value a request carries, as constants: their names are
//! `reward_points_document::rules`'), and every request `pattern` compiled
//! at regen as the client will compile it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

use crate::contract::Contract;
use crate::diagnostic::{Diagnostic, Problems};
use crate::document::rules::rules;

/// How the client compiles patterns (`values/rules.rs`'s `PATTERN_FLAGS`).
const PATTERN_FLAGS: &str = "u";

/// Every request value's `pattern` compiled as the client will compile it:
/// one that does not compile is the document's problem, said at regen
/// rather than by every value the client is asked to build.
pub fn check_patterns(contract: &Contract, spec_file: &str, problems: &mut Problems) {
    for (name, (pointer, place)) in rules(contract) {
        let Some(pattern) = place.fact("pattern").and_then(Value::as_str) else {
            continue;
        };
        if let Err(error) = regress::Regex::with_flags(pattern, PATTERN_FLAGS) {
            problems.push(
                Diagnostic::at(
                    spec_file,
                    format!("{pointer}/pattern"),
                    format!(
                        "the pattern `{pattern}` does not compile as an ECMAScript regular \
                         expression (with the `u` flag, as JSON Schema reads it): {error}"
                    ),
                )
                .with_hint(format!(
                    "the client checks it before sending (`request_rules::{name}`); fix it in the \
                     overlay, or tell the vendor"
                )),
            );
        }
    }
}

/// The generated `request_rules` module's items.
pub fn rules_source(contract: &Contract) -> TokenStream {
    let rules = rules(contract);
    let names: Vec<_> = rules.keys().map(|name| format_ident!("{name}")).collect();
    let constants = rules.into_iter().map(|(name, (pointer, place))| {
        let ident = format_ident!("{name}");
        let number = |keyword: &str| match place.fact(keyword).and_then(Value::as_f64) {
            Some(value) => quote!(Some(#value)),
            None => quote!(None),
        };
        let count = |keyword: &str| match place.fact(keyword).and_then(Value::as_u64) {
            Some(value) => quote!(Some(#value)),
            None => quote!(None),
        };
        let flag = |keyword: &str| place.fact(keyword) == Some(&Value::Bool(true));
        let text = |keyword: &str| match place.fact(keyword).and_then(Value::as_str) {
            Some(value) => quote!(Some(#value)),
            None => quote!(None),
        };
        let pattern = text("pattern");
        let format = text("format");
        let (min_length, max_length) = (count("minLength"), count("maxLength"));
        let (minimum, maximum, multiple_of) =
            (number("minimum"), number("maximum"), number("multipleOf"));
        let (exclusive_minimum, exclusive_maximum) =
            (flag("exclusiveMinimum"), flag("exclusiveMaximum"));
        let allowed: Vec<String> = place
            .fact("enum")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|value| match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect();
        let doc = format!("The document's rules at `{pointer}`.");
        quote! {
            #[doc = #doc]
            pub const #ident: FieldRules = FieldRules {
                at: #pointer,
                pattern: #pattern,
                format: #format,
                min_length: #min_length,
                max_length: #max_length,
                minimum: #minimum,
                maximum: #maximum,
                exclusive_minimum: #exclusive_minimum,
                exclusive_maximum: #exclusive_maximum,
                multiple_of: #multiple_of,
                allowed: &[#(#allowed),*],
            };
        }
    });
    quote! {
        #(#constants)*
        /// Every rule above, in the order of their names: what the typed
        /// values check, for a test or a tool to list.
        pub const ALL: &[&FieldRules] = &[#(&#names),*];
    }
}
