//! Where pages go: the terminal (a page line, or one JSON object per line), a JSONL file, and an
//! Alertmanager-compatible webhook (payload version 4), so a team can route drill pages into
//! its real tooling.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::alertmanager::webhook_payloads;
use super::engine::AlertEvent;
use super::render::{jsonl_line, page_line};
use crate::error::{Error, Result};

/// The receiver name webhook payloads carry.
const RECEIVER: &str = "firedrill";
/// How often a webhook delivery is tried, and how long each try may take.
const WEBHOOK_ATTEMPTS: u32 = 3;
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

pub enum Sink {
    /// stdout: page lines prefixed with the sandbox, or JSONL.
    Console {
        json: bool,
    },
    /// JSONL appended to a file, flushed per event so `tail -f` sees each page.
    File {
        path: PathBuf,
        file: std::fs::File,
    },
    Webhook(Webhook),
}

pub struct Webhook {
    url: String,
    client: reqwest::Client,
    /// Deliveries still running: awaited at shutdown so the last pages are not lost.
    deliveries: Vec<JoinHandle<()>>,
}

impl Sink {
    pub fn console(json: bool) -> Sink {
        Sink::Console { json }
    }

    /// Appends to `path`, creating it.
    pub fn jsonl_file(path: &Path) -> Result<Sink> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| Error::Io {
                action: "opening the alert log",
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Sink::File {
            path: path.to_path_buf(),
            file,
        })
    }

    /// POSTs to `url` (http or https) as Alertmanager's webhook receiver would be called.
    pub fn webhook(url: &str) -> Result<Sink> {
        let parsed = reqwest::Url::parse(url).map_err(|error| Error::BadWebhookUrl {
            url: url.to_string(),
            reason: error.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::BadWebhookUrl {
                url: url.to_string(),
                reason: "the scheme must be http or https".to_string(),
            });
        }
        let client = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .build()
            .expect("a plain HTTP client builds");
        Ok(Sink::Webhook(Webhook {
            url: url.to_string(),
            client,
            deliveries: Vec::new(),
        }))
    }

    /// Hands `events` of sandbox `sandbox` to this sink.
    pub fn deliver(&mut self, sandbox: &str, events: &[AlertEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        match self {
            Sink::Console { json } => {
                let mut out = std::io::stdout().lock();
                for event in events {
                    let line = if *json {
                        jsonl_line(event)
                    } else {
                        format!("{sandbox}: {}", page_line(event))
                    };
                    // A closed stdout (`watch | head`) ends nothing but this sink's output.
                    let _ = writeln!(out, "{line}");
                }
                let _ = out.flush();
                Ok(())
            }
            Sink::File { path, file } => {
                let mut text = String::new();
                for event in events {
                    text.push_str(&jsonl_line(event));
                    text.push('\n');
                }
                file.write_all(text.as_bytes())
                    .and_then(|()| file.flush())
                    .map_err(|source| Error::Io {
                        action: "writing the alert log",
                        path: path.clone(),
                        source,
                    })
            }
            Sink::Webhook(webhook) => {
                webhook.send(events);
                Ok(())
            }
        }
    }

    /// Waits (a bounded time) for deliveries still in flight.
    pub async fn finish(&mut self) {
        if let Sink::Webhook(webhook) = self {
            for delivery in webhook.deliveries.drain(..) {
                let _ = tokio::time::timeout(WEBHOOK_TIMEOUT * WEBHOOK_ATTEMPTS, delivery).await;
            }
        }
    }
}

impl Webhook {
    /// One POST per alert group in the background, retried with backoff: a slow or down
    /// receiver must not stall sampling.
    fn send(&mut self, events: &[AlertEvent]) {
        self.deliveries.retain(|delivery| !delivery.is_finished());
        let alerts: Vec<_> = events.iter().map(|event| &event.alert).collect();
        for payload in webhook_payloads(alerts, RECEIVER, &self.url) {
            let client = self.client.clone();
            let url = self.url.clone();
            self.deliveries.push(tokio::spawn(async move {
                for attempt in 1..=WEBHOOK_ATTEMPTS {
                    let outcome = client.post(&url).json(&payload).send().await;
                    match outcome.map(|response| response.error_for_status()) {
                        Ok(Ok(_)) => return,
                        Ok(Err(error)) | Err(error) if attempt == WEBHOOK_ATTEMPTS => {
                            tracing::warn!(%url, %error, "webhook delivery failed; page dropped");
                        }
                        _ => tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await,
                    }
                }
            }));
        }
    }
}
