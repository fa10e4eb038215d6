//! The docs cannot drift from the CLI: every `kubectl regcred …` (or `kubectl-regcred …`) line
//! in a fenced `sh` block of README.md and docs/*.md names a real subcommand, and each flag it
//! uses appears in that subcommand's `--help`. A block that works on a cluster is marked
//! ```` ```sh e2e ```` (tests/e2e/docs.rs runs it against the real control plane) or
//! ```` ```sh illustrative ```` (names that exist only in the example: team-a, quay.io, prod).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::harness::TestEnv;
use crate::markdown::{fenced_blocks, markdown_files};

/// How a fenced `sh` block is marked: `sh`, `sh e2e` or `sh illustrative`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Plain,
    E2e,
    Illustrative,
}

fn mark(info: &str) -> Option<Mark> {
    match info.trim() {
        "sh" => Some(Mark::Plain),
        "sh e2e" => Some(Mark::E2e),
        "sh illustrative" => Some(Mark::Illustrative),
        _ => None,
    }
}

/// The fenced `sh` blocks: where each starts, its mark and its text.
fn shell_blocks(path: &Path) -> Vec<(usize, Mark, String)> {
    fenced_blocks(path)
        .into_iter()
        .filter_map(|(start, info, body)| Some((start, mark(&info)?, body)))
        .collect()
}

/// Subcommands that read or write a cluster (`verify` only with `secret/NAME`).
const CLUSTER_COMMANDS: [&str; 9] = [
    "create",
    "attach",
    "detach",
    "sync",
    "delete",
    "list",
    "show",
    "check",
    "controller",
];

#[test]
fn every_example_that_works_on_a_cluster_is_run_or_marked_illustrative() {
    let mut unmarked = Vec::new();
    let mut run = 0;
    for file in markdown_files() {
        for (start, mark, body) in shell_blocks(&file) {
            let on_a_cluster = body.lines().flat_map(invocations).any(|(path, _)| {
                let first = path.first().map(String::as_str).unwrap_or("");
                (CLUSTER_COMMANDS.contains(&first) && !path.iter().any(|w| w == "manifests"))
                    || (first == "verify" && body.contains("secret/"))
            });
            match mark {
                Mark::E2e => run += 1,
                Mark::Plain if on_a_cluster => unmarked.push(format!(
                    "{}:{start}: mark it ```sh e2e (tests/e2e/docs.rs runs it) or ```sh illustrative",
                    file.file_name().unwrap().to_string_lossy()
                )),
                _ => {}
            }
        }
    }
    assert!(run >= 1, "no example is run against the control plane");
    assert!(unmarked.is_empty(), "{}", unmarked.join("\n"));
}

/// The lines of fenced `sh` blocks, continuation lines joined, with where each came from.
fn shell_lines(path: &Path) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    for (start, _, body) in shell_blocks(path) {
        let mut pending: Option<(usize, String)> = None;
        for (offset, line) in body.lines().enumerate() {
            let (first, mut joined) = pending
                .take()
                .unwrap_or((start + 1 + offset, String::new()));
            joined.push_str(line.trim_end_matches('\\'));
            joined.push(' ');
            if line.ends_with('\\') {
                pending = Some((first, joined));
            } else {
                lines.push((first, joined));
            }
        }
    }
    lines
}

/// Splits a shell line into words, keeping quoted text together, and drops a trailing comment.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (None, '#') if current.is_empty() => break,
            (None, c) if c.is_whitespace() || matches!(c, '|' | ';' | '(' | ')') => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
                if matches!(c, '|' | ';' | '(' | ')') {
                    words.push(c.to_string());
                }
            }
            (None, c) => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Each invocation of ours in a line: its subcommand path and the flags it uses.
fn invocations(line: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let words = words(line);
    let mut found = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let start = match (words[i].as_str(), words.get(i + 1).map(String::as_str)) {
            ("kubectl", Some("regcred")) => Some(i + 2),
            ("kubectl-regcred", _) => Some(i + 1),
            _ => None,
        };
        let Some(mut j) = start else {
            i += 1;
            continue;
        };
        let mut path = Vec::new();
        let mut flags = Vec::new();
        while j < words.len() && !matches!(words[j].as_str(), "|" | ";" | "(" | ")" | "&&" | "||") {
            let word = &words[j];
            if let Some(flag) = word.strip_prefix("--") {
                flags.push(format!("--{}", flag.split('=').next().unwrap()));
            } else if word.starts_with('-') && word.len() == 2 {
                flags.push(word.clone());
            } else if flags.is_empty()
                && path.len() < 2
                && word.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            {
                path.push(word.clone());
            }
            j += 1;
        }
        found.push((path, flags));
        i = j;
    }
    found
}

