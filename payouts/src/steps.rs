//! The one decision every run takes, row by row: what to do next with a row,
//! from what the ledger recorded of it ([`RowHistory`]) and what the run was
//! asked to do ([`Goal`]). Pure: the payout run, the undo, the plan and the
//! dry run all ask it, and the orchestrator (`crate::orchestrator`) does what
//! it says, one step at a time, until it says the row is done.

use crate::ledger::{Attempt, AttemptState, Judgment, RowHistory};
use crate::outcome::RowStatus;

/// What the run was asked to do with a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goal {
    /// Pay it.
    Pay(PayChoices),
    /// Cancel its credits.
    Undo(UndoChoices),
}

/// A payout run's choices for one row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PayChoices {
    /// A person found the row in doubt (or in conflict) not credited: send
    /// it again.
    pub resend: bool,
    /// A person found the row in doubt (or in conflict) credited: record so.
    pub confirm: bool,
    /// Send it again if the vendor refused it.
    pub retry_refused: bool,
    /// The run may still send it (its tries for rows not sent are not used
    /// up).
    pub may_send: bool,
}

/// An undo's choices for one row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UndoChoices {
    /// The newest attempt this undo tried to cancel already (each credit is
    /// cancelled at most once a run).
    pub tried_up_to: u32,
    /// Only this credit (a row credited twice: the extra one).
    pub only: Option<i64>,
}

/// What to do next with a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Claim attempt `after + 1` (only if attempt `after` is still the
    /// newest) and send the row.
    Send {
        /// The newest attempt seen.
        after: u32,
    },
    /// Record a person's word on attempt `attempt` (in doubt, or in
    /// conflict): `credited`, or not (then the row is sent again).
    Judge {
        /// The attempt.
        attempt: u32,
        /// What the person found.
        credited: bool,
    },
    /// Claim the cancel of attempt `attempt`'s credit and send it.
    Cancel {
        /// The attempt whose credit is cancelled.
        attempt: u32,
        /// The credit.
        transaction: i64,
    },
    /// An intent without an outcome: another worker may be sending the row
    /// right now. Looked at again when the run ends.
    Wait,
    /// Nothing (more) to do: the row ends so.
    Done(Ending),
}

/// How a row ends in a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ending {
    /// What the report says.
    pub status: RowStatus,
    /// The credit's transaction id, when known.
    pub transaction: Option<i64>,
    /// Why, for a person.
    pub message: Option<String>,
}

fn done(status: RowStatus, transaction: Option<i64>, message: Option<String>) -> Step {
    Step::Done(Ending {
        status,
        transaction,
        message,
    })
}

/// What to do next with the row whose history is `row`.
pub fn next_step(row: &RowHistory, goal: Goal) -> Step {
    match goal {
        Goal::Pay(choices) => pay_step(row, choices),
        Goal::Undo(choices) => undo_step(row, choices),
    }
}

/// A conflict a person must look at: a person's word the vendor's answer
/// contradicted, or a row credited more than once.
pub fn conflict(row: &RowHistory) -> Option<String> {
    // A credit taken back settles what was said of it.
    let standing = |attempt: &&Attempt| {
        attempt.overruled.is_some() && !matches!(attempt.state, AttemptState::Cancelled { .. })
    };
    if let Some(attempt) = row.attempts.iter().find(standing) {
        let said = match attempt.overruled {
            Some(Judgment::Credited) => "credited",
            _ => "not credited (and it was sent again)",
        };
        return Some(format!(
            "a person found attempt {} {said}, but the vendor's answer to it, which came later, \
             says {}",
            attempt.number, attempt.state
        ));
    }
    let credits: Vec<String> = row
        .attempts
        .iter()
        .filter(|attempt| attempt.state.credited())
        .map(|attempt| match attempt.state.transaction() {
            Some(transaction) => format!("transaction {transaction}"),
            None => format!("attempt {} (no transaction id)", attempt.number),
        })
        .collect();
    if credits.len() > 1 {
        return Some(format!(
            "credited {} times: {}",
            credits.len(),
            credits.join(", ")
        ));
    }
    // Only a damaged ledger has an attempt after one in doubt (a person's
    // word settles an attempt before the next): never read as "not
    // credited".
    let (latest, earlier) = row.attempts.split_last()?;
    earlier
        .iter()
        .find(|attempt| attempt.state.in_doubt())
        .map(|attempt| {
            format!(
                "attempt {} ({}) may have credited it, yet attempt {} followed ({})",
                attempt.number, attempt.state, latest.number, latest.state
            )
        })
}

