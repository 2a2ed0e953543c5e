//! Faults on the agent's resources: a stray CPU burner and a squeezed CPU limit.
//! For each: the symptom shows, the probe holds, the documented fix clears it, revert restores.

mod common;

use std::time::Duration;

use common::*;

fn stray_processes(sandbox: &TestSandbox) -> usize {
    stdout(&sandbox.exec(&["pidof", "yes"]))
        .split_whitespace()
        .count()
}

#[test]
fn cpu_burn_shows_a_stray_process_until_it_is_killed() {
    require_docker!();
    let sandbox = TestSandbox::up("cpu-burn");
    let id = sandbox.inject("cpu-burn", &["processes=1"]);
    eventually(
        Duration::from_secs(15),
        "the agent near its CPU limit",
        || (sandbox.cpu_percent() >= 80.0).then_some(()),
    );
    let top = stdout(&docker(&["top", &sandbox.container()]));
    assert!(
        top.contains("yes"),
        "docker top shows the stray process:\n{top}"
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // The documented fix: find it and kill it.
    assert_success(
        &sandbox.exec(&["sh", "-c", "kill $(pidof yes)"]),
        "kill the stray",
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    sandbox.revert(&id);
    assert_eq!(sandbox.root_cause_present(&id), None, "the record is gone");
}

#[test]
fn cpu_burn_revert_restores_the_baseline() {
    require_docker!();
    let sandbox = TestSandbox::up("cpu-burn-revert");
    let id = sandbox.inject("cpu-burn", &["processes=2"]);
    assert_eq!(stray_processes(&sandbox), 2);
    sandbox.revert(&id);
    assert_eq!(stray_processes(&sandbox), 0);
    assert!(sandbox.get("/health").status().is_success());
}

fn nano_cpus(sandbox: &TestSandbox) -> i64 {
    stdout(&docker(&[
        "inspect",
        "--format",
        "{{.HostConfig.NanoCpus}}",
        &sandbox.container(),
    ]))
    .trim()
    .parse()
    .unwrap()
}

#[test]
fn resource_squeeze_holds_across_a_restart_until_the_limit_is_raised() {
    require_docker!();
    let sandbox = TestSandbox::up("squeeze");
    let baseline = nano_cpus(&sandbox);
    let id = sandbox.inject("resource-squeeze", &["cpus=0.25"]);
    assert_eq!(nano_cpus(&sandbox), 250_000_000);
    // Symptom: a CPU-bound process inside is held to the lowered limit.
    assert_success(
        &sandbox.exec_root(&["sh", "-c", "timeout 8 yes > /dev/null & sleep 0"]),
        "a CPU-bound load",
    );
    std::thread::sleep(Duration::from_secs(3));
    let cpu = sandbox.cpu_percent();
    assert!(cpu < 40.0, "CPU {cpu}% should be capped near 25%");
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // A restart does not lift a limit: the probe still says present.
    sandbox.restart_agent();
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // The documented fix.
    assert_success(
        &docker(&["update", "--cpus", "1", &sandbox.container()]),
        "docker update",
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    sandbox.revert(&id);
    assert_eq!(nano_cpus(&sandbox), baseline);
}

#[test]
fn resource_squeeze_revert_restores_the_exact_limit() {
    require_docker!();
    let sandbox = TestSandbox::up("squeeze-revert");
    let baseline = nano_cpus(&sandbox);
    let id = sandbox.inject("resource-squeeze", &[]);
    assert_eq!(nano_cpus(&sandbox), 20_000_000, "default cpus=0.02");
    // firedrill's own engine action is on record, so the audit can leave it out of the trainee's.
    let status = sandbox.fault_status(&id).expect("the fault is recorded");
    let own_actions = status["own_actions"].to_string();
    assert!(
        own_actions.contains("docker update --cpus 0.02"),
        "{own_actions}"
    );
    sandbox.revert(&id);
    assert_eq!(nano_cpus(&sandbox), baseline);
    // The session's own-action log holds the inject's and the revert's engine actions alike.
    let session = sandbox.info["session"].as_str().unwrap();
    let log = state_dir()
        .join("faults/own-actions")
        .join(format!("{session}.jsonl"));
    let log = std::fs::read_to_string(&log).expect("the session's own-action log");
    let commands: Vec<String> = log
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["command"].to_string())
        .collect();
    assert!(
        commands
            .iter()
            .any(|c| c.contains("docker update --cpus 0.02"))
            && commands
                .iter()
                .any(|c| c.contains("docker update --cpus 1 ")),
        "{commands:?}"
    );
}

#[test]
fn bad_fault_input_is_refused_with_the_reason() {
    let unknown = firedrill()
        .args(["fault", "inject", "disk-meltdown", "--sandbox", "x"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("unknown fault kind 'disk-meltdown'"));
    assert!(stderr(&unknown).contains("cpu-burn"));

    let bad_param = firedrill()
        .args(["fault", "inject", "resource-squeeze", "--set", "cpus=9"])
        .output()
        .unwrap();
    assert_eq!(bad_param.status.code(), Some(2));
    assert!(stderr(&bad_param).contains("bad parameter 'cpus=9' for fault resource-squeeze"));

    let no_such_id = firedrill()
        .args(["fault", "revert", "f-nothing-here"])
        .output()
        .unwrap();
    assert_eq!(no_such_id.status.code(), Some(2));
    assert!(stderr(&no_such_id).contains("no injected fault with id 'f-nothing-here'"));
}

#[test]
fn a_fault_kind_cannot_be_injected_twice_into_one_sandbox() {
    require_docker!();
    let sandbox = TestSandbox::up("twice-fault");
    let id = sandbox.inject("resource-squeeze", &[]);
    let again = firedrill()
        .args([
            "fault",
            "inject",
            "resource-squeeze",
            "--sandbox",
            &sandbox.name,
        ])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains(&id), "{}", stderr(&again));

    // `revert --all --sandbox` mends every fault of that sandbox and no other's.
    let reverted = firedrill()
        .args(["fault", "revert", "--all", "--sandbox", &sandbox.name])
        .output()
        .unwrap();
    assert_success(&reverted, "fault revert --all --sandbox");
    assert!(stdout(&reverted).contains(&id), "{}", stdout(&reverted));
    assert_eq!(sandbox.root_cause_present(&id), None);
}
