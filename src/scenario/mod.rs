//! Scenarios: one YAML file per drill ([`model`]).

pub mod model;
