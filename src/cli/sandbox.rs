//! `firedrill sandbox up|deploy|rollback|scale|down|status` and `firedrill cleanup`: run the
//! command, render the answer.

use std::fmt::Write as _;
use std::process::ExitCode;

use super::to_json;
use crate::docker::image;
use crate::docker::sandbox::{
    self, Deployed, ReplicaCount, SandboxInfo, SandboxSpec, SandboxStatus, Scaled,
};
use crate::docker::{engine, sweep};
use crate::drill::control;
use crate::error::{Error, Result};
use crate::faults::FaultStore;
use crate::interrupt::Interrupt;
use crate::ui::Progress;

pub async fn up(name: &str, release: &str, env: Vec<String>, json: bool) -> Result<ExitCode> {
    sandbox::validate_name(name)?;
    image::check_release(release)?;
    let docker = engine::connect().await?;
    let progress = Progress::new();
    let interrupt = Interrupt::listen();
    let spec = SandboxSpec {
        name: name.to_string(),
        session: free_play_session(name),
        agent_env: env,
    };
    let image = image::ensure(&docker, release, &spec.session, &progress, &interrupt).await?;
    let info = sandbox::up(&docker, &spec, &image, &progress, &interrupt).await?;
    progress.finish();
    if json {
        println!("{}", to_json(&info));
    } else {
        print!("{}", render_up(&info));
    }
    Ok(ExitCode::SUCCESS)
}

/// Deploys the release the sandbox's agent ran before its last deploy.
pub async fn rollback(name: &str, json: bool) -> Result<ExitCode> {
    sandbox::validate_name(name)?;
    let docker = engine::connect().await?;
    let previous = sandbox::previous_release(&docker, name)
        .await?
        .ok_or_else(|| Error::NothingToRollBack {
            name: name.to_string(),
        })?;
    deploy(name, &previous, json).await
}

