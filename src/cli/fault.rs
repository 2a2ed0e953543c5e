//! `firedrill fault list|status|inject|revert`: break a free-play sandbox by hand, and mend it.

use std::fmt::Write as _;
use std::process::ExitCode;

use crate::docker::engine;
use crate::error::{Error, Result};
use crate::faults::{self, FaultKind, FaultStatus, FaultStore, Params};

pub fn list(json: bool) -> Result<ExitCode> {
    let docs: Vec<_> = FaultKind::ALL.iter().map(|k| k.doc()).collect();
    if json {
        println!("{}", super::to_json(&docs));
    } else {
        print!("{}", render_catalogue());
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn inject(kind: &str, sandbox: &str, set: &[String], json: bool) -> Result<ExitCode> {
    let kind = FaultKind::from_name(kind).ok_or_else(|| Error::UnknownFault {
        kind: kind.to_string(),
        known: FaultKind::ALL.map(|k| k.name()).join(", "),
    })?;
    let params = Params::parse(kind, set)?;
    let docker = engine::connect().await?;
    let store = FaultStore::open_default();
    let record = faults::inject(&docker, &store, sandbox, kind, params).await?;
    if json {
        println!("{}", super::to_json(&record));
    } else {
        let params: Vec<String> = record
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!(
            "injected {} into sandbox {} as {} ({})",
            record.kind,
            record.sandbox,
            record.id,
            if params.is_empty() {
                "no parameters".to_string()
            } else {
                params.join(" ")
            }
        );
        println!("revert with: firedrill fault revert {}", record.id);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn revert(id: Option<&str>, all: bool, sandbox: Option<&str>) -> Result<ExitCode> {
    let docker = engine::connect().await?;
    let store = FaultStore::open_default();
    let reverted = match (id, all) {
        (Some(id), false) => vec![faults::revert(&docker, &store, id).await?],
        (None, true) => faults::revert_all(&docker, &store, sandbox).await?,
        _ => unreachable!("clap requires exactly one of ID and --all"),
    };
    if reverted.is_empty() {
        println!("no injected faults to revert");
    }
    for fault in reverted {
        let how = if fault.restored {
            "baseline restored"
        } else {
            "its sandbox is gone; record dropped"
        };
        println!(
            "reverted {} ({} in {}): {how}",
            fault.id, fault.kind, fault.sandbox
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn status(sandbox: Option<&str>, json: bool) -> Result<ExitCode> {
    let docker = engine::connect().await?;
    let store = FaultStore::open_default();
    let statuses = faults::status(&docker, &store, sandbox).await?;
    if json {
        println!("{}", super::to_json(&statuses));
    } else {
        print!("{}", render_status(&statuses));
    }
    Ok(ExitCode::SUCCESS)
}

/// The catalogue as an instructor reads it: each kind, its parameters and how it is fixed.
fn render_catalogue() -> String {
    let mut out = String::new();
    for kind in FaultKind::ALL {
        let doc = kind.doc();
        let _ = writeln!(out, "{}  [{}]", doc.kind, doc.runbook);
        let _ = writeln!(out, "  {}", doc.summary);
        for param in doc.params {
            let _ = writeln!(
                out,
                "  --set {}={}  {}",
                param.name, param.default, param.help
            );
        }
        let _ = writeln!(out, "  symptoms:     {}", squash(doc.symptoms));
        let _ = writeln!(out, "  mitigated by: {}", squash(doc.mitigated_by));
        let _ = writeln!(out, "  resolved by:  {}", squash(doc.resolved_by));
        out.push('\n');
    }
    out
}

fn render_status(statuses: &[FaultStatus]) -> String {
    if statuses.is_empty() {
        return "no injected faults\n".to_string();
    }
    let mut out = String::new();
    for status in statuses {
        let record = &status.record;
        let cause = match &status.root_cause {
            Some(c) if c.present => format!("root cause present: {}", c.detail),
            Some(c) => format!("root cause cleared: {}", c.detail),
            None => "sandbox gone".to_string(),
        };
        let _ = writeln!(
            out,
            "{}  {} in {}  {cause}",
            record.id, record.kind, record.sandbox
        );
    }
    out
}

/// Doc strings are wrapped in the source; on screen each is one line.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_lists_every_kind_with_its_fix() {
        insta::assert_snapshot!(render_catalogue());
    }
}
