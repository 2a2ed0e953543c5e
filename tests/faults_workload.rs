//! Faults that live in the agent's workload: a runaway job, a leaking cache, a traffic surge and a
//! crash loop on a corrupt cache index. For each: the symptom shows, the probe holds (also across
//! a restart where a restart only mitigates), the documented fix clears it, revert restores.
//! Speeds are printed, not asserted: several sandboxes share this machine's cores.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The fault's record as `fault status` shows it (with its baseline).
fn fault_record(sandbox: &TestSandbox, id: &str) -> Value {
    sandbox.fault_status(id).expect("the fault is recorded")
}

/// Ids of the agent's jobs in flight on `input_sha256`.
fn jobs_on(sandbox: &TestSandbox, input_sha256: &str) -> Vec<u64> {
    sandbox
        .agentctl_json(&["jobs", "list"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|job| job["input_sha256"] == input_sha256)
        .map(|job| job["id"].as_u64().unwrap())
        .collect()
}

fn denylist(sandbox: &TestSandbox) -> Vec<String> {
    let output = sandbox.exec(&["cat", "/var/lib/docker-optimizer/denylist.json"]);
    serde_json::from_slice(&output.stdout).unwrap_or_default()
}

#[test]
fn cpu_runaway_comes_back_after_a_restart_until_its_input_is_deny_listed() {
    require_docker!();
    let sandbox = TestSandbox::up("cpu-runaway");
    let injected = Instant::now();
    let id = sandbox.inject("cpu-runaway", &[]);
    eventually(
        Duration::from_secs(30),
        "the agent at its CPU limit",
        || (sandbox.cpu_percent() >= 90.0).then_some(()),
    );
    eprintln!(
        "cpu-runaway: >= 90 % CPU {:.1} s after inject",
        injected.elapsed().as_secs_f64()
    );
    let top = stdout(&docker(&["top", &sandbox.container()]));
    assert!(
        !top.contains("yes"),
        "the agent itself burns the CPU:\n{top}"
    );
    let input = fault_record(&sandbox, &id)["baseline"]["input_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !jobs_on(&sandbox, &input).is_empty(),
        "a runaway job is listed"
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // A restart kills the job, but the client re-submits its input and the runaway is back.
    sandbox.restart_agent();
    eventually(Duration::from_secs(30), "the runaway job back", || {
        (!jobs_on(&sandbox, &input).is_empty()).then_some(())
    });
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // The documented fix: one command cancels every job on the input and deny-lists it.
    let job = jobs_on(&sandbox, &input)[0].to_string();
    assert_success(
        &sandbox.exec(&["agentctl", "jobs", "cancel", &job, "--deny"]),
        "agentctl jobs cancel --deny",
    );
    eventually(Duration::from_secs(15), "no job on the input", || {
        jobs_on(&sandbox, &input).is_empty().then_some(())
    });
    eventually(Duration::from_secs(30), "the CPU back down", || {
        (sandbox.cpu_percent() < 50.0).then_some(())
    });
    assert_eq!(sandbox.root_cause_present(&id), Some(false));

    sandbox.revert(&id);
    assert!(sandbox.traffic_json("/control")["poison"].is_null());
    assert!(
        !denylist(&sandbox).contains(&input),
        "the deny-list is as the baseline had it"
    );
    // Revert restarted the agent to drop the entry it held in memory.
    wait_answering(&sandbox);
    assert!(sandbox.get("/health").status().is_success());
}

#[test]
fn cpu_runaway_revert_stops_the_client_and_its_jobs() {
    require_docker!();
    let sandbox = TestSandbox::up("cpu-runaway-revert");
    let id = sandbox.inject("cpu-runaway", &[]);
    let input = fault_record(&sandbox, &id)["baseline"]["input_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    eventually(Duration::from_secs(15), "the runaway job", || {
        (!jobs_on(&sandbox, &input).is_empty()).then_some(())
    });
    sandbox.revert(&id);
    eventually(Duration::from_secs(15), "no job on the input", || {
        jobs_on(&sandbox, &input).is_empty().then_some(())
    });
    assert!(sandbox.traffic_json("/control")["poison"].is_null());
    assert!(denylist(&sandbox).is_empty());
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        jobs_on(&sandbox, &input).is_empty(),
        "nothing re-submits it"
    );
}

