//! The typed request values of the vendor's points operations: a recipient,
//! a payout, a user (by email or by phone), a cancellation. Each is checked
//! by its own rules and by the document's (`request_rules`) when it is
//! built. Compiled for the vendor's document only (see `build.rs`).

use std::fmt;
use std::str::FromStr;

use crate::request_rules::{
    CANCEL_POINTS__VARIABLES__RECIPIENTS_DATA__RECIPIENTS__UNIQUE_ID,
    FETCH_POINTS__VARIABLES__USER_DATA__EMAIL, FETCH_POINTS__VARIABLES__USER_DATA__PHONE,
    SEND_POINTS_RECIPIENTS_DATA__EXPIRY_MONTH__ONE_OF_0,
    SEND_POINTS_RECIPIENTS_DATA__RECIPIENTS__AMOUNT,
    SEND_POINTS_RECIPIENTS_DATA__RECIPIENTS__TO_EMAIL,
    SEND_POINTS_RECIPIENTS_DATA__RECIPIENTS__TO_NAME, SEND_POINTS_RECIPIENTS_DATA__SENDER_EMAIL,
};
use crate::types::{
    CancelPointsBodyVariables, CancelPointsBodyVariablesRecipientsData,
    CancelPointsBodyVariablesRecipientsDataRecipientsItem, FetchPointsBodyVariables,
    FetchPointsBodyVariablesUserData, SendPointsBodyVariables, SendPointsRecipientsData,
    SendPointsRecipientsDataExpiryMonth, SendPointsRecipientsDataRecipientsItem,
};

use super::{InvalidValue, TransactionId, invalid};

/// A positive whole number of points, at most [`Points::MAX`]; sent as the
/// string of digits the vendor expects (`"100"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Points(u64);

impl Points {
    /// The most one credit may carry: a guard against a mistyped amount (the
    /// vendor documents no limit of its own). Larger amounts are refused.
    pub const MAX: u64 = 1_000_000_000;

    /// `points`, when it is between 1 and [`Points::MAX`] and, written in
    /// digits, meets the document's rules for `amount`
    /// ([`request_rules`](crate::request_rules)).
    pub fn new(points: u64) -> Result<Self, InvalidValue> {
        match points {
            0 => Err(invalid("amount", "must be at least 1 point")),
            points if points > Self::MAX => Err(invalid(
                "amount",
                format!(
                    "{points} points is more than the {} one credit may carry",
                    Self::MAX
                ),
            )),
            points => {
                SEND_POINTS_RECIPIENTS_DATA__RECIPIENTS__AMOUNT
                    .check_text("amount", &points.to_string())?;
                Ok(Self(points))
            }
        }
    }

    /// The number of points.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Parses a whole number of points written in digits: `"-50"`, `"1e3"`,
/// `"10.5"` and `""` are refused.
impl FromStr for Points {
    type Err = InvalidValue;

