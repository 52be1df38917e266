//! Failures the vendor answers with HTTP 200: fetch points says `success: 0`,
//! send and cancel say `error: true` or, per recipient, `success: false`.
//! `into_result()` on each response turns them into a [`VendorError`]
//! carrying the vendor's message, so that `?` does the right thing:
//!
//! ```no_run
//! # async fn f(client: &xoxoday_reward_points::Client,
//! #            vars: xoxoday_reward_points::types::FetchPointsBodyVariables)
//! #            -> Result<(), Box<dyn std::error::Error>> {
//! let balance = client.fetch_points().variables(vars).send().await?.into_inner().into_result()?;
//! # Ok(()) }
//! ```

use crate::types::{
    CancelPointsResponse, FetchPointsResponse, SendPointsResponse, SendPointsResponseData,
};

/// A failure the vendor reported inside an HTTP 200 answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct VendorError {
    /// The document's operationId.
    pub operation: &'static str,
    /// The vendor's message, or what was wrong with the answer.
    pub message: String,
}

fn failure(operation: &'static str, message: Option<String>, otherwise: &str) -> VendorError {
    VendorError {
        operation,
        message: message
            .filter(|message| !message.is_empty())
            .unwrap_or_else(|| otherwise.to_owned()),
    }
}

impl FetchPointsResponse {
    /// `Err` unless the vendor said `success: 1`.
    pub fn into_result(self) -> Result<Self, VendorError> {
        let balance = self
            .data
            .as_ref()
            .and_then(|data| data.user_balance.as_ref());
        match balance {
            Some(balance) if balance.success == Some(1) => Ok(self),
            Some(balance) => Err(failure(
                "fetchPoints",
                balance.message.clone(),
                "the vendor answered success: 0 without a message",
            )),
            None => Err(failure(
                "fetchPoints",
                None,
                "the answer has no user_balance",
            )),
        }
    }

    /// The balance, when the vendor reported one.
    pub fn total(&self) -> Option<f64> {
        self.data
            .as_ref()?
            .user_balance
            .as_ref()?
            .data
            .as_ref()?
            .total
    }
}

impl SendPointsResponse {
    /// `Err` when the vendor said `error: true`.
    pub fn into_result(self) -> Result<Self, VendorError> {
        match &self.data {
            Some(SendPointsResponseData::BalanceResult(result))
                if result.send_balance.error == Some(true) =>
            {
                Err(failure(
                    "sendPoints",
                    result.send_balance.message.clone(),
                    "the vendor answered error: true without a message",
                ))
            }
            Some(_) => Ok(self),
            None => Err(failure("sendPoints", None, "the answer has no data")),
        }
    }
}

impl CancelPointsResponse {
    /// `Err` when the vendor said `error: true`, or `success: false` for any
    /// recipient (the message names each such `unique_id`).
    pub fn into_result(self) -> Result<Self, VendorError> {
        let Some(cancel) = self
            .data
            .as_ref()
            .and_then(|data| data.cancel_balance.as_ref())
        else {
            return Err(failure(
                "cancelPoints",
                None,
                "the answer has no cancelBalance",
            ));
        };
        if cancel.error == Some(true) {
            return Err(failure(
                "cancelPoints",
                cancel.message.clone(),
                "the vendor answered error: true without a message",
            ));
        }
        let refused: Vec<String> = cancel
            .recipients
            .iter()
            .filter(|recipient| recipient.success == Some(false))
            .map(|recipient| {
                let id = recipient
                    .unique_id
                    .map_or_else(|| "?".to_owned(), |id| id.to_string());
                match &recipient.message {
                    Some(message) => format!("unique_id {id}: {message}"),
                    None => format!("unique_id {id}: not cancelled"),
                }
            })
            .collect();
        if refused.is_empty() {
            Ok(self)
        } else {
            Err(failure("cancelPoints", Some(refused.join("; ")), ""))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::types::{CancelPointsResponse, FetchPointsResponse, SendPointsResponse};

    #[test]
    fn fetch_success_zero_carries_the_vendor_message() {
        let failed: FetchPointsResponse = serde_json::from_value(json!({"data": {"user_balance":
            {"success": 0, "message": "missing user's details", "data": null}}}))
        .unwrap();
        assert_eq!(
            failed.into_result().unwrap_err().to_string(),
            "fetchPoints failed: missing user's details"
        );
        let ok: FetchPointsResponse = serde_json::from_value(json!({"data": {"user_balance":
            {"success": 1, "message": null, "data": {"total": 1500}}}}))
        .unwrap();
        assert_eq!(ok.into_result().unwrap().total(), Some(1500.0));
    }

    #[test]
    fn send_error_true_is_an_error_and_both_readings_of_success_pass() {
        let failed: SendPointsResponse = serde_json::from_value(
            json!({"data": {"sendBalance": {"error": true, "message": "insufficient balance"}}}),
        )
        .unwrap();
        assert_eq!(
            failed.into_result().unwrap_err().to_string(),
            "sendPoints failed: insufficient balance"
        );
        for ok in [
            json!({"data": {"sendBalance": {"error": false, "message": "points sent"}}}),
            json!({"data": {"unique_id": 987654321, "email": "john.doe@example.com", "points": 100,
                    "name": "John Doe", "phone_code": "+1", "phone_number": "5550100"}}),
        ] {
            let ok: SendPointsResponse = serde_json::from_value(ok).unwrap();
            assert!(ok.into_result().is_ok());
        }
    }

    #[test]
    fn cancel_names_each_refused_recipient() {
        let partly: CancelPointsResponse =
            serde_json::from_value(json!({"data": {"cancelBalance": {
            "error": false, "message": "processed", "recipients": [
                {"unique_id": 1, "success": true, "message": "Points cancelled successfully"},
                {"unique_id": 2, "success": false, "message": "already cancelled"}
            ]}}}))
            .unwrap();
        assert_eq!(
            partly.into_result().unwrap_err().to_string(),
            "cancelPoints failed: unique_id 2: already cancelled"
        );
        let failed: CancelPointsResponse = serde_json::from_value(
            json!({"data": {"cancelBalance": {"error": true, "message": "unknown transaction"}}}),
        )
        .unwrap();
        assert_eq!(
            failed.into_result().unwrap_err().to_string(),
            "cancelPoints failed: unknown transaction"
        );
    }
}
