//! Undo: cancel the credits of a run (all of them, or chosen rows) from its
//! journal, one cancel per credit, with the same discipline as sending: the
//! intent is recorded before the cancel leaves and the outcome after, a
//! lost answer leaves the row in doubt (`CancelInDoubt`, not cancelled
//! again without a person), and a row already cancelled is skipped.

use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use xoxoday_reward_points::{Cancellation, Client, Error, TransactionId};

use crate::journal::{Journal, JournalError, JournalState, RowRecord};
use crate::outcome::{Progress, RowOutcome, RowStatus, Stop, Summary};
use crate::run::Selection;

/// Cancels the credits `selection` names (`Selection::All`: every credit
/// the journal holds), at most `concurrency` at a time.
pub async fn undo_payouts(
    client: &Client,
    journal: Arc<dyn Journal>,
    selection: &Selection,
    concurrency: usize,
    progress: Arc<dyn Progress>,
    stop: &Stop,
) -> Result<Summary, JournalError> {
    let records = journal.records().await?;
    let chosen: Vec<RowRecord> = records
        .into_values()
        .filter(|record| selection.contains(record.line))
        .collect();
    progress.start(chosen.len() as u64);
    let summary = Arc::new(Mutex::new(Summary::default()));
    let failure: Arc<Mutex<Option<JournalError>>> = Arc::default();
    let done = {
        let summary = summary.clone();
        let progress = progress.clone();
        move |outcome: RowOutcome| {
            progress.row(&outcome);
            summary
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .add(&outcome);
        }
    };
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut cancels = JoinSet::new();
    for record in chosen {
        let outcome = |status, transaction, message: Option<String>| RowOutcome {
            line: record.line,
            email: record.email.clone(),
            points: record.points,
            status,
            transaction,
            message,
        };
        let transaction = match &record.state {
            JournalState::Sent {
                transaction: Some(transaction),
            }
            | JournalState::CancelRefused { transaction, .. }
                if *transaction <= 0 =>
            {
                let message = format!(
                    "the journal's transaction id {transaction} is not one the vendor gives \
                     (they are positive): the journal was edited or damaged; cancel it in the \
                     dashboard"
                );
                done(outcome(RowStatus::NotCancellable, None, Some(message)));
                continue;
            }
            JournalState::Sent {
                transaction: Some(transaction),
            }
            | JournalState::CancelRefused { transaction, .. } => *transaction,
            JournalState::Cancelled { transaction } => {
                done(outcome(RowStatus::Cancelled, Some(*transaction), None));
                continue;
            }
            JournalState::Cancelling { transaction }
            | JournalState::CancelInDoubt { transaction, .. } => {
                let message = "a cancel may have reached the vendor: check its ledger".into();
                done(outcome(
                    RowStatus::CancelInDoubt,
                    Some(*transaction),
                    Some(message),
                ));
                continue;
            }
            JournalState::Sent { transaction: None } => {
                let message = "credited, but the vendor's answer named no transaction id: \
                               cancel it in the dashboard"
                    .into();
                done(outcome(RowStatus::NotCancellable, None, Some(message)));
                continue;
            }
            JournalState::ConfirmedSent => {
                let message = "a person confirmed it credited, without its transaction id: \
                               cancel it in the dashboard"
                    .into();
                done(outcome(RowStatus::NotCancellable, None, Some(message)));
                continue;
            }
            JournalState::Sending | JournalState::InDoubt { .. } => {
                let message = "in doubt: settle it with the payout run first".into();
                done(outcome(RowStatus::NotCancellable, None, Some(message)));
                continue;
            }
            JournalState::NotSent { .. } | JournalState::Refused { .. } => {
                done(outcome(
                    RowStatus::NotCancellable,
                    None,
                    Some("never credited".into()),
                ));
                continue;
            }
        };
        let slot = slots.clone().acquire_owned().await;
        let failed = failure.lock().unwrap_or_else(|e| e.into_inner()).is_some();
        if stop.requested() || failed {
            done(outcome(RowStatus::NotStarted, Some(transaction), None));
            continue;
        }
        let (client, journal, done, failed) = (
            client.clone(),
            journal.clone(),
            done.clone(),
            failure.clone(),
        );
        cancels.spawn(async move {
            let (outcome, error) =
                cancel_one(&client, journal.as_ref(), &record, transaction).await;
            done(outcome);
            if let Some(error) = error {
                failed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(error);
            }
            drop(slot);
        });
        while let Some(joined) = cancels.try_join_next() {
            note_panic(joined, &failure);
        }
    }
    while let Some(joined) = cancels.join_next().await {
        note_panic(joined, &failure);
    }
    let synced = journal.sync().await.err();
    let failure = failure.lock().unwrap_or_else(|e| e.into_inner()).take();
    let mut summary = summary.lock().unwrap_or_else(|e| e.into_inner()).clone();
    // A failure part-way: what was cancelled is reported, nothing new
    // started after it.
    summary.failure = failure.or(synced).map(|error| error.to_string());
    summary.interrupted = stop.requested() && summary.failure.is_none();
    summary.undo = true;
    Ok(summary)
}

