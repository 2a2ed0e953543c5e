//! The labels that mark what firedrill owns. firedrill never touches a resource without them.

use std::collections::HashMap;

/// The user agent of firedrill's own requests to a sandbox (its monitor and health probes), so
/// the agent's access log tells them from a person's.
pub const OWN_USER_AGENT: &str = "firedrill-monitor";

/// Present (`true`) on every container, network, volume and image firedrill makes.
pub const MANAGED: &str = "io.firedrill.managed";
/// The session that made the resource (a drill session, or a free-play sandbox's own id).
pub const SESSION: &str = "io.firedrill.session";
/// The sandbox a container, network or volume belongs to.
pub const SANDBOX: &str = "io.firedrill.sandbox";
/// What a container is in its sandbox: [`ROLE_AGENT`], [`ROLE_REPLICA`] or [`ROLE_TRAFFIC`].
pub const ROLE: &str = "io.firedrill.role";
/// Which replica of the agent a [`ROLE_REPLICA`] container is (2, 3, ...; the primary is 1).
pub const REPLICA: &str = "io.firedrill.replica";
/// The agent release an image or container carries.
pub const RELEASE: &str = "io.firedrill.release";
/// The release an agent container replaced: what `sandbox rollback` deploys.
pub const PREVIOUS_RELEASE: &str = "io.firedrill.previous-release";
/// sha256 of an image's build context.
pub const CONTENT_HASH: &str = "io.firedrill.content-hash";
/// Fingerprint of the files an image was made from: a changed program rebuilds the image.
pub const INPUTS: &str = "io.firedrill.inputs";

/// The primary agent: the one faults, probes, the drill monitor and the trainee's URLs target.
pub const ROLE_AGENT: &str = "agent";
/// A further agent behind the same network alias, added by `sandbox scale`. Not `agent`, so
/// everything that looks for a sandbox's agent keeps finding the primary alone.
pub const ROLE_REPLICA: &str = "replica";
pub const ROLE_TRAFFIC: &str = "traffic";

/// The labels of a resource made for `session`, plus `extra`.
pub fn owned(session: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut labels = HashMap::from([
        (MANAGED.to_string(), "true".to_string()),
        (SESSION.to_string(), session.to_string()),
    ]);
    labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    labels
}

/// The labels firedrill gives a sandbox container, out of those the engine reports for it
/// (which include its image's): what a replacement or a replica carries over.
pub fn own_container_labels(reported: &HashMap<String, String>) -> HashMap<String, String> {
    const OWN: [&str; 7] = [
        MANAGED,
        SESSION,
        SANDBOX,
        ROLE,
        REPLICA,
        RELEASE,
        PREVIOUS_RELEASE,
    ];
    reported
        .iter()
        .filter(|(key, _)| OWN.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// An engine `filters` map selecting firedrill's resources that carry every `label=value` given.
pub fn filter(extra: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    let mut selectors = vec![format!("{MANAGED}=true")];
    selectors.extend(extra.iter().map(|(k, v)| format!("{k}={v}")));
    HashMap::from([("label".to_string(), selectors)])
}

/// Whether a resource's labels say firedrill owns it: the last check before removing anything.
pub fn is_managed(labels: Option<&HashMap<String, String>>) -> bool {
    labels
        .and_then(|l| l.get(MANAGED))
        .is_some_and(|v| v == "true")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_labels_carry_the_marker_and_the_session() {
        let labels = owned("sbx-1", &[(ROLE, ROLE_AGENT)]);
        assert_eq!(labels[MANAGED], "true");
        assert_eq!(labels[SESSION], "sbx-1");
        assert_eq!(labels[ROLE], "agent");
        assert!(is_managed(Some(&labels)));
    }

    #[test]
    fn a_containers_own_labels_leave_out_its_images() {
        let mut reported = owned("sbx-1", &[(SANDBOX, "blue"), (ROLE, ROLE_REPLICA)]);
        reported.insert(REPLICA.to_string(), "2".to_string());
        reported.insert(RELEASE.to_string(), "1.4.3".to_string());
        reported.insert(PREVIOUS_RELEASE.to_string(), "1.4.2".to_string());
        let own = reported.clone();
        reported.insert(CONTENT_HASH.to_string(), "sha256:abc".to_string());
        reported.insert(INPUTS.to_string(), "xyz".to_string());
        reported.insert(
            "org.opencontainers.image.title".to_string(),
            "x".to_string(),
        );
        assert_eq!(own_container_labels(&reported), own);
    }

    #[test]
    fn unlabelled_or_foreign_resources_are_not_managed() {
        assert!(!is_managed(None));
        let foreign = HashMap::from([(MANAGED.to_string(), "false".to_string())]);
        assert!(!is_managed(Some(&foreign)));
    }

    #[test]
    fn filter_selects_on_the_marker_first() {
        let f = filter(&[(SANDBOX, "blue")]);
        assert_eq!(
            f["label"],
            vec![
                "io.firedrill.managed=true".to_string(),
                "io.firedrill.sandbox=blue".to_string()
            ]
        );
    }
}
