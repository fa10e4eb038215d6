//! What the fuzz targets reach, compiled from the main crate's own sources: its pure rules and
//! its local credential parsers, and what the client setup takes from a kubeconfig, without the cluster, HTTP and keychain stacks it also depends
//! on, so that a cold fuzz build compiles a fraction of the crates (tests/fuzz.sh,
//! docs/testing.md). `cargo fuzz` sets cfg(fuzzing), which leaves the keychain out.

#![forbid(unsafe_code)]
// Only what the targets call is used here; the rest is the main crate's business.
#![allow(dead_code, unused_imports)]

#[path = "../../src/credentials/mod.rs"]
mod credentials;
#[path = "../../src/cluster/kubeconfig.rs"]
mod kubeconfig;
#[path = "../../src/local_file.rs"]
mod local_file;
#[path = "../../src/rules/mod.rs"]
mod rules;

pub mod fuzzing;
