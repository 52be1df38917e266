//! `POST /token/company`, as the token manager sends it, and its answer read
//! so that a rotated refresh token is never lost to decoding.
//!
//! The vendor invalidates the old refresh token the moment it answers, so the
//! new one is taken from the answer first, as a plain JSON string; the rest is
//! read leniently (`expires_in` as a number or a string, expiries missing or
//! oddly typed). An answer with a new refresh token is always kept, whatever
//! else it lacks.
//!
//! The call is sent without the generated client's hooks: those hooks call
//! the token manager, and a call that could call itself would make every
//! request future non-`Send`. The URL still comes from the route table
//! (`Operation::RefreshToken`) and the body is the generated type.

use std::future::Future;
use std::pin::Pin;

use reqwest::StatusCode;
use serde_json::Value;
use tracing::Instrument;

use crate::reading::DecodeProblem;
use crate::reading::limit;
use crate::reading::vendor_text::vendor_message;
use crate::tokens::credentials::ClientCredentials;
use crate::tokens::store::StoredTokens;
#[cfg(not(another_document))]
use crate::types::RefreshTokenBody;
use crate::{EpochMillis, Secret};

/// What the token manager refreshes through: the vendor's endpoint, or the
/// simulation's vendor (`tokens::simulation`).
pub(crate) trait Refresher: Send + Sync {
    /// Refreshes `held` with `credentials`; `sent_at` is now, by the
    /// manager's clock (the answer's `expires_in` counts from it).
    fn refresh<'a>(
        &'a self,
        credentials: &'a ClientCredentials,
        held: &'a StoredTokens,
        sent_at: EpochMillis,
    ) -> Pin<Box<dyn Future<Output = RefreshOutcome> + Send + 'a>>;
}

impl Refresher for RefreshEndpoint {
    fn refresh<'a>(
        &'a self,
        credentials: &'a ClientCredentials,
        held: &'a StoredTokens,
        sent_at: EpochMillis,
    ) -> Pin<Box<dyn Future<Output = RefreshOutcome> + Send + 'a>> {
        Box::pin(self.refresh(credentials, held, sent_at))
    }
}

pub(crate) struct RefreshEndpoint {
    pub(crate) http: reqwest::Client,
    pub(crate) url: reqwest::Url,
    /// The time limit of one refresh request.
    pub(crate) timeout: std::time::Duration,
}

/// What the vendor made of a refresh.
#[derive(Debug)]
pub(crate) enum RefreshOutcome {
    /// Rotated: the new tokens. `missing` names a field the answer lacked
    /// (the tokens then hold the old access token, marked expired).
    Rotated {
        tokens: StoredTokens,
        missing: Option<&'static str>,
    },
    /// The vendor refused the refresh token (a 4xx other than 408 and 429).
    Rejected {
        status: u16,
        message: Option<String>,
    },
    /// Passing: 408, 429, 5xx, a network error, an unreadable answer.
    Unavailable { reason: String },
}

impl RefreshEndpoint {
    /// Another document than the vendor's has no refresh operation this
    /// crate knows; its clients have no token manager to call this
    /// (`ClientBuilder::build`).
    #[cfg(another_document)]
    async fn refresh(
        &self,
        _credentials: &ClientCredentials,
        _held: &StoredTokens,
        _sent_at: EpochMillis,
    ) -> RefreshOutcome {
        RefreshOutcome::Unavailable {
            reason: "this document has no refresh operation".into(),
        }
    }

    #[cfg(not(another_document))]
    async fn refresh(
        &self,
        credentials: &ClientCredentials,
        held: &StoredTokens,
        sent_at: EpochMillis,
    ) -> RefreshOutcome {
        let body = RefreshTokenBody::new(
            held.refresh_token.clone(),
            credentials.client_id.clone(),
            credentials.client_secret.clone(),
        );
        let span = tracing::info_span!(
            "xoxoday_reward_points.refresh",
            status = tracing::field::Empty
        );
        let response = match self
            .http
            .post(self.url.clone())
            .timeout(self.timeout)
            .json(&body)
            .send()
            .instrument(span.clone())
            .await
        {
            Ok(response) => response,
            // reqwest's text names the URL, never the body.
            Err(error) => {
                return RefreshOutcome::Unavailable {
                    reason: error.to_string(),
                };
            }
        };
        let status = response.status();
        span.record("status", status.as_u16());
        let bytes = match limit::bounded(response).bytes().await {
            Ok(bytes) => bytes,
            Err(error) => {
                return RefreshOutcome::Unavailable {
                    reason: format!("cannot read the answer: {error}"),
                };
            }
        };
        if status.is_success() {
            return rotated(&bytes, held, sent_at);
        }
        let passing = status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
            || !status.is_client_error();
        if passing {
            let redirect = if status.is_redirection() {
                ", a redirect, which the client does not follow"
            } else {
                ""
            };
            return RefreshOutcome::Unavailable {
                reason: format!("HTTP {status}{redirect}"),
            };
        }
        // Should the vendor echo what it was sent, it is not repeated.
        let sent = [
            held.refresh_token.expose_secret(),
            credentials.client_secret.expose_secret(),
        ];
        let message = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|body| vendor_message(&body, &sent));
        RefreshOutcome::Rejected {
            status: status.as_u16(),
            message,
        }
    }
}

