//! The `toq-media` command line.

use std::process::ExitCode;

mod audit_commands;

use aggregates::BatchId;
use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use toq_media::auth::{Caller, Role, jwt};
use toq_media::backends::Backends;
use toq_media::config::Config;
use toq_media::engine::Engine;
use toq_media::ops::{history, progress, rebuild, verify, workload};
use toq_media::process::ready_listing;
use toq_media::startup;
use toq_media::store::Store;
use toq_media::worker;

#[derive(Parser)]
#[command(
    name = "toq-media",
    version,
    about = "Event-sourced media batches for TOQ listings"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API, the local object store, the outbox relay, the reconciler and (unless
    /// `TOQ_MEDIA_WORKER=off`) the built-in worker (the default).
    Serve,
    /// Run only the built-in worker against the configured database and object store, until
    /// Ctrl-C (for `serve` with `TOQ_MEDIA_WORKER=off`, or more workers on one queue).
    Worker,
    /// Print a development JWT signed with the configured secret.
    Token {
        #[arg(long)]
        user: u64,
        /// photographer, owner, admin or auditor
        #[arg(long)]
        role: String,
        #[arg(long, default_value_t = 24)]
        hours: i64,
    },
    /// Print a configured secret: `internal` (the platform's registry token) or `callback`
    /// (the pipeline's HMAC key); or a new audit signing key.
    Secret {
        /// `audit-key` prints a new audit signing key (hex seed) for TOQ_MEDIA_AUDIT_KEY.
        #[arg(value_parser = ["internal", "callback", "audit-key"])]
        which: String,
    },
    /// Upload photos, videos and PDFs as one batch of a listing, wait for READY and print the
    /// download URLs (the reference client of the HTTP contract).
    Upload(toq_media::client::upload::UploadArgs),
    /// Create or update the database schema.
    Migrate,
    /// Rebuild, verify or count the read tables.
    #[command(subcommand)]
    Projections(Projections),
    /// A batch's events: time, actor, request id and the state after each.
    History {
        batch_id: String,
        /// Only the events up to this time (RFC 3339).
        #[arg(long)]
        as_of: Option<DateTime<Utc>>,
        #[arg(long)]
        json: bool,
    },
    /// Check the event store's hash chains.
    #[command(subcommand)]
    Audit(audit_commands::Audit),
    /// Render one image file with the worker's pipeline and print the outcome and this process's
    /// peak memory as JSON (diagnostics; the memory bound test uses it).
    #[command(hide = true)]
    Render {
        file: std::path::PathBuf,
        #[arg(long, default_value = "image/jpeg")]
        content_type: String,
    },
    /// Drive a seeded synthetic workload of valid and invalid commands (tests, benchmarks).
    #[command(hide = true)]
    Workload {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 1000)]
        steps: u64,
        #[arg(long, default_value_t = 20)]
        listings: u64,
    },
}

#[derive(Subcommand)]
enum Projections {
    /// Rebuild from the events, safely while the service runs. All tables, or the one named.
    Rebuild { name: Option<String> },
    /// Rebuild in memory and compare with the live tables; non-zero exit on any difference.
    Verify,
    /// Rows per read table and events in the store.
    Status,
}

#[tokio::main]
async fn main() -> ExitCode {
    toq_media::telemetry::init_tracing();
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn open(config: &Config) -> anyhow::Result<Store> {
    config.prepare().context("creating the data directory")?;
    let store = Store::connect(&config.database_url, 8)
        .await
        .with_context(|| format!("connecting to {}", redact(&config.database_url)))?;
    store.migrate().await.context("migrating")?;
    Ok(store)
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_owned(),
    }
}

