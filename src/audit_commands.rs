//! `toq-media audit ...` (a module of the binary, beside `main.rs`): the hash chains, signed
//! checkpoints, exports and their offline check.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use toq_media::backends::Backends;
use toq_media::config::Config;
use toq_media::ops::checkpoint::{self, CheckpointFile};
use toq_media::ops::{audit, progress};

#[derive(Subcommand)]
pub enum Audit {
    /// Recompute every hash chain, and with `--checkpoint` prove each stream's head as of a
    /// signed checkpoint unchanged; non-zero exit naming the first broken event.
    Verify {
        /// A checkpoint file, or `latest` from the object store.
        #[arg(long)]
        checkpoint: Option<String>,
        /// The trusted public key (hex); by default the configured audit key's.
        #[arg(long)]
        key: Option<String>,
    },
    /// Sign a checkpoint now and write it to the object store (and to `--out`).
    Checkpoint {
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// One batch's events with the proof of its head in a checkpoint, for `audit check`.
    Export {
        batch_id: String,
        #[arg(long, default_value = "latest")]
        checkpoint: String,
        /// Where to write it; standard output by default.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Check an export offline against the trusted public key.
    Check {
        file: std::path::PathBuf,
        /// The trusted public key (hex); by default the configured audit key's.
        #[arg(long)]
        key: Option<String>,
    },
    /// Print the public key that checkpoints are signed with (hex).
    Key,
}

/// Runs one; `check` and `key` need no database.
pub async fn run(config: &Config, command: Audit) -> anyhow::Result<ExitCode> {
    let trusted = |key: Option<String>| -> anyhow::Result<toq_evidence::VerifyingKey> {
        Ok(match key {
            Some(hex) => toq_evidence::verifying_key(&hex)?,
            None => config.existing_audit_key()?.verifying_key(),
        })
    };
    let objects = || async {
        Ok::<_, anyhow::Error>(Backends::new(config, &config.secrets()?).await.objects)
    };
    match command {
        Audit::Verify { checkpoint, key } => {
            let store = &crate::open(config).await?;
            let report = audit::verify(store, &progress::bar(0, "events")).await?;
            if let Some(b) = report.broken {
                println!(
                    "hash chain broken at event {} ({} {} sequence {}): {}",
                    b.position, b.aggregate_type, b.aggregate_id, b.sequence, b.reason
                );
                return Ok(ExitCode::FAILURE);
            }
            println!(
                "audit verified: {} events in {} streams",
                report.events, report.streams
            );
            let Some(source) = checkpoint else {
                return Ok(ExitCode::SUCCESS);
            };
            let file = CheckpointFile::open(&source, &*objects().await?, trusted(key)?).await?;
            let verdict = checkpoint::verify(store, &file, &progress::bar(0, "streams")).await?;
            let at = &verdict.checkpoint.created_at;
            if let Some(r) = verdict.first_difference {
                let h = &r.head;
                let found = r
                    .found
                    .map_or_else(|| "no such event".to_owned(), |f| format!("hash {f}"));
                println!(
                    "history rewritten: {} {} event {} was signed at checkpoint {at} with hash {}; the store now has {found}",
                    h.aggregate_type, h.aggregate_id, h.sequence, h.hash
                );
                return Ok(ExitCode::FAILURE);
            }
            println!(
                "checkpoint {at} holds: {} streams as signed, {} events then",
                verdict.checkpoint.streams, verdict.checkpoint.events
            );
        }
        Audit::Checkpoint { out } => {
            let store = &crate::open(config).await?;
            let taken =
                checkpoint::take(store, &config.audit_key()?, &progress::bar(0, "streams")).await?;
            let key = checkpoint::publish(&*objects().await?, &taken).await?;
            if let Some(out) = out {
                std::fs::copy(taken.file.path(), &out)
                    .with_context(|| format!("writing {}", out.display()))?;
            }
            let c = &taken.checkpoint;
            println!(
                "checkpoint {} of {} streams, {} events, root {}: {}",
                c.created_at,
                c.streams,
                c.events,
                c.root,
                key.as_str()
            );
        }
        Audit::Export {
            batch_id,
            checkpoint,
            out,
        } => {
            let batch = aggregates::BatchId::parse(&batch_id)
                .map_err(|e| anyhow::anyhow!("batch id {batch_id:?}: {e}"))?;
            let file =
                CheckpointFile::open(&checkpoint, &*objects().await?, trusted(None)?).await?;
            let store = &crate::open(config).await?;
            let bytes = toq_media::ops::export::export(store, &file, batch)
                .await?
                .to_bytes();
            match out {
                Some(out) => std::fs::write(&out, bytes)
                    .with_context(|| format!("writing {}", out.display()))?,
                None => std::io::Write::write_all(&mut std::io::stdout(), &bytes)?,
            }
        }
        Audit::Check { file, key } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            match toq_evidence::export::check(&bytes, &trusted(key)?) {
                Ok(c) => println!(
                    "export holds: {} {} events 1-{} under the checkpoint of {}, {} in all",
                    c.aggregate_type, c.aggregate_id, c.covered, c.checkpoint_at, c.events
                ),
                Err(e) => {
                    println!("export does not hold: {e}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Audit::Key => println!(
            "{}",
            hex::encode(config.existing_audit_key()?.verifying_key().as_bytes())
        ),
    }
    Ok(ExitCode::SUCCESS)
}
