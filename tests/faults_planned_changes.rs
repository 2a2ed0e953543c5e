//! Planned changes: kinds that break nothing and stand for a change request (a staged config, a
//! scale-out before a launch, a capacity forecast). For each: the request is visible, the probe
//! holds until the change is in effect (and not merely half-done), the documented way clears it,
//! and revert leaves the sandbox as it was.

mod common;

use common::*;

const STAGED: &str = "/etc/docker-optimizer/config.yml.new";
const CONFIG: &str = "/etc/docker-optimizer/config.yml";

fn effective(sandbox: &TestSandbox, section: &str, key: &str) -> u64 {
    sandbox.agentctl_json(&["config", "show"])["config"][section][key]
        .as_u64()
        .unwrap_or_else(|| panic!("{section}.{key} in agentctl config show"))
}

#[test]
fn a_staged_config_change_holds_until_it_is_reloaded_and_revert_puts_the_old_file_back() {
    require_docker!();
    let sandbox = TestSandbox::up("config-change");
    let original = stdout(&sandbox.exec(&["cat", CONFIG]));
    let id = sandbox.inject("config-change", &["cache.max_size=2500"]);

    // The request: a staged file the agent would accept, with the requested keys.
    let staged = stdout(&sandbox.exec(&["cat", STAGED]));
    assert!(
        staged.contains("max_size: 2500") && staged.contains("timeout_seconds: 30"),
        "{staged}"
    );
    assert_success(
        &sandbox.exec(&["agentctl", "config", "validate", "--file", STAGED]),
        "the staged file validates",
    );
    assert_eq!(effective(&sandbox, "cache", "max_size"), 1000);
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // Installed but not applied: the agent still runs on the old values.
    assert_success(
        &sandbox.exec_root(&["cp", STAGED, CONFIG]),
        "installing the staged file",
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(true));
    let detail = sandbox.fault_status(&id).unwrap()["root_cause"]["detail"].to_string();
    assert!(
        detail.contains("cache.max_size: 1000") && detail.contains("requested 2500"),
        "{detail}"
    );

    // Applied live.
    let reloaded = sandbox.agentctl_json(&["reload"]);
    assert_eq!(reloaded["reloaded"], true, "{reloaded}");
    assert_eq!(effective(&sandbox, "cache", "max_size"), 2500);
    assert_eq!(effective(&sandbox, "scanner", "timeout_seconds"), 30);
    assert_eq!(sandbox.root_cause_present(&id), Some(false));

    sandbox.revert(&id);
    assert_eq!(stdout(&sandbox.exec(&["cat", CONFIG])), original);
    assert_eq!(effective(&sandbox, "cache", "max_size"), 1000);
    assert!(
        !sandbox.exec(&["test", "-e", STAGED]).status.success(),
        "the staged file is removed"
    );
}

#[test]
fn a_change_the_agent_already_runs_or_would_refuse_is_not_staged() {
    require_docker!();
    let sandbox = TestSandbox::up("config-change-refused");
    let nothing_to_do = sandbox.try_inject(
        "config-change",
        &["cache.max_size=1000", "scanner.timeout_seconds=10"],
    );
    assert_refused(&nothing_to_do, "already runs with these values");
    assert!(
        !sandbox.exec(&["test", "-e", STAGED]).status.success(),
        "nothing was staged"
    );
}

#[test]
fn a_scale_request_holds_until_the_replicas_run() {
    require_docker!();
    let sandbox = TestSandbox::up("scale-request");
    let id = sandbox.inject("scale-request", &["replicas=2"]);
    assert_eq!(sandbox.root_cause_present(&id), Some(true));
    let detail = sandbox.fault_status(&id).unwrap()["root_cause"]["detail"].to_string();
    assert!(detail.contains("1 of 2"), "{detail}");

    sandbox.scale(2);
    assert_eq!(sandbox.root_cause_present(&id), Some(false));

    // A replica that stops is a shortfall again.
    let replica = format!("{}-2", sandbox.container());
    assert_success(
        &docker(&["stop", "-t", "1", &replica]),
        "stopping the replica",
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(true));
    assert_success(&docker(&["start", &replica]), "starting the replica");

    sandbox.revert(&id);
    assert_eq!(sandbox.root_cause_present(&id), None, "the record is gone");
    let refused = sandbox.try_inject("scale-request", &["replicas=2"]);
    assert_refused(&refused, "already runs 2 agent container(s)");
}

#[test]
fn a_capacity_forecast_is_met_by_scaling_up_or_out_but_not_by_half_of_it() {
    require_docker!();
    let sandbox = TestSandbox::up("capacity-forecast");
    let id = sandbox.inject("capacity-forecast", &["peak_cpus=1.2"]);
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // Part of the way is still a gap.
    assert_success(
        &docker(&["update", "--cpus", "1.5", &sandbox.container()]),
        "docker update --cpus 1.5",
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(true));
    let detail = sandbox.fault_status(&id).unwrap()["root_cause"]["detail"].to_string();
    assert!(
        detail.contains("1.50 CPUs") && detail.contains("needs 2.00"),
        "{detail}"
    );

    // Up: the whole of what the forecast asks.
    assert_success(
        &docker(&["update", "--cpus", "2", &sandbox.container()]),
        "docker update --cpus 2",
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(false));

    // Out: back to one CPU, plus a replica of one CPU.
    assert_success(
        &docker(&["update", "--cpus", "1", &sandbox.container()]),
        "docker update --cpus 1",
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(true));
    sandbox.scale(2);
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    sandbox.revert(&id);

    let already_enough = sandbox.try_inject("capacity-forecast", &["peak_cpus=0.5"]);
    assert_refused(&already_enough, "nothing to plan");
    let too_much = sandbox.try_inject("capacity-forecast", &["peak_cpus=2.4"]);
    assert_refused(&too_much, "no plan could meet it");
}
