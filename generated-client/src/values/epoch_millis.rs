//! `EpochMillis`: the vendor's expiry timestamps, which its pages print as a
//! number (`1718000000000`) in some places and as a string of digits
//! (`"1718000000000"`) in others. The generated types use this type for both
//! readings (the overlay maps the fields to it; regen maps it here).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpochMillis(pub u64);

impl EpochMillis {
    /// Now, by this machine's clock: the one place the crate reads the wall
    /// clock (0 before 1970).
    pub fn now() -> Self {
        Self(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| {
                    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
                }),
        )
    }

    /// `seconds` after `self` (an `expires_in`), saturating: a huge number
    /// of seconds is the end of time, not a panic.
    pub fn plus_seconds(self, seconds: u64) -> Self {
        Self(self.0.saturating_add(seconds.saturating_mul(1000)))
    }

    /// An access token's expiry from an answer that carries one: the
    /// answer's own `access_token_expiry`, else `expires_in` seconds after
    /// `asked_at` (when the request was sent, so that a slow answer errs
    /// early). The one place an `expires_in` becomes an expiry: a negative
    /// or non-finite `expires_in` is none, a huge one the end of time.
    pub fn token_expiry(
        asked_at: EpochMillis,
        access_token_expiry: Option<EpochMillis>,
        expires_in: Option<f64>,
    ) -> Option<EpochMillis> {
        access_token_expiry.or_else(|| {
            // `as` saturates: 1e300 seconds is u64::MAX seconds.
            let seconds = expires_in.filter(|seconds| seconds.is_finite() && *seconds >= 0.0)?;
            Some(asked_at.plus_seconds(seconds as u64))
        })
    }

    /// The timestamp in milliseconds since the Unix epoch.
    pub fn as_millis(self) -> u64 {
        self.0
    }
}

impl From<EpochMillis> for SystemTime {
    /// The moment, for what reads time as `SystemTime` (HTTP dates).
    fn from(moment: EpochMillis) -> Self {
        UNIX_EPOCH
            .checked_add(std::time::Duration::from_millis(moment.0))
            .unwrap_or(UNIX_EPOCH)
    }
}

impl fmt::Display for EpochMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for EpochMillis {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for EpochMillis {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EpochMillisVisitor)
    }
}

struct EpochMillisVisitor;

impl Visitor<'_> for EpochMillisVisitor {
    type Value = EpochMillis;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("epoch milliseconds, as a non-negative number or a string of digits")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<EpochMillis, E> {
        Ok(EpochMillis(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<EpochMillis, E> {
        u64::try_from(value)
            .map(EpochMillis)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(value), &self))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<EpochMillis, E> {
        // `1718000000000.0` is a whole number of milliseconds; `1.5` is not.
        if value.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&value) {
            Ok(EpochMillis(value as u64))
        } else {
            Err(E::invalid_value(de::Unexpected::Float(value), &self))
        }
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<EpochMillis, E> {
        value
            .parse::<u64>()
            .map(EpochMillis)
            .map_err(|_| E::invalid_value(de::Unexpected::Str(value), &self))
    }
}

#[cfg(test)]
mod tests {
    use super::EpochMillis;

    #[test]
    fn accepts_both_readings_of_the_vendor_pages() {
        let number: EpochMillis = serde_json::from_str("1718000000000").unwrap();
        let string: EpochMillis = serde_json::from_str("\"1718000000000\"").unwrap();
        let float: EpochMillis = serde_json::from_str("1718000000000.0").unwrap();
        assert_eq!(number, EpochMillis(1_718_000_000_000));
        assert_eq!(string, number);
        assert_eq!(float, number);
        assert_eq!(serde_json::to_string(&string).unwrap(), "1718000000000");
    }

    #[test]
    fn refuses_what_is_not_a_timestamp() {
        let error = serde_json::from_str::<EpochMillis>("\"soon\"").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid value: string \"soon\", expected epoch milliseconds, as a non-negative \
             number or a string of digits at line 1 column 6"
        );
        assert!(serde_json::from_str::<EpochMillis>("-1").is_err());
        assert!(serde_json::from_str::<EpochMillis>("1.5").is_err());
    }
}