fn pay_step(row: &RowHistory, choices: PayChoices) -> Step {
    if let Some(why) = conflict(row) {
        return in_conflict(row, choices, why);
    }
    // Credited by an attempt (and not cancelled since): whatever came after
    // (an undo of another credit), it is with the recipient.
    if let Some(credit) = row
        .attempts
        .iter()
        .rev()
        .find(|attempt| attempt.state.credited())
    {
        let by_a_person = (credit.state == AttemptState::ConfirmedSent)
            .then(|| "confirmed by a person".to_owned());
        return done(
            RowStatus::AlreadySent,
            credit.state.transaction(),
            by_a_person,
        );
    }
    let Some(latest) = row.latest() else {
        return send_or_not(0, choices, "never sent".into());
    };
    let after = latest.number;
    match &latest.state {
        AttemptState::Sending | AttemptState::InDoubt { .. } => {
            if choices.resend || choices.confirm {
                Step::Judge {
                    attempt: after,
                    credited: choices.confirm,
                }
            } else if latest.state == AttemptState::Sending {
                Step::Wait
            } else {
                done(
                    RowStatus::InDoubt,
                    None,
                    Some(in_doubt_cause(&latest.state)),
                )
            }
        }
        AttemptState::NotSent { reason } => send_or_not(after, choices, reason.clone()),
        AttemptState::NotCredited => send_or_not(after, choices, "found not credited".into()),
        AttemptState::Refused { .. } if choices.retry_refused && choices.may_send => {
            Step::Send { after }
        }
        AttemptState::Refused { message } => done(RowStatus::Refused, None, Some(message.clone())),
        AttemptState::Cancelled { transaction } => done(
            RowStatus::Cancelled,
            Some(*transaction),
            Some("cancelled by an undo: not sent again".into()),
        ),
        // Credits, found above.
        AttemptState::Sent { .. }
        | AttemptState::ConfirmedSent
        | AttemptState::Cancelling { .. }
        | AttemptState::CancelRefused { .. }
        | AttemptState::CancelInDoubt { .. } => done(RowStatus::AlreadySent, None, None),
    }
}

/// A row in conflict: never sent again on its own; a person's word on the
/// attempt whose answer contradicted an earlier word settles it.
fn in_conflict(row: &RowHistory, choices: PayChoices, why: String) -> Step {
    let overruled = row.attempts.iter().find(|attempt| {
        attempt.overruled.is_some() && !matches!(attempt.state, AttemptState::Cancelled { .. })
    });
    match overruled {
        Some(attempt) if choices.confirm => Step::Judge {
            attempt: attempt.number,
            credited: true,
        },
        Some(attempt) if choices.resend && !attempt.state.may_be_credited() => Step::Judge {
            attempt: attempt.number,
            credited: false,
        },
        _ => {
            let transaction = row
                .attempts
                .iter()
                .find_map(|attempt| attempt.state.transaction());
            done(RowStatus::Conflict, transaction, Some(why))
        }
    }
}

fn send_or_not(after: u32, choices: PayChoices, why: String) -> Step {
    if choices.may_send {
        Step::Send { after }
    } else {
        done(RowStatus::NotSent, None, Some(why))
    }
}

/// Why an attempt is in doubt, for a person.
pub fn in_doubt_cause(state: &AttemptState) -> String {
    match state {
        AttemptState::InDoubt { cause } => cause.clone(),
        _ => "the run stopped after the request left and before its answer was recorded".into(),
    }
}

