//! Integration tests: the guest examples, run through the host.
//!
//! One test binary with modules keeps link time down. The guests must be
//! built first (`just guests`; `just test` does it).

// Helpers outside `#[test]` functions unwrap too: a panic is a clear test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod cli;
mod compile_cache;
mod corpus;
mod dashboard;
mod docs;
mod durability;
mod dynamic;
mod exit;
mod hand_off;
mod health;
mod http;
mod instance_pool;
mod kill;
mod languages;
mod lifecycle;
mod limits;
mod management;
mod new_plugin;
mod operate;
mod plugin_dir;
mod poison;
mod probation;
mod programs;
mod relay;
mod rust_sdk;
mod sandbox;
mod soak;
mod state;
mod state_store;
mod strategies;
mod supervision;
mod supervisor_model;
mod trees;
mod upgrade;
mod wit;
