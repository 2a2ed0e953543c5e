//! Helpers that keep the integration tests short stories: start a sandbox through the real
//! binary, talk to it, exec into it, and always tear it down.
//!
//! Tests run against the real Docker engine. Without one they skip, unless
//! `FIREDRILL_REQUIRE_DOCKER=1` (CI), where a missing engine fails them.
#![allow(dead_code)] // each test binary uses its own subset of these helpers

pub mod drill;

use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

/// Skips the test (returns) when no engine is reachable and CI did not demand one.
#[macro_export]
macro_rules! require_docker {
    () => {
        if !$crate::common::docker_available() {
            return;
        }
    };
}

/// Whether the engine answers; panics when it does not and `FIREDRILL_REQUIRE_DOCKER=1`.
pub fn docker_available() -> bool {
    let ok = std::process::Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("FIREDRILL_REQUIRE_DOCKER").as_deref() != Ok("1"),
            "FIREDRILL_REQUIRE_DOCKER=1 but no Docker engine answers `docker info`"
        );
        eprintln!("skipped: no Docker engine (set FIREDRILL_REQUIRE_DOCKER=1 to fail instead)");
    }
    // Faults, their reverts and the tests' own checks run `sh`, `rm` and `ps` in the sandbox;
    // without them tests would fail far from the cause.
    assert!(
        !ok || firedrill::docker::rootfs::host_busybox().is_some(),
        "the sandbox image takes its shell tools from the host's busybox, and the integration \
         tests need them: install Debian's busybox-static (sudo apt-get install busybox-static)"
    );
    ok
}

/// The firedrill binary under test.
pub fn firedrill() -> Command {
    let mut command = Command::cargo_bin("firedrill").expect("the firedrill binary is built");
    command.env_remove("FIREDRILL_LOG");
    // Fault records of this test process live apart from the user's and other test runs'.
    command.env("FIREDRILL_STATE_DIR", state_dir());
    command.timeout(Duration::from_secs(300));
    command
}

/// Starts `firedrill <args>` in the background (this test process's state folder, stderr
/// dropped) and streams its stdout lines as they come, for tests that react to what it prints.
pub fn spawn_firedrill(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("firedrill"))
        .args(args)
        .env("FIREDRILL_STATE_DIR", state_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("firedrill {args:?} starts: {e}"));
    let stdout = child.stdout.take().unwrap();
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    (child, lines)
}

/// The fault-record folder of this test process.
pub fn state_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("firedrill-test-state-{}", std::process::id()))
}

/// A sandbox name unique to this test run and call site.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "t-{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A running sandbox, removed when dropped (also when the test panics).
pub struct TestSandbox {
    pub name: String,
    /// The `sandbox up --json` answer.
    pub info: Value,
}

impl TestSandbox {
    /// `firedrill sandbox up --name <unique> --json`, asserting it succeeds.
    pub fn up(prefix: &str) -> TestSandbox {
        Self::up_with(prefix, &[])
    }

