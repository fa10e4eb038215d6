//! `generate-man DIR`: man pages from the clap definitions (clap_mangen), one for the command
//! and one per visible subcommand (`kubectl-regcred-create.1`, and nested ones such as
//! `kubectl-regcred-controller-status.1`), for the release archives and `install.sh`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use crate::cli;

/// Writes every page into `dir` and returns their paths.
pub(crate) fn write_all(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut command = cli::command("kubectl-regcred").name("kubectl-regcred");
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
/// (`kubectl-regcred create`). The flags every command takes are on the `options` page
/// alone, as kubectl keeps them in `kubectl options`.
fn write_tree(
    command: &clap::Command,
    page: &str,
    usage: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    let path = dir.join(format!("{page}.1"));
    let titled = if command.get_name() == "options" {
        cli::global_options("kubectl-regcred")
            .about(command.get_about().cloned().unwrap_or_default())
            .override_usage("kubectl-regcred <COMMAND> [OPTIONS]")
    } else {
        command.clone()
    }
    .display_name(page.to_string())
    .bin_name(usage.to_string());
    std::fs::write(&path, render(titled, page != "kubectl-regcred-options")?)
        .with_context(|| format!("writing {}", path.display()))?;
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

/// A page: clap_mangen's sections, the examples under EXAMPLES, and SEE ALSO the options page.
fn render(command: clap::Command, see_options: bool) -> anyhow::Result<Vec<u8>> {
    // A page shows every flag with its whole text (clap_mangen drops the text of a flag that
    // `-h` leaves out).
    let command = command.mut_args(|arg| arg.hide_short_help(false));
    let man = clap_mangen::Man::new(command.clone());
    let mut roff = Vec::new();
    man.render_title(&mut roff)?;
    man.render_name_section(&mut roff)?;
    // clap's usage line (`kubectl-regcred sync [OPTIONS] [NAME]`): the page's OPTIONS list
    // each flag, and kubectl-regcred-options(1) the global ones.
    let usage = command.clone().render_usage().to_string();
    let usage = usage.trim().trim_start_matches("Usage:").trim();
    roff.extend_from_slice(format!(".SH SYNOPSIS\n{}", roff_line(usage)).as_bytes());
    man.render_description_section(&mut roff)?;
    if command.get_arguments().any(|arg| !arg.is_hide_set()) {
        man.render_options_section(&mut roff)?;
    }
    if command.has_subcommands() {
        man.render_subcommands_section(&mut roff)?;
    }
    let examples = command
        .get_after_long_help()
        .or_else(|| command.get_after_help())
        .map(|text| text.to_string());
    if let Some(examples) = examples {
        roff.extend_from_slice(b".SH EXAMPLES\n.nf\n");
        for line in examples.lines().filter(|line| *line != "Examples:") {
            roff.extend_from_slice(roff_line(line.strip_prefix("  ").unwrap_or(line)).as_bytes());
        }
        roff.extend_from_slice(b".fi\n");
    }
    if see_options {
        roff.extend_from_slice(
            b".SH \"SEE ALSO\"\n\\fBkubectl-regcred\\fR(1), \\fBkubectl-regcred-options\\fR(1): the flags every command takes\n",
        );
    }
    if command.get_version().is_some() {
        man.render_version_section(&mut roff)?;
    }
    Ok(roff)
}

/// One line of preformatted text in roff: backslashes doubled, and a leading `.` or `'`
/// guarded so that it is not read as a request.
fn roff_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}\n")
    } else {
        format!("{escaped}\n")
    }
}