fn undo_step(row: &RowHistory, choices: UndoChoices) -> Step {
    let not_cancellable =
        |message: &str| done(RowStatus::NotCancellable, None, Some(message.into()));
    let to_cancel = row.attempts.iter().find(|attempt| {
        attempt.number > choices.tried_up_to
            && matches!(
                attempt.state,
                AttemptState::Sent {
                    transaction: Some(_)
                } | AttemptState::CancelRefused { .. }
            )
            && choices
                .only
                .is_none_or(|only| attempt.state.transaction() == Some(only))
    });
    if let Some(attempt) = to_cancel {
        let transaction = attempt.state.transaction().unwrap_or_default();
        if transaction <= 0 {
            return not_cancellable(&format!(
                "the ledger's transaction id {transaction} is not one the vendor gives (they \
                 are positive): the ledger was edited or damaged; cancel it in the dashboard"
            ));
        }
        return Step::Cancel {
            attempt: attempt.number,
            transaction,
        };
    }
    let find = |wanted: fn(&AttemptState) -> bool| {
        row.attempts
            .iter()
            .rev()
            .find(|attempt| wanted(&attempt.state))
    };
    if let Some(attempt) = find(|state| {
        matches!(
            state,
            AttemptState::Cancelling { .. } | AttemptState::CancelInDoubt { .. }
        )
    }) {
        return done(
            RowStatus::CancelInDoubt,
            attempt.state.transaction(),
            Some("a cancel may have reached the vendor: check its ledger".into()),
        );
    }
    if let Some(attempt) = find(|state| matches!(state, AttemptState::CancelRefused { .. })) {
        let message = match &attempt.state {
            AttemptState::CancelRefused { message, .. } => Some(message.clone()),
            _ => None,
        };
        return done(
            RowStatus::CancelRefused,
            attempt.state.transaction(),
            message,
        );
    }
    if let Some(attempt) = find(|state| matches!(state, AttemptState::Cancelled { .. })) {
        return done(RowStatus::Cancelled, attempt.state.transaction(), None);
    }
    if find(|state| matches!(state, AttemptState::Sent { transaction: None })).is_some() {
        return not_cancellable(
            "credited, but the vendor's answer named no transaction id: cancel it in the \
             dashboard",
        );
    }
    if find(|state| matches!(state, AttemptState::ConfirmedSent)).is_some() {
        return not_cancellable(
            "a person confirmed it credited, without its transaction id: cancel it in the \
             dashboard",
        );
    }
    if find(AttemptState::in_doubt).is_some() {
        return not_cancellable("in doubt: settle it with the payout run first");
    }
    not_cancellable("never credited")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(states: &[AttemptState]) -> RowHistory {
        RowHistory {
            attempts: states
                .iter()
                .enumerate()
                .map(|(at, state)| Attempt {
                    number: at as u32 + 1,
                    state: state.clone(),
                    overruled: None,
                })
                .collect(),
        }
    }

    const PAY: PayChoices = PayChoices {
        resend: false,
        confirm: false,
        retry_refused: false,
        may_send: true,
    };

    fn pay(choices: PayChoices) -> Goal {
        Goal::Pay(choices)
    }

    fn sent(transaction: i64) -> AttemptState {
        AttemptState::Sent {
            transaction: Some(transaction),
        }
    }

    const RESEND: PayChoices = PayChoices {
        resend: true,
        ..PAY
    };

    const CONFIRM: PayChoices = PayChoices {
        confirm: true,
        ..PAY
    };

    const RETRY_REFUSED: PayChoices = PayChoices {
        retry_refused: true,
        ..PAY
    };

    #[test]
    fn a_row_is_sent_only_when_it_was_never_credited_unless_a_person_says_so() {
        a_row_not_sent_is_sent_while_the_run_may_send_it();
        a_row_in_doubt_waits_for_a_persons_word();
        a_refused_row_is_sent_again_only_when_asked();
        a_credit_is_never_sent_again();
    }

    /// Never sent, or not sent (429): sent as the next attempt, until the
    /// run's tries are used up.
    fn a_row_not_sent_is_sent_while_the_run_may_send_it() {
        assert_eq!(next_step(&row(&[]), pay(PAY)), Step::Send { after: 0 });
        let not_sent = AttemptState::NotSent {
            reason: "429".into(),
        };
        assert_eq!(
            next_step(&row(&[not_sent.clone(), not_sent.clone()]), pay(PAY)),
            Step::Send { after: 2 }
        );
        let used_up = PayChoices {
            may_send: false,
            ..PAY
        };
        assert_eq!(
            next_step(&row(&[not_sent]), pay(used_up)),
            done(RowStatus::NotSent, None, Some("429".into()))
        );
    }

    /// Being sent, or its answer lost: left alone until a person says
    /// whether it was credited.
    fn a_row_in_doubt_waits_for_a_persons_word() {
        assert_eq!(
            next_step(&row(&[AttemptState::Sending]), pay(PAY)),
            Step::Wait
        );
        let lost = AttemptState::InDoubt {
            cause: "timed out".into(),
        };
        assert_eq!(
            next_step(&row(std::slice::from_ref(&lost)), pay(PAY)),
            done(RowStatus::InDoubt, None, Some("timed out".into()))
        );
        assert_eq!(
            next_step(&row(std::slice::from_ref(&lost)), pay(RESEND)),
            Step::Judge {
                attempt: 1,
                credited: false
            }
        );
        // Once judged, the row is sent as a new attempt.
        assert_eq!(
            next_step(&row(&[AttemptState::NotCredited]), pay(PAY)),
            Step::Send { after: 1 }
        );
        assert_eq!(
            next_step(&row(&[AttemptState::Sending]), pay(CONFIRM)),
            Step::Judge {
                attempt: 1,
                credited: true
            }
        );
    }

    /// Refused: sent again only with `retry_refused`.
    fn a_refused_row_is_sent_again_only_when_asked() {
        let refused = AttemptState::Refused {
            message: "no".into(),
        };
        assert_eq!(
            next_step(&row(std::slice::from_ref(&refused)), pay(PAY)),
            done(RowStatus::Refused, None, Some("no".into()))
        );
        assert_eq!(
            next_step(&row(&[refused]), pay(RETRY_REFUSED)),
            Step::Send { after: 1 }
        );
    }

    /// A credit is never sent again, whatever the options; nor a row an
    /// undo cancelled.
    fn a_credit_is_never_sent_again() {
        for choices in [PAY, RETRY_REFUSED, RESEND, CONFIRM] {
            assert_eq!(
                next_step(&row(&[sent(7)]), pay(choices)),
                done(RowStatus::AlreadySent, Some(7), None)
            );
        }
        assert_eq!(
            next_step(
                &row(&[AttemptState::Cancelled { transaction: 7 }]),
                pay(RETRY_REFUSED)
            ),
            done(
                RowStatus::Cancelled,
                Some(7),
                Some("cancelled by an undo: not sent again".into())
            )
        );
    }

    #[test]
    fn an_answer_that_contradicts_a_person_is_a_conflict_until_a_person_looks_again() {
        // Attempt 1 was judged not credited and sent again; its answer came
        // later: credited. Both credits stand, and the row is a conflict.
        let mut history = row(&[sent(7), sent(8)]);
        history.attempts[0].overruled = Some(Judgment::NotCredited);
        for choices in [
            PAY,
            PayChoices {
                retry_refused: true,
                resend: true,
                ..PAY
            },
        ] {
            let Step::Done(ending) = next_step(&history, pay(choices)) else {
                panic!("a conflict is never sent");
            };
            assert_eq!(ending.status, RowStatus::Conflict);
            assert!(ending.message.unwrap().starts_with(
                "a person found attempt 1 not credited (and it was sent again), but the \
                     vendor's answer to it, which came later, says sent, transaction 7"
            ));
        }
        // Without the overruling, two credits are still a conflict.
        history.attempts[0].overruled = None;
        assert_eq!(
            next_step(&history, pay(PAY)),
            done(
                RowStatus::Conflict,
                Some(7),
                Some("credited 2 times: transaction 7, transaction 8".into())
            )
        );
        // Judged credited, answered refused: a person may say again.
        let mut refused = row(&[AttemptState::Refused {
            message: "no".into(),
        }]);
        refused.attempts[0].overruled = Some(Judgment::Credited);
        let resend = PayChoices {
            resend: true,
            ..PAY
        };
        assert_eq!(
            next_step(&refused, pay(resend)),
            Step::Judge {
                attempt: 1,
                credited: false
            }
        );
    }

    /// Every history of up to three attempts, with every choice: a row is
    /// sent only when no attempt may have credited it, from its newest
    /// attempt; a person's word lands only on an attempt in doubt or in
    /// conflict; a cancel only on a credit with its id.
    #[test]
    fn no_history_and_no_choice_sends_a_row_that_may_be_credited() {
        let histories = every_history_of_up_to_three_attempts();
        let mut checked = 0;
        for history in &histories {
            for bits in 0..16u8 {
                let choices = PayChoices {
                    resend: bits & 1 != 0,
                    confirm: bits & 2 != 0,
                    retry_refused: bits & 4 != 0,
                    may_send: bits & 8 != 0,
                };
                check_payout_step(history, choices);
                checked += 1;
            }
            for tried_up_to in 0..=4 {
                check_undo_step(history, tried_up_to);
            }
        }
        assert_eq!(checked, 47_989 * 16);
    }

    /// Every state an attempt can be in.
    fn every_state() -> [AttemptState; 12] {
        [
            AttemptState::Sending,
            sent(7),
            AttemptState::Sent { transaction: None },
            AttemptState::ConfirmedSent,
            AttemptState::NotCredited,
            AttemptState::InDoubt { cause: "c".into() },
            AttemptState::NotSent { reason: "r".into() },
            AttemptState::Refused {
                message: "m".into(),
            },
            AttemptState::Cancelling { transaction: 7 },
            AttemptState::Cancelled { transaction: 7 },
            AttemptState::CancelRefused {
                transaction: 7,
                message: "m".into(),
            },
            AttemptState::CancelInDoubt {
                transaction: 7,
                cause: "c".into(),
            },
        ]
    }

    /// Every history of no attempt up to three, each attempt in every state,
    /// overruled or not by either word.
    fn every_history_of_up_to_three_attempts() -> Vec<RowHistory> {
        let states = every_state();
        let overrulings = [None, Some(Judgment::Credited), Some(Judgment::NotCredited)];
        let mut histories = vec![RowHistory::default()];
        let mut shorter = histories.clone();
        for _ in 0..3 {
            let mut longer = Vec::new();
            for history in &shorter {
                for state in &states {
                    for overruled in overrulings {
                        let mut next = history.clone();
                        next.attempts.push(Attempt {
                            number: next.latest_number() + 1,
                            state: state.clone(),
                            overruled,
                        });
                        longer.push(next);
                    }
                }
            }
            histories.extend(longer.iter().cloned());
            shorter = longer;
        }
        histories
    }

    /// A payout's step: a send only when nothing may have credited the row,
    /// and the run may send; a person's word only on an attempt in doubt or
    /// in conflict, as chosen; never a cancel.
    fn check_payout_step(history: &RowHistory, choices: PayChoices) {
        match next_step(history, Goal::Pay(choices)) {
            Step::Send { after } => {
                assert!(!history.may_be_credited(), "{history:?} {choices:?}");
                assert_eq!(after, history.latest_number());
                assert!(choices.may_send);
            }
            Step::Judge { attempt, credited } => {
                let judged = history.attempt(attempt).unwrap();
                assert!(judged.state.in_doubt() || judged.overruled.is_some());
                assert!(if credited {
                    choices.confirm
                } else {
                    choices.resend
                });
                if !credited {
                    assert!(!judged.state.may_be_credited() || judged.state.in_doubt());
                }
            }
            Step::Cancel { .. } => panic!("a payout never cancels"),
            Step::Wait | Step::Done(_) => {}
        }
    }

    /// An undo's cancel: only of a credit with its id, after the attempts
    /// tried already.
    fn check_undo_step(history: &RowHistory, tried_up_to: u32) {
        if let Step::Cancel {
            attempt,
            transaction,
        } = next_step(
            history,
            Goal::Undo(UndoChoices {
                tried_up_to,
                only: None,
            }),
        ) {
            let state = &history.attempt(attempt).unwrap().state;
            assert!(attempt > tried_up_to);
            assert!(matches!(
                state,
                AttemptState::Sent { transaction: Some(t) } | AttemptState::CancelRefused { transaction: t, .. }
                    if *t == transaction && transaction > 0
            ));
        }
    }

    #[test]
    fn an_undo_cancels_each_credit_once_and_says_why_it_cannot_the_others() {
        let undo = |tried_up_to| {
            Goal::Undo(UndoChoices {
                tried_up_to,
                only: None,
            })
        };
        let twice = row(&[sent(7), sent(8)]);
        assert_eq!(
            next_step(&twice, undo(0)),
            Step::Cancel {
                attempt: 1,
                transaction: 7
            }
        );
        assert_eq!(
            next_step(&twice, undo(1)),
            Step::Cancel {
                attempt: 2,
                transaction: 8
            }
        );
        let extra_only = Goal::Undo(UndoChoices {
            tried_up_to: 0,
            only: Some(8),
        });
        assert_eq!(
            next_step(&twice, extra_only),
            Step::Cancel {
                attempt: 2,
                transaction: 8
            }
        );
        let refused = row(&[AttemptState::CancelRefused {
            transaction: 7,
            message: "too late".into(),
        }]);
        assert_eq!(
            next_step(&refused, undo(0)),
            Step::Cancel {
                attempt: 1,
                transaction: 7
            }
        );
        assert_eq!(
            next_step(&refused, undo(1)),
            done(RowStatus::CancelRefused, Some(7), Some("too late".into()))
        );
        assert_eq!(
            next_step(&row(&[sent(0)]), undo(0)),
            done(
                RowStatus::NotCancellable,
                None,
                Some(
                    "the ledger's transaction id 0 is not one the vendor gives (they are \
                     positive): the ledger was edited or damaged; cancel it in the dashboard"
                        .into()
                )
            )
        );
        let Step::Done(ending) = next_step(&row(&[AttemptState::Sending]), undo(0)) else {
            panic!()
        };
        assert_eq!(ending.status, RowStatus::NotCancellable);
        assert_eq!(
            next_step(&row(&[AttemptState::Cancelled { transaction: 7 }]), undo(0)),
            done(RowStatus::Cancelled, Some(7), None)
        );
    }
}
