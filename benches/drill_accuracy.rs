//! Measurement accuracy of a drill: a scripted responder acknowledges, diagnoses and fixes the
//! `high-cpu-usage` drill at moments it notes, and the times in the result file are compared
//! with them. Prints, per time, the min/median/max of |measured - acted| over several drills.
//! Run with `cargo bench --bench drill_accuracy [-- DRILLS]` (needs a Docker engine; the
//! drills run three at a time, about two minutes each).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const FIREDRILL: &str = env!("CARGO_BIN_EXE_firedrill");

fn state_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("firedrill-bench-accuracy-{}", std::process::id()))
}

fn firedrill(args: &[&str]) -> std::process::Output {
    Command::new(FIREDRILL)
        .args(args)
        .env("FIREDRILL_STATE_DIR", state_dir())
        .output()
        .expect("firedrill runs")
}

/// One drill: `(time name, measured - acted in seconds)` for acknowledge and detect, and the
/// resolution's distance from the fix plus the stability window.
fn one_drill(results: &std::path::Path) -> Vec<(&'static str, f64)> {
    let mut child = Command::new(FIREDRILL)
        .args([
            "run",
            "high-cpu-usage",
            "--onset",
            "2s",
            "--time-limit",
            "4m",
        ])
        .args(["--trainee", "bench", "--results"])
        .arg(results)
        .env("FIREDRILL_STATE_DIR", state_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("firedrill run starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let session = loop {
        let line = lines.next().expect("the drill prints").unwrap();
        if let Some(rest) = line.strip_prefix("session ") {
            break rest.split(':').next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let container = format!("firedrill-{session}-agent");
    // Act at fixed moments after the fault's fixed onset, not on the page: the pages of three
    // drills sharing two cores come late, and the responder's timing is what is measured.
    std::thread::sleep(Duration::from_secs(20));
    let acked = SystemTime::now();
    firedrill(&["ack", "--session", &session]);
    std::thread::sleep(Duration::from_secs(3));
    let diagnosed = SystemTime::now();
    firedrill(&["diagnose", "high-cpu-usage", "--session", &session]);
    std::thread::sleep(Duration::from_secs(3));
    let fixed = SystemTime::now();
    Command::new("docker")
        .args(["exec", &container, "sh", "-c"])
        .arg("agentctl jobs cancel $(agentctl jobs list --json | grep '\"id\"' | head -n 1 | sed 's/[^0-9]//g') --deny")
        .output()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the drill did not end"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let path = results.join(format!("{session}.json"));
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let injected = humantime::parse_rfc3339(result["fault_injected_at"].as_str().unwrap()).unwrap();
    let since = |at: SystemTime| at.duration_since(injected).unwrap().as_secs_f64();
    let measured = |key: &str| result["times"][key].as_f64().unwrap_or(f64::NAN);
    vec![
        ("acknowledge", measured("acknowledge_s") - since(acked)),
        ("detect", measured("detect_s") - since(diagnosed)),
        // Resolution is verified every 5 s after a 60 s stability window.
        (
            "resolve - 60 s",
            measured("resolve_s") - since(fixed) - 60.0,
        ),
    ]
}

fn main() {
    if !Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("drill_accuracy: no Docker engine; nothing measured");
        return;
    }
    let drills: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(6);
    let results = tempfile::tempdir().unwrap();
    let mut samples: Vec<(&str, f64)> = Vec::new();
    for batch in (0..drills).collect::<Vec<_>>().chunks(3) {
        let found: Vec<Vec<(&str, f64)>> = std::thread::scope(|scope| {
            let runs: Vec<_> = batch
                .iter()
                .map(|_| scope.spawn(|| one_drill(results.path())))
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        samples.extend(found.into_iter().flatten());
    }
    println!("{drills} drills; measured minus acted, seconds");
    println!("{:<16} {:>8} {:>8} {:>8}", "time", "min", "median", "max");
    for name in ["acknowledge", "detect", "resolve - 60 s"] {
        let mut values: Vec<f64> = samples
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .collect();
        values.sort_by(f64::total_cmp);
        let median = values[values.len() / 2];
        println!(
            "{name:<16} {:>8.2} {median:>8.2} {:>8.2}",
            values[0],
            values[values.len() - 1]
        );
    }
}
