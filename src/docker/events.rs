//! The engine's container events, narrowed to one container by its exact name.
//!
//! The engine's `container=<name>` filter matches names by prefix: following
//! `firedrill-x-agent` also brings `firedrill-x-agent-2` (a replica) and
//! `firedrill-x-agent-replaced-…` (the container a deploy retires, whose `destroy` comes after
//! the new agent started). Whoever follows one container's events checks the name too.

use bollard::models::EventMessage;

/// Whether `event` is about the container named exactly `name` (events carry the name the
/// container had when it happened).
pub fn is_about(event: &EventMessage, name: &str) -> bool {
    event
        .actor
        .as_ref()
        .and_then(|actor| actor.attributes.as_ref())
        .and_then(|attributes| attributes.get("name"))
        .is_some_and(|actual| actual.trim_start_matches('/') == name)
}

#[cfg(test)]
mod tests {
    use bollard::models::EventActor;

    use super::*;

    fn event(name: &str) -> EventMessage {
        EventMessage {
            action: Some("destroy".to_string()),
            actor: Some(EventActor {
                id: Some("abc".to_string()),
                attributes: Some([("name".to_string(), name.to_string())].into()),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn only_the_exact_name_counts() {
        assert!(is_about(&event("firedrill-x-agent"), "firedrill-x-agent"));
        assert!(!is_about(
            &event("firedrill-x-agent-2"),
            "firedrill-x-agent"
        ));
        assert!(!is_about(
            &event("firedrill-x-agent-replaced-f6867d39f382"),
            "firedrill-x-agent"
        ));
        assert!(!is_about(&EventMessage::default(), "firedrill-x-agent"));
    }
}
