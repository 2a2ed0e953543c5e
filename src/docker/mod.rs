//! Everything that talks to the Docker engine goes through this module (bollard).

pub mod base_layer;
pub mod engine;
pub mod events;
pub mod exec;
pub mod image;
pub mod labels;
pub mod rootfs;
pub mod sandbox;
pub mod stats;
pub mod sweep;
