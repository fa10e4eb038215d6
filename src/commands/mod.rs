//! One module per subcommand; each holds orchestration only and sees plain settings.

pub mod attach;
pub mod create;
pub mod detach;
