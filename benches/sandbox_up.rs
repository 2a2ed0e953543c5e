//! Prints, in one run: time from `firedrill sandbox up` to healthy with the image cached, beside a
//! plain `docker run` of the same image plus its first healthy `/health`; the agent's RSS at idle;
//! the image size. Run with `cargo bench --bench sandbox_up` (needs a Docker engine).

use std::process::Command;
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;
const FIREDRILL: &str = env!("CARGO_BIN_EXE_firedrill");
const IMAGE: &str = "firedrill/optimizer-agent:1.4.2";

fn main() {
    if !Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("sandbox_up: no Docker engine; nothing measured");
        return;
    }
    // Warm-up: builds (or reuses) the image of this very binary, so every timed round is cached.
    let warm = sandbox_up("bench-warm");
    sandbox_down("bench-warm");
    println!(
        "warm-up (may include the image build): {:.2}s",
        warm.as_secs_f64()
    );

    let mut firedrill_times = Vec::new();
    let mut plain_times = Vec::new();
    for round in 0..ROUNDS {
        let name = format!("bench-{round}");
        firedrill_times.push(sandbox_up(&name));
        sandbox_down(&name);
        plain_times.push(plain_run(round));
    }
    let firedrill = median(&mut firedrill_times);
    let plain = median(&mut plain_times);
    println!(
        "sandbox up to healthy, cached image: median {:.3}s (min {:.3}s, max {:.3}s) over {ROUNDS}",
        firedrill.as_secs_f64(),
        firedrill_times[0].as_secs_f64(),
        firedrill_times[ROUNDS - 1].as_secs_f64()
    );
    println!("plain docker run + first healthy /health: median {:.3}s (min {:.3}s, max {:.3}s) over {ROUNDS}",
        plain.as_secs_f64(), plain_times[0].as_secs_f64(), plain_times[ROUNDS - 1].as_secs_f64());
    println!(
        "ratio: {:.2}x (aim: within 1.3x)",
        firedrill.as_secs_f64() / plain.as_secs_f64()
    );

    sandbox_up("bench-idle");
    std::thread::sleep(Duration::from_secs(15));
    let rss = docker(&[
        "exec",
        "firedrill-bench-idle-agent",
        "cat",
        "/proc/1/status",
    ]);
    let rss_kib = rss
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    let stats = docker(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.MemUsage}} {{.CPUPerc}}",
        "firedrill-bench-idle-agent",
    ]);
    println!("agent RSS at idle (15 s after up, with client traffic at 2 req/s): {:.1} MB (aim: under 15 MB); docker stats: {}",
        rss_kib / 1024.0, stats.trim());
    sandbox_down("bench-idle");

    let size: f64 = docker(&["image", "inspect", "--format", "{{.Size}}", IMAGE])
        .trim()
        .parse()
        .unwrap_or(f64::NAN);
    println!("image size: {:.1} MB ({IMAGE})", size / 1_000_000.0);
}

fn sandbox_up(name: &str) -> Duration {
    let started = Instant::now();
    let output = Command::new(FIREDRILL)
        .args(["sandbox", "up", "--name", name, "--json"])
        .output()
        .expect("firedrill runs");
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "sandbox up failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

fn sandbox_down(name: &str) {
    let _ = Command::new(FIREDRILL)
        .args(["sandbox", "down", "--name", name])
        .output();
}

/// `docker run` of the same image (labelled, so `firedrill cleanup` would catch a leftover), then
/// poll `/health` until it says healthy.
fn plain_run(round: usize) -> Duration {
    let name = format!("firedrill-bench-plain-{round}");
    let started = Instant::now();
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--label",
        "io.firedrill.managed=true",
        "-p",
        "127.0.0.1::8080",
        IMAGE,
    ]);
    let port = docker(&["port", &name, "8080/tcp"]);
    let url = format!(
        "http://{}/health",
        port.lines().next().unwrap_or_default().trim()
    );
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("client");
    loop {
        let healthy = client
            .get(&url)
            .send()
            .ok()
            .and_then(|r| r.json::<serde_json::Value>().ok())
            .is_some_and(|b| b["status"] == "healthy");
        if healthy || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = started.elapsed();
    docker(&["rm", "-f", &name]);
    elapsed
}

fn docker(args: &[&str]) -> String {
    let output = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}
