//! Fault parameters: `--set KEY=VALUE` pairs checked against the kind's documented parameters.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::catalogue::{FaultKind, ParamDoc};
use crate::error::{Error, Result};

/// A kind's parameters, every documented one present (defaults filled in).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Parses `KEY=VALUE` pairs for `kind`: unknown keys are refused, defaults fill the rest,
    /// and every value is checked now so a bad one never half-injects a fault.
    pub fn parse(kind: FaultKind, pairs: &[String]) -> Result<Params> {
        let docs = kind.doc().params;
        let mut values: BTreeMap<String, String> = docs
            .iter()
            .map(|p| (p.name.to_string(), p.default.to_string()))
            .collect();
        for pair in pairs {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(bad(kind, pair, "expected KEY=VALUE"));
            };
            let Some(doc) = docs.iter().find(|p| p.name == key) else {
                return Err(bad(
                    kind,
                    pair,
                    &format!("unknown parameter '{key}'; {}", known(docs)),
                ));
            };
            check(doc, value).map_err(|reason| bad(kind, pair, &reason))?;
            values.insert(key.to_string(), value.to_string());
        }
        Ok(Params(values))
    }

    /// The raw value of `key` (every documented key has one).
    pub fn get(&self, key: &str) -> &str {
        self.0.get(key).map(String::as_str).unwrap_or_default()
    }

    pub fn number(&self, key: &str) -> f64 {
        self.get(key).parse().unwrap_or_default()
    }

    pub fn duration(&self, key: &str) -> Duration {
        humantime::parse_duration(self.get(key)).unwrap_or_default()
    }

    /// Every parameter, for display and the fault record.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The kinds of value a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamType {
    /// A number within `[min, max]`.
    Number { min: f64, max: f64 },
    /// A duration such as `30s` or `5m`.
    Duration,
    /// A package name: letters, digits and `-_.+` (what SBOMs and package managers allow).
    PackageName,
    /// One of the listed words.
    Choice(&'static [&'static str]),
}

fn check(doc: &ParamDoc, value: &str) -> Result<(), String> {
    match doc.kind {
        ParamType::Number { min, max } => match value.parse::<f64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(()),
            Ok(_) => Err(format!("{} must be between {min} and {max}", doc.name)),
            Err(_) => Err(format!("{} must be a number", doc.name)),
        },
        ParamType::Duration => humantime::parse_duration(value)
            .map(|_| ())
            .map_err(|_| format!("{} must be a duration such as 30s or 5m", doc.name)),
        ParamType::PackageName => {
            let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.+".contains(c);
            if !value.is_empty() && value.chars().all(allowed) {
                Ok(())
            } else {
                Err(format!(
                    "{} must be a package name (letters, digits, - _ . +)",
                    doc.name
                ))
            }
        }
        ParamType::Choice(choices) => {
            if choices.contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "{} must be one of: {}",
                    doc.name,
                    choices.join(", ")
                ))
            }
        }
    }
}

fn known(docs: &[ParamDoc]) -> String {
    if docs.is_empty() {
        "this fault takes no parameters".to_string()
    } else {
        let names: Vec<&str> = docs.iter().map(|p| p.name).collect();
        format!("known: {}", names.join(", "))
    }
}

fn bad(kind: FaultKind, pair: &str, reason: &str) -> Error {
    Error::BadFaultParameter {
        kind: kind.name().to_string(),
        pair: pair.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_what_is_not_set() {
        let params = Params::parse(FaultKind::ResourceSqueeze, &[]).unwrap();
        assert_eq!(params.number("cpus"), 0.02);
        let params = Params::parse(FaultKind::ResourceSqueeze, &["cpus=0.5".to_string()]).unwrap();
        assert_eq!(params.number("cpus"), 0.5);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_the_reason() {
        let unknown = Params::parse(FaultKind::ResourceSqueeze, &["speed=3".to_string()])
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("unknown parameter 'speed'"), "{unknown}");
        assert!(unknown.contains("known: cpus"), "{unknown}");
        let out_of_range = Params::parse(FaultKind::ResourceSqueeze, &["cpus=7".to_string()])
            .unwrap_err()
            .to_string();
        assert!(out_of_range.contains("between"), "{out_of_range}");
        let no_equals = Params::parse(FaultKind::ResourceSqueeze, &["cpus".to_string()])
            .unwrap_err()
            .to_string();
        assert!(no_equals.contains("expected KEY=VALUE"), "{no_equals}");
    }
}
