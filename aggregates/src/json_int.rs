//! Integers as JSON Schema means them: `5` and `5.0` are the same integer, so a client (or a
//! generator) that writes `5.0` is not refused as malformed JSON. Fractions, negatives for
//! unsigned fields and other types still are.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Number;

fn integer(n: &Number) -> Option<i128> {
    n.as_u64()
        .map(i128::from)
        .or_else(|| n.as_i64().map(i128::from))
        .or_else(|| {
            // Beyond ±2^64 a float is no longer an exact integer of ours.
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1.8e19)
                .map(|f| f as i128)
        })
}

fn optional<'de, D: Deserializer<'de>, T: TryFrom<i128>>(
    d: D,
    expected: &str,
) -> Result<Option<T>, D::Error> {
    Option::<Number>::deserialize(d)?
        .map(|n| {
            integer(&n)
                .and_then(|i| T::try_from(i).ok())
                .ok_or_else(|| D::Error::custom(format!("invalid value: {n}, expected {expected}")))
        })
        .transpose()
}

/// For `#[serde(default, deserialize_with = "...")]` on an `Option<u64>`.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    optional(d, "u64")
}

/// For `#[serde(default, deserialize_with = "...")]` on an `Option<i64>`.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    optional(d, "i64")
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct N {
        #[serde(default, deserialize_with = "super::opt_u64")]
        n: Option<u64>,
    }

    fn n(json: &str) -> Result<Option<u64>, serde_json::Error> {
        serde_json::from_str::<N>(json).map(|v| v.n)
    }

    #[test]
    fn integral_floats_are_integers_and_nothing_else_is() {
        assert_eq!(n(r#"{"n": 5}"#).unwrap(), Some(5));
        assert_eq!(n(r#"{"n": 5.0}"#).unwrap(), Some(5));
        assert_eq!(n(r#"{"n": null}"#).unwrap(), None);
        assert_eq!(n("{}").unwrap(), None);
        for bad in [
            r#"{"n": 5.5}"#,
            r#"{"n": -1}"#,
            r#"{"n": "5"}"#,
            r#"{"n": 1e30}"#,
        ] {
            assert!(n(bad).is_err(), "{bad}");
        }
    }
}
