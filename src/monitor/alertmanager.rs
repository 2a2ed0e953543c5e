//! Alerts as the body of an Alertmanager `webhook_config` notification (payload version "4"),
//! so a team's existing webhook receiver (chat bot, pager bridge) takes firedrill's pages as is.
//!
//! firedrill plays both Prometheus (it evaluates the rules) and Alertmanager (it groups and
//! notifies), so the one URL the caller gives is both `externalURL` and each `generatorURL`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::engine::{Alert, AlertState};

/// The labels alerts are grouped by, as `group_by: [alertname]` in a route.
const GROUP_BY: [&str; 1] = ["alertname"];

/// What Go's zero `time.Time` marshals to: Alertmanager's `endsAt` of a firing alert.
const NOT_ENDED: &str = "0001-01-01T00:00:00Z";

/// One notification for one group of alerts (those sharing an alertname; see
/// [`webhook_payloads`]). Pending alerts are left out: Alertmanager never sees them.
/// `status` is `firing` if any alert of the group fires, else `resolved`.
pub fn webhook_payload<'a>(
    alerts: impl IntoIterator<Item = &'a Alert>,
    receiver: &str,
    external_url: &str,
) -> Value {
    let alerts: Vec<&Alert> = alerts
        .into_iter()
        .filter(|alert| alert.state != AlertState::Pending)
        .collect();
    let common_labels = common(alerts.iter().map(|alert| &alert.labels));
    let common_annotations = common(alerts.iter().map(|alert| &alert.annotations));
    let group_labels: BTreeMap<&str, &str> = common_labels
        .iter()
        .filter(|(name, _)| GROUP_BY.contains(name))
        .map(|(&name, &value)| (name, value))
        .collect();
    let firing = alerts.iter().any(|alert| alert.state == AlertState::Firing);
    json!({
        "version": "4",
        // The root route's key, then the group's labels, as Alertmanager prints them.
        "groupKey": format!("{{}}:{}", label_set(&group_labels)),
        "truncatedAlerts": 0,
        "status": if firing { "firing" } else { "resolved" },
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": common_labels,
        "commonAnnotations": common_annotations,
        "externalURL": external_url,
        "alerts": alerts
            .iter()
            .map(|alert| webhook_alert(alert, external_url))
            .collect::<Vec<_>>(),
    })
}

/// One notification per alertname, in the order each name first appears in `alerts`.
pub fn webhook_payloads<'a>(
    alerts: impl IntoIterator<Item = &'a Alert>,
    receiver: &str,
    external_url: &str,
) -> Vec<Value> {
    let mut groups: Vec<(&str, Vec<&Alert>)> = Vec::new();
    for alert in alerts
        .into_iter()
        .filter(|alert| alert.state != AlertState::Pending)
    {
        match groups.iter_mut().find(|(name, _)| *name == alert.alert) {
            Some((_, members)) => members.push(alert),
            None => groups.push((&alert.alert, vec![alert])),
        }
    }
    groups
        .into_iter()
        .map(|(_, members)| webhook_payload(members, receiver, external_url))
        .collect()
}

fn webhook_alert(alert: &Alert, generator_url: &str) -> Value {
    let firing = alert.state == AlertState::Firing;
    json!({
        "status": if firing { "firing" } else { "resolved" },
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": super::rfc3339(alert.started_at),
        "endsAt": match alert.ended_at {
            Some(end) if !firing => super::rfc3339(end),
            _ => NOT_ENDED.to_string(),
        },
        "generatorURL": generator_url,
        "fingerprint": alert.fingerprint,
    })
}

/// The name/value pairs every map has.
fn common<'a>(
    mut maps: impl Iterator<Item = &'a BTreeMap<String, String>>,
) -> BTreeMap<&'a str, &'a str> {
    let Some(first) = maps.next() else {
        return BTreeMap::new();
    };
    let mut shared: BTreeMap<&str, &str> = first
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    for map in maps {
        shared.retain(|name, value| map.get(*name).is_some_and(|v| v == value));
    }
    shared
}

