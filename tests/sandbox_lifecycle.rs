//! `firedrill sandbox up|status|down` against the real engine, and the house rules a sandbox
//! container runs under.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

#[test]
fn a_sandbox_comes_up_healthy_and_down_leaves_nothing() {
    require_docker!();
    let sandbox = TestSandbox::up("life");
    let info = &sandbox.info;
    assert_eq!(info["name"], sandbox.name.as_str());
    assert_eq!(info["version"], "1.4.2");
    assert_eq!(
        info["container"],
        format!("firedrill-{}-agent", sandbox.name)
    );
    assert!(sandbox.http().starts_with("http://127.0.0.1:"));
    assert!(sandbox.https().starts_with("https://127.0.0.1:"));

    let health: Value = sandbox.get("/health").json().unwrap();
    assert_eq!(health["status"], "healthy", "{health}");
    for check in ["scanner", "cache", "disk", "config", "tls"] {
        assert!(
            health["checks"][check].is_object(),
            "no {check} check in {health}"
        );
    }
    let https_health = client()
        .get(format!("{}/health", sandbox.https()))
        .send()
        .expect("HTTPS answers");
    assert!(https_health.status().is_success());

    let status = firedrill()
        .args(["sandbox", "status", "--json"])
        .output()
        .unwrap();
    assert_success(&status, "sandbox status");
    let listed: Value = serde_json::from_slice(&status.stdout).unwrap();
    let mine = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == sandbox.name.as_str())
        .expect("status lists the sandbox");
    assert_eq!(mine["health"], "healthy");
    assert_eq!(mine["container"], sandbox.info["container"]);
    assert_eq!(mine["http"], sandbox.info["http"]);

    // A fault still injected goes with its sandbox: a namesake starts clean.
    let fault = sandbox.inject("cert-expiring", &[]);
    let name = sandbox.name.clone();
    let down = firedrill()
        .args(["sandbox", "down", "--name", &name])
        .output()
        .unwrap();
    assert_success(&down, "sandbox down");
    assert_eq!(leftovers_of(&name), Vec::<String>::new());
    assert_eq!(
        sandbox.fault_status(&fault),
        None,
        "the fault record is forgotten"
    );
}

#[test]
fn the_agent_container_is_confined_and_labelled() {
    require_docker!();
    let sandbox = TestSandbox::up("rules");
    let inspect: Value =
        serde_json::from_slice(&docker(&["inspect", &sandbox.container()]).stdout).unwrap();
    let container = &inspect[0];
    let labels = &container["Config"]["Labels"];
    assert_eq!(labels["io.firedrill.managed"], "true");
    assert!(labels["io.firedrill.session"]
        .as_str()
        .unwrap()
        .starts_with(&format!("sbx-{}-", sandbox.name)));
    assert_eq!(labels["io.firedrill.sandbox"], sandbox.name.as_str());

    let host = &container["HostConfig"];
    assert_eq!(host["Memory"], 256 * 1024 * 1024);
    assert_eq!(host["NanoCpus"], 1_000_000_000);
    assert_eq!(host["PidsLimit"], 128);
    assert_eq!(host["CapDrop"], serde_json::json!(["ALL"]));
    assert!(host["SecurityOpt"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o.as_str().unwrap().starts_with("no-new-privileges")));
    for (port, bindings) in host["PortBindings"].as_object().unwrap() {
        for binding in bindings.as_array().unwrap() {
            assert_eq!(
                binding["HostIp"], "127.0.0.1",
                "{port} published beyond loopback"
            );
        }
    }
    assert_eq!(container["Config"]["User"], "10001:10001");

    // The data directory is the sandbox's labelled volume, so it survives a restart.
    let mounts = container["Mounts"].as_array().unwrap();
    let data = mounts
        .iter()
        .find(|m| m["Destination"] == "/var/lib/docker-optimizer")
        .expect("data volume mounted");
    assert_eq!(data["Type"], "volume");
    assert_eq!(data["Name"], format!("firedrill-{}-data", sandbox.name));

    // The traffic container runs beside it under the same rules.
    let traffic = format!("firedrill-{}-traffic", sandbox.name);
    let traffic_inspect: Value =
        serde_json::from_slice(&docker(&["inspect", &traffic]).stdout).unwrap();
    assert_eq!(
        traffic_inspect[0]["HostConfig"]["CapDrop"],
        serde_json::json!(["ALL"])
    );
    assert_eq!(
        traffic_inspect[0]["Config"]["Labels"]["io.firedrill.role"],
        "traffic"
    );
}

#[test]
fn the_history_database_survives_a_restart() {
    require_docker!();
    let sandbox = TestSandbox::up("restart");
    let response = sandbox.post(
        "/optimize",
        &serde_json::json!({"dockerfile": "FROM python:latest\nRUN pip install flask\n"}),
    );
    assert!(response.status().is_success());
    assert_success(
        &docker(&["restart", &sandbox.container()]),
        "docker restart",
    );
    eventually(
        Duration::from_secs(30),
        "the agent to answer after restart",
        || {
            client()
                .get(format!("{}/health", sandbox.http()))
                .send()
                .ok()
                .filter(|r| r.status().is_success())
        },
    );
    // The record written before the restart is still in the database: pruning finds it.
    std::thread::sleep(Duration::from_millis(1100));
    let pruned = sandbox.agentctl_json(&["db", "prune", "--older-than", "1s"]);
    assert!(pruned["pruned"].as_u64().unwrap() >= 1, "{pruned}");
}

