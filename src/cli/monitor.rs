//! `firedrill watch` (page on a sandbox's alerts until interrupted) and `firedrill rules
//! list|export` (the alert rules, as a table or as a Prometheus rule file).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::docker::{engine, sandbox};
use crate::error::{Error, Result};
use crate::interrupt::Interrupt;
use crate::monitor::export::prometheus_rule_file;
use crate::monitor::sinks::Sink;
use crate::monitor::watch::Monitor;
use crate::monitor::RuleSet;

/// Where `watch` sends pages besides the terminal.
pub struct WatchOutputs<'a> {
    pub json: bool,
    pub jsonl: Option<&'a Path>,
    pub webhook: Option<&'a str>,
}

pub async fn watch(
    names: &[String],
    outputs: WatchOutputs<'_>,
    interval: Duration,
    limit: Option<Duration>,
) -> Result<ExitCode> {
    // Bad outputs are refused before anything starts.
    let mut sinks = vec![Sink::console(outputs.json)];
    if let Some(path) = outputs.jsonl {
        sinks.push(Sink::jsonl_file(path)?);
    }
    if let Some(url) = outputs.webhook {
        sinks.push(Sink::webhook(url)?);
    }
    let docker = engine::connect().await?;
    let sandboxes = if names.is_empty() {
        let all = sandbox::list(&docker).await?;
        if all.is_empty() {
            return Err(Error::NoSandboxes);
        }
        all
    } else {
        let mut found = Vec::new();
        for name in names {
            found.push(sandbox::find(&docker, name).await?);
        }
        found
    };
    let rules = RuleSet::defaults();
    let interrupt = Interrupt::listen();
    let watched: Vec<&str> = sandboxes.iter().map(|s| s.name.as_str()).collect();
    eprintln!(
        "firedrill: watching {} with {} alert rules every {}; Ctrl-C to stop",
        watched.join(", "),
        rules.rules().len(),
        humantime::format_duration(interval)
    );
    let mut monitor = Monitor::start(&docker, &sandboxes, &rules, sinks, interval).await;
    let summary = monitor.run(&interrupt, limit).await?;
    eprintln!(
        "firedrill: watched for {} rounds: {} alerts fired, {} resolved",
        summary.rounds, summary.fired, summary.resolved
    );
    Ok(ExitCode::SUCCESS)
}

pub fn list(json: bool) -> Result<ExitCode> {
    let rules = RuleSet::defaults();
    if json {
        println!("{}", super::to_json(&rules.rules()));
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<26} {:<8} {:<42} {:>5}  runbook",
        "alert", "severity", "condition", "for"
    );
    for rule in rules.iter() {
        let condition = format!(
            "{} {} {}",
            serde_json::to_value(rule.signal)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            rule.comparison.operator(),
            rule.threshold
        );
        println!(
            "{:<26} {:<8} {:<42} {:>5}  {}",
            rule.alert,
            rule.severity.as_str(),
            condition,
            humantime::format_duration(rule.for_).to_string(),
            rule.runbook
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the rule file to `output` atomically, or prints it.
pub fn export(output: Option<&Path>) -> Result<ExitCode> {
    let text = prometheus_rule_file(&RuleSet::defaults());
    let Some(path) = output else {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    };
    super::write_atomically(path, &text, "writing the rule file")?;
    eprintln!(
        "firedrill: wrote {} rules to {}",
        RuleSet::defaults().rules().len(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