/// The worker alone: stops taking jobs on Ctrl-C and lets those in flight finish (up to a
/// grace period; any it abandons are delivered again).
async fn run_worker(config: &Config, store: Store) -> anyhow::Result<()> {
    let secrets = config.secrets()?;
    let backends = Backends::new(config, &secrets).await;
    let engine = std::sync::Arc::new(Engine::new(store));
    let settings = worker::Settings::from_config(config);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = worker::Worker::new(
        engine,
        backends.objects.clone(),
        backends.worker_queues(),
        settings,
    );
    let running = tokio::spawn(std::sync::Arc::new(worker).run(stopped));
    eprintln!(
        "toq-media worker: {} at once on {} (Ctrl-C stops)",
        config.worker_concurrency,
        redact(&config.database_url)
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    eprintln!("stopping: finishing the jobs in flight");
    let _ = stop.send(true);
    running.await.context("the worker task")?;
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(Command::Upload(args)) = cli.command {
        return toq_media::client::upload::run(args).await;
    }
    let config = Config::from_env()?;
    toq_media::fault::init()?;
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Token { user, role, hours } = &command {
        let role = Role::parse(role).with_context(|| {
            format!("unknown role {role:?}: photographer, owner, admin or auditor")
        })?;
        anyhow::ensure!(*user > 0, "--user must be a positive user id");
        let max = config.jwt_max_lifetime.num_seconds();
        anyhow::ensure!(
            (1..=max / 3600).contains(hours),
            "--hours must be 1 to {} (TOQ_MEDIA_JWT_MAX_LIFETIME_SECONDS is {max}): the server refuses longer-lived tokens",
            max / 3600
        );
        let exp = Utc::now().timestamp() + hours * 3600;
        println!(
            "{}",
            jwt::sign(
                Caller {
                    user_id: *user,
                    role
                },
                exp,
                &config.secrets()?.jwt
            )
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Secret { which } = &command {
        let secrets = config.secrets()?;
        match which.as_str() {
            "internal" => println!("{}", secrets.internal_token),
            "audit-key" => println!("{}", toq_media::config::new_audit_key()?),
            _ => println!("{}", String::from_utf8_lossy(&secrets.callback)),
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Render { file, content_type } = &command {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let options = toq_imaging::ImageOptions::default();
        let inspection = toq_imaging::inspect(&bytes, content_type, &options);
        let estimated_mib = inspection.as_ref().ok().map(|i| i.estimate().mebibytes());
        let outcome = match inspection.and_then(|i| i.render(&bytes, &options)) {
            Ok(p) => {
                serde_json::json!({"width": p.width, "height": p.height, "renditions": p.renditions.iter().map(|r| serde_json::json!({"name": r.name, "width": r.width, "height": r.height, "bytes": r.bytes.len()})).collect::<Vec<_>>()})
            }
            Err(f) => serde_json::json!({"errorCode": f.code.as_str(), "errorMessage": f.message}),
        };
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let peak_kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
        println!(
            "{}",
            serde_json::json!({"outcome": outcome, "peakRssKb": peak_kb, "estimatedMib": estimated_mib})
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Audit(command) = command {
        return audit_commands::run(&config, command).await;
    }
    let store = open(&config).await?;
    match command {
        Command::Token { .. }
        | Command::Secret { .. }
        | Command::Render { .. }
        | Command::Upload(_)
        | Command::Audit(_) => {
            unreachable!("handled above")
        }
        Command::Serve => {
            let running = startup::start(config.clone(), store).await?;
            let base = format!(
                "http://{}",
                config.bind.replace(":0", &format!(":{}", running.port))
            );
            let database = redact(&config.database_url);
            let (objects, queues) = (config.storage.describe(), config.queue.describe());
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprintln!("toq-media listening on {base} ({database})");
                eprintln!("  objects:    {objects}");
                eprintln!("  queues:     {queues}");
                eprintln!("  API docs:   {base}/docs");
                eprintln!("  a token:    toq-media token --user 7 --role photographer");
                eprintln!("  registry:   toq-media secret internal");
            } else {
                tracing::info!(%base, %database, %objects, %queues, "toq-media listening");
            }
            running.until_stopped().await?;
        }
        Command::Worker => run_worker(&config, store).await?,
        Command::Migrate => println!("migrated ({})", store.dialect().name()),
        Command::Projections(Projections::Rebuild { name }) => {
            let tables: Vec<_> = match name {
                None => projections::TABLES.to_vec(),
                Some(n) => match projections::table::table(&n) {
                    Some(t) => vec![t],
                    None => bail!(
                        "no read table named {n:?}; tables: media_batches, media_assets, media_jobs, listings"
                    ),
                },
            };
            let bar = progress::bar(0, "events");
            let done = rebuild::rebuild(&store, &tables, &bar).await?;
            println!(
                "rebuilt {} rows from {} events in {:.2}s ({:.0} events/s)",
                done.rows,
                done.events,
                done.elapsed.as_secs_f64(),
                done.events_per_second()
            );
        }
        Command::Projections(Projections::Verify) => {
            let report = verify::verify(&store, &progress::bar(0, "events")).await?;
            if !report.differences.is_empty() {
                for line in report.differences.iter().take(50) {
                    println!("{line}");
                }
                println!(
                    "{} difference(s) between the live tables and a rebuild of {} events",
                    report.total_differences, report.events
                );
                return Ok(ExitCode::FAILURE);
            }
            println!(
                "projections verified: {} rows equal a rebuild of {} events",
                report.rows, report.events
            );
        }
        Command::Projections(Projections::Status) => {
            let mut session = store.snapshot().await?;
            println!("events {}", session.count_events().await?);
            for t in projections::TABLES {
                println!("{} {}", t.name, session.count_rows(t).await?);
            }
            session.rollback().await?;
        }
        Command::History {
            batch_id,
            as_of,
            json,
        } => {
            let id = BatchId::parse(&batch_id)
                .map_err(|e| anyhow::anyhow!("batch id {batch_id:?} {e}"))?;
            let Some(h) = history::load(&store, id, as_of).await? else {
                bail!("batch {id} has no events");
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&h)?);
            } else {
                for e in &h.events {
                    println!(
                        "{:>3}  {}  {:<15} v{}  actor={}/{}  request={}  -> {}",
                        e.sequence,
                        e.occurred_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        e.event_type,
                        e.version,
                        e.actor.role.as_deref().unwrap_or("-"),
                        e.actor.user_id.as_deref().unwrap_or("-"),
                        e.request_id.as_deref().unwrap_or("-"),
                        e.status_after
                    );
                }
            }
        }
        Command::Workload {
            seed,
            steps,
            listings,
        } => {
            let engine = Engine::new(store);
            ready_listing::catch_up(&engine).await?;
            let mut w = workload::Workload::resume(&engine, seed, listings).await?;
            let stats = w.run(steps, &progress::bar(steps, "commands")).await?;
            println!(
                "commands {} accepted {} refused {}",
                stats.commands, stats.accepted, stats.refused
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
