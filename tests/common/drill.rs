//! A `firedrill run` through the real binary, its output read line by line as it comes, so a
//! test can wait for what the drill prints, send it verbs, and read its result.

use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{assert_success, docker, firedrill, leftovers_of, spawn_firedrill};

/// `firedrill run` of a scenario, its output read as it comes. Dropped, it kills the drill and
/// removes its sandbox.
pub struct DrillRun {
    child: Child,
    lines: mpsc::Receiver<String>,
    results: tempfile::TempDir,
    pub session: String,
    pub container: String,
}

impl DrillRun {
    /// Starts `firedrill run <args>` (results in a folder of its own) and waits until it
    /// announces its session.
    pub fn start(args: &[&str]) -> DrillRun {
        let results = tempfile::tempdir().unwrap();
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        all.extend(["--results", results.path().to_str().unwrap()]);
        let (child, lines) = spawn_firedrill(&all);
        let mut run = DrillRun {
            child,
            lines,
            results,
            session: String::new(),
            container: String::new(),
        };
        let line = run.wait_line(Duration::from_secs(180), |l| {
            l.starts_with("session drill-")
        });
        // `session drill-1a2b3c: agent firedrill-drill-1a2b3c-agent at http://...`
        run.session = line["session ".len()..]
            .split(':')
            .next()
            .unwrap()
            .to_string();
        run.container = format!("firedrill-{}-agent", run.session);
        run
    }

    /// The drill process's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the drill process as `kill -9` would: nothing of it gets to clean up.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn wait_line(&self, within: Duration, pick: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .expect("the drill printed the awaited line in time");
            let line = self
                .lines
                .recv_timeout(left)
                .expect("the drill is still printing");
            if pick(&line) {
                return line;
            }
        }
    }

    pub fn verb(&self, args: &[&str]) {
        let output = firedrill()
            .args(args)
            .args(["--session", &self.session])
            .output()
            .unwrap();
        assert_success(&output, &format!("firedrill {args:?}"));
    }

    pub fn exec(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["exec", self.container.as_str()];
        all.extend_from_slice(args);
        docker(&all)
    }

    /// Waits for the drill to end; its exit code and result file.
    pub fn finish(mut self, within: Duration) -> (Option<i32>, Value) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the drill did not end in {within:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        let path = self.results.path().join(format!("{}.json", self.session));
        let result = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(
            leftovers_of(&self.session).is_empty(),
            "the drill removed its sandbox"
        );
        (status.code(), result)
    }
}

impl Drop for DrillRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = firedrill()
            .args(["sandbox", "down", "--name", &self.session])
            .output();
    }
}
