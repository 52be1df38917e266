//! A row's recorded history, as the ledger gives it back: its attempts in
//! order, and a fingerprint of what the row held when its run began.

use std::collections::BTreeMap;

use super::state::{AttemptState, Judgment};

/// One attempt of a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first send of the row, then one more per send.
    pub number: u32,
    /// Where it stands.
    pub state: AttemptState,
    /// What a person said of it that the vendor's answer contradicted, if
    /// anything: reported until a person looks again.
    pub overruled: Option<Judgment>,
}

/// A row's attempts, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowHistory {
    /// Oldest first.
    pub attempts: Vec<Attempt>,
}

impl RowHistory {
    /// The newest attempt.
    pub fn latest(&self) -> Option<&Attempt> {
        self.attempts.last()
    }

    /// The number of the newest attempt (0: never sent).
    pub fn latest_number(&self) -> u32 {
        self.latest().map_or(0, |attempt| attempt.number)
    }

    /// The attempt `number`.
    pub fn attempt(&self, number: u32) -> Option<&Attempt> {
        self.attempts
            .iter()
            .find(|attempt| attempt.number == number)
    }

    /// Records `state` for attempt `number` (a new one at the end).
    pub fn set(&mut self, number: u32, state: AttemptState) {
        match self
            .attempts
            .iter_mut()
            .find(|attempt| attempt.number == number)
        {
            Some(attempt) => attempt.state = state,
            None => {
                self.attempts.push(Attempt {
                    number,
                    state,
                    overruled: None,
                });
                self.attempts.sort_by_key(|attempt| attempt.number);
            }
        }
    }

    /// Whether some attempt's points are (or may be) with the recipient.
    pub fn may_be_credited(&self) -> bool {
        self.attempts
            .iter()
            .any(|attempt| attempt.state.may_be_credited())
    }
}

/// Every row's history in a run, by line.
pub type RunHistory = BTreeMap<u64, RowHistory>;

/// What a row holds, as a record and a checked row both tell it: compared
/// through a fingerprint, so that a run's index stays small.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowContent(u64);

impl RowContent {
    /// The content of a row holding `email`, `points` and `name`.
    pub fn of(email: &str, points: u64, name: &str) -> Self {
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&(email, points, name), &mut hasher);
        Self(std::hash::Hasher::finish(&hasher))
    }
}

/// A recipient's address as the ledger compares it: without regard to
/// case, so that `Ann@Example.com` and `ann@example.com` are one recipient.
pub fn recipient_key(email: &str) -> String {
    email.trim().to_lowercase()
}
