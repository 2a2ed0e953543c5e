//! The sandbox stand-in of the Docker Optimizer Agent.
//!
//! One multi-call program plays three parts, chosen by the name it is started under
//! (`argv[0]`), exactly as the image lays them out: `optimizer-agent` (the HTTP service, and
//! `optimizer-agent traffic`, the synthetic client), `agentctl` (the operator CLI) and `trivy`
//! (the scanner stand-in). firedrill links this crate and copies its own executable into the
//! image under those three names, so `cargo run` needs nothing else to build a sandbox.

pub mod agentctl;
pub mod assets;
pub mod config;
pub mod optimizer;
pub mod paths;
pub mod sbom;
pub mod scanner;
pub mod server;
pub mod tls;
pub mod traffic;
pub mod version;

mod multicall;

pub use multicall::{run_multicall, AgentProgram};