#[test]
fn every_flag_in_the_docs_exists_in_the_cli() {
    let env = TestEnv::new();
    let root_help = String::from_utf8(env.cmd(&["--help"]).output().unwrap().stdout).unwrap();
    let subcommands: BTreeSet<String> = root_help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // Wrapped descriptions are indented further than command names.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    let mut helps: BTreeMap<Vec<String>, Option<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for (number, line) in shell_lines(&file) {
            for (mut path, flags) in invocations(&line) {
                let Some(first) = path.first() else {
                    continue;
                };
                if !subcommands.contains(first) {
                    problems.push(format!("{name}:{number}: no subcommand {first:?}: {line}"));
                    continue;
                }
                // `controller manifests`: the second word is a subcommand only for `controller`.
                if first != "controller" {
                    path.truncate(1);
                }
                let help = helps.entry(path.clone()).or_insert_with(|| {
                    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
                    args.push("--help-all");
                    let out = env.cmd(&args).output().unwrap();
                    // The flags every command takes are listed by `options`.
                    let global = env.cmd(&["options"]).output().unwrap();
                    (out.status.success() && global.status.success()).then(|| {
                        String::from_utf8_lossy(&out.stdout).into_owned()
                            + &String::from_utf8_lossy(&global.stdout)
                    })
                });
                let Some(help) = help else {
                    problems.push(format!(
                        "{name}:{number}: `{}` has no help: {line}",
                        path.join(" ")
                    ));
                    continue;
                };
                for flag in flags {
                    checked += 1;
                    let known = [" ", ",", ".", "\n", "[", "]", "="]
                        .iter()
                        .any(|end| help.contains(&format!("{flag}{end}")));
                    if !known {
                        problems.push(format!(
                            "{name}:{number}: `{}` has no flag {flag}: {line}",
                            path.join(" ")
                        ));
                    }
                }
            }
        }
    }
    assert!(
        checked > 80,
        "only {checked} flags found: is the extraction broken?"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_extraction_finds_subcommands_and_flags() {
    assert_eq!(
        invocations(
            "echo \"$T\" | kubectl regcred create regcred --server quay.io -u me --password-stdin # a comment --nope"
        ),
        [(
            vec!["create".to_string(), "regcred".to_string()],
            vec![
                "--server".to_string(),
                "-u".to_string(),
                "--password-stdin".to_string()
            ]
        )]
    );
    assert_eq!(
        invocations("kubectl regcred controller manifests --image=x | kubectl apply -f -"),
        [(
            vec!["controller".to_string(), "manifests".to_string()],
            vec!["--image".to_string()]
        )]
    );
}

/// `.ci/run` runs exactly the README's test commands ("Running the tests"), in order, each
/// through its `step` timer.
#[test]
fn ci_runs_exactly_the_readme_test_commands() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme
        .split("## Running the tests")
        .nth(1)
        .expect("README has a 'Running the tests' section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a sh block of test commands");
    // A command, without its trailing comment (two spaces or more, then '#').
    let readme_commands: Vec<String> = block
        .lines()
        .map(|line| match line.find("  #") {
            Some(at) => line[..at].trim_end().to_string(),
            None => line.trim_end().to_string(),
        })
        .filter(|line| !line.is_empty())
        .collect();
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    let ci_commands: Vec<String> = ci
        .lines()
        .filter_map(|line| line.strip_prefix("step "))
        .map(str::to_string)
        .collect();
    assert!(readme_commands.len() >= 8, "{readme_commands:?}");
    // A newcomer pastes them as they are: each script they name must be executable.
    for command in &readme_commands {
        let program = command.split_whitespace().next().unwrap();
        if program.contains('/') {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(root.join(program))
                .unwrap()
                .permissions()
                .mode();
            assert!(mode & 0o111 != 0, "{program} is not executable (chmod +x)");
        }
    }
    assert_eq!(ci_commands, readme_commands, ".ci/run and README.md differ");
    // Nothing else runs there: every other line is the timer, a comment or blank.
    let commands_outside_steps: Vec<&str> = ci
        .lines()
        .skip_while(|line| !line.starts_with("step "))
        .filter(|line| !line.starts_with("step ") && !line.trim().is_empty())
        .collect();
    assert!(
        commands_outside_steps.is_empty(),
        "{commands_outside_steps:?}"
    );
}
