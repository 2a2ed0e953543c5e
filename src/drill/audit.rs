//! The trainee's actions, told apart from everything else that happens to a sandbox:
//! Docker events on the agent container (minus firedrill's own, which it logs, see
//! `FaultStore::own_actions`), its replicas coming and going, and the agent's access log
//! (minus the client traffic and firedrill's monitor, which announce themselves by user
//! agent). Pure: the drill runner feeds it events and log lines as they come.

use std::collections::{BTreeSet, HashMap, HashSet};

use bollard::models::EventMessage;
use serde::Deserialize;

use super::timeline::Action;
use crate::docker::exec::OwnAction;
use crate::docker::labels::{self, OWN_USER_AGENT};
use crate::scenario::model::ActionSource;

/// The traffic generator's user agent (set in the sandbox crate's traffic client).
const TRAFFIC_USER_AGENT: &str = "firedrill-traffic";
/// An engine action of firedrill and the event it causes are this close in time at most.
const OWN_ACTION_SLACK_S: f64 = 10.0;
/// The same for a deploy: its events follow its start by as long as the new agent takes to
/// answer healthy and the old one to drain (seconds each on a loaded host).
const OWN_DEPLOY_SLACK_S: f64 = 60.0;
/// How much earlier than firedrill's own log of an action its event may be stamped.
const OWN_ACTION_LEAD_S: f64 = 1.0;

/// The container actions a trainee takes that matter to a drill, by the event's action name,
/// and the text an action of that kind gets. The rest (`die`, `exec_create`, `exec_die`, the
/// `start` a restart policy causes...) are consequences, not decisions.
const CONTAINER_ACTIONS: [(&str, &str); 12] = [
    ("restart", "restart"),
    ("kill", "kill"),
    ("stop", "stop"),
    ("start", "start"),
    ("pause", "pause"),
    ("unpause", "unpause"),
    ("update", "update"),
    ("commit", "commit"),
    ("destroy", "destroy"),
    ("rename", "rename"),
    ("archive-path", "cp"),
    ("extract-to-dir", "cp"),
];

/// A `die` this soon after a `kill` or `stop` is that stop's; later, or without one, the
/// container crashed (a crash loop, an OOM kill) and its restart policy starts it again.
const STOP_TO_DIE_S: f64 = 15.0;

/// Judges the Docker events of one agent container, in the order they come. It remembers
/// which of firedrill's own actions already explained an event (one `docker cp` of a probe
/// explains one copy, so a trainee's copy a second later is still the trainee's) and whether
/// the container crashed (the `start` its restart policy then causes is nobody's action).
#[derive(Debug, Default)]
pub struct DockerAudit {
    /// `(own action, event action)` pairs already matched.
    explained: HashSet<(String, &'static str)>,
    last_stop: Option<f64>,
    /// The container died and has not started since.
    down: bool,
    crashed: bool,
    /// When the container of this name was last created (a deploy).
    created: Option<f64>,
}

impl DockerAudit {
    /// What `event` means to the audit: a trainee action at a Unix time, or nothing
    /// (firedrill's own, or a consequence).
    pub fn judge(&mut self, event: &EventMessage, own: &[OwnAction]) -> Option<(f64, Action)> {
        let action = event.action.as_deref()?;
        let at = event_time(event)?;
        let attributes: HashMap<String, String> = event
            .actor
            .as_ref()
            .and_then(|actor| actor.attributes.clone())
            .unwrap_or_default();
        if let Some(command) = action.strip_prefix("exec_start: ") {
            let exec_id = attributes.get("execID");
            let firedrills = own
                .iter()
                .any(|o| o.exec_id.is_some() && o.exec_id.as_ref() == exec_id);
            return (!firedrills).then(|| {
                (
                    at,
                    Action {
                        source: ActionSource::Exec,
                        text: command.trim().to_string(),
                    },
                )
            });
        }
        match action {
            "create" => {
                self.created = Some(at);
                if self.explained_by_own(at, "create", own) {
                    return None;
                }
                return deploy_action(at, &attributes);
            }
            "die" => {
                // One stop explains one death; the deaths after it are crashes.
                self.crashed = self
                    .last_stop
                    .take()
                    .is_none_or(|stop| at - stop > STOP_TO_DIE_S);
                self.down = true;
                return None;
            }
            // The engine reports a `stop` after the `die` it caused: only a stop of a running
            // container is one.
            "kill" | "stop" if !self.down => self.last_stop = Some(at),
            "start" => {
                self.down = false;
                let deployed = self
                    .created
                    .take()
                    .is_some_and(|created| at - created <= STOP_TO_DIE_S);
                // The restart policy's start after a crash, or a new container's first start
                // (part of the deploy that created it), is nobody's action.
                if std::mem::take(&mut self.crashed) || deployed {
                    return None;
                }
            }
            _ => {}
        }
        let (name, text) = CONTAINER_ACTIONS.iter().find(|(name, _)| *name == action)?;
        if self.explained_by_own(at, name, own) {
            return None;
        }
        Some((
            at,
            Action {
                source: ActionSource::Docker,
                text: text.to_string(),
            },
        ))
    }