/// `{alertname="AgentHighCpu", sandbox="blue"}`, Prometheus' label set notation.
fn label_set(labels: &BTreeMap<&str, &str>) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}={value:?}"))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;
    use crate::monitor::engine::{AlertEngine, AlertEventKind};
    use crate::monitor::rules::RuleSet;
    use crate::monitor::signal::{Sample, Signal};

    const RECEIVER: &str = "firedrill";
    const EXTERNAL_URL: &str = "http://127.0.0.1:9093";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn engine() -> AlertEngine {
        AlertEngine::new(
            RuleSet::defaults(),
            BTreeMap::from([
                ("sandbox".to_string(), "blue".to_string()),
                ("session".to_string(), "s-1".to_string()),
            ]),
        )
    }

    #[test]
    fn a_de_escalation_notifies_the_resolved_critical_with_the_firing_warning() {
        let mut engine = engine();
        for (secs, percent) in [(0, 97.0), (30, 97.0)] {
            engine.observe(&Sample::new(at(secs)).with(Signal::CpuPercent, percent));
        }
        let events = engine.observe(&Sample::new(at(95)).with(Signal::CpuPercent, 80.0));
        assert_eq!(events[0].kind, AlertEventKind::Resolved);
        let payload = webhook_payload(events.iter().map(|e| &e.alert), RECEIVER, EXTERNAL_URL);
        assert_eq!(payload["status"], "firing");
        assert_eq!(payload["alerts"][1]["endsAt"], NOT_ENDED);
        insta::assert_json_snapshot!(payload);
    }

    #[test]
    fn a_group_whose_alerts_all_resolved_is_resolved() {
        let mut engine = engine();
        engine.observe(&Sample::new(at(0)).with(Signal::OomKilled, 1.0));
        let events = engine.observe(&Sample::new(at(60)).with(Signal::OomKilled, 0.0));
        let payload = webhook_payload(events.iter().map(|e| &e.alert), RECEIVER, EXTERNAL_URL);
        assert_eq!(payload["status"], "resolved");
        assert_eq!(payload["groupKey"], "{}:{alertname=\"AgentOomKilled\"}");
        assert_eq!(payload["alerts"][0]["startsAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(payload["alerts"][0]["endsAt"], "2023-11-14T22:14:20.000Z");
    }

    #[test]
    fn alerts_are_grouped_by_alertname_and_pending_ones_left_out() {
        let mut engine = engine();
        let sample = Sample::new(at(0))
            .with(Signal::OomKilled, 1.0)
            .with(Signal::RestartsLast5m, 4.0)
            .with(Signal::CpuPercent, 99.0);
        engine.observe(&sample);
        let mut alerts = engine.firing();
        alerts.extend(engine.pending());
        let payloads = webhook_payloads(&alerts, RECEIVER, EXTERNAL_URL);
        let names: Vec<&Value> = payloads
            .iter()
            .map(|p| &p["groupLabels"]["alertname"])
            .collect();
        assert_eq!(names, ["AgentRestarting", "AgentOomKilled"]);
        for payload in &payloads {
            assert_eq!(payload["version"], "4");
            assert_eq!(payload["truncatedAlerts"], 0);
            assert_eq!(payload["receiver"], RECEIVER);
            assert_eq!(payload["externalURL"], EXTERNAL_URL);
            assert_eq!(payload["commonLabels"]["sandbox"], "blue");
            assert_eq!(payload["alerts"].as_array().unwrap().len(), 1);
        }
    }

    #[test]
    fn label_sets_print_sorted_and_quoted() {
        let labels = BTreeMap::from([("sandbox", "bl\"ue"), ("alertname", "AgentDown")]);
        assert_eq!(
            label_set(&labels),
            r#"{alertname="AgentDown", sandbox="bl\"ue"}"#
        );
        assert_eq!(label_set(&BTreeMap::new()), "{}");
    }
}
