//! Where a run's requests go: [`Vendor`], the vendor's API through the
//! client, or (in the simulation, `crate::simulation`) a vendor in memory.
//! What an answer means is decided beside the run and the undo
//! (`run::classify`, `undo::cancel`), whatever answered.

use std::future::Future;
use std::pin::Pin;

use xoxoday_reward_points::types::SendPointsResponse;
use xoxoday_reward_points::{Cancellation, Client, Environment, Error, Operation, TransactionId};

use crate::orchestrator::Item;

/// A request to the vendor in flight.
pub(crate) type VendorFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

/// The vendor, as a run talks to it.
pub(crate) trait Vendor: Send + Sync {
    /// The environment its requests go to.
    fn environment(&self) -> Environment;

    /// Sends one row's payout.
    fn send<'a>(&'a self, item: &'a Item) -> VendorFuture<'a, SendPointsResponse>;

    /// Cancels one credit.
    fn cancel(&self, transaction: i64) -> VendorFuture<'_, ()>;
}

impl Vendor for Client {
    fn environment(&self) -> Environment {
        Client::environment(self)
    }

    fn send<'a>(&'a self, item: &'a Item) -> VendorFuture<'a, SendPointsResponse> {
        Box::pin(async move {
            let Some(payout) = item.payout.clone() else {
                return Err(Error::InvalidInput {
                    operation: Operation::SendPoints,
                    message: "nothing to send".into(),
                });
            };
            self.send_points()
                .payout(payout)
                .send()
                .await
                .map(|answer| answer.into_inner())
        })
    }

    fn cancel(&self, transaction: i64) -> VendorFuture<'_, ()> {
        Box::pin(async move {
            let cancellation =
                Cancellation::of([TransactionId(transaction)]).map_err(|invalid| {
                    Error::InvalidInput {
                        operation: Operation::CancelPoints,
                        message: invalid.to_string(),
                    }
                })?;
            self.cancel_points()
                .transactions(cancellation)
                .send()
                .await
                .map(drop)
        })
    }
}
