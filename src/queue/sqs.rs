//! One Amazon SQS queue (or an SQS-compatible endpoint), with the operations the relay, the
//! worker and the results consumer need, in the table queue's terms: a received [`Message`]
//! carries its receipt, receive count and enqueue time.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use chrono::{TimeZone, Utc};
use projections::time::stamp;
use tokio::sync::OnceCell;

use super::Message;
use crate::config::SqsConfig;

/// SQS takes at most ten messages per receive or batch send.
pub const MAX_BATCH: usize = 10;

#[derive(Debug, thiserror::Error)]
#[error("SQS {queue}: {message}")]
pub struct SqsError {
    queue: String,
    message: String,
}

/// A message to send: its body, attributes, and the key that makes it unique (used for
/// deduplication on FIFO queues).
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub key: String,
    pub group: String,
    pub body: String,
    pub attributes: BTreeMap<String, String>,
}

/// A client for one queue URL; cheap to clone.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
    wait_seconds: i32,
    visibility: Duration,
    /// The redrive policy's maxReceiveCount, read once.
    max_receives: std::sync::Arc<OnceCell<Option<i64>>>,
}

/// The SDK client for the configured endpoint.
pub fn client(sdk: &aws_config::SdkConfig, config: &SqsConfig) -> Client {
    let mut builder = aws_sdk_sqs::config::Builder::from(sdk);
    if let Some(endpoint) = &config.endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    Client::from_conf(builder.build())
}

impl SqsQueue {
    /// `wait_seconds`: long-polling wait of a receive; `visibility`: how long a received
    /// message stays hidden.
    pub fn new(client: Client, url: &str, wait_seconds: i32, visibility: Duration) -> Self {
        Self {
            client,
            url: url.to_owned(),
            wait_seconds,
            visibility,
            max_receives: std::sync::Arc::default(),
        }
    }

    /// The same queue with another visibility timeout for what it receives.
    pub fn with_visibility(mut self, visibility: Duration) -> Self {
        self.visibility = visibility;
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn error(&self, e: impl std::error::Error + 'static) -> SqsError {
        let message = match e.source() {
            Some(_) => DisplayErrorContext(&e).to_string(),
            None => e.to_string(),
        };
        SqsError {
            queue: self.url.clone(),
            message,
        }
    }

    /// A FIFO queue orders by group and drops duplicates by key; a standard queue ignores both.
    fn is_fifo(&self) -> bool {
        self.url.ends_with(".fifo")
    }

    /// Sends up to [`MAX_BATCH`] messages in one request; returns the keys SQS accepted.
    pub async fn send_batch(&self, messages: &[Outgoing]) -> Result<Vec<String>, SqsError> {
        let mut entries = Vec::with_capacity(messages.len());
        for (i, m) in messages.iter().enumerate() {
            let attributes = m
                .attributes
                .iter()
                .map(|(name, value)| Ok((name.clone(), attribute(name, value)?)))
                .collect::<Result<HashMap<_, _>, aws_sdk_sqs::error::BuildError>>()
                .map_err(|e| self.error(e))?;
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(&m.body)
                .set_message_attributes(Some(attributes));
            if self.is_fifo() {
                entry = entry
                    .message_group_id(&m.group)
                    .message_deduplication_id(&m.key);
            }
            entries.push(entry.build().map_err(|e| self.error(e))?);
        }
        let sent = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| self.error(e))?;
        for failed in sent.failed() {
            tracing::warn!(
                queue = %self.url, code = failed.code(), error = failed.message(),
                "SQS refused a message; it stays in the outbox"
            );
        }
        Ok(sent
            .successful()
            .iter()
            .filter_map(|ok| ok.id().parse::<usize>().ok())
            .filter_map(|i| messages.get(i).map(|m| m.key.clone()))
            .collect())
    }

    /// Sends one message as it is (moving a message aside, reporting a result).
    pub async fn send(&self, message: &Outgoing) -> Result<(), SqsError> {
        match self.send_batch(std::slice::from_ref(message)).await?.len() {
            1 => Ok(()),
            _ => Err(SqsError {
                queue: self.url.clone(),
                message: "the message was refused (see the log)".into(),
            }),
        }
    }

