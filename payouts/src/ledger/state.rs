//! What the ledger records of one attempt: a send of a row (and, later, the
//! cancel of the credit it made). A row's attempts are its history; every
//! decision about the row is taken from it (`crate::steps`).

use serde::{Deserialize, Serialize};

/// Where one attempt stands. Stored as JSON (`{"state":"sent",
/// "transaction":7}`), the form journals of earlier versions wrote, so that
/// they import as they are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AttemptState {
    /// The intent is recorded and the send may have left; found by a later
    /// run, its outcome is unknown (the process stopped, or another worker
    /// is sending it right now).
    Sending,
    /// Credited: the vendor answered with this transaction id (or with its
    /// other answer shape, which carries none).
    Sent {
        /// The credit's transaction id.
        transaction: Option<i64>,
    },
    /// A person checked an attempt in doubt and found it credited.
    ConfirmedSent,
    /// A person checked an attempt in doubt and found it not credited: the
    /// row is sent again, as a new attempt.
    NotCredited,
    /// The request may have reached the vendor, but its answer was lost.
    InDoubt {
        /// How the answer was lost.
        cause: String,
    },
    /// The request did not leave, or the vendor did not process it (429,
    /// no connection, no usable token): the next run sends it again.
    NotSent {
        /// Why.
        reason: String,
    },
    /// The vendor refused the row: sent again only when asked to.
    Refused {
        /// The vendor's message.
        message: String,
    },
    /// Undo: the cancel's intent is recorded.
    Cancelling {
        /// The credit being cancelled.
        transaction: i64,
    },
    /// Undo: the credit was cancelled.
    Cancelled {
        /// The credit.
        transaction: i64,
    },
    /// Undo: the vendor refused to cancel the credit.
    CancelRefused {
        /// The credit.
        transaction: i64,
        /// The vendor's message.
        message: String,
    },
    /// Undo: the cancel may have reached the vendor, but its answer was
    /// lost.
    CancelInDoubt {
        /// The credit.
        transaction: i64,
        /// How the answer was lost.
        cause: String,
    },
}

/// The states whose row's points are (or may be) with the recipient: what
/// no other run may pay again without being told to. As stored in the
/// ledger's `kind` column, for its queries.
pub const MAY_BE_CREDITED: [&str; 7] = [
    "sending",
    "sent",
    "confirmed_sent",
    "in_doubt",
    "cancelling",
    "cancel_refused",
    "cancel_in_doubt",
];

impl AttemptState {
    /// The state's name, as the ledger's `kind` column and the JSON's
    /// `state` hold it.
    pub fn kind(&self) -> &'static str {
        match self {
            AttemptState::Sending => "sending",
            AttemptState::Sent { .. } => "sent",
            AttemptState::ConfirmedSent => "confirmed_sent",
            AttemptState::NotCredited => "not_credited",
            AttemptState::InDoubt { .. } => "in_doubt",
            AttemptState::NotSent { .. } => "not_sent",
            AttemptState::Refused { .. } => "refused",
            AttemptState::Cancelling { .. } => "cancelling",
            AttemptState::Cancelled { .. } => "cancelled",
            AttemptState::CancelRefused { .. } => "cancel_refused",
            AttemptState::CancelInDoubt { .. } => "cancel_in_doubt",
        }
    }

    /// Whether the attempt's points are (or may be) with the recipient.
    pub fn may_be_credited(&self) -> bool {
        MAY_BE_CREDITED.contains(&self.kind())
    }

    /// Whether the attempt is known to have credited the recipient (and
    /// was not cancelled since): a credit, or one whose cancel failed or
    /// is in doubt.
    pub fn credited(&self) -> bool {
        self.may_be_credited() && !self.in_doubt()
    }

    /// Whether nobody knows yet whether the send credited: an intent
    /// without an outcome, or an answer lost.
    pub fn in_doubt(&self) -> bool {
        matches!(self, AttemptState::Sending | AttemptState::InDoubt { .. })
    }

    /// The credit's transaction id, when the attempt made one that is known.
    pub fn transaction(&self) -> Option<i64> {
        match self {
            AttemptState::Sent { transaction } => *transaction,
            AttemptState::Cancelling { transaction }
            | AttemptState::Cancelled { transaction }
            | AttemptState::CancelRefused { transaction, .. }
            | AttemptState::CancelInDoubt { transaction, .. } => Some(*transaction),
            _ => None,
        }
    }

    /// The state stored as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| format!("{{\"state\":\"{}\"}}", self.kind()))
    }

    /// A state read back from the ledger.
    pub fn from_json(json: &str) -> Result<Self, String> {
        serde_json::from_str(json).map_err(|error| format!("not an attempt's state ({error})"))
    }
}

impl std::fmt::Display for AttemptState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttemptState::Sending => f.write_str("sending, no outcome recorded"),
            AttemptState::Sent {
                transaction: Some(transaction),
            } => write!(f, "sent, transaction {transaction}"),
            AttemptState::Sent { transaction: None } => f.write_str("sent"),
            AttemptState::ConfirmedSent => f.write_str("confirmed sent by a person"),
            AttemptState::NotCredited => f.write_str("found not credited by a person"),
            AttemptState::InDoubt { cause } => write!(f, "in doubt: {cause}"),
            AttemptState::NotSent { reason } => write!(f, "not sent: {reason}"),
            AttemptState::Refused { message } => write!(f, "refused: {message}"),
            AttemptState::Cancelling { transaction } => {
                write!(f, "cancelling transaction {transaction}")
            }
            AttemptState::Cancelled { transaction } => {
                write!(f, "transaction {transaction} cancelled")
            }
            AttemptState::CancelRefused {
                transaction,
                message,
            } => write!(f, "cancel of transaction {transaction} refused: {message}"),
            AttemptState::CancelInDoubt { transaction, cause } => {
                write!(f, "cancel of transaction {transaction} in doubt: {cause}")
            }
        }
    }
}

/// What a person said of an attempt in doubt, which the vendor's answer for
/// that attempt, arriving later, contradicted: recorded beside the answer
/// (never instead of it) and reported until a person looks again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judgment {
    /// The person found it credited; the vendor answered it was not.
    Credited,
    /// The person found it not credited (and it was sent again); the vendor
    /// answered it was credited.
    NotCredited,
}

impl Judgment {
    /// As the ledger's `overruled` column holds it.
    pub fn kind(self) -> &'static str {
        match self {
            Judgment::Credited => "confirmed_sent",
            Judgment::NotCredited => "not_credited",
        }
    }

    /// From the ledger's `overruled` column.
    pub fn from_kind(kind: &str) -> Option<Self> {
        match kind {
            "confirmed_sent" => Some(Judgment::Credited),
            "not_credited" => Some(Judgment::NotCredited),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_the_json_tag_and_the_credited_list_is_the_one_the_queries_use() {
        let states = [
            AttemptState::Sending,
            AttemptState::Sent {
                transaction: Some(7),
            },
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
        ];
        let mut credited = Vec::new();
        for state in states {
            let json: serde_json::Value = serde_json::from_str(&state.to_json()).unwrap();
            assert_eq!(json["state"], state.kind());
            assert_eq!(AttemptState::from_json(&state.to_json()).unwrap(), state);
            if state.may_be_credited() {
                credited.push(state.kind());
            }
        }
        assert_eq!(credited, MAY_BE_CREDITED);
    }
}
