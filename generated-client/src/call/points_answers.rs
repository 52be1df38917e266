//! What the points operations' answers say beyond their HTTP status: the
//! vendor answers HTTP 200 when it refuses (`success: 0`, `error: true`, a
//! recipient's `success: false`). Each of these answers is an
//! [`Answer`] with its own verdict, and helpers to read what it holds.
//! Compiled for the vendor's document only (see `build.rs`).

use crate::call::answers::{Answer, Verdict, refused};
use crate::call::error::{CancelOutcome, Refusal};
use crate::types::{
    CancelPointsResponse, FetchPointsResponse, SendPointsResponse, SendPointsResponseData,
};
use crate::values::TransactionId;

impl Answer for FetchPointsResponse {
    fn verdict(&self) -> Verdict {
        let Some(balance) = self
            .data
            .as_ref()
            .and_then(|data| data.user_balance.as_ref())
        else {
            return Verdict::Incomplete("data.user_balance");
        };
        // A number however the document writes it: an integer enum stays an
        // `i64` too (regen's `plain_strings.rs`).
        match balance.success {
            Some(1) if self.total().is_some() => Verdict::Done,
            Some(1) => Verdict::Incomplete("data.user_balance.data.total"),
            Some(_) => refused(balance.message.clone(), "success: 0 without a message"),
            None => Verdict::Incomplete("data.user_balance.success"),
        }
    }
}

impl Answer for SendPointsResponse {
    fn verdict(&self) -> Verdict {
        match &self.data {
            None => Verdict::Incomplete("data"),
            Some(SendPointsResponseData::BalanceResult(result))
                if result.send_balance.error == Some(true) =>
            {
                refused(
                    result.send_balance.message.clone(),
                    "error: true without a message",
                )
            }
            Some(_) => Verdict::Done,
        }
    }
}

impl Answer for CancelPointsResponse {
    fn verdict(&self) -> Verdict {
        let Some(result) = self
            .data
            .as_ref()
            .and_then(|data| data.cancel_balance.as_ref())
        else {
            return Verdict::Incomplete("data.cancelBalance");
        };
        let outcomes = self.outcomes();
        if outcomes.iter().any(|outcome| outcome.cancelled) {
            return Verdict::Done;
        }
        if result.error == Some(true) || !outcomes.is_empty() {
            return Verdict::Refused(Refusal {
                message: result
                    .message
                    .clone()
                    .filter(|message| !message.is_empty())
                    .unwrap_or_else(|| "nothing was cancelled".into()),
                recipients: outcomes,
            });
        }
        Verdict::Incomplete("data.cancelBalance.recipients")
    }
}

impl FetchPointsResponse {
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
    /// The credit's id, when the vendor answered with the transaction (one
    /// reading of its pages; the other answers `sendBalance` without one).
    pub fn transaction_id(&self) -> Option<TransactionId> {
        match &self.data {
            Some(SendPointsResponseData::PointsTransaction(transaction)) => {
                Some(TransactionId(transaction.unique_id))
            }
            _ => None,
        }
    }
}

impl CancelPointsResponse {
    /// What became of each credit the cancel named, as the vendor reported
    /// it. `send()` returns the answer when at least one was cancelled: look
    /// here for those that were not.
    pub fn outcomes(&self) -> Vec<CancelOutcome> {
        let recipients = self
            .data
            .as_ref()
            .and_then(|data| data.cancel_balance.as_ref())
            .map(|result| result.recipients.as_slice())
            .unwrap_or_default();
        recipients
            .iter()
            .filter_map(|recipient| {
                Some(CancelOutcome {
                    transaction: TransactionId(recipient.unique_id?),
                    cancelled: recipient.success == Some(true),
                    message: recipient.message.clone(),
                })
            })
            .collect()
    }

    /// Whether some credits were cancelled and others were not.
    pub fn is_partial(&self) -> bool {
        let outcomes = self.outcomes();
        outcomes.iter().any(|outcome| outcome.cancelled)
            && outcomes.iter().any(|outcome| !outcome.cancelled)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::call::answers::{Answer, Verdict};
    use crate::types::{CancelPointsResponse, FetchPointsResponse, SendPointsResponse};

    fn message_of(verdict: Verdict) -> String {
        match verdict {
            Verdict::Refused(refusal) => refusal.to_string(),
            Verdict::Done => "done".into(),
            Verdict::Incomplete(missing) => format!("incomplete: {missing}"),
        }
    }

    #[test]
    fn fetch_success_zero_is_a_refusal_and_a_changed_shape_is_not() {
        let failed: FetchPointsResponse = serde_json::from_value(json!({"data": {"user_balance":
            {"success": 0, "message": "missing user's details", "data": null}}}))
        .unwrap();
        assert_eq!(message_of(failed.verdict()), "missing user's details");
        let reshaped: FetchPointsResponse =
            serde_json::from_value(json!({"data": {"balance": {"total": 1}}})).unwrap();
        assert_eq!(
            message_of(reshaped.verdict()),
            "incomplete: data.user_balance"
        );
        let ok: FetchPointsResponse = serde_json::from_value(json!({"data": {"user_balance":
            {"success": 1, "message": null, "data": {"total": 1500}}}}))
        .unwrap();
        assert_eq!(message_of(ok.verdict()), "done");
        assert_eq!(ok.total(), Some(1500.0));
    }

    #[test]
    fn send_error_true_is_a_refusal_and_both_readings_of_success_pass() {
        let failed: SendPointsResponse = serde_json::from_value(
            json!({"data": {"sendBalance": {"error": true, "message": "insufficient balance"}}}),
        )
        .unwrap();
        assert_eq!(message_of(failed.verdict()), "insufficient balance");
        for ok in [
            json!({"data": {"sendBalance": {"error": false, "message": "points sent"}}}),
            json!({"data": {"unique_id": 987654321, "email": "john.doe@example.com", "points": 100,
                    "name": "John Doe", "phone_code": "+1", "phone_number": "5550100"}}),
        ] {
            let ok: SendPointsResponse = serde_json::from_value(ok).unwrap();
            assert_eq!(message_of(ok.verdict()), "done");
        }
    }

    #[test]
    fn a_partial_cancel_is_done_with_outcomes_and_a_total_failure_is_refused() {
        let partly: CancelPointsResponse =
            serde_json::from_value(json!({"data": {"cancelBalance": {
            "error": false, "message": "processed", "recipients": [
                {"unique_id": 1, "success": true, "message": "Points cancelled successfully"},
                {"unique_id": 2, "success": false, "message": "already cancelled"}
            ]}}}))
            .unwrap();
        assert_eq!(message_of(partly.verdict()), "done");
        assert!(partly.is_partial());
        let none: CancelPointsResponse = serde_json::from_value(json!({"data": {"cancelBalance": {
        "error": false, "message": "processed", "recipients": [
            {"unique_id": 2, "success": false, "message": "already cancelled"}
        ]}}}))
        .unwrap();
        assert_eq!(
            message_of(none.verdict()),
            "processed; transaction 2: not cancelled (already cancelled)"
        );
    }
}
