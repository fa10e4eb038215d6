//! One module per subcommand; each holds orchestration only and sees plain settings.

pub mod create;
