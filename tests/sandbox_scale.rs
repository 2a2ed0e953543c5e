//! `firedrill sandbox scale` and rolling deploys: replicas of the agent behind the traffic's
//! network alias, each the primary's twin with a data volume of its own, sharing the traffic;
//! deploys that roll them one at a time without a client error; nothing left behind.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// `docker inspect <container>`, parsed.
fn inspect(container: &str) -> Value {
    let output = docker(&["inspect", container]);
    assert_success(&output, &format!("docker inspect {container}"));
    serde_json::from_slice::<Value>(&output.stdout).unwrap()[0].clone()
}

/// `docker volume inspect <volume>`, parsed.
fn inspect_volume(volume: &str) -> Value {
    let output = docker(&["volume", "inspect", volume]);
    assert_success(&output, &format!("docker volume inspect {volume}"));
    serde_json::from_slice::<Value>(&output.stdout).unwrap()[0].clone()
}

/// Whether the engine knows `kind` (`container`, `volume`) `name`.
fn exists(kind: &str, name: &str) -> bool {
    docker(&[kind, "inspect", name]).status.success()
}

/// Optimizations and analyses an agent container answered since it started: only the traffic
/// sends them, so growth means it reached that container.
fn requests_served(http: &str) -> f64 {
    let text = client()
        .get(format!("{http}/metrics"))
        .send()
        .and_then(|r| r.text())
        .unwrap_or_else(|e| panic!("GET {http}/metrics: {e}"));
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("/metrics parses as Prometheus text");
    metric_value(&scrape, "docker_optimizer_requests_total", &[])
}

/// `firedrill sandbox status --json`'s entry for `sandbox`.
fn status_of(sandbox: &TestSandbox) -> Value {
    let output = firedrill()
        .args(["sandbox", "status", "--json"])
        .output()
        .unwrap();
    assert_success(&output, "sandbox status");
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == sandbox.name.as_str())
        .cloned()
        .expect("status lists the sandbox")
}

/// The `/stats` of the traffic over the last `since` (rounded up to whole seconds), once the
/// requests sent by now have been answered.
fn traffic_since(sandbox: &TestSandbox, since: Instant) -> Value {
    std::thread::sleep(Duration::from_secs(1));
    let window = since.elapsed().as_secs() + 1;
    sandbox.traffic_json(&format!("/stats?window={window}"))
}