    /// Whether one of firedrill's own engine actions explains event `action` at `at`, and if
    /// so, marks it used for events of that kind. firedrill logs an action as it starts it, so
    /// the event follows: the closest one before (a little after, for clocks), within its
    /// slack, not yet matched to such an event, explains it.
    fn explained_by_own(&mut self, at: f64, action: &'static str, own: &[OwnAction]) -> bool {
        let explaining = own
            .iter()
            .filter(|o| {
                o.exec_id.is_none()
                    && o.at <= at + OWN_ACTION_LEAD_S
                    && at - o.at <= slack(&o.command)
                    && causes(&o.command, action)
                    && !self.explained.contains(&(own_key(o), action))
            })
            .max_by(|a, b| a.at.total_cmp(&b.at));
        match explaining {
            Some(own_action) => {
                self.explained.insert((own_key(own_action), action));
                true
            }
            None => false,
        }
    }
}

/// How long after firedrill's own `command` started its events may come.
fn slack(command: &str) -> f64 {
    if command.starts_with(OWN_DEPLOY) {
        OWN_DEPLOY_SLACK_S
    } else {
        OWN_ACTION_SLACK_S
    }
}

/// How firedrill logs a deploy of its own (a bad-release fault's).
const OWN_DEPLOY: &str = "firedrill sandbox deploy";

/// Judges the Docker events of a sandbox's replicas (`<primary>-<index>`) for one thing: a
/// replica made or removed is the trainee scaling, `scale <agent containers>`. What a replica
/// does otherwise the primary's events already tell.
#[derive(Debug)]
pub struct ReplicaAudit {
    primary: String,
    /// The replica indexes that have a container.
    indexes: BTreeSet<u8>,
    /// Indexes a deploy is re-creating. Until it removes the old container (renamed aside), a
    /// destroy under the index's name is the new one that failed to start, and the old one
    /// takes the name back: no scale-in.
    replacing: BTreeSet<u8>,
}

impl ReplicaAudit {
    /// `existing`: the indexes of the replicas of agent container `primary` when the audit starts.
    pub fn new(primary: &str, existing: impl IntoIterator<Item = u8>) -> ReplicaAudit {
        ReplicaAudit {
            primary: primary.to_string(),
            indexes: existing.into_iter().collect(),
            replacing: BTreeSet::new(),
        }
    }

    /// What `event` means to the audit: the number of agent containers at a Unix time, when a
    /// replica came or went; nothing for every other event.
    pub fn judge(&mut self, event: &EventMessage) -> Option<(f64, Action)> {
        let (index, renamed_aside) = self.replica_of(event_name(event)?)?;
        let at = event_time(event)?;
        match (event.action.as_deref()?, renamed_aside) {
            ("create", false) => {
                if !self.indexes.insert(index) {
                    // A deploy's new container, under the name of the one it replaces.
                    self.replacing.insert(index);
                    return None;
                }
            }
            ("destroy", false) => {
                if self.replacing.remove(&index) || !self.indexes.remove(&index) {
                    return None;
                }
            }
            ("destroy", true) => {
                self.replacing.remove(&index);
                return None;
            }
            _ => return None,
        }
        Some((
            at,
            Action {
                source: ActionSource::Firedrill,
                text: format!("scale {}", self.indexes.len() + 1),
            },
        ))
    }