    /// Same, with extra arguments (e.g. `--version 1.3.0`).
    pub fn up_with(prefix: &str, extra: &[&str]) -> TestSandbox {
        let name = unique_name(prefix);
        let output = firedrill()
            .args(["sandbox", "up", "--name", &name, "--json"])
            .args(extra)
            .output()
            .expect("firedrill runs");
        // Created before asserting, so a failed start is still torn down.
        let sandbox = TestSandbox {
            name: name.clone(),
            info: serde_json::from_slice(&output.stdout).unwrap_or(Value::Null),
        };
        assert!(
            output.status.success(),
            "sandbox up {name} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        sandbox
    }

    pub fn container(&self) -> String {
        self.info["container"]
            .as_str()
            .expect("container")
            .to_string()
    }

    pub fn http(&self) -> String {
        self.info["http"].as_str().expect("http url").to_string()
    }

    pub fn https(&self) -> String {
        self.info["https"].as_str().expect("https url").to_string()
    }

    pub fn traffic_stats(&self) -> String {
        self.info["traffic_stats"]
            .as_str()
            .expect("traffic stats url")
            .to_string()
    }

    /// `docker exec <agent> <args>` as the agent's user.
    pub fn exec(&self, args: &[&str]) -> Output {
        docker(&[&["exec", &self.container()], args].concat())
    }

    /// `docker exec -u 0 <agent> <args>`: what an operator with root in the container can do.
    pub fn exec_root(&self, args: &[&str]) -> Output {
        docker(&[&["exec", "-u", "0", &self.container()], args].concat())
    }

    /// `agentctl <args> --json` parsed, asserting exit 0.
    pub fn agentctl_json(&self, args: &[&str]) -> Value {
        let mut full = vec!["agentctl"];
        full.extend_from_slice(args);
        full.push("--json");
        let output = self.exec(&full);
        assert_success(&output, &format!("agentctl {}", args.join(" ")));
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "agentctl {} --json printed no JSON ({e}): {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// GET `path` on the agent's HTTP port.
    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        client()
            .get(format!("{}{path}", self.http()))
            .send()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// POST a JSON body to `path` on the agent's HTTP port.
    pub fn post(&self, path: &str, body: &Value) -> reqwest::blocking::Response {
        client()
            .post(format!("{}{path}", self.http()))
            .json(body)
            .send()
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// The agent's `/metrics`, parsed as Prometheus text.
    pub fn metrics(&self) -> prometheus_parse::Scrape {
        let text = self.get("/metrics").text().expect("metrics body");
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
            .expect("/metrics parses as Prometheus text")
    }
}

impl TestSandbox {
    /// `firedrill fault inject <kind> --sandbox <this> --set ... --json`, as it ended.
    pub fn try_inject(&self, kind: &str, sets: &[&str]) -> Output {
        let mut args = vec!["fault", "inject", kind, "--sandbox", &self.name, "--json"];
        for set in sets {
            args.extend_from_slice(&["--set", set]);
        }
        firedrill().args(&args).output().unwrap()
    }

    /// `firedrill fault inject <kind> --sandbox <this> --set ...`, returning the fault id.
    pub fn inject(&self, kind: &str, sets: &[&str]) -> String {
        let output = self.try_inject(kind, sets);
        assert_success(&output, &format!("fault inject {kind}"));
        let record: Value = serde_json::from_slice(&output.stdout).unwrap();
        record["id"].as_str().unwrap().to_string()
    }

    /// Fault `id` as `firedrill fault status --json` shows it (record and probe); `None` once
    /// its record is gone.
    pub fn fault_status(&self, id: &str) -> Option<Value> {
        let output = firedrill()
            .args(["fault", "status", "--sandbox", &self.name, "--json"])
            .output()
            .unwrap();
        assert_success(&output, "fault status");
        let statuses: Value = serde_json::from_slice(&output.stdout).unwrap();
        statuses
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
    }

    /// The root-cause probe of fault `id`: `Some(present)`, `None` when the record is gone.
    pub fn root_cause_present(&self, id: &str) -> Option<bool> {
        self.fault_status(id).map(|s| {
            s["root_cause"]["present"]
                .as_bool()
                .expect("a probe result")
        })
    }

    /// `firedrill fault revert <id>`, asserting success.
    pub fn revert(&self, id: &str) {
        let output = firedrill().args(["fault", "revert", id]).output().unwrap();
        assert_success(&output, &format!("fault revert {id}"));
    }

    /// `GET <path>` of the traffic's statistics port as JSON (`/stats`, `/control`).
    pub fn traffic_json(&self, path: &str) -> Value {
        client()
            .get(format!("{}{path}", self.traffic_stats()))
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("traffic {path}: {e}"))
    }

    /// `firedrill sandbox deploy --version <version> --json`, asserting success; its answer.
    pub fn deploy(&self, version: &str) -> Value {
        let output = firedrill()
            .args(["sandbox", "deploy", "--name", &self.name])
            .args(["--version", version, "--json"])
            .output()
            .unwrap();
        assert_success(&output, &format!("sandbox deploy --version {version}"));
        serde_json::from_slice(&output.stdout).expect("deploy --json prints JSON")
    }

    /// `firedrill sandbox scale --replicas <count> --json`, asserting success; its answer.
    pub fn scale(&self, count: u32) -> Value {
        let output = firedrill()
            .args(["sandbox", "scale", "--name", &self.name])
            .args(["--replicas", &count.to_string(), "--json"])
            .output()
            .unwrap();
        assert_success(&output, &format!("sandbox scale --replicas {count}"));
        serde_json::from_slice(&output.stdout).expect("scale --json prints JSON")
    }

    /// `docker restart` of the agent, then wait until it answers `/health/live` again.
    pub fn restart_agent(&self) {
        assert_success(&docker(&["restart", &self.container()]), "docker restart");
        self.wait_until_live(Duration::from_secs(30));
    }

    /// Waits (at most `within`) until the agent answers `/health/live`.
    pub fn wait_until_live(&self, within: Duration) {
        eventually(within, "the agent to answer /health/live", || {
            client()
                .get(format!("{}/health/live", self.http()))
                .send()
                .ok()
                .filter(|r| r.status().is_success())
        });
    }

    /// The agent container's CPU % as `docker stats` reports it.
    pub fn cpu_percent(&self) -> f64 {
        let output = docker(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.CPUPerc}}",
            &self.container(),
        ]);
        stdout(&output)
            .trim()
            .trim_end_matches('%')
            .parse()
            .unwrap_or(0.0)
    }
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        let _ = firedrill()
            .args(["sandbox", "down", "--name", &self.name])
            .output();
    }
}

/// Sum of a metric's samples whose labels include every `(name, value)` given.
pub fn metric_value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

/// An HTTP client for tests: short timeout, accepts the sandbox's self-signed certificate.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(15))
        .danger_accept_invalid_certs(true)
        .build()
        .expect("client builds")
}

/// Runs the docker CLI.
pub fn docker(args: &[&str]) -> Output {
    std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI runs")
}

pub fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The command was refused as bad input (exit 2) with `needle` in what it said on stderr.
pub fn assert_refused(output: &Output, needle: &str) {
    assert_eq!(output.status.code(), Some(2), "stderr: {}", stderr(output));
    assert!(stderr(output).contains(needle), "{}", stderr(output));
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Polls `check` every 200 ms until it returns `Some`, or panics after `within` with `what`.
pub fn eventually<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(started.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Names of firedrill resources (containers, networks, volumes) labelled with sandbox `name`.
pub fn leftovers_of(name: &str) -> Vec<String> {
    let label = format!("label=io.firedrill.sandbox={name}");
    let mut found = Vec::new();
    for (kind, args) in [
        ("container", vec!["ps", "-a", "-q", "--filter", &label]),
        ("network", vec!["network", "ls", "-q", "--filter", &label]),
        ("volume", vec!["volume", "ls", "-q", "--filter", &label]),
    ] {
        for id in stdout(&docker(&args)).split_whitespace() {
            found.push(format!("{kind} {id}"));
        }
    }
    found
}
