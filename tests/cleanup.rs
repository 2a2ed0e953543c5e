//! `firedrill cleanup` removes everything firedrill made and nothing else.
//!
//! One test in its own binary: a sweep removes every firedrill resource, so it must not run
//! beside other tests' sandboxes (cargo runs test binaries one after another).

mod common;

use common::*;

#[test]
fn cleanup_sweeps_leftovers_and_spares_unlabelled_containers() {
    require_docker!();
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
