//! `generate-man DIR`: man pages from the clap definitions (clap_mangen), one for the command
//! and one per visible subcommand (`kubectl-regcred-create.1`, and nested ones such as
//! `kubectl-regcred-controller-status.1`), for the release archives and `install.sh`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;

/// Writes every page into `dir` and returns their paths.
pub(crate) fn write_all(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut command = Cli::command()
        .name("kubectl-regcred")
        .bin_name("kubectl-regcred");
    // Global flags reach the subcommands' pages only once the command is built.
    command.build();
    let mut written = Vec::new();
    write_tree(
        &command,
        "kubectl-regcred",
        "kubectl-regcred",
        dir,
        &mut written,
    )?;
    Ok(written)
}

/// `page`: the page's name (`kubectl-regcred-create`); `usage`: how it is typed
/// (`kubectl-regcred create`).
fn write_tree(
    command: &clap::Command,
    page: &str,
    usage: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    let path = dir.join(format!("{page}.1"));
    let titled = command
        .clone()
        .display_name(page.to_string())
        .bin_name(usage.to_string());
    let mut roff = Vec::new();
    clap_mangen::Man::new(titled).render(&mut roff)?;
    std::fs::write(&path, roff).with_context(|| format!("writing {}", path.display()))?;
    written.push(path);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = sub.get_name();
        write_tree(
            sub,
            &format!("{page}-{name}"),
            &format!("{usage} {name}"),
            dir,
            written,
        )?;
    }
    Ok(())
}