    /// The replica index container `name` holds, and whether a deploy renamed it aside
    /// (`<primary>-<index>-replaced-<id>`). The engine's name filter matches more than the
    /// sandbox's own containers: `<primary>x-2` is another sandbox's.
    fn replica_of(&self, name: &str) -> Option<(u8, bool)> {
        let suffix = name.strip_prefix(&self.primary)?.strip_prefix('-')?;
        let (digits, renamed_aside) = match suffix.split_once("-replaced-") {
            Some((digits, _)) => (digits, true),
            None => (suffix, false),
        };
        // `parse` would take a sign.
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some((digits.parse().ok()?, renamed_aside))
    }
}

/// When `event` happened, as a Unix time (the engine's nanoseconds when it gives them).
fn event_time(event: &EventMessage) -> Option<f64> {
    event
        .time_nano
        .map(|ns| ns as f64 / 1e9)
        .or_else(|| event.time.map(|s| s as f64))
}

/// The name the container had when `event` happened.
fn event_name(event: &EventMessage) -> Option<&str> {
    let name = event.actor.as_ref()?.attributes.as_ref()?.get("name")?;
    Some(name.trim_start_matches('/'))
}

fn own_key(own: &OwnAction) -> String {
    format!("{}|{}", own.at, own.command)
}

/// A new agent container under the sandbox's name that firedrill did not make is a deploy
/// (`firedrill sandbox deploy` creates it): `deploy <release>`.
fn deploy_action(at: f64, attributes: &HashMap<String, String>) -> Option<(f64, Action)> {
    let release = attributes.get(labels::RELEASE)?;
    Some((
        at,
        Action {
            source: ActionSource::Firedrill,
            text: format!("deploy {release}"),
        },
    ))
}

/// Whether firedrill's engine action `command` (in `docker` CLI words) produces event `action`.
fn causes(command: &str, action: &str) -> bool {
    let mut words = command
        .strip_prefix("docker ")
        .map(|rest| rest.split_whitespace())
        .into_iter()
        .flatten();
    match words.next() {
        // A restart is a kill, a stop and a start as well; a stop signals first.
        Some("restart") => matches!(action, "restart" | "kill" | "stop" | "start"),
        Some("stop") => matches!(action, "stop" | "kill"),
        Some("start") => action == "start",
        Some("update") => action == "update",
        // A copy out (`docker cp agent:/path -`) reads, a copy in writes: each its own event.
        Some("cp") => match words.next() {
            Some(source) if source.contains(':') => action == "archive-path",
            Some(_) => action == "extract-to-dir",
            None => false,
        },
        // `firedrill sandbox deploy` replaces the container.
        _ if command.starts_with(OWN_DEPLOY) => {
            matches!(
                action,
                "create" | "kill" | "stop" | "destroy" | "start" | "rename"
            )
        }
        _ => false,
    }
}

/// One access-log line of the agent (JSON, target `access`).
#[derive(Debug, Deserialize)]
struct AccessLine {
    target: String,
    timestamp: String,
    method: String,
    path: String,
    #[serde(default)]
    user_agent: Option<String>,
}

/// A request a person made to the agent, from one of its log lines: `(unix time, action)`.
/// Other log lines, the client traffic's and firedrill's monitor's requests give `None`.
pub fn access_action(line: &str) -> Option<(f64, Action)> {
    let access: AccessLine = serde_json::from_str(line).ok()?;
    if access.target != "access" {
        return None;
    }
    let agent = access.user_agent.as_deref().unwrap_or("-");
    if agent.starts_with(TRAFFIC_USER_AGENT) || agent.starts_with(OWN_USER_AGENT) {
        return None;
    }
    let at = humantime::parse_rfc3339(&access.timestamp)
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    Some((
        at,
        Action {
            source: ActionSource::Http,
            text: format!("{} {}", access.method, access.path),
        },
    ))
}

#[cfg(test)]
mod tests {
    use bollard::models::EventActor;

    use super::*;

