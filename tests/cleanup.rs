//! `firedrill cleanup` removes everything firedrill made and nothing else, except what a drill
//! still running uses.
//!
//! Its own binary: a sweep removes every firedrill resource, so it must not run beside other
//! tests' sandboxes (cargo runs test binaries one after another); its tests take turns.

mod common;

use std::sync::Mutex;

use common::drill::DrillRun;
use common::*;

/// One sweep at a time: each test asserts what the engine holds after its own.
static SWEEPS: Mutex<()> = Mutex::new(());

#[test]
fn cleanup_sweeps_leftovers_and_spares_unlabelled_containers() {
    require_docker!();
    let _turn = SWEEPS.lock().unwrap_or_else(|e| e.into_inner());
    // Leftovers of a killed drill: a sandbox whose firedrill process is gone.
    let leftover = TestSandbox::up("leftover");
    let name = leftover.name.clone();
    std::mem::forget(leftover);

    // A decoy from an unlabelled image (a container made from firedrill's image would inherit
    // its labels), named so that a name-based sweep would wrongly catch it.
    let decoy_image = format!("decoy-image:{}", std::process::id());
    let decoy = format!("firedrill-decoy-{}", std::process::id());
    let tar = tar_with_one_file();
    let imported = std::process::Command::new("docker")
        .args(["import", "-", &decoy_image])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(&tar)?;
            child.wait_with_output()
        })
        .unwrap();
    assert_success(&imported, "docker import of the decoy image");
    assert_success(
        &docker(&["create", "--name", &decoy, &decoy_image, "/hello"]),
        "docker create decoy",
    );

    let output = firedrill().args(["cleanup", "--json"]).output().unwrap();
    assert_success(&output, "firedrill cleanup");
    let swept: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let containers = swept["containers"].as_array().unwrap();
    assert!(
        containers
            .iter()
            .any(|c| c == &format!("firedrill-{name}-agent")),
        "{swept}"
    );
    assert!(!containers.iter().any(|c| c == decoy.as_str()));

    assert_eq!(leftovers_of(&name), Vec::<String>::new());
    let managed = stdout(&docker(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        "label=io.firedrill.managed=true",
    ]));
    assert_eq!(
        managed.trim(),
        "",
        "firedrill containers left after cleanup"
    );
    let decoy_still_there = docker(&["inspect", "--format", "{{.Name}}", &decoy]);
    assert_success(&decoy_still_there, "the decoy container survives cleanup");

    assert_success(&docker(&["rm", &decoy]), "removing the decoy");
    assert_success(&docker(&["rmi", &decoy_image]), "removing the decoy image");
}

#[test]
fn a_running_drill_is_spared_and_swept_once_its_process_is_killed() {
    require_docker!();
    let _turn = SWEEPS.lock().unwrap_or_else(|e| e.into_inner());
    // A drill whose fault is far off: it just runs while the sweep comes.
    let mut drill = DrillRun::start(&[
        "tests/fixtures/drills/fast-memory-leak.yaml",
        "--onset",
        "10m",
    ]);
    let (session, agent) = (drill.session.clone(), drill.container.clone());

    let output = firedrill().args(["cleanup", "--json"]).output().unwrap();
    assert_success(&output, "firedrill cleanup");
    let swept: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        swept["spared"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == &agent),
        "{swept}"
    );
    assert!(
        !swept["containers"].to_string().contains(&session),
        "{swept}"
    );
    let running = docker(&["inspect", "--format", "{{.State.Running}}", &agent]);
    assert_eq!(
        stdout(&running).trim(),
        "true",
        "the drill's agent still runs"
    );
    let human = firedrill().args(["cleanup"]).output().unwrap();
    assert!(
        stdout(&human).contains(&format!("spared drill {session} (pid {}", drill.pid())),
        "{}",
        stdout(&human)
    );

    // Killed, the drill leaves its sandbox behind: that is what cleanup is for.
    drill.kill();
    let output = firedrill().args(["cleanup", "--json"]).output().unwrap();
    assert_success(&output, "firedrill cleanup");
    let swept: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        swept["containers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == &agent),
        "{swept}"
    );
    assert_eq!(leftovers_of(&session), Vec::<String>::new());
    // Its session file went with it: no verb asks a dead drill any more.
    let ack = firedrill()
        .args(["ack", "--session", &session])
        .output()
        .unwrap();
    assert_refused(&ack, &session);
}

fn tar_with_one_file() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let contents = b"not firedrill's\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(contents.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "hello", &contents[..])
        .unwrap();
    builder.into_inner().unwrap()
}