/// A cancel task that panicked (a bug) stops the undo as a failure part-way.
fn note_panic(joined: Result<(), tokio::task::JoinError>, failure: &Mutex<Option<JournalError>>) {
    if let Err(error) = joined {
        failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(JournalError {
                location: "undo".into(),
                message: format!(
                    "a cancel failed unexpectedly ({error}): its credit may be cancelled"
                ),
            });
    }
}

/// Cancels one credit: its outcome, and the journal's failure if one came
/// (the outcome then says what the vendor answered, unrecorded).
async fn cancel_one(
    client: &Client,
    journal: &dyn Journal,
    record: &RowRecord,
    transaction: i64,
) -> (RowOutcome, Option<JournalError>) {
    let moved = |state| RowRecord {
        state,
        attempt: record.attempt.saturating_add(1),
        ..record.clone()
    };
    let outcome = |status, message| RowOutcome {
        line: record.line,
        email: record.email.clone(),
        points: record.points,
        status,
        transaction: Some(transaction),
        message,
    };
    let Ok(cancellation) = Cancellation::of([TransactionId(transaction)]) else {
        // Checked by the caller; nothing is recorded for a refused id.
        let message = format!("transaction id {transaction} cannot be cancelled");
        return (outcome(RowStatus::NotCancellable, Some(message)), None);
    };
    match journal
        .transition(
            Some(record.attempt),
            moved(JournalState::Cancelling { transaction }),
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => return (outcome(RowStatus::HandledElsewhere, None), None),
        Err(error) => return (outcome(RowStatus::NotStarted, None), Some(error)),
    }
    let settled = |state| RowRecord {
        state,
        attempt: record.attempt.saturating_add(1),
        ..record.clone()
    };
    let answer = client
        .cancel_points()
        .transactions(cancellation)
        .send()
        .await;
    let (state, status, message) = match answer {
        Ok(_) => (
            JournalState::Cancelled { transaction },
            RowStatus::Cancelled,
            None,
        ),
        Err(Error::OutcomeUnknown { cause, .. }) => (
            JournalState::CancelInDoubt {
                transaction,
                cause: cause.to_string(),
            },
            RowStatus::CancelInDoubt,
            Some(cause.to_string()),
        ),
        Err(error) => {
            let message = error.to_string();
            (
                JournalState::CancelRefused {
                    transaction,
                    message: message.clone(),
                },
                RowStatus::CancelRefused,
                Some(message),
            )
        }
    };
    // Durable by the sync at the end of the undo (lost in a crash, the
    // cancel's intent stays: in doubt, the safe side).
    let recorded = journal
        .transition_soon(Some(record.attempt.saturating_add(1)), settled(state))
        .await;
    (outcome(status, message), recorded.err())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use xoxoday_reward_points::{Environment, Operation};
    use xoxoday_reward_points_mocks::{Faults, StandInServer};

    use super::undo_payouts;
    use crate::FileJournal;
    use crate::journal::{Journal, JournalState, RowRecord};
    use crate::outcome::{RowStatus, Silent, Stop};
    use crate::payout_file::FileIdentity;
    use crate::run::Selection;

    /// A journal edited by hand (or damaged) names transaction ids the
    /// vendor never gives: nothing is sent for them, nothing panics.
    #[tokio::test]
    async fn transaction_ids_at_or_below_zero_are_not_cancellable() {
        let stand_in = StandInServer::start(0, Faults::none()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let journal = Arc::new(FileJournal::open(&dir.path().join("j")).unwrap());
        let identity = FileIdentity {
            name: "march.csv".into(),
            sha256: "a".repeat(64),
            rows: 2,
        };
        journal.bind(&identity).await.unwrap();
        for (line, transaction) in [(2, 0), (3, i64::MIN)] {
            let record = RowRecord {
                line,
                attempt: 1,
                email: "ann@example.com".into(),
                points: 5,
                name: Some("Ann".into()),
                state: JournalState::Sent {
                    transaction: Some(transaction),
                },
            };
            assert!(journal.transition(None, record).await.unwrap());
        }

        let summary = undo_payouts(
            &stand_in.client(Environment::Sandbox),
            journal,
            &Selection::All,
            4,
            Arc::new(Silent),
            &Stop::new(),
        )
        .await
        .unwrap();

        assert_eq!(summary.count(RowStatus::NotCancellable), 2);
        assert_eq!(stand_in.requests_received(Operation::CancelPoints), 0);
    }
}
