//! The counters of DESIGN.md, registered at 0 when the recorder is installed, with their label
//! sets where they are known: dashboards and alerts (`rate(...)`, `absent(...)`) then work from
//! start-up instead of from each counter's first increment.

use aggregates::FailureCode;

/// Why a pipeline result was refused: `media_processing_callback_errors_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultRefusal {
    /// The callback's signature or timestamp did not verify.
    Signature,
    /// Not a result body, or fields the intake refuses.
    Malformed,
    /// Renditions outside the batch's own keys (another listing's, batch's or attempt's).
    ForeignKey,
    /// A results-queue message that can never apply, moved aside.
    Unusable,
}

impl ResultRefusal {
    const ALL: [Self; 4] = [
        Self::Signature,
        Self::Malformed,
        Self::ForeignKey,
        Self::Unusable,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Signature => "signature",
            Self::Malformed => "malformed",
            Self::ForeignKey => "foreign_key",
            Self::Unusable => "unusable",
        }
    }

    pub fn count(self) {
        metrics::counter!("media_processing_callback_errors_total", "reason" => self.as_str())
            .increment(1);
    }
}

/// Registers every counter at 0 (an increment by 0 creates the series without changing it).
pub fn register() {
    for name in [
        "media_batches_created_total",
        "media_reprocess_requests_total",
        "media_processing_dlq_messages_total",
        "media_reconciler_commands_total",
    ] {
        metrics::counter!(name).increment(0);
    }
    for code in FailureCode::BATCH {
        metrics::counter!("media_batches_failed_total", "error_code" => code.as_str()).increment(0);
    }
    for outcome in ["ok", "failed"] {
        metrics::counter!("media_audit_checkpoints_total", "outcome" => outcome).increment(0);
    }
    for reason in ResultRefusal::ALL {
        metrics::counter!("media_processing_callback_errors_total", "reason" => reason.as_str())
            .increment(0);
    }
}
