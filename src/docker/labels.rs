//! The labels that mark what firedrill owns. firedrill never touches a resource without them.

use std::collections::HashMap;

/// Present (`true`) on every container, network, volume and image firedrill makes.
/// The user agent of firedrill's own requests to a sandbox (its monitor and health probes), so
/// the agent's access log tells them from a person's.
pub const OWN_USER_AGENT: &str = "firedrill-monitor";

pub const MANAGED: &str = "io.firedrill.managed";
/// The session that made the resource (a drill session, or a free-play sandbox's own id).
pub const SESSION: &str = "io.firedrill.session";
/// The sandbox a container, network or volume belongs to.
pub const SANDBOX: &str = "io.firedrill.sandbox";
/// What a container is in its sandbox: [`ROLE_AGENT`] or [`ROLE_TRAFFIC`].
pub const ROLE: &str = "io.firedrill.role";
/// The agent release an image or container carries.
pub const RELEASE: &str = "io.firedrill.release";
/// The release an agent container replaced: what `sandbox rollback` deploys.
pub const PREVIOUS_RELEASE: &str = "io.firedrill.previous-release";
/// sha256 of an image's build context.
pub const CONTENT_HASH: &str = "io.firedrill.content-hash";
/// Fingerprint of the files an image was made from: a changed program rebuilds the image.
pub const INPUTS: &str = "io.firedrill.inputs";

pub const ROLE_AGENT: &str = "agent";
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
