//! `toq-media upload`: the reference client of the upload contract. It hashes the files,
//! creates the batch (API.md §1), sends each file to its signed URL, a few at a time, streamed
//! from disk with a progress bar (bytes/s, ETA), confirms them (§2), waits for READY (§4) or
//! says which files failed and why, and prints the download URLs (§5).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use super::files::{self, LocalFile};

/// What `toq-media upload` was asked.
#[derive(Debug, clap::Args)]
pub struct UploadArgs {
    /// The service's base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    pub url: String,
    /// A bearer token (`toq-media token --user 7 --role photographer`).
    #[arg(long, env = "TOQ_MEDIA_TOKEN")]
    pub token: String,
    #[arg(long)]
    pub listing: u64,
    /// The batch reference (default: "upload <UTC time>").
    #[arg(long)]
    pub reference: Option<String>,
    /// Files sent at once.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    /// How long to wait for READY, in seconds (0: do not wait).
    #[arg(long, default_value_t = 600)]
    pub wait: u64,
    /// Photos, videos and PDFs, or directories of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// The service at `url`, speaking for the token's holder.
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    /// POSTs `body` to a media route; a refusal becomes an error naming its code and message.
    async fn post(&self, route: &str, body: &Value, expect: u16) -> anyhow::Result<Value> {
        let url = format!("{}/api/v2/listings/media/{route}", self.base);
        let response = self
            .http
            .post(&url)
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .with_context(|| format!("reading the answer to POST {url}"))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status != expect {
            bail!(
                "POST /{route} was refused: {}",
                refusal(status, &body, &text)
            );
        }
        if body.is_null() {
            bail!("POST /{route} answered {status} with no JSON body: {text:?}");
        }
        Ok(body)
    }
}

/// `409 OPEN_BATCH_EXISTS: ... (details)` from an API error body; the raw `text` when it is
/// not one (a proxy's page, a plain 413).
fn refusal(status: u16, body: &Value, text: &str) -> String {
    let Some(code) = body["error"].as_str() else {
        return format!("{status}: {text}");
    };
    let message = body["message"].as_str().unwrap_or("");
    match &body["details"] {
        Value::Null => format!("{status} {code}: {message}"),
        details => format!("{status} {code}: {message} {details}"),
    }
}

fn bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>9} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// Sends one file to its signed URL with the headers the URL was signed for, streamed.
async fn send(
    http: &reqwest::Client,
    file: &LocalFile,
    ticket: &Value,
    sent: &ProgressBar,
) -> anyhow::Result<()> {
    let url = ticket["uploadUrl"]
        .as_str()
        .with_context(|| format!("{}: no upload URL in {ticket}", file.client_id))?;
    let method =
        reqwest::Method::from_bytes(ticket["method"].as_str().unwrap_or("PUT").as_bytes())?;
    let mut request = http.request(method, url);
    if let Some(headers) = ticket["headers"].as_object() {
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str().unwrap_or_default());
        }
    }
    let disk = tokio::fs::File::open(&file.path).await?;
    let bar = sent.clone();
    let chunks = tokio_util::io::ReaderStream::new(disk).inspect_ok(move |chunk| {
        bar.inc(chunk.len() as u64);
    });
    let response = request
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .with_context(|| format!("uploading {}", file.path.display()))?;
    if !response.status().is_success() {
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        bail!(
            "{}: the store refused the upload: {status} {body}",
            file.path.display()
        );
    }
    Ok(())
}

