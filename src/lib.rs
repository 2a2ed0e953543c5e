//! firedrill: a chaos-drill training simulator for on-call engineers of the Docker Optimizer Agent.

pub mod cli;
pub mod docker;
pub mod drill;
pub mod error;
pub mod faults;
pub mod interrupt;
pub mod monitor;
pub mod report;
pub mod runbook;
pub mod scenario;
pub mod score;
pub mod state;
pub mod ui;
pub mod validate;