    fn from_str(text: &str) -> Result<Self, InvalidValue> {
        let digits = text.trim();
        if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(invalid(
                "amount",
                format!("`{text}` is not a whole number of points written in digits"),
            ));
        }
        let points = digits.parse::<u64>().map_err(|_| {
            invalid(
                "amount",
                format!(
                    "`{text}` points is more than the {} one credit may carry",
                    Self::MAX
                ),
            )
        })?;
        Self::new(points)
    }
}

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An email address, checked for shape: a local part, `@`, and a domain of
/// dot-separated labels ending in a top-level domain of letters
/// (`john.doe@example.com`; not `john.doe@exmaple`).
///
/// Written by hand: the maintained parsers (RFC 5322) accept addresses
/// without a top-level domain, which a payout to a person never has.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    fn parse(text: &str, field: &'static str) -> Result<Self, InvalidValue> {
        let refuse = |why: &str| invalid(field, format!("`{text}` is not an email address: {why}"));
        let address = text.trim();
        let Some((local, domain)) = address.split_once('@') else {
            return Err(refuse("it has no `@`"));
        };
        if local.is_empty() || domain.contains('@') {
            return Err(refuse("it needs one `@` after a name"));
        }
        if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(refuse("it holds a space"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(refuse(
                "its domain has no top-level domain (such as `.com`)",
            ));
        }
        let label_ok = |label: &str| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if !labels.iter().all(|label| label_ok(label)) {
            return Err(refuse("its domain is not a host name"));
        }
        let top = labels[labels.len() - 1];
        if top.chars().count() < 2 || !top.chars().all(char::is_alphabetic) {
            return Err(refuse(
                "its top-level domain is not letters (such as `.com`)",
            ));
        }
        Ok(Self(address.to_owned()))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EmailAddress {
    type Err = InvalidValue;

    fn from_str(text: &str) -> Result<Self, InvalidValue> {
        Self::parse(text, "email")
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number with its country code, as the vendor writes it:
/// `+91-8999888887` (a `+`, then digits, with `-` or spaces between groups).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl FromStr for PhoneNumber {
    type Err = InvalidValue;

    fn from_str(text: &str) -> Result<Self, InvalidValue> {
        let number = text.trim();
        let digits = number.chars().filter(char::is_ascii_digit).count();
        let shaped = number.starts_with('+')
            && number[1..]
                .chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == ' ');
        if !shaped || !(7..=15).contains(&digits) {
            return Err(invalid(
                "phone",
                format!(
                    "`{text}` is not a phone number with its country code (such as \
                     +91-8999888887)"
                ),
            ));
        }
        Ok(Self(number.to_owned()))
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One person to credit: a name, an email address, an amount of points, and
/// optionally a message shown to them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    name: String,
    email: EmailAddress,
    points: Points,
    citation: Option<String>,
}

impl Recipient {
    /// A recipient; refuses an empty name, an email address of the wrong
    /// shape, an amount that is not 1 to [`Points::MAX`], and values the
    /// document's rules refuse ([`request_rules`](crate::request_rules)).
    pub fn new(name: &str, email: &str, points: u64) -> Result<Self, InvalidValue> {
        let name = name.trim();
        if name.is_empty() {
            return Err(invalid("to_name", "the recipient's name is empty"));
        }
        SEND_POINTS_RECIPIENTS_DATA__RECIPIENTS__TO_NAME.check_text("to_name", name)?;
        let email = EmailAddress::parse(email, "to_email")?;
        SEND_POINTS_RECIPIENTS_DATA__RECIPIENTS__TO_EMAIL.check_text("to_email", email.as_str())?;
        Ok(Self {
            name: name.to_owned(),
            email,
            points: Points::new(points)?,
            citation: None,
        })
    }

    /// The message shown to the recipient.
    pub fn citation(mut self, citation: impl Into<String>) -> Self {
        self.citation = Some(citation.into());
        self
    }

    /// The recipient's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The recipient's email address.
    pub fn email(&self) -> &EmailAddress {
        &self.email
    }

    /// The points to credit.
    pub fn points(&self) -> Points {
        self.points
    }
}

/// A send points request: who sends (the Super Admin's email address), when
/// the points expire, and the recipients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payout {
    sender: EmailAddress,
    expiry_months: Option<u32>,
    recipients: Vec<Recipient>,
}

impl Payout {
    /// A payout from the Super Admin at `sender_email`, with no recipient
    /// yet.
    pub fn new(sender_email: &str) -> Result<Self, InvalidValue> {
        let sender = EmailAddress::parse(sender_email, "sender_email")?;
        SEND_POINTS_RECIPIENTS_DATA__SENDER_EMAIL.check_text("sender_email", sender.as_str())?;
        Ok(Self {
            sender,
            expiry_months: None,
            recipients: Vec::new(),
        })
    }

    /// The points expire after this many months (1 to 120, and within the
    /// document's rules for `expiry_month`).
    pub fn expiry_months(mut self, months: u32) -> Result<Self, InvalidValue> {
        if !(1..=120).contains(&months) {
            return Err(invalid(
                "expiry_month",
                format!("{months} months is not between 1 and 120"),
            ));
        }
        SEND_POINTS_RECIPIENTS_DATA__EXPIRY_MONTH__ONE_OF_0
            .check_number("expiry_month", f64::from(months))?;
        self.expiry_months = Some(months);
        Ok(self)
    }

    /// Adds a recipient.
    pub fn to(mut self, recipient: Recipient) -> Self {
        self.recipients.push(recipient);
        self
    }

    /// The recipients, in order.
    pub fn recipients(&self) -> &[Recipient] {
        &self.recipients
    }

    /// The points of all recipients together.
    pub fn total_points(&self) -> u64 {
        self.recipients
            .iter()
            .map(|recipient| recipient.points.get())
            .sum()
    }
}

/// The documented `recipients_data` shape, the one the document lets
/// callers send; a payout without recipients is refused.
impl TryFrom<Payout> for SendPointsBodyVariables {
    type Error = InvalidValue;

    fn try_from(payout: Payout) -> Result<Self, InvalidValue> {
        if payout.recipients.is_empty() {
            return Err(invalid(
                "recipients",
                "a payout needs at least one recipient (add one with `Payout::to`)",
            ));
        }
        let recipients = payout
            .recipients
            .into_iter()
            .map(|recipient| SendPointsRecipientsDataRecipientsItem {
                to_name: recipient.name,
                to_email: recipient.email.0,
                amount: recipient.points.to_string(),
                citation: recipient.citation,
            })
            .collect();
        Ok(SendPointsBodyVariables {
            recipients_data: SendPointsRecipientsData {
                sender_email: payout.sender.0,
                expiry_month: payout
                    .expiry_months
                    .map(|months| SendPointsRecipientsDataExpiryMonth::Integer(i64::from(months))),
                recipients,
            },
        })
    }
}

/// Whose balance to fetch: by email address or by phone number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum User {
    /// By email address.
    Email(EmailAddress),
    /// By phone number with its country code.
    Phone(PhoneNumber),
}

