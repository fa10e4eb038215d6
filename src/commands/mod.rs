//! One module per subcommand; each holds orchestration only and sees plain settings.

pub mod attach;
pub mod check;
pub mod create;
pub mod credential_helper;
pub mod detach;
pub mod list;
pub mod login;
pub mod show;
