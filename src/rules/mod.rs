//! The rules this tool follows, as pure functions and data: no I/O, no clap, no clock.
//! Image references, registry names, the kubelet's keyring, Kubernetes names, the pull Secret
//! payload and our policy for it, kinds and their patches, ServiceAccount admission, and the
//! diagnosis built on all of them. docs/semantics.md says where each rule comes from.
//!
//! Nothing here may import `cluster`, `commands`, `cli`, `settings`, `printer`, `output`,
//! `credentials` or `probe`; `tests/architecture.rs` fails when something does.

pub(crate) mod admission;
pub(crate) mod attach;
pub(crate) mod contexts;
pub(crate) mod copies;
pub(crate) mod credential;
pub(crate) mod diagnosis;
pub(crate) mod expiry;
pub(crate) mod image;
pub(crate) mod json;
pub(crate) mod kinds;
pub(crate) mod kubelet;
pub(crate) mod names;
pub(crate) mod proxy;
pub(crate) mod pullsecret;
pub(crate) mod registry;
pub(crate) mod scope;
pub(crate) mod sync;
pub(crate) mod text;
pub(crate) mod trust;
pub(crate) mod verdict;