/// Runs the whole upload; the exit code says whether the batch reached READY.
pub async fn run(args: UploadArgs) -> anyhow::Result<std::process::ExitCode> {
    let api = Api {
        http: reqwest::Client::new(),
        base: args.url.trim_end_matches('/').to_owned(),
        token: args.token.clone(),
    };
    let paths = files::expand(&args.paths)?;
    let mut total = 0;
    for path in &paths {
        total += std::fs::metadata(path)?.len();
    }
    let hashing = bar(total, "hashing");
    let local = files::describe(&paths, |n| hashing.inc(n)).await?;
    hashing.finish();

    let reference = args
        .reference
        .unwrap_or_else(|| format!("upload {}", chrono::Utc::now().to_rfc3339()));
    let entries: Vec<Value> = local.iter().map(LocalFile::entry).collect();
    let body =
        json!({"listingIdentityId": args.listing, "batchReference": reference, "files": entries});
    let created = api.post("uploads", &body, 201).await?;
    let batch_id = created["batchId"]
        .as_str()
        .context("no batchId")?
        .to_owned();
    eprintln!("batch {batch_id}: {} files, {total} bytes", local.len());

    let tickets = created["files"].as_array().context("no files")?;
    let sending = bar(total, "uploading");
    futures_util::stream::iter(local.iter().map(|file| {
        let ticket = tickets
            .iter()
            .find(|t| t["clientId"] == file.client_id.as_str());
        let (http, sending) = (&api.http, &sending);
        async move {
            let ticket = ticket.with_context(|| format!("no upload URL for {}", file.client_id))?;
            send(http, file, ticket, sending).await
        }
    }))
    .buffer_unordered(args.parallel.max(1))
    .try_collect::<Vec<()>>()
    .await?;
    sending.finish();

    let confirmations: Vec<Value> = tickets
        .iter()
        .map(|t| json!({"clientId": t["clientId"], "objectKey": t["objectKey"]}))
        .collect();
    let target = json!({"listingIdentityId": args.listing, "batchId": batch_id});
    let mut complete = target.clone();
    complete["files"] = Value::Array(confirmations);
    api.post("uploads/complete", &complete, 202).await?;
    if args.wait == 0 {
        println!("{batch_id} RECEIVED");
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let status = wait(&api, &target, Duration::from_secs(args.wait)).await?;
    match status["status"].as_str() {
        Some("READY") => {
            println!("{batch_id} READY");
            let mut request = target.clone();
            request["resolution"] = json!("large");
            let downloads = api.post("downloads", &request, 200).await?;
            for d in downloads["downloads"].as_array().into_iter().flatten() {
                println!(
                    "{}\t{}",
                    d["clientId"].as_str().unwrap_or("?"),
                    d["url"].as_str().unwrap_or("?")
                );
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        other => {
            println!("{batch_id} {}", other.unwrap_or("UNKNOWN"));
            for asset in status["assets"].as_array().into_iter().flatten() {
                if let Some(code) = asset["errorCode"].as_str() {
                    let message = asset["errorMessage"].as_str().unwrap_or("");
                    eprintln!(
                        "  {}: {code}: {message}",
                        asset["clientId"].as_str().unwrap_or("?")
                    );
                }
            }
            Ok(std::process::ExitCode::FAILURE)
        }
    }
}

/// Polls the batch until it is READY or FAILED, or `patience` is over.
async fn wait(api: &Api, target: &Value, patience: Duration) -> anyhow::Result<Value> {
    let spinner = ProgressBar::new_spinner();
    let started = Instant::now();
    loop {
        let status = api.post("status", target, 200).await?;
        let state = status["status"].as_str().unwrap_or("?");
        let progress = &status["progress"];
        spinner.set_message(format!(
            "{state}: {}/{} processed, {} failed",
            progress["processed"], progress["total"], progress["failed"]
        ));
        spinner.tick();
        if matches!(state, "READY" | "FAILED") {
            spinner.finish_and_clear();
            return Ok(status);
        }
        if started.elapsed() > patience {
            spinner.finish_and_clear();
            bail!("the batch is still {state} after {} s", patience.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_its_code_or_keeps_the_text() {
        let body = json!({"code": 404, "error": "LISTING_NOT_FOUND", "message": "no such listing"});
        assert_eq!(
            refusal(404, &body, ""),
            "404 LISTING_NOT_FOUND: no such listing"
        );
        assert_eq!(
            refusal(413, &Value::Null, "payload too large"),
            "413: payload too large"
        );
    }
}
