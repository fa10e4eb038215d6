//! The rules this tool follows, as pure functions and data: no I/O, no clap, no clock.
//! Image references, registry names, the kubelet's keyring, Kubernetes names, the pull Secret
//! payload and our policy for it, kinds and their patches, ServiceAccount admission, and the
//! diagnosis built on all of them. docs/semantics.md says where each rule comes from.
//!
//! This is the library's public API, `regcred::rules`: the kubelet oracle
//! (`tests/kubelet_oracle.rs`) tests it from outside the crate, as any user of the library
//! would. Everything else in the crate is private to it.
//!
//! Nothing here imports another module of ours; `tests/architecture.rs` fails when something
//! does, or when something here does I/O.

pub mod admission;
pub mod attach;
pub mod auth_files;
pub mod contexts;
pub mod copies;
pub mod credential;
pub mod diagnosis;
pub mod expiry;
pub mod heal;
pub mod image;
pub mod json;
pub mod jsonpath;
pub mod kinds;
pub mod kubeconfig;
pub mod kubelet;
pub mod names;
pub mod providers;
pub mod proxy;
pub mod pullsecret;
pub mod registry;
pub mod scope;
pub mod sync;
pub mod text;
pub mod trust;
pub mod verdict;
pub mod yaml;