#[test]
fn a_second_sandbox_with_the_same_name_is_refused() {
    require_docker!();
    let sandbox = TestSandbox::up("twice");
    let again = firedrill()
        .args(["sandbox", "up", "--name", &sandbox.name])
        .output()
        .unwrap();
    assert_refused(&again, "already exists");
    // The refusal touched nothing: the first sandbox still answers.
    assert!(sandbox.get("/health").status().is_success());
}

#[test]
fn an_older_release_runs_from_its_own_image() {
    require_docker!();
    let sandbox = TestSandbox::up_with("release", &["--version", "1.3.0"]);
    assert_eq!(sandbox.info["version"], "1.3.0");
    let root: Value = sandbox.get("/").json().unwrap();
    assert_eq!(root["version"], "1.3.0");
    let image: Value = serde_json::from_slice(
        &docker(&["image", "inspect", "firedrill/optimizer-agent:1.3.0"]).stdout,
    )
    .unwrap();
    let labels = &image[0]["Config"]["Labels"];
    assert_eq!(labels["io.firedrill.managed"], "true");
    assert_eq!(labels["io.firedrill.release"], "1.3.0");
    assert_eq!(
        labels["io.firedrill.content-hash"].as_str().unwrap().len(),
        64
    );
    // Built offline FROM scratch: one layer, the root filesystem firedrill assembled.
    assert_eq!(image[0]["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(image[0]["Config"]["User"], "10001:10001");
    let programs = sandbox.exec(&["ls", "/usr/local/bin"]);
    for program in ["optimizer-agent", "agentctl", "trivy"] {
        assert!(
            stdout(&programs).contains(program),
            "{program} missing from the image"
        );
    }
}

#[test]
fn the_cached_image_is_reused_while_the_program_is_unchanged() {
    require_docker!();
    let first = TestSandbox::up("cache-a");
    let id = |tag: &str| {
        stdout(&docker(&["image", "inspect", "--format", "{{.Id}}", tag]))
            .trim()
            .to_string()
    };
    let before = id("firedrill/optimizer-agent:1.4.2");
    let second = TestSandbox::up("cache-b");
    assert_eq!(id("firedrill/optimizer-agent:1.4.2"), before);
    assert_eq!(first.info["image"], second.info["image"]);
}

#[test]
fn bad_input_is_refused_before_touching_docker() {
    let unknown = firedrill()
        .args(["sandbox", "up", "--version", "9.9.9"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("unknown agent version '9.9.9'"));
    assert!(stderr(&unknown).contains("1.4.2"));

    let bad_name = firedrill()
        .args(["sandbox", "up", "--name", "Not Valid"])
        .output()
        .unwrap();
    assert_eq!(bad_name.status.code(), Some(2));
    assert!(stderr(&bad_name).contains("invalid sandbox name 'Not Valid'"));
}

#[test]
fn downing_a_missing_sandbox_says_so() {
    require_docker!();
    let output = firedrill()
        .args(["sandbox", "down", "--name", "no-such-sandbox-here"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no sandbox named 'no-such-sandbox-here'"));
}

#[test]
fn a_missing_engine_is_named_with_the_fix() {
    let socket = "unix:///nonexistent/firedrill-test/docker.sock";
    let output = firedrill()
        .args(["sandbox", "status"])
        .env("DOCKER_HOST", socket)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains(socket), "{message}");
    assert!(message.contains("DOCKER_HOST"), "{message}");
}

#[test]
fn an_engine_that_never_answers_is_given_up_on() {
    // A socket that accepts connections but never replies: the 2 s connect timeout must fire.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("tcp://{}", silent.local_addr().unwrap());
    let started = Instant::now();
    let output = firedrill()
        .args(["sandbox", "status"])
        .env("DOCKER_HOST", &host)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_refused(&output, "no answer within 2s");
    eprintln!("gave up after {:?}", started.elapsed());
}

#[test]
fn sigterm_during_up_removes_what_was_made() {
    use std::io::{BufRead, BufReader};
    require_docker!();
    // Make sure the image is cached, so the interruption lands while the agent is starting.
    drop(TestSandbox::up("sigterm-warm"));
    let name = unique_name("sigterm");
    // A 1 MB quota leaves the agent running but never healthy: `up` waits until told to stop.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("firedrill"))
        .args([
            "sandbox",
            "up",
            "--name",
            &name,
            "--env",
            "DOCKER_OPTIMIZER_STORAGE_QUOTA_MB=1",
        ])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("waiting for") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "up ended before waiting"
        );
    }
    assert!(
        !leftovers_of(&name).is_empty(),
        "the sandbox was being made"
    );
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("interrupted"), "{rest}");
    assert_eq!(leftovers_of(&name), Vec::<String>::new());
}
