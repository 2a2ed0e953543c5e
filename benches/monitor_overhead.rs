//! What monitoring costs: CPU (% of one core) and resident memory of `firedrill watch` while it
//! samples 1, 5 and 10 sandboxes every second. Aim: under 5 % of one core and under 50 MB for 10.
//! Run with `cargo bench --bench monitor_overhead` (needs a Docker engine; takes about 4 minutes).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FIREDRILL: &str = env!("CARGO_BIN_EXE_firedrill");
/// How long each measurement watches, after a warm-up that fills the rate windows.
const MEASURE: Duration = Duration::from_secs(45);
const WARM_UP: Duration = Duration::from_secs(10);

fn firedrill(args: &[&str]) -> std::process::Output {
    Command::new(FIREDRILL)
        .args(args)
        .env(
            "FIREDRILL_STATE_DIR",
            std::env::temp_dir().join("firedrill-bench-state"),
        )
        .output()
        .expect("firedrill runs")
}

/// Removes the bench's sandboxes, also when the bench panics.
struct Sandboxes(Vec<String>);

impl Drop for Sandboxes {
    fn drop(&mut self) {
        for name in &self.0 {
            firedrill(&["sandbox", "down", "--name", name]);
        }
    }
}

/// utime + stime of `pid` in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the watch runs");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // USER_HZ is 100 on every Linux this runs on.
    ticks / 100.0
}

/// VmHWM (peak resident set) of `pid`, in MB.
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn measure(names: &[String]) -> (f64, f64) {
    let mut args = vec!["watch".to_string(), "--json".to_string()];
    for name in names {
        args.push("--sandbox".to_string());
        args.push(name.clone());
    }
    let mut watch = Command::new(FIREDRILL)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("firedrill watch starts");
    let pid = watch.id();
    std::thread::sleep(WARM_UP);
    let (cpu_before, at) = (cpu_seconds(pid), Instant::now());
    std::thread::sleep(MEASURE);
    let cpu = (cpu_seconds(pid) - cpu_before) / at.elapsed().as_secs_f64() * 100.0;
    let rss = peak_rss_mb(pid);
    let _ = watch.kill();
    let _ = watch.wait();
    (cpu, rss)
}

fn main() {
    if Command::new("docker")
        .arg("info")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        eprintln!("monitor_overhead: no Docker engine; nothing measured");
        return;
    }
    let mut sandboxes = Sandboxes(Vec::new());
    for index in 0..10 {
        let name = format!("bench-watch-{}-{index}", std::process::id());
        let up = firedrill(&["sandbox", "up", "--name", &name]);
        sandboxes.0.push(name.clone());
        assert!(
            up.status.success(),
            "sandbox up {name}: {}",
            String::from_utf8_lossy(&up.stderr)
        );
    }
    println!(
        "{:>9}  {:>16}  {:>12}  aim (10 sandboxes)",
        "sandboxes", "CPU (% of core)", "peak RSS MB"
    );
    for count in [1, 5, 10] {
        let (cpu, rss) = measure(&sandboxes.0[..count]);
        println!("{count:>9}  {cpu:>16.2}  {rss:>12.1}  < 5 % and < 50 MB");
    }
}