    /// Up to `max` (capped at ten) messages, waiting up to the long-polling time for the first.
    pub async fn receive(&self, max: usize) -> Result<Vec<Message>, SqsError> {
        let received = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, MAX_BATCH) as i32)
            .wait_time_seconds(self.wait_seconds)
            .visibility_timeout(seconds(self.visibility))
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| self.error(e))?;
        Ok(received.messages().iter().map(message).collect())
    }

    /// Removes the message this receipt delivered.
    pub async fn delete(&self, receipt: &str) -> Result<bool, SqsError> {
        let deleted = self
            .client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            Err(e) if stale_receipt(e.code()) => Ok(false),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Keeps the message hidden for `by` from now; false when the receipt no longer holds it.
    pub async fn extend(&self, receipt: &str, by: Duration) -> Result<bool, SqsError> {
        let extended = self
            .client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds(by))
            .send()
            .await;
        match extended {
            Ok(_) => Ok(true),
            Err(e) if stale_receipt(e.code()) => Ok(false),
            Err(e) => Err(self.error(e)),
        }
    }

    /// The queue answers to our credentials (for `/readyz`).
    pub async fn check(&self) -> Result<(), SqsError> {
        self.client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| SqsError {
                queue: self.url.clone(),
                message: e
                    .code()
                    .map_or_else(|| DisplayErrorContext(&e).to_string(), str::to_owned),
            })
    }

    /// Messages waiting and in flight (approximate, as SQS counts them).
    pub async fn depth(&self) -> Result<(i64, i64), SqsError> {
        let got = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| self.error(e))?;
        let count = |name| {
            got.attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok((
            count(QueueAttributeName::ApproximateNumberOfMessages),
            count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// The redrive policy's `maxReceiveCount` (deliveries before SQS moves a message to the
    /// dead-letter queue), or `None` without a policy. Read once; `None` also when it could
    /// not be read, which only costs a metric.
    pub async fn max_receives(&self) -> Option<i64> {
        *self
            .max_receives
            .get_or_init(|| async {
                let got = self
                    .client
                    .get_queue_attributes()
                    .queue_url(&self.url)
                    .attribute_names(QueueAttributeName::RedrivePolicy)
                    .send()
                    .await
                    .ok()?;
                let policy = got.attributes()?.get(&QueueAttributeName::RedrivePolicy)?;
                let policy: serde_json::Value = serde_json::from_str(policy).ok()?;
                match &policy["maxReceiveCount"] {
                    serde_json::Value::Number(n) => n.as_i64(),
                    serde_json::Value::String(s) => s.parse().ok(),
                    _ => None,
                }
            })
            .await
    }
}

/// A receipt SQS no longer honours: the message was delivered again or deleted.
fn stale_receipt(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("ReceiptHandleIsInvalid" | "InvalidParameterValue" | "MessageNotInflight")
    )
}

fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

/// `RetryCount` is a number to SQS filters; every other attribute a string.
fn attribute(
    name: &str,
    value: &str,
) -> Result<MessageAttributeValue, aws_sdk_sqs::error::BuildError> {
    let data_type = if name == "RetryCount" {
        "Number"
    } else {
        "String"
    };
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
}

fn message(m: &aws_sdk_sqs::types::Message) -> Message {
    let system = |name| m.attributes().and_then(|a| a.get(&name));
    let enqueued_at = system(MessageSystemAttributeName::SentTimestamp)
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .map(stamp)
        .unwrap_or_default();
    Message {
        id: m.message_id().unwrap_or_default().to_owned(),
        receipt: m.receipt_handle().unwrap_or_default().to_owned(),
        payload: m.body().unwrap_or_default().to_owned(),
        attributes: m
            .message_attributes()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.string_value()?.to_owned())))
            .collect(),
        receive_count: system(MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1),
        enqueued_at,
    }
}