/// The tokens in a successful refresh answer, the refresh token first.
pub(crate) fn rotated(bytes: &[u8], held: &StoredTokens, sent_at: EpochMillis) -> RefreshOutcome {
    let answer: Value = match serde_json::from_slice(bytes) {
        Ok(answer) => answer,
        Err(error) => {
            return RefreshOutcome::Unavailable {
                reason: format!("the answer is {}", DecodeProblem::of(&error)),
            };
        }
    };
    let text = |field: &str| {
        answer
            .get(field)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
            .map(Secret::new)
    };
    let Some(refresh_token) = text("refresh_token") else {
        return RefreshOutcome::Unavailable {
            reason: "the answer has no refresh_token, so the store keeps the one it has (if \
                     the vendor rotated it anyway, the next refresh is refused)"
                .into(),
        };
    };
    let refresh_token_expiry = epoch_millis(answer.get("refresh_token_expiry"));
    let Some(access_token) = text("access_token") else {
        return RefreshOutcome::Rotated {
            tokens: StoredTokens::new(
                held.access_token.clone(),
                Some(EpochMillis(0)),
                refresh_token,
                refresh_token_expiry,
            ),
            missing: Some("access_token"),
        };
    };
    let access_token_expiry = EpochMillis::token_expiry(
        sent_at,
        epoch_millis(answer.get("access_token_expiry")),
        seconds(answer.get("expires_in")),
    );
    let mut tokens = StoredTokens::new(
        access_token,
        access_token_expiry,
        refresh_token,
        refresh_token_expiry,
    );
    tokens.refreshed_at = Some(sent_at);
    RefreshOutcome::Rotated {
        tokens,
        missing: None,
    }
}

/// Epoch milliseconds as a number or a string of digits; anything else is
/// treated as absent.
fn epoch_millis(value: Option<&Value>) -> Option<EpochMillis> {
    serde_json::from_value(value?.clone()).ok()
}

/// Seconds as a number or a string of digits.
fn seconds(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{RefreshOutcome, rotated};
    use crate::tokens::store::StoredTokens;
    use crate::{EpochMillis, Secret};

    fn held() -> StoredTokens {
        StoredTokens::new(
            Secret::new("old-access"),
            Some(EpochMillis(1)),
            Secret::new("old-refresh"),
            None,
        )
    }

    fn tokens_of(answer: serde_json::Value) -> (StoredTokens, Option<&'static str>) {
        match rotated(
            answer.to_string().as_bytes(),
            &held(),
            EpochMillis(1_000_000),
        ) {
            RefreshOutcome::Rotated { tokens, missing } => (tokens, missing),
            other => panic!("expected the rotated tokens, got {other:?}"),
        }
    }

    #[test]
    fn expires_in_as_a_string_and_expiries_as_strings_are_read() {
        let (tokens, missing) = tokens_of(json!({
            "access_token": "new-access", "refresh_token": "new-refresh",
            "expires_in": "1296000", "refresh_token_expiry": "1720000000000"
        }));
        assert_eq!(missing, None);
        assert_eq!(tokens.refresh_token.expose_secret(), "new-refresh");
        assert_eq!(
            tokens.access_token_expiry,
            Some(EpochMillis(1_000_000 + 1_296_000_000))
        );
        assert_eq!(
            tokens.refresh_token_expiry,
            Some(EpochMillis(1_720_000_000_000))
        );
    }

    #[test]
    fn no_expiry_at_all_keeps_the_tokens_with_an_unknown_expiry() {
        let (tokens, missing) = tokens_of(json!({
            "access_token": "new-access", "refresh_token": "new-refresh",
            "expires_in": null, "access_token_expiry": "soon"
        }));
        assert_eq!(missing, None);
        assert_eq!(tokens.access_token_expiry, None);
        assert_eq!(tokens.refresh_token.expose_secret(), "new-refresh");
    }

    #[test]
    fn a_new_refresh_token_without_an_access_token_is_kept() {
        let (tokens, missing) = tokens_of(json!({ "refresh_token": "new-refresh" }));
        assert_eq!(missing, Some("access_token"));
        assert_eq!(tokens.refresh_token.expose_secret(), "new-refresh");
        assert_eq!(tokens.access_token_expiry, Some(EpochMillis(0)));
    }

    #[test]
    fn an_answer_without_a_refresh_token_is_passing_and_changes_nothing() {
        let outcome = rotated(
            br#"{"access_token": "new-access"}"#,
            &held(),
            EpochMillis(0),
        );
        assert!(matches!(outcome, RefreshOutcome::Unavailable { .. }));
        let outcome = rotated(b"<html>", &held(), EpochMillis(0));
        match outcome {
            RefreshOutcome::Unavailable { reason } => {
                assert_eq!(reason, "the answer is not JSON at line 1 column 1")
            }
            other => panic!("{other:?}"),
        }
    }
}
