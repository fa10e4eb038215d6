//! One module per subcommand; each holds orchestration only and sees plain settings.

pub(crate) mod attach;
pub(crate) mod check;
pub(crate) mod controller;
pub(crate) mod create;
pub(crate) mod credential_helper;
pub(crate) mod delete;
pub(crate) mod detach;
pub(crate) mod list;
pub(crate) mod login;
pub(crate) mod show;
pub(crate) mod sync;
