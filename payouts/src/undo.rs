//! Undo: cancel the credits of a run (all of them, or chosen rows) from the
//! ledger, one cancel per credit, through the same orchestrator as the run
//! (`crate::orchestrator`): the cancel's intent is recorded before it
//! leaves and its outcome after, a lost answer leaves the credit in doubt
//! (`CancelInDoubt`, not cancelled again without a person), a credit
//! already cancelled is skipped, and a row credited more than once has each
//! credit cancelled.

use std::path::Path;
use std::sync::Arc;

use xoxoday_reward_points::{Client, Error};

use crate::ledger::{AttemptState, BeginRequest, Ledger, Purpose, RunKey, begin};
use crate::orchestrator::{Answer, Item, Mode, Shared, orchestrate};
use crate::outcome::{Progress, RowStatus, Stop, Summary};
use crate::payout_file::PayoutFile;
use crate::run::{LedgerContext, RunError, Selection};
use crate::vendor::Vendor;

/// Cancels the credits `selection` names (`Selection::All`: every credit
/// the run holds; `transaction`: only that credit of those rows, a row's
/// extra one) of the run of the file at `path`, at most `concurrency` at a
/// time.
#[allow(clippy::too_many_arguments)]
pub async fn undo_payouts(
    client: &Client,
    ledger: Arc<dyn Ledger>,
    path: &Path,
    context: &LedgerContext,
    selection: &Selection,
    transaction: Option<i64>,
    concurrency: usize,
    progress: Arc<dyn Progress>,
    stop: &Stop,
) -> Result<Summary, RunError> {
    let vendor = Arc::new(client.clone());
    undo_payouts_with(
        vendor,
        ledger,
        path,
        context,
        selection,
        transaction,
        concurrency,
        progress,
        stop,
    )
    .await
}

/// [`undo_payouts`], the cancels going to `vendor`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn undo_payouts_with(
    vendor: Arc<dyn Vendor>,
    ledger: Arc<dyn Ledger>,
    path: &Path,
    context: &LedgerContext,
    selection: &Selection,
    transaction: Option<i64>,
    concurrency: usize,
    progress: Arc<dyn Progress>,
    stop: &Stop,
) -> Result<Summary, RunError> {
    if vendor.environment() != context.scope.environment() {
        return Err(RunError::OtherEnvironment {
            client: vendor.environment().name().into(),
            ledger: context.scope.to_string(),
        });
    }
    let identity = PayoutFile::identify(path)?;
    let key = RunKey::of_identity(path, identity, context.run_name.as_deref())?;
    let mut journals = context.journals_for(path).await?;
    journals.extend(ledger.legacy_journals(&key).await?);
    let request = BeginRequest {
        scope: &context.scope,
        key: &key,
        rows: Arc::from([]),
        purpose: Purpose::Undo,
        to_send: &|_| Vec::new(),
        journals: &journals,
        journals_paid_in: context.journals_paid_in,
        registry: context.registry.as_ref(),
    };
    let begun = begin(ledger.as_ref(), &request).await?;
    let items: Vec<Item> = begun
        .rows
        .into_iter()
        .filter(|row| selection.contains(row.line))
        .map(|row| Item {
            line: row.line,
            email: row.email,
            points: row.points,
            payout: None,
        })
        .collect();
    progress.start(items.len() as u64);
    let shared = Arc::new(Shared::new(
        vendor,
        ledger,
        begun.run.id,
        None,
        progress,
        stop.clone(),
        Mode::Undo {
            only: transaction,
            tries: 5,
        },
        std::time::Duration::from_secs(60),
    ));
    let mut summary = orchestrate(
        shared,
        items.into_iter().map(Ok),
        begun.history,
        concurrency,
    )
    .await;
    summary.undo = true;
    Ok(summary)
}

/// Cancels one credit and says what the answer means.
pub(crate) async fn cancel(vendor: &dyn Vendor, transaction: i64) -> Answer {
    let answer = |state: AttemptState, status, message: Option<String>| Answer {
        state,
        status,
        message,
        retry_after: None,
        halts: false,
    };
    let sent = vendor.cancel(transaction).await;
    match sent {
        Ok(_) => answer(
            AttemptState::Cancelled { transaction },
            RowStatus::Cancelled,
            None,
        ),
        Err(Error::OutcomeUnknown { cause, .. }) => answer(
            AttemptState::CancelInDoubt {
                transaction,
                cause: cause.to_string(),
            },
            RowStatus::CancelInDoubt,
            Some(cause.to_string()),
        ),
        // Not processed: the credit stands, and is cancelled again after
        // the pause.
        Err(error @ (Error::RateLimited { .. } | Error::Network { .. })) => {
            let retry_after = match &error {
                Error::RateLimited { retry_after, .. } => {
                    retry_after.unwrap_or(std::time::Duration::from_secs(1))
                }
                _ => std::time::Duration::from_secs(1),
            };
            let message = error.to_string();
            Answer {
                retry_after: Some(retry_after),
                ..answer(
                    AttemptState::CancelRefused {
                        transaction,
                        message: message.clone(),
                    },
                    RowStatus::CancelRefused,
                    Some(message),
                )
            }
        }
        Err(error) => {
            let message = error.to_string();
            answer(
                AttemptState::CancelRefused {
                    transaction,
                    message: message.clone(),
                },
                RowStatus::CancelRefused,
                Some(message),
            )
        }
    }
}
