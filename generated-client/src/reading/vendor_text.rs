//! The vendor's own words in an answer (its `error` or `message` text), made
//! safe to show: whatever the request carried that may be secret (the bearer
//! token, the refresh token, the client secret) is replaced by `<redacted>`
//! first, and only then is the text cut to [`MAX_MESSAGE_CHARS`] — in that
//! order, so that no part of a secret survives a cut. The one place that
//! scrubs vendor text.

use serde_json::Value;

/// A vendor message longer than this (in characters) is cut.
const MAX_MESSAGE_CHARS: usize = 300;

/// The vendor's `error` (or `message`) text in an answer's body, scrubbed
/// of every `secrets` value and then cut.
pub(crate) fn vendor_message<S: AsRef<str>>(body: &Value, secrets: &[S]) -> Option<String> {
    let message = ["error", "message"]
        .iter()
        .find_map(|field| body.get(field)?.as_str())
        .filter(|message| !message.trim().is_empty())?;
    Some(cleaned(message, secrets))
}

/// A vendor text scrubbed of every `secrets` value, then cut to
/// [`MAX_MESSAGE_CHARS`] characters.
pub(crate) fn cleaned<S: AsRef<str>>(text: &str, secrets: &[S]) -> String {
    let scrubbed = scrub(text, secrets);
    match scrubbed.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => scrubbed[..cut].to_owned(),
        None => scrubbed,
    }
}

/// `text` with every non-empty `secrets` value replaced by `<redacted>`.
pub(crate) fn scrub<S: AsRef<str>>(text: &str, secrets: &[S]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().map(AsRef::as_ref) {
        if !secret.is_empty() && text.contains(secret) {
            text = text.replace(secret, "<redacted>");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{MAX_MESSAGE_CHARS, vendor_message};

    #[test]
    fn a_secret_across_the_cut_is_scrubbed_whole_before_cutting() {
        let secret = "s3cr3t-refresh-token-0123456789";
        // The secret starts 10 characters before the cut.
        let echo = format!("{}{secret} was refused", "é".repeat(MAX_MESSAGE_CHARS - 10));
        let message = vendor_message(&json!({ "error": echo }), &[secret]).unwrap();
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(message.ends_with("é<redacted>"), "{message}");
        assert!(!message.contains("s3cr3t"));
    }

    #[test]
    fn message_is_read_when_error_is_absent_and_blank_texts_are_none() {
        let none: [&str; 0] = [];
        assert_eq!(
            vendor_message(&json!({ "message": "missing user's details" }), &none).as_deref(),
            Some("missing user's details")
        );
        assert_eq!(vendor_message(&json!({ "error": "  " }), &none), None);
        assert_eq!(vendor_message(&json!({ "error": 7 }), &none), None);
    }
}