/// (process RSS in bytes, cache entries) from the agent's /metrics.
fn memory_and_entries(sandbox: &TestSandbox) -> (f64, f64) {
    let scrape = sandbox.metrics();
    (
        metric_value(&scrape, "process_resident_memory_bytes", &[]),
        metric_value(&scrape, "docker_optimizer_cache_entries", &[]),
    )
}

/// RSS growth in MiB/s and entries added over `window`.
fn growth_over(sandbox: &TestSandbox, window: Duration) -> (f64, f64) {
    let (rss_before, entries_before) = memory_and_entries(sandbox);
    let started = Instant::now();
    std::thread::sleep(window);
    let (rss_after, entries_after) = memory_and_entries(sandbox);
    let seconds = started.elapsed().as_secs_f64();
    (
        (rss_after - rss_before) / 1024.0 / 1024.0 / seconds,
        entries_after - entries_before,
    )
}

const SANE_CONFIG: &str = "cache:\n  max_size: 1000\n  ttl_seconds: 3600\n";

#[test]
fn memory_leak_regrows_after_a_restart_until_the_cache_is_bounded() {
    require_docker!();
    let sandbox = TestSandbox::up("memory-leak");
    let original = stdout(&sandbox.exec(&["cat", "/etc/docker-optimizer/config.yml"]));
    let id = sandbox.inject("memory-leak", &["rate_mib_s=2"]);
    std::thread::sleep(Duration::from_secs(3));
    let (slope, added) = growth_over(&sandbox, Duration::from_secs(30));
    eprintln!("memory-leak: RSS grew {slope:.2} MiB/s (asked 2), {added} cache entries added");
    assert!(slope > 0.5, "memory climbs: {slope:.2} MiB/s");
    assert!(added > 100.0, "cache entries climb: {added}");
    assert_eq!(
        sandbox.agentctl_json(&["cache", "stats"])["max_size"],
        1_000_000
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // A restart drops the memory, the leak regrows: the bound is still lifted.
    sandbox.restart_agent();
    let (_, added) = growth_over(&sandbox, Duration::from_secs(5));
    assert!(
        added > 20.0,
        "entries climb again after the restart: {added}"
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // The documented fix: bound the cache in the config file and reload.
    let sane = std::env::temp_dir().join(format!("firedrill-sane-{}.yml", std::process::id()));
    std::fs::write(&sane, SANE_CONFIG).unwrap();
    assert_success(
        &docker(&[
            "cp",
            sane.to_str().unwrap(),
            &format!("{}:/etc/docker-optimizer/config.yml", sandbox.container()),
        ]),
        "docker cp the bounded config",
    );
    std::fs::remove_file(&sane).unwrap();
    assert_success(&sandbox.exec(&["agentctl", "reload"]), "agentctl reload");
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    // Let the cache fill to its bound, then it stops growing.
    eventually(Duration::from_secs(120), "the cache at its bound", || {
        (memory_and_entries(&sandbox).1 >= 1000.0).then_some(())
    });
    let (slope_after, _) = growth_over(&sandbox, Duration::from_secs(20));
    eprintln!("memory-leak: after the fix RSS grows {slope_after:.2} MiB/s");
    assert!(memory_and_entries(&sandbox).1 <= 1000.0);

    sandbox.revert(&id);
    let restored = stdout(&sandbox.exec(&["cat", "/etc/docker-optimizer/config.yml"]));
    assert_eq!(restored, original, "the original config is back");
    assert_eq!(
        sandbox.traffic_json("/control")["unique_inputs"],
        serde_json::json!({})
    );
    assert_eq!(sandbox.agentctl_json(&["cache", "stats"])["max_size"], 1000);
}

#[test]
fn memory_leak_left_alone_is_oom_killed_and_comes_back() {
    require_docker!();
    let sandbox = TestSandbox::up("memory-oom");
    let since = stdout(&docker(&["system", "info", "--format", "{{.SystemTime}}"]));
    let since = since.trim().to_string();
    let id = sandbox.inject("memory-leak", &["rate_mib_s=4"]);
    let injected = Instant::now();
    let died = eventually(Duration::from_secs(400), "the OOM kill", || {
        let events = stdout(&docker(&[
            "events",
            "--since",
            &since,
            "--until",
            "0s",
            "--filter",
            &format!("container={}", sandbox.container()),
            "--format",
            "{{.Action}} {{index .Actor.Attributes \"exitCode\"}}",
        ]));
        (events.contains("oom") && events.contains("die 137")).then_some(events)
    });
    eprintln!(
        "memory-leak: OOM-killed {:.0} s after inject at 4 MiB/s\n{died}",
        injected.elapsed().as_secs_f64()
    );
    eventually(
        Duration::from_secs(60),
        "the restart policy restarts it",
        || {
            let restarts = stdout(&docker(&[
                "inspect",
                "--format",
                "{{.RestartCount}}",
                &sandbox.container(),
            ]));
            (restarts.trim().parse::<u32>().unwrap_or(0) >= 1).then_some(())
        },
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(true));
    sandbox.revert(&id);
}

#[test]
fn traffic_surge_is_resolved_by_adding_capacity_up_or_out() {
    require_docker!();
    let sandbox = TestSandbox::up("traffic-surge");
    std::thread::sleep(Duration::from_secs(3));
    let cpu_before = sandbox.cpu_percent();
    let analyses = |sandbox: &TestSandbox| {
        metric_value(
            &sandbox.metrics(),
            "docker_optimizer_requests_total",
            &[("operation_type", "analyze")],
        )
    };
    let analyses_before = analyses(&sandbox);
    let id = sandbox.inject("traffic-surge", &[]);
    std::thread::sleep(Duration::from_secs(10));
    let cpu_during = sandbox.cpu_percent();
    let stats = sandbox.traffic_json("/stats");
    let analyses_per_second = (analyses(&sandbox) - analyses_before) / 12.0;
    eprintln!(
        "traffic-surge: CPU {cpu_before:.1} % -> {cpu_during:.1} %, {analyses_per_second:.1} \
         analyses/s, client p95 {} ms, in flight {}",
        stats["p95_ms"], stats["in_flight"]
    );
    assert!(analyses_per_second > 4.0, "the surge reaches the agent");
    assert!(cpu_during > cpu_before, "the agent works harder");
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // A restart does not make the demand go away.
    sandbox.restart_agent();
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // Scaling out spreads the traffic over two agents of one CPU each: as much as the surge
    // needs. Back to one, the shortfall returns.
    sandbox.scale(2);
    assert_eq!(sandbox.root_cause_present(&id), Some(false), "two replicas");
    sandbox.scale(1);
    assert_eq!(sandbox.root_cause_present(&id), Some(true), "one replica");

    // The documented fix: more CPU for the agent (1.5x the limit, at most the host's CPUs).
    let host_cpus = stdout(&docker(&["info", "--format", "{{.NCPU}}"]));
    let cpus = host_cpus
        .trim()
        .parse::<f64>()
        .unwrap()
        .min(1.5)
        .to_string();
    assert_success(
        &docker(&["update", "--cpus", &cpus, &sandbox.container()]),
        "docker update --cpus",
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(false));

    sandbox.revert(&id);
    assert_eq!(
        sandbox.traffic_json("/control")["unique_inputs"],
        serde_json::json!({})
    );
    let nano_cpus = stdout(&docker(&[
        "inspect",
        "--format",
        "{{.HostConfig.NanoCpus}}",
        &sandbox.container(),
    ]));
    assert_eq!(
        nano_cpus.trim(),
        "1000000000",
        "the sandbox's limit is back"
    );
}

fn restart_state(sandbox: &TestSandbox) -> (String, u32, i64) {
    let inspect = stdout(&docker(&[
        "inspect",
        "--format",
        "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}",
        &sandbox.container(),
    ]));
    let mut fields = inspect.split_whitespace();
    (
        fields.next().unwrap_or_default().to_string(),
        fields.next().and_then(|f| f.parse().ok()).unwrap_or(0),
        fields.next().and_then(|f| f.parse().ok()).unwrap_or(0),
    )
}

fn volume_and_image(sandbox: &TestSandbox) -> (String, String) {
    let volume = stdout(&docker(&[
        "inspect",
        "--format",
        "{{range .Mounts}}{{if eq .Destination \"/var/lib/docker-optimizer\"}}{{.Name}}{{end}}{{end}}",
        &sandbox.container(),
    ]));
    let image = stdout(&docker(&[
        "inspect",
        "--format",
        "{{.Config.Image}}",
        &sandbox.container(),
    ]));
    (volume.trim().to_string(), image.trim().to_string())
}

fn wait_answering(sandbox: &TestSandbox) {
    sandbox.wait_until_live(Duration::from_secs(120));
}

#[test]
fn crash_loop_holds_across_restarts_until_the_corrupt_index_is_removed() {
    require_docker!();
    let sandbox = TestSandbox::up("crash-loop");
    let history_before = sandbox.agentctl_json(&["status"]);
    let injected = Instant::now();
    let id = sandbox.inject("crash-loop", &[]);
    eventually(Duration::from_secs(60), "a crash loop", || {
        let (_, restarts, exit_code) = restart_state(&sandbox);
        (restarts >= 2 && exit_code == 70).then_some(())
    });
    eprintln!(
        "crash-loop: restarting with exit 70 {:.1} s after inject",
        injected.elapsed().as_secs_f64()
    );
    let logs = stderr(&docker(&["logs", "--tail", "5", &sandbox.container()]))
        + &stdout(&docker(&["logs", "--tail", "5", &sandbox.container()]));
    assert!(
        logs.contains("cache/index.json is corrupt") && logs.contains("the cache is disposable"),
        "{logs}"
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // A restart fails the same way.
    assert_success(
        &docker(&["restart", &sandbox.container()]),
        "docker restart",
    );
    // The engine resets the exit code when the container starts again, so a 70 now is a new failure;
    // a loaded host may take several seconds to get the agent as far as reading its cache.
    eventually(
        Duration::from_secs(60),
        "the restarted agent to fail with 70",
        || (restart_state(&sandbox).2 == 70).then_some(()),
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // The documented fix: remove the disposable index with a one-off container on the volume.
    let (volume, image) = volume_and_image(&sandbox);
    assert_success(
        &docker(&[
            "run",
            "--rm",
            "-v",
            &format!("{volume}:/var/lib/docker-optimizer"),
            "--entrypoint",
            "rm",
            &image,
            "/var/lib/docker-optimizer/cache/index.json",
        ]),
        "removing the cache index",
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    wait_answering(&sandbox);
    let history_after = sandbox.agentctl_json(&["status"]);
    assert!(
        history_after["history_records"].as_u64() >= history_before["history_records"].as_u64(),
        "the history database is kept: {} -> {}",
        history_before["history_records"],
        history_after["history_records"]
    );

    sandbox.revert(&id);
    assert_eq!(restart_state(&sandbox).0, "running");
    assert!(sandbox.get("/health").status().is_success());
}

#[test]
fn crash_loop_revert_brings_the_agent_back_with_its_index() {
    require_docker!();
    let sandbox = TestSandbox::up("crash-loop-revert");
    let id = sandbox.inject("crash-loop", &[]);
    eventually(Duration::from_secs(60), "a crash loop", || {
        (restart_state(&sandbox).1 >= 1).then_some(())
    });
    sandbox.revert(&id);
    assert_eq!(restart_state(&sandbox).0, "running");
    assert!(sandbox.get("/health").status().is_success());
    let index = sandbox.exec(&["cat", "/var/lib/docker-optimizer/cache/index.json"]);
    let index: Value = serde_json::from_slice(&index.stdout).expect("a valid index");
    assert_eq!(index["format"], "docker-optimizer-cache");
}
