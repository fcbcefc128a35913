//! Enums with one fixed wire name per variant (statuses, failure codes): the name is written
//! once, next to the variant, and `as_str`, `parse`, `ALL`, `Display` and serde follow from it.

/// Declares a `Copy` enum whose variants each carry their wire name.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)+
                }
            }

            pub fn parse(raw: &str) -> Result<Self, $crate::values::ParseError> {
                Self::ALL.iter().copied().find(|v| v.as_str() == raw).ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    $crate::values::ParseError(format!("must be one of {}", names.join(", ")))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use wire_enum;

#[cfg(test)]
mod tests {
    use crate::{AssetStatus, BatchStatus, FailureCode, JobStatus, ResultStatus, RetryScope};

    /// Every wire name parses back to its variant and serde spells it the same way.
    fn round_trips<T>(all: &[T], name: fn(&T) -> &'static str, parse: fn(&str) -> Option<T>)
    where
        T: serde::Serialize + PartialEq + std::fmt::Debug,
    {
        for v in all {
            assert_eq!(parse(name(v)).as_ref(), Some(v));
            assert_eq!(serde_json::to_value(v).unwrap(), name(v));
        }
    }

    #[test]
    fn names_round_trip() {
        round_trips(
            BatchStatus::ALL,
            |v| v.as_str(),
            |s| BatchStatus::parse(s).ok(),
        );
        round_trips(
            AssetStatus::ALL,
            |v| v.as_str(),
            |s| AssetStatus::parse(s).ok(),
        );
        round_trips(JobStatus::ALL, |v| v.as_str(), |s| JobStatus::parse(s).ok());
        round_trips(
            ResultStatus::ALL,
            |v| v.as_str(),
            |s| ResultStatus::parse(s).ok(),
        );
        round_trips(
            RetryScope::ALL,
            |v| v.as_str(),
            |s| RetryScope::parse(s).ok(),
        );
        round_trips(
            FailureCode::ALL,
            |v| v.as_str(),
            |s| FailureCode::parse(s).ok(),
        );
    }

    #[test]
    fn unknown_names_are_refused_with_the_choices() {
        let e = BatchStatus::parse("DONE").unwrap_err();
        assert!(e.0.contains("PENDING_UPLOAD, RECEIVED"), "{e}");
        assert!(FailureCode::parse("upload_expired").is_err());
    }
}