impl User {
    /// The user with this email address.
    pub fn email(email: &str) -> Result<Self, InvalidValue> {
        let email = EmailAddress::parse(email, "email")?;
        FETCH_POINTS__VARIABLES__USER_DATA__EMAIL.check_text("email", email.as_str())?;
        Ok(User::Email(email))
    }

    /// The user with this phone number (with its country code, such as
    /// `+91-8999888887`).
    pub fn phone(phone: &str) -> Result<Self, InvalidValue> {
        let phone: PhoneNumber = phone.parse()?;
        FETCH_POINTS__VARIABLES__USER_DATA__PHONE.check_text("phone", &phone.0)?;
        Ok(User::Phone(phone))
    }
}

impl From<User> for FetchPointsBodyVariables {
    fn from(user: User) -> Self {
        let (email, phone) = match user {
            User::Email(email) => (Some(email.0), None),
            User::Phone(phone) => (None, Some(phone.0)),
        };
        FetchPointsBodyVariables {
            user_data: FetchPointsBodyVariablesUserData { email, phone },
        }
    }
}

/// The credits to cancel, by the transaction ids send points answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cancellation {
    transactions: Vec<TransactionId>,
}

impl Cancellation {
    /// A cancellation of these credits; refuses none, and ids that are not
    /// positive.
    pub fn of(transactions: impl IntoIterator<Item = TransactionId>) -> Result<Self, InvalidValue> {
        let transactions: Vec<TransactionId> = transactions.into_iter().collect();
        if transactions.is_empty() {
            return Err(invalid("unique_id", "no transaction to cancel"));
        }
        if let Some(bad) = transactions.iter().find(|id| id.0 <= 0) {
            return Err(invalid(
                "unique_id",
                format!("{bad} is not a transaction id (they are positive)"),
            ));
        }
        for id in &transactions {
            // i64 → f64 is exact up to 2^53, beyond any transaction id the
            // vendor hands out; the bounds a document may set are smaller.
            CANCEL_POINTS__VARIABLES__RECIPIENTS_DATA__RECIPIENTS__UNIQUE_ID
                .check_number("unique_id", id.0 as f64)?;
        }
        Ok(Self { transactions })
    }

    /// The transactions, in order.
    pub fn transactions(&self) -> &[TransactionId] {
        &self.transactions
    }
}

impl From<Cancellation> for CancelPointsBodyVariables {
    fn from(cancellation: Cancellation) -> Self {
        CancelPointsBodyVariables {
            recipients_data: CancelPointsBodyVariablesRecipientsData {
                recipients: cancellation
                    .transactions
                    .into_iter()
                    .map(|id| CancelPointsBodyVariablesRecipientsDataRecipientsItem {
                        unique_id: id.0,
                    })
                    .collect(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{EmailAddress, InvalidValue, Points, Recipient, User};

    #[test]
    fn bad_values_are_refused_naming_the_field() {
        let refused = |result: Result<Points, InvalidValue>| result.unwrap_err().to_string();
        assert_eq!(
            refused("-50".parse()),
            "amount: `-50` is not a whole number of points written in digits"
        );
        assert_eq!(
            refused("1e3".parse()),
            "amount: `1e3` is not a whole number of points written in digits"
        );
        assert_eq!(refused("0".parse()), "amount: must be at least 1 point");
        assert_eq!(
            refused("18446744073709551615".parse()),
            "amount: 18446744073709551615 points is more than the 1000000000 one credit may carry"
        );
        assert_eq!(
            Recipient::new(" ", "a@example.com", 1)
                .unwrap_err()
                .to_string(),
            "to_name: the recipient's name is empty"
        );
        assert_eq!(
            User::email("john.doe@exmaple").unwrap_err().to_string(),
            "email: `john.doe@exmaple` is not an email address: its domain has no top-level \
             domain (such as `.com`)"
        );
        assert_eq!(
            User::phone("8999888887").unwrap_err().to_string(),
            "phone: `8999888887` is not a phone number with its country code (such as \
             +91-8999888887)"
        );
        for good in [
            "john.doe@example.com",
            "a+tag@mail.example.co.uk",
            "ünï@exämple.de",
        ] {
            assert!(good.parse::<EmailAddress>().is_ok(), "{good}");
        }
        for bad in [
            "john@",
            "@example.com",
            "a b@example.com",
            "a@example.c0m",
            "a@@x.com",
        ] {
            assert!(bad.parse::<EmailAddress>().is_err(), "{bad}");
        }
    }
}