/// Sets the traffic's request rate (its control endpoint), so a deploy of a second or two
/// meets enough requests to tell.
fn set_traffic_rate(sandbox: &TestSandbox, rate: f64) {
    let response = client()
        .put(format!("{}/control/rate", sandbox.traffic_stats()))
        .json(&serde_json::json!({ "rate": rate }))
        .send()
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

/// The release every agent container of `members` (a `scale --json` list) answers with on `/`.
fn versions(members: &[Value]) -> Vec<String> {
    members
        .iter()
        .map(|member| {
            let http = member["http"].as_str().expect("a replica's http url");
            let index: Value = client()
                .get(format!("{http}/"))
                .send()
                .unwrap()
                .json()
                .unwrap();
            index["version"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn replicas_are_the_primarys_twins_share_the_traffic_and_scale_down_without_a_trace() {
    require_docker!();
    let sandbox = TestSandbox::up_with("scale", &["--env", "DOCKER_OPTIMIZER_CACHE_MAX_SIZE=500"]);
    let name = &sandbox.name;
    assert_eq!(status_of(&sandbox)["replicas"], 1, "one agent before scale");

    let scaled = sandbox.scale(3);
    assert_eq!(scaled["replicas"], 3, "{scaled}");
    assert_eq!(scaled["previous_replicas"], 1);
    let members = scaled["members"].as_array().unwrap().clone();
    let containers: Vec<&str> = members
        .iter()
        .map(|m| m["container"].as_str().unwrap())
        .collect();
    let replica = |index: u32| format!("firedrill-{name}-agent-{index}");
    assert_eq!(
        containers,
        [sandbox.container(), replica(2), replica(3)],
        "the primary first"
    );
    assert_eq!(
        scaled["started"],
        serde_json::json!([replica(2), replica(3)])
    );
    // The primary is untouched: same container, same URLs.
    let status = status_of(&sandbox);
    assert_eq!(status["replicas"], 3);
    for field in ["container", "container_id", "http", "https"] {
        assert_eq!(status[field], sandbox.info[field], "{field}");
    }
    assert_eq!(members[0]["http"], sandbox.info["http"]);

    let primary = inspect(&sandbox.container());
    let network = format!("firedrill-{name}");
    // The name the traffic sends its requests to, `http://<alias>:8080`.
    let target = sandbox.traffic_json("/stats")["target"].clone();
    let alias = Value::from(
        target.as_str().unwrap()["http://".len()..]
            .split(':')
            .next()
            .unwrap(),
    );
    for index in [2, 3] {
        let twin = inspect(&replica(index));
        let labels = &twin["Config"]["Labels"];
        assert_eq!(labels["io.firedrill.role"], "replica");
        assert_eq!(labels["io.firedrill.replica"], index.to_string());
        for same in [
            "io.firedrill.managed",
            "io.firedrill.session",
            "io.firedrill.sandbox",
            "io.firedrill.release",
        ] {
            assert_eq!(labels[same], primary["Config"]["Labels"][same], "{same}");
        }
        assert_eq!(twin["Image"], primary["Image"], "the primary's image");
        assert!(
            twin["Config"]["Env"]
                .as_array()
                .unwrap()
                .contains(&Value::from("DOCKER_OPTIMIZER_CACHE_MAX_SIZE=500")),
            "the primary's env: {}",
            twin["Config"]["Env"]
        );
        for same in [
            "Memory",
            "MemorySwap",
            "NanoCpus",
            "PidsLimit",
            "CapDrop",
            "SecurityOpt",
            "RestartPolicy",
        ] {
            assert_eq!(
                twin["HostConfig"][same], primary["HostConfig"][same],
                "{same}"
            );
        }
        let http_binding = &twin["HostConfig"]["PortBindings"]["8080/tcp"][0];
        assert_eq!(http_binding["HostIp"], "127.0.0.1");
        let volume_of = |target: &str| {
            twin["Mounts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["Destination"] == target)
                .map(|m| m["Name"].as_str().unwrap().to_string())
        };
        assert_eq!(
            volume_of("/var/lib/docker-optimizer"),
            Some(format!("firedrill-{name}-data-{index}")),
            "a data volume of its own"
        );
        assert_eq!(
            volume_of("/var/lib/trivy"),
            Some(format!("firedrill-{name}-scanner")),
            "the shared scanner cache"
        );
        let aliases = |container: &Value| {
            container["NetworkSettings"]["Networks"][&network]["Aliases"]
                .as_array()
                .unwrap()
                .clone()
        };
        assert!(aliases(&primary).contains(&alias));
        assert!(
            aliases(&twin).contains(&alias),
            "the traffic's alias {alias}"
        );
        let volume = inspect_volume(&format!("firedrill-{name}-data-{index}"));
        assert_eq!(volume["Labels"]["io.firedrill.managed"], "true");
        assert_eq!(volume["Labels"]["io.firedrill.sandbox"], name.as_str());
    }

    // Every replica serves part of the traffic.
    let urls: Vec<String> = members
        .iter()
        .map(|m| m["http"].as_str().unwrap().to_string())
        .collect();
    let before: Vec<f64> = urls.iter().map(|h| requests_served(h)).collect();
    eventually(
        Duration::from_secs(60),
        "the traffic reaching every replica",
        || {
            let now: Vec<f64> = urls.iter().map(|h| requests_served(h)).collect();
            now.iter()
                .zip(&before)
                .all(|(now, before)| now - before >= 3.0)
                .then_some(())
        },
    );

    // The count it runs already changes nothing.
    let ids =
        |names: &[&str]| -> Vec<Value> { names.iter().map(|n| inspect(n)["Id"].clone()).collect() };
    let running = ids(&containers);
    let again = sandbox.scale(3);
    assert_eq!(again["replicas"], 3);
    assert_eq!(again["started"], serde_json::json!([]));
    assert_eq!(again["removed"], serde_json::json!([]));
    assert_eq!(ids(&containers), running, "the same containers");

    // Down to one: the highest first, each with its data volume; the primary and the shared
    // scanner cache stay.
    let down = sandbox.scale(1);
    assert_eq!(down["replicas"], 1);
    assert_eq!(down["previous_replicas"], 3);
    assert_eq!(down["removed"], serde_json::json!([replica(3), replica(2)]));
    for index in [2, 3] {
        assert!(!exists("container", &replica(index)));
        assert!(!exists("volume", &format!("firedrill-{name}-data-{index}")));
    }
    assert!(exists("volume", &format!("firedrill-{name}-scanner")));
    assert_eq!(inspect(&sandbox.container())["Id"], running[0]);
    assert_eq!(status_of(&sandbox)["replicas"], 1);
    let stats = sandbox.traffic_json("/stats?window=10");
    assert!(stats["requests"].as_u64().unwrap() > 0, "{stats}");
}

#[test]
fn a_rolling_deploy_over_two_replicas_gives_no_client_errors_and_rollback_rolls_back_all() {
    require_docker!();
    let sandbox = TestSandbox::up("roll");
    let scaled = sandbox.scale(2);
    let members = scaled["members"].as_array().unwrap().clone();
    assert_eq!(versions(&members), ["1.4.2", "1.4.2"]);
    // The traffic runs on both before the deploy starts.
    let replica_http = members[1]["http"].as_str().unwrap().to_string();
    eventually(
        Duration::from_secs(30),
        "the traffic reaching the replica",
        || (requests_served(&replica_http) >= 3.0).then_some(()),
    );

    set_traffic_rate(&sandbox, 20.0);
    std::thread::sleep(Duration::from_secs(2));

    let started = Instant::now();
    let deployed = sandbox.deploy("1.4.3");
    let over_the_deploy = traffic_since(&sandbox, started);
    eprintln!(
        "deploy to 1.4.3 over 2 replicas took {:?}: {over_the_deploy}",
        started.elapsed()
    );
    assert_eq!(deployed["replicas_rolled"], 2, "{deployed}");
    assert_eq!(deployed["version"], "1.4.3");
    assert_eq!(deployed["previous_version"], "1.4.2");
    assert_eq!(deployed["http"], sandbox.info["http"], "the URLs stay");
    assert!(
        over_the_deploy["requests"].as_u64().unwrap() >= 20,
        "the traffic ran during the deploy: {over_the_deploy}"
    );
    assert_eq!(
        over_the_deploy["errors"], 0,
        "no client errors over the deploy: {over_the_deploy}"
    );
    let replicas = status_of(&sandbox);
    assert_eq!(replicas["replicas"], 2, "{replicas}");
    // Every agent container runs the new release, labelled as such, at the same URLs.
    assert_eq!(versions(&members), ["1.4.3", "1.4.3"]);
    for container in [sandbox.container(), format!("{}-2", sandbox.container())] {
        let labels = &inspect(&container)["Config"]["Labels"];
        assert_eq!(labels["io.firedrill.release"], "1.4.3", "{container}");
        assert_eq!(
            labels["io.firedrill.previous-release"], "1.4.2",
            "{container}"
        );
    }
    let leftovers = stdout(&docker(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("name={}-agent", sandbox.name),
    ]));
    assert!(
        !leftovers.contains("-replaced-"),
        "no replaced container is left: {leftovers}"
    );

    let started = Instant::now();
    let rollback = firedrill()
        .args(["sandbox", "rollback", "--name", &sandbox.name, "--json"])
        .output()
        .unwrap();
    assert_success(&rollback, "sandbox rollback");
    let over_the_rollback = traffic_since(&sandbox, started);
    eprintln!(
        "rollback to 1.4.2 over 2 replicas took {:?}: {over_the_rollback}",
        started.elapsed()
    );
    let back: Value = serde_json::from_slice(&rollback.stdout).unwrap();
    assert_eq!(back["version"], "1.4.2");
    assert_eq!(back["replicas_rolled"], 2);
    assert_eq!(versions(&members), ["1.4.2", "1.4.2"]);
    assert_eq!(
        over_the_rollback["errors"], 0,
        "no client errors over the rollback: {over_the_rollback}"
    );

    // Down with the replicas running leaves nothing: containers, network, every volume.
    let name = sandbox.name.clone();
    let down = firedrill()
        .args(["sandbox", "down", "--name", &name])
        .output()
        .unwrap();
    assert_success(&down, "sandbox down");
    assert!(stdout(&down).contains(&format!("firedrill-{name}-data-2")));
    assert_eq!(leftovers_of(&name), Vec::<String>::new());
}

#[test]
fn replica_counts_outside_one_to_four_and_unknown_sandboxes_are_refused() {
    for bad in ["0", "9", "two"] {
        let refused = firedrill()
            .args(["sandbox", "scale", "--name", "x", "--replicas", bad])
            .output()
            .unwrap();
        assert_eq!(refused.status.code(), Some(2), "--replicas {bad}");
        let message = stderr(&refused);
        assert!(
            message.contains(&format!("invalid value '{bad}' for '--replicas <K>'"))
                && message.contains("from 1 to 4"),
            "{message}"
        );
    }

    require_docker!();
    let nowhere = firedrill()
        .args(["sandbox", "scale", "--name", &unique_name("nowhere")])
        .args(["--replicas", "2"])
        .output()
        .unwrap();
    assert_refused(&nowhere, "no sandbox named");
}

#[test]
fn a_replica_that_never_answers_healthy_is_removed_again_and_its_old_data_kept() {
    require_docker!();
    let sandbox = TestSandbox::up("scale-fail");
    let name = &sandbox.name;
    let volume = format!("firedrill-{name}-data-2");
    // A data volume an earlier replica 2 left, with a corrupt cache index (what the crash-loop
    // fault leaves): the agent exits 70 at every start on it.
    let owned = [
        "--label".to_string(),
        "io.firedrill.managed=true".to_string(),
        "--label".to_string(),
        format!("io.firedrill.sandbox={name}"),
    ];
    let mut create = vec!["volume", "create"];
    create.extend(owned.iter().map(String::as_str));
    create.push(&volume);
    assert_success(&docker(&create), "docker volume create");
    let image = sandbox.info["image"].as_str().unwrap();
    // Mounted where the agent mounts it, so the engine first fills it from the image.
    let mount = format!("{volume}:/var/lib/docker-optimizer");
    let mut corrupt = vec!["run", "--rm", "-u", "10001", "-v", &mount];
    corrupt.extend(owned.iter().map(String::as_str));
    corrupt.extend(["--entrypoint", "/bin/sh", image, "-c"]);
    corrupt.push("cd /var/lib/docker-optimizer && mkdir -p cache && echo '{' > cache/index.json");
    assert_success(&docker(&corrupt), "corrupting the left volume");

    let failed = firedrill()
        .args(["sandbox", "scale", "--name", name, "--replicas", "2"])
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    let message = stderr(&failed);
    assert!(
        message.contains(&format!(
            "sandbox '{name} (replica 2)' did not become healthy"
        )),
        "{message}"
    );
    assert!(message.contains("agent log tail"), "{message}");
    assert!(!exists("container", &format!("firedrill-{name}-agent-2")));
    assert!(
        exists("volume", &volume),
        "a volume this scale did not make is kept"
    );
    assert_eq!(status_of(&sandbox)["replicas"], 1);
    assert_eq!(
        inspect(&sandbox.container())["Id"],
        sandbox.info["container_id"],
        "the primary is untouched"
    );

    let down = firedrill()
        .args(["sandbox", "down", "--name", name])
        .output()
        .unwrap();
    assert_success(&down, "sandbox down");
    assert_eq!(leftovers_of(name), Vec::<String>::new());
}
