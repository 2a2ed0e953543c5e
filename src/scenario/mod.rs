//! Scenarios: one YAML file per drill ([`model`]), loaded with every problem placed at its
//! `path:line:col` ([`load`]), validated, and found by id in the scenarios folder ([`catalog`]).

pub mod catalog;
mod load;
pub mod model;
mod validate;

pub use load::{load, Location, Problem, ScenarioError};
