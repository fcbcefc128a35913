//! One text form for every time in the read tables, so rows compare byte for byte everywhere.

use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 3339, UTC, milliseconds: sorts as text in the same order as in time.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