pub async fn deploy(name: &str, release: &str, json: bool) -> Result<ExitCode> {
    sandbox::validate_name(name)?;
    image::check_release(release)?;
    let docker = engine::connect().await?;
    let progress = Progress::new();
    let interrupt = Interrupt::listen();
    // An unknown sandbox is refused before any image is built for it.
    let target = sandbox::find(&docker, name).await?;
    let image = image::ensure(&docker, release, &target.session, &progress, &interrupt).await?;
    let deployed = sandbox::deploy(&docker, name, &image, &progress, &interrupt).await?;
    progress.finish();
    if json {
        println!("{}", to_json(&deployed));
    } else {
        print!("{}", render_deployed(&deployed));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn scale(name: &str, replicas: ReplicaCount, json: bool) -> Result<ExitCode> {
    sandbox::validate_name(name)?;
    let docker = engine::connect().await?;
    let progress = Progress::new();
    let interrupt = Interrupt::listen();
    let scaled = sandbox::scale(&docker, name, replicas, &progress, &interrupt).await?;
    progress.finish();
    if json {
        println!("{}", to_json(&scaled));
    } else {
        print!("{}", render_scaled(&scaled));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn down(name: &str) -> Result<ExitCode> {
    sandbox::validate_name(name)?;
    let docker = engine::connect().await?;
    let removed = sandbox::down(&docker, name).await?;
    // Its faults went with it: a new sandbox of the same name starts clean.
    let store = FaultStore::open_default();
    for record in store.all()?.into_iter().filter(|r| r.sandbox == name) {
        store.remove(&record.id)?;
    }
    println!(
        "sandbox {name} removed: {}",
        [
            removed.containers.join(", "),
            removed.networks.join(", "),
            removed.volumes.join(", "),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join("; ")
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn status(json: bool) -> Result<ExitCode> {
    let docker = engine::connect().await?;
    let mut sandboxes = sandbox::status(&docker).await?;
    for status in &mut sandboxes {
        sandbox::probe_health(&mut status.sandbox).await;
    }
    if json {
        println!("{}", to_json(&sandboxes));
    } else {
        print!("{}", render_status(&sandboxes));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn cleanup(images: bool, json: bool) -> Result<ExitCode> {
    let docker = engine::connect().await?;
    let scope = if images {
        sweep::Scope::WithCachedImages
    } else {
        sweep::Scope::KeepCachedImages
    };
    // A drill still running (another terminal's, another engineer's) keeps its sandbox: cleanup
    // is for what killed processes left behind.
    let (running, stale) = control::split_live(control::running(&control::sessions_dir())).await;
    let spare: Vec<String> = running.iter().map(|s| s.session.clone()).collect();
    // A killed drill's session file would leave its verbs asking a socket nobody serves.
    for session in &stale {
        control::withdraw(session);
    }
    let swept = sweep::sweep(&docker, scope, &spare).await?;
    // The swept sandboxes are gone, so are the faults injected into them: forget their records.
    let store = FaultStore::open_default();
    for record in store.all()? {
        if !spare.contains(&record.session) {
            store.remove(&record.id)?;
        }
    }
    store.forget_own_actions(&spare)?;
    if json {
        println!("{}", to_json(&swept));
    } else {
        println!(
            "removed {} containers, {} networks, {} volumes, {} images",
            swept.containers.len(),
            swept.networks.len(),
            swept.volumes.len(),
            swept.images.len()
        );
        for name in swept
            .containers
            .iter()
            .chain(&swept.networks)
            .chain(&swept.volumes)
            .chain(&swept.images)
        {
            println!("  {name}");
        }
        for session in &running {
            println!(
                "spared drill {} (pid {}, sandbox {}): it is running; `firedrill abort --session {}` \
                 ends it",
                session.session, session.pid, session.sandbox, session.session
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A free-play sandbox's session id: its name and a random suffix, so two runs never share one.
fn free_play_session(name: &str) -> String {
    format!("sbx-{name}-{:08x}", rand::random::<u32>())
}

fn or_dash(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("-")
}

/// What `sandbox up` prints on a terminal: where everything is and how to start poking at it.
fn render_up(info: &SandboxInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sandbox {} is up: Docker Optimizer Agent {} ({})",
        info.name,
        info.version,
        or_dash(&info.health)
    );
    let _ = writeln!(out, "  container  {}", info.container);
    let _ = writeln!(out, "  http       {}", or_dash(&info.http));
    let _ = writeln!(out, "  https      {}", or_dash(&info.https));
    let _ = writeln!(
        out,
        "  traffic    {} (client stats {}/stats)",
        or_dash(&info.traffic_container),
        or_dash(&info.traffic_stats)
    );
    let _ = writeln!(out, "  volume     {}", info.volume);
    let _ = writeln!(out, "  session    {}", info.session);
    let _ = writeln!(out, "try:");
    let _ = writeln!(out, "  curl -s {}/health", or_dash(&info.http));
    let _ = writeln!(out, "  docker exec {} agentctl status", info.container);
    let _ = writeln!(out, "  firedrill sandbox down --name {}", info.name);
    out
}

/// What `sandbox deploy` prints: the release change, and that the URLs did not move.
fn render_deployed(deployed: &Deployed) -> String {
    let info = &deployed.sandbox;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sandbox {} deployed: Docker Optimizer Agent {} -> {} ({})",
        info.name,
        deployed.previous_version,
        info.version,
        or_dash(&info.health)
    );
    let _ = writeln!(out, "  container  {} ({})", info.container, info.image);
    let _ = writeln!(out, "  http       {}", or_dash(&info.http));
    let _ = writeln!(out, "  https      {}", or_dash(&info.https));
    let _ = writeln!(out, "  volume     {} (kept)", info.volume);
    let _ = writeln!(out, "  rolled     {}", rolled(deployed.replicas_rolled));
    let _ = writeln!(
        out,
        "roll back with: firedrill sandbox deploy --name {} --version {}",
        info.name, deployed.previous_version
    );
    out
}

fn rolled(replicas: usize) -> String {
    match replicas {
        1 => "1 replica".to_string(),
        n => format!("{n} replicas, one at a time (the replicas, then the primary)"),
    }
}

/// What `sandbox scale` prints: the count, each agent container and where it answers.
fn render_scaled(scaled: &Scaled) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sandbox {} scaled: {} -> {} replicas",
        scaled.name, scaled.previous_replicas, scaled.replicas
    );
    let width = scaled
        .members
        .iter()
        .map(|m| m.container.len())
        .max()
        .unwrap_or(0);
    for member in &scaled.members {
        let role = if member.index == 1 {
            "primary: faults, probes and your URLs target it".to_string()
        } else {
            format!("own volume {}", member.volume)
        };
        let _ = writeln!(
            out,
            "  {}  {:<width$}  {}  {}  {role}",
            member.index,
            member.container,
            member.state,
            or_dash(&member.http)
        );
    }
    for removed in &scaled.removed {
        let _ = writeln!(out, "  removed {removed} (drained) and its data volume");
    }
    let _ = writeln!(
        out,
        "the client traffic spreads over all {} through the network alias",
        scaled.replicas
    );
    out
}

/// What `sandbox status` prints: one aligned row per sandbox.
fn render_status(sandboxes: &[SandboxStatus]) -> String {
    if sandboxes.is_empty() {
        return "no sandboxes; start one with `firedrill sandbox up`\n".to_string();
    }
    let header = [
        "NAME",
        "VERSION",
        "STATE",
        "HEALTH",
        "REPLICAS",
        "CONTAINER",
        "HTTP",
        "HTTPS",
    ];
    let rows: Vec<[String; 8]> = sandboxes
        .iter()
        .map(|status| {
            let s = &status.sandbox;
            [
                s.name.clone(),
                s.version.clone(),
                s.state.clone(),
                or_dash(&s.health).to_string(),
                status.replicas.to_string(),
                s.container.clone(),
                or_dash(&s.http).to_string(),
                or_dash(&s.https).to_string(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::sandbox::ReplicaMember;

    fn example() -> SandboxInfo {
        SandboxInfo {
            name: "blue".into(),
            session: "sbx-blue-0000abcd".into(),
            container: "firedrill-blue-agent".into(),
            container_id: "0123456789ab".into(),
            traffic_container: Some("firedrill-blue-traffic".into()),
            network: "firedrill-blue".into(),
            volume: "firedrill-blue-data".into(),
            version: "1.4.2".into(),
            image: "firedrill/optimizer-agent:1.4.2".into(),
            state: "running".into(),
            http: Some("http://127.0.0.1:49153".into()),
            https: Some("https://127.0.0.1:49154".into()),
            traffic_stats: Some("http://127.0.0.1:49155".into()),
            health: Some("healthy".into()),
        }
    }

    #[test]
    fn up_names_the_container_and_urls() {
        insta::assert_snapshot!(render_up(&example()));
    }

    #[test]
    fn status_is_an_aligned_table() {
        let mut other = example();
        other.name = "team-seven".into();
        other.container = "firedrill-team-seven-agent".into();
        other.health = None;
        other.https = None;
        let status = |sandbox, replicas| SandboxStatus { sandbox, replicas };
        insta::assert_snapshot!(render_status(&[status(example(), 1), status(other, 3)]));
    }

    #[test]
    fn deploy_says_what_changed_and_how_to_roll_back() {
        let deployed = Deployed {
            sandbox: example(),
            previous_version: "1.3.0".into(),
            replicas_rolled: 1,
        };
        insta::assert_snapshot!(render_deployed(&deployed));
        let rolled = Deployed {
            replicas_rolled: 3,
            ..deployed
        };
        assert!(render_deployed(&rolled)
            .contains("rolled     3 replicas, one at a time (the replicas, then the primary)"));
    }

    #[test]
    fn scale_lists_every_agent_container_the_primary_first() {
        let member = |index: u8, container: &str, volume: &str, port: u16| ReplicaMember {
            index,
            container: container.into(),
            id: String::new(),
            volume: volume.into(),
            state: "running".into(),
            http: Some(format!("http://127.0.0.1:{port}")),
        };
        let scaled = Scaled {
            name: "blue".into(),
            replicas: 3,
            previous_replicas: 4,
            members: vec![
                member(1, "firedrill-blue-agent", "firedrill-blue-data", 49153),
                member(2, "firedrill-blue-agent-2", "firedrill-blue-data-2", 49160),
                member(3, "firedrill-blue-agent-3", "firedrill-blue-data-3", 49162),
            ],
            started: Vec::new(),
            removed: vec!["firedrill-blue-agent-4".into()],
        };
        insta::assert_snapshot!(render_scaled(&scaled));
    }

    #[test]
    fn status_without_sandboxes_says_how_to_start_one() {
        assert!(render_status(&[]).contains("firedrill sandbox up"));
    }

    #[test]
    fn sessions_are_unique_per_run() {
        assert_ne!(free_play_session("x"), free_play_session("x"));
        assert!(free_play_session("x").starts_with("sbx-x-"));
    }
}