    fn event(action: &str, at: i64, attributes: &[(&str, &str)]) -> EventMessage {
        EventMessage {
            action: Some(action.to_string()),
            time: Some(at),
            actor: Some(EventActor {
                id: Some("abc".to_string()),
                attributes: Some(
                    attributes
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
            }),
            ..Default::default()
        }
    }

    fn own(at: f64, exec_id: Option<&str>, command: &str) -> OwnAction {
        OwnAction {
            at,
            exec_id: exec_id.map(str::to_string),
            command: command.to_string(),
        }
    }

    #[test]
    fn a_trainee_exec_is_kept_and_firedrills_is_not() {
        let mine = [own(
            100.0,
            Some("e1"),
            "cat /etc/docker-optimizer/config.yml",
        )];
        let theirs = event("exec_start: agentctl jobs list", 105, &[("execID", "e2")]);
        assert_eq!(
            DockerAudit::default().judge(&theirs, &mine),
            Some((
                105.0,
                Action {
                    source: ActionSource::Exec,
                    text: "agentctl jobs list".to_string()
                }
            ))
        );
        let ours = event(
            "exec_start: cat /etc/docker-optimizer/config.yml",
            100,
            &[("execID", "e1")],
        );
        assert_eq!(DockerAudit::default().judge(&ours, &mine), None);
    }

    #[test]
    fn container_actions_are_named_and_firedrills_engine_actions_left_out() {
        let mine = [own(200.0, None, "docker restart -t 5 firedrill-x-agent")];
        for action in ["restart", "kill", "stop", "start"] {
            assert_eq!(
                DockerAudit::default().judge(&event(action, 203, &[]), &mine),
                None,
                "{action}"
            );
        }
        let later = DockerAudit::default()
            .judge(&event("restart", 400, &[]), &mine)
            .unwrap();
        assert_eq!(later.1.text, "restart");
        assert_eq!(
            DockerAudit::default().judge(&event("die", 400, &[]), &[]),
            None,
            "a consequence"
        );
        assert_eq!(
            DockerAudit::default()
                .judge(&event("archive-path", 400, &[]), &[])
                .unwrap()
                .1
                .text,
            "cp"
        );
        let copy_out = [own(
            399.0,
            None,
            "docker cp firedrill-x-agent:/etc/passwd -",
        )];
        assert_eq!(
            DockerAudit::default().judge(&event("archive-path", 400, &[]), &copy_out),
            None
        );
    }

    #[test]
    fn a_probes_copy_explains_one_copy_in_its_direction() {
        let probe = [
            own(
                100.0,
                None,
                "docker cp firedrill-x-agent:/etc/docker-optimizer/config.yml -",
            ),
            own(
                105.0,
                None,
                "docker cp firedrill-x-agent:/etc/docker-optimizer/config.yml -",
            ),
        ];
        let mut audit = DockerAudit::default();
        assert_eq!(audit.judge(&event("archive-path", 100, &[]), &probe), None);
        // The trainee copies out a second after the probe did: the probe's copy is used up.
        let theirs = audit.judge(&event("archive-path", 101, &[]), &probe);
        assert_eq!(theirs.unwrap().1.text, "cp");
        assert_eq!(audit.judge(&event("archive-path", 105, &[]), &probe), None);
        // A copy in is never a probe's read.
        let copy_in = audit.judge(&event("extract-to-dir", 105, &[]), &probe);
        assert_eq!(copy_in.unwrap().1.text, "cp");
    }

    #[test]
    fn a_restart_policys_starts_and_a_deploys_first_start_are_nobodys() {
        let fault = [own(10.0, None, "docker restart -t 5 firedrill-x-agent")];
        let mut audit = DockerAudit::default();
        let mut seen = Vec::new();
        for (action, at) in [
            ("kill", 10),
            ("die", 11),
            ("stop", 11),
            ("start", 11),
            ("restart", 11),
            // The agent crash-loops: each death is a crash, each start the policy's.
            ("die", 12),
            ("start", 13),
            ("die", 14),
            ("start", 16),
            // The trainee stops it, then starts it.
            ("stop", 40),
            ("die", 40),
            ("start", 50),
            // A deploy: a new container and its first start.
            ("create", 60),
            ("start", 61),
        ] {
            let attributes: &[(&str, &str)] = if action == "create" {
                &[("io.firedrill.release", "1.4.3")]
            } else {
                &[]
            };
            if let Some((_, action)) = audit.judge(&event(action, at, attributes), &fault) {
                seen.push(action.text);
            }
        }
        assert_eq!(seen, ["stop", "start", "deploy 1.4.3"]);
    }

    #[test]
    fn a_new_agent_container_is_a_deploy_unless_firedrill_made_it() {
        let created = event("create", 500, &[("io.firedrill.release", "1.4.3")]);
        let deploy = DockerAudit::default().judge(&created, &[]).unwrap().1;
        assert_eq!(deploy.source, ActionSource::Firedrill);
        assert_eq!(deploy.text, "deploy 1.4.3");
        let bad_release = [own(
            498.0,
            None,
            "firedrill sandbox deploy --name x --version 1.5.0",
        )];
        assert_eq!(DockerAudit::default().judge(&created, &bad_release), None);

        // A deploy's events trail its start by the new agent's way to healthy; one deploy
        // explains one new container, so the trainee's rollback right after is theirs.
        let mut audit = DockerAudit::default();
        let slow = [own(
            460.0,
            None,
            "firedrill sandbox deploy --name x --version 1.5.0",
        )];
        let bad = event("create", 500, &[("io.firedrill.release", "1.5.0")]);
        assert_eq!(audit.judge(&bad, &slow), None);
        assert_eq!(audit.judge(&event("start", 501, &[]), &slow), None);
        assert_eq!(audit.judge(&event("kill", 512, &[]), &slow), None);
        let rollback = event("create", 530, &[("io.firedrill.release", "1.4.2")]);
        assert_eq!(
            audit.judge(&rollback, &slow).unwrap().1.text,
            "deploy 1.4.2"
        );
    }

    fn replica(action: &str, at: i64, name: &str) -> EventMessage {
        event(action, at, &[("name", name)])
    }

    /// The texts of the scale actions `events` (action, time, name) make, in order.
    fn scales(audit: &mut ReplicaAudit, events: &[(&str, i64, &str)]) -> Vec<String> {
        events
            .iter()
            .filter_map(|(action, at, name)| audit.judge(&replica(action, *at, name)))
            .map(|(_, action)| action.text)
            .collect()
    }

    #[test]
    fn each_replica_made_or_removed_is_a_scale_to_the_new_count() {
        let mut audit = ReplicaAudit::new("firedrill-x-agent", []);
        let created = EventMessage {
            time_nano: Some(100_500_000_000),
            ..replica("create", 100, "/firedrill-x-agent-2")
        };
        assert_eq!(
            audit.judge(&created),
            Some((
                100.5,
                Action {
                    source: ActionSource::Firedrill,
                    text: "scale 2".to_string()
                }
            ))
        );
        let seen = scales(
            &mut audit,
            &[
                ("start", 101, "firedrill-x-agent-2"),
                ("create", 102, "firedrill-x-agent-3"),
                ("start", 103, "firedrill-x-agent-3"),
                // Scaling in: each replica drains, then goes.
                ("kill", 200, "firedrill-x-agent-3"),
                ("die", 201, "firedrill-x-agent-3"),
                ("destroy", 201, "firedrill-x-agent-3"),
                ("destroy", 205, "firedrill-x-agent-2"),
            ],
        );
        assert_eq!(seen, ["scale 3", "scale 2", "scale 1"]);
    }

    #[test]
    fn a_deploy_re_creating_a_replica_is_no_scale() {
        let mut audit = ReplicaAudit::new("firedrill-x-agent", [2, 3]);
        let seen = scales(
            &mut audit,
            &[
                // Replica 2 rolls: the old one steps aside, a new one takes its name.
                ("rename", 10, "firedrill-x-agent-2-replaced-ab12"),
                ("create", 11, "firedrill-x-agent-2"),
                ("destroy", 13, "firedrill-x-agent-2-replaced-ab12"),
                // Replica 3's new container fails to start: it goes, the old one comes back.
                ("rename", 20, "firedrill-x-agent-3-replaced-cd34"),
                ("create", 21, "firedrill-x-agent-3"),
                ("destroy", 22, "firedrill-x-agent-3"),
                ("rename", 22, "firedrill-x-agent-3"),
                // Then the trainee scales in for real.
                ("destroy", 60, "firedrill-x-agent-3"),
            ],
        );
        assert_eq!(seen, ["scale 2"]);
    }

    #[test]
    fn only_this_sandboxs_replicas_count() {
        let mut audit = ReplicaAudit::new("firedrill-x-agent", [2]);
        let seen = scales(
            &mut audit,
            &[
                ("create", 1, "firedrill-x-agentx-2"),
                ("create", 2, "firedrill-x-agent-agent-3"),
                ("create", 3, "firedrill-x-agent-+3"),
                ("destroy", 4, "firedrill-x-agent-2-replaced-ab12"),
                ("destroy", 5, "firedrill-x-agent-replaced-ab12"),
                ("destroy", 6, "firedrill-x-agent"),
                ("destroy", 7, "firedrill-y-agent-2"),
            ],
        );
        assert!(seen.is_empty(), "{seen:?}");
        assert_eq!(
            scales(&mut audit, &[("destroy", 8, "firedrill-x-agent-2")]),
            ["scale 1"]
        );
    }

    #[test]
    fn only_a_persons_requests_count() {
        let line = |agent: &str| {
            format!(
                "{{\"timestamp\":\"2026-11-27T06:00:05.250000Z\",\"level\":\"INFO\",\"target\":\"access\",\
                 \"method\":\"GET\",\"path\":\"/metrics\",\"status\":200,\"duration_ms\":1,\
                 \"client\":\"172.18.0.1\",\"user_agent\":\"{agent}\",\"message\":\"request\"}}"
            )
        };
        let (at, action) = access_action(&line("curl/7.88.1")).unwrap();
        assert_eq!(action.text, "GET /metrics");
        assert_eq!(action.source, ActionSource::Http);
        assert!((at - 1_795_759_205.25).abs() < 1e-3, "{at}");
        assert_eq!(access_action(&line("firedrill-traffic")), None);
        assert_eq!(access_action(&line("firedrill-monitor")), None);
        assert_eq!(
            access_action("{\"target\":\"server\",\"message\":\"agent started\"}"),
            None
        );
        assert_eq!(access_action("not json"), None);
    }
}
