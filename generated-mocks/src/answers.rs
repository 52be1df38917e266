//! The vendor's answers as the generated types, for a mock's `then.ok(…)`:
//! what each points operation answers when it did what was asked, and when
//! it refused (inside HTTP 200, as the vendor does).
//!
//! ```
//! use xoxoday_reward_points::{Environment, Operation, User};
//! use xoxoday_reward_points_mocks::{MockServerExt, MockVendor, answers};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let vendor = MockVendor::start_async().await;
//! let mock = vendor
//!     .server(Environment::Sandbox, Operation::FetchPoints)
//!     .fetch_points(|_, then| {
//!         then.ok(&answers::balance(1500));
//!     });
//! let client = vendor.client(Environment::Sandbox, "test-token");
//! let answer = client.fetch_points().user(User::email("john.doe@example.com")?).send().await?;
//! assert_eq!(answer.total(), Some(1500.0));
//! mock.assert();
//! # Ok(()) }
//! ```

use serde_json::{Value, json};
use xoxoday_reward_points::types::{
    CancelPointsResponse, FetchPointsResponse, SendPointsResponse, TokenResponse,
};
use xoxoday_reward_points::{CancelOutcome, TransactionId};

/// The generated types are non-exhaustive, so they are built from the
/// vendor's JSON; a document whose types no longer read it fails here, in
/// the tests of this crate.
fn typed<T: serde::de::DeserializeOwned>(answer: Value) -> T {
    serde_json::from_value(answer)
        .unwrap_or_else(|error| panic!("the vendor's documented answer no longer decodes: {error}"))
}

/// Fetch points, done: the user's balance.
pub fn balance(total: u64) -> FetchPointsResponse {
    typed(json!({ "data": { "user_balance": {
        "success": 1, "message": null, "data": { "total": total } } } }))
}

/// Fetch points, refused (`success: 0`) with the vendor's message, such as
/// `missing user's details`.
pub fn balance_refused(message: &str) -> FetchPointsResponse {
    typed(json!({ "data": { "user_balance": {
        "success": 0, "message": message, "data": null } } }))
}

/// Send points, done: the credit's transaction id (the playground's reading).
pub fn sent(transaction: TransactionId) -> SendPointsResponse {
    typed(json!({ "data": { "unique_id": transaction.0 } }))
}

/// Send points, refused (`error: true`) with the vendor's message.
pub fn send_refused(message: &str) -> SendPointsResponse {
    typed(json!({ "data": { "sendBalance": { "error": true, "message": message } } }))
}

/// Cancel points: one outcome per transaction (some cancelled and some not
/// is a partial result; none cancelled, a refusal).
pub fn cancelled(outcomes: &[CancelOutcome]) -> CancelPointsResponse {
    let recipients: Vec<Value> = outcomes
        .iter()
        .map(|outcome| {
            json!({ "unique_id": outcome.transaction.0, "success": outcome.cancelled,
                    "message": outcome.message })
        })
        .collect();
    typed(json!({ "data": { "cancelBalance": {
        "error": false, "message": "processed", "recipients": recipients } } }))
}

/// Refresh token or create user token, done: new tokens living the vendor's
/// 15 days.
pub fn tokens(access_token: &str, refresh_token: &str) -> TokenResponse {
    typed(
        json!({ "access_token": access_token, "token_type": "bearer",
        "expires_in": 1_296_000, "refresh_token": refresh_token }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_answer_reads_as_the_client_reads_it() {
        assert_eq!(balance(1500).total(), Some(1500.0));
        assert_eq!(
            sent(TransactionId(7)).transaction_id(),
            Some(TransactionId(7))
        );
        let outcomes = [
            CancelOutcome {
                transaction: TransactionId(7),
                cancelled: true,
                message: Some("ok".into()),
            },
            CancelOutcome {
                transaction: TransactionId(8),
                cancelled: false,
                message: None,
            },
        ];
        let answer = cancelled(&outcomes);
        assert_eq!(answer.outcomes(), outcomes);
        assert!(answer.is_partial());
        let tokens = tokens("a", "r");
        assert_eq!(tokens.refresh_token.unwrap().expose_secret(), "r");
        assert_eq!(tokens.expires_in, Some(1_296_000));
    }
}
