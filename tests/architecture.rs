//! The layering docs/architecture.md draws, checked on the source text: `src/rules/` stays
//! pure (no I/O module, no clap, no clock), and no two top-level modules import each other
//! in a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules `rules` must never import.
const IO_MODULES: [&str; 12] = [
    "cli",
    "cluster",
    "commands",
    "completion",
    "credentials",
    "error",
    "fanout",
    "local_file",
    "output",
    "printer",
    "probe",
    "settings",
];

/// Paths that mean I/O, a terminal, the clock or the command line.
const IMPURE_PATHS: [&str; 12] = [
    "std::fs",
    "TcpStream",
    "UdpSocket",
    "std::process",
    "std::env",
    "std::io::stdin",
    "tokio::",
    "clap::",
    "::now()",
    "SystemTime",
    // kube's own readers of a kubeconfig and its files.
    "Kubeconfig::read",
    "config::Config",
];

/// What `rules` may name of kube: its kubeconfig and error types, as data. Its client, API,
/// runtime and config loading are I/O.
const KUBE_DATA_TYPES: [&str; 3] = ["config::", "Error", "client::AuthError"];

/// Every `kube::` path on a line that names something of kube's other than its data types.
fn kube_io_paths(line: &str) -> Vec<String> {
    line.match_indices("kube::")
        .filter(|(at, _)| !line[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        .map(|(at, _)| &line[at + "kube::".len()..])
        .filter(|rest| {
            !KUBE_DATA_TYPES
                .iter()
                .any(|allowed| rest.starts_with(allowed))
        })
        .map(|rest| {
            format!(
                "kube::{}",
                rest.split([' ', ';', ',', '(']).next().unwrap_or("")
            )
        })
        .collect()
}

fn source_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(source_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level module a file belongs to: `src/cluster/fetch.rs` → `cluster`.
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(src()).expect("under src");
    let first = relative.components().next().expect("a component");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

/// Top-level modules a file names as `crate::MODULE`.
fn imported_modules(text: &str) -> BTreeSet<String> {
    text.match_indices("crate::")
        .map(|(at, _)| {
            text[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn rules_import_no_io_module_and_do_no_io() {
    let mut violations = Vec::new();
    for file in source_files(&src().join("rules")) {
        let text = std::fs::read_to_string(&file).expect("readable source");
        for module in imported_modules(&text) {
            if IO_MODULES.contains(&module.as_str()) {
                violations.push(format!("{} imports crate::{module}", file.display()));
            }
        }
        // Test modules come last in each file and may time themselves.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (number, line) in code.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for path in IMPURE_PATHS {
                if line.contains(path) {
                    violations.push(format!("{}:{}: {path}", file.display(), number + 1));
                }
            }
            for path in kube_io_paths(line) {
                violations.push(format!("{}:{}: {path}", file.display(), number + 1));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "src/rules must stay pure (docs/architecture.md):\n{}",
        violations.join("\n")
    );
}

/// The face: the command line, the settings made from it, and everything that prints.
const FACE: [&str; 8] = [
    "cli",
    "commands",
    "completion",
    "fleet",
    "output",
    "printer",
    "report",
    "settings",
];

/// The layers below the commands (docs/architecture.md): each owns its option types and
/// returns what it has to say as values (`notices`), so none may reach the face.
const BELOW_COMMANDS: [&str; 11] = [
    "cluster",
    "controller",
    "credentials",
    "desired",
    "fanout",
    "local_file",
    "notices",
    "probe",
    "reconcile",
    "references",
    "rules",
];

#[test]
fn nothing_below_the_commands_imports_settings_or_prints() {
    let mut violations = Vec::new();
    for file in source_files(&src()) {
        let module = module_of(&file);
        // The crate root wires everything; `error` is the exit codes; the oracle is a test.
        let roots = ["lib", "main", "app", "error"];
        if !BELOW_COMMANDS.contains(&module.as_str()) {
            if !FACE.contains(&module.as_str()) && !roots.contains(&module.as_str()) {
                violations.push(format!(
                    "{module}: a new top-level module: place it in a layer"
                ));
            }
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        for imported in imported_modules(&text) {
            if FACE.contains(&imported.as_str()) {
                violations.push(format!("{} imports crate::{imported}", file.display()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "the layers below the commands take their own options and return notices \
         (docs/architecture.md):\n{}",
        violations.join("\n")
    );
}

/// Which top-level module may import which: the arrows docs/architecture.md draws, as a
/// table. A new arrow is a design decision: add it here and to the drawing together.
const ARROWS: [(&str, &[&str]); 22] = [
    // The face: flags, settings, where commands run, the commands, and what prints.
    ("cli", &["rules"]),
    (
        "settings",
        &[
            "cli",
            "cluster",
            "controller",
            "credentials",
            "desired",
            "error",
            "probe",
            "report",
            "rules",
        ],
    ),
    (
        "fleet",
        &[
            "cli", "cluster", "error", "fanout", "output", "printer", "report", "rules", "settings",
        ],
    ),
    (
        "completion",
        &["cli", "cluster", "fanout", "rules", "settings"],
    ),
    (
        "commands",
        &[
            "cli",
            "cluster",
            "controller",
            "credentials",
            "desired",
            "error",
            "notices",
            "output",
            "printer",
            "probe",
            "reconcile",
            "references",
            "rules",
            "settings",
        ],
    ),
    ("output", &["cluster", "printer", "report", "rules"]),
    ("printer", &["fanout", "notices", "report", "rules"]),
    ("report", &["error", "rules"]),
    ("error", &["credentials"]),
    // Below the commands: each takes its own options and returns notices.
    (
        "controller",
        &[
            "cluster",
            "credentials",
            "desired",
            "error",
            "notices",
            "reconcile",
            "rules",
        ],
    ),
    (
        "desired",
        &["cluster", "credentials", "notices", "reconcile", "rules"],
    ),
    ("reconcile", &["cluster", "references", "rules"]),
    ("references", &["cluster", "notices", "rules"]),
    ("cluster", &["fanout", "local_file", "notices", "rules"]),
    ("credentials", &["local_file", "rules"]),
    ("probe", &["rules"]),
    ("fanout", &[]),
    ("notices", &[]),
    ("local_file", &[]),
    ("rules", &[]),
    // The program: argv in, exit code out.
    (
        "app",
        &[
            "cli",
            "commands",
            "completion",
            "credentials",
            "desired",
            "error",
            "fleet",
            "printer",
            "settings",
        ],
    ),
    // The crate root declares the modules and exports `rules`.
    ("lib", &[]),
];

#[test]
fn imports_follow_the_documented_arrows() {
    let mut violations = BTreeSet::new();
    for file in source_files(&src()) {
        let module = module_of(&file);
        if module == "main" {
            continue;
        }
        let Some((_, allowed)) = ARROWS.iter().find(|(name, _)| *name == module) else {
            violations.insert(format!("{module}: not in the table of arrows"));
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("readable source");
        for imported in imported_modules(&text) {
            if imported != module && !allowed.contains(&imported.as_str()) {
                violations.insert(format!(
                    "{} imports crate::{imported}: {module} -> {imported} is not an arrow",
                    file.display()
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "docs/architecture.md draws the allowed imports:\n{}",
        violations.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn top_level_modules_form_no_cycle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in source_files(&src()) {
        let module = module_of(&file);
        // The crate root wires everything together.
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        let imports: Vec<String> = imported_modules(&text)
            .into_iter()
            .filter(|m| *m != module)
            .collect();
        graph.entry(module).or_default().extend(imports);
    }
    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("module cycle: {}", cycle.join(" -> "));
        }
    }
    assert!(graph.contains_key("rules") && graph.contains_key("cluster"));
}

/// Lines at the top level after a file's first test module that are not more test modules.
fn code_after_tests(text: &str) -> Vec<String> {
    // A test module with a body (`mod tests {`), not a declaration (`mod oracle;`).
    let Some(start) = text
        .match_indices("#[cfg(test)]\nmod ")
        .map(|(at, _)| at)
        .find(|at| {
            text[*at..]
                .lines()
                .nth(1)
                .is_some_and(|line| line.ends_with(" {"))
        })
    else {
        return Vec::new();
    };
    text[start..]
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with([' ', '\t']))
        .filter(|line| {
            *line != "#[cfg(test)]"
                && *line != "}"
                && !(line.starts_with("mod ") && line.ends_with(" {"))
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn test_modules_come_last() {
    let mut violations = Vec::new();
    for file in source_files(&src()) {
        let text = std::fs::read_to_string(&file).expect("readable source");
        for line in code_after_tests(&text) {
            violations.push(format!("{}: {line}", file.display()));
        }
    }
    assert!(
        violations.is_empty(),
        "code after a test module:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checks_catch_what_they_look_for() {
    assert_eq!(
        code_after_tests("fn a() {}\n#[cfg(test)]\nmod tests {\n    fn t() {}\n}\n"),
        Vec::<String>::new()
    );
    assert_eq!(
        code_after_tests("#[cfg(test)]\nmod tests {\n}\n\npub fn late() {}\n"),
        ["pub fn late() {}"]
    );
    let imports =
        imported_modules("use crate::cluster::fetch;\nlet x = crate::rules::kinds::Kind::Pod;");
    assert_eq!(
        imports.into_iter().collect::<Vec<_>>(),
        ["cluster", "rules"]
    );
    assert_eq!(
        module_of(&src().join("cluster").join("fetch.rs")),
        "cluster"
    );
    assert_eq!(module_of(&src().join("printer.rs")), "printer");
}

/// Where writes may be sent: `cluster/writes.rs` builds every write's parameters from a
/// `Writer`, which a client dry run never gets (docs/dry-run.md); `cluster/secrets.rs` sends
/// the pull Secret's writes with those; the controller's lease writes its own Lease.
const WRITE_SENDERS: [&str; 3] = [
    "cluster/writes.rs",
    "cluster/secrets.rs",
    "controller/lease.rs",
];
/// kube's parameters of a write verb: only `Writer` (and the lease) may build them.
const WRITE_PARAMETERS: [&str; 3] = ["PostParams", "PatchParams", "DeleteParams"];
const WRITE_VERBS: [&str; 9] = [
    "create",
    "replace",
    "patch",
    "delete",
    "delete_collection",
    "patch_status",
    "replace_status",
    "patch_subresource",
    "create_subresource",
];

/// The write-verb calls and write parameters in `text`, as `line: what`. A call is
/// `.VERB(` not followed by a character literal (`str::replace('a', …)` is no request).
fn writes_in(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = Vec::new();
    for (number, line) in code.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for verb in WRITE_VERBS {
            let call = format!(".{verb}(");
            for (at, _) in line.match_indices(&call) {
                if !line[at + call.len()..].starts_with('\'') {
                    found.push(format!("{}: {call}", number + 1));
                }
            }
        }
        for parameters in WRITE_PARAMETERS {
            if line.contains(parameters) {
                found.push(format!("{}: {parameters}", number + 1));
            }
        }
    }
    found
}

#[test]
fn only_the_write_layer_sends_writes() {
    let mut violations = Vec::new();
    for file in source_files(&src()) {
        let relative = file
            .strip_prefix(src())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&file).expect("readable source");
        for found in writes_in(&text) {
            let allowed = if found.ends_with('(') {
                WRITE_SENDERS.contains(&relative.as_str())
            } else {
                relative == "cluster/writes.rs" || relative == "controller/lease.rs"
            };
            if !allowed {
                violations.push(format!("src/{relative}:{found}"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "writes go through cluster::writes::Writer, so a client dry run cannot send one \
         (docs/dry-run.md):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_write_check_sees_calls_and_parameters() {
    assert_eq!(
        writes_in("let x = api.patch(&name, &PatchParams::default(), &p).await;\n"),
        ["1: .patch(", "1: PatchParams"]
    );
    assert_eq!(
        writes_in("word.replace('\\'', \"x\")\n// api.delete(&n)\n"),
        Vec::<String>::new()
    );
}

#[test]
fn rules_may_name_kube_data_types_but_not_its_client() {
    assert!(kube_io_paths("use kube::config::{Kubeconfig, KubeconfigError};").is_empty());
    assert!(kube_io_paths("fn f(e: &kube::Error) -> kube::client::AuthError {").is_empty());
    assert_eq!(
        kube_io_paths("let c = kube::Client::try_default(); let a: kube::Api<Pod>;"),
        ["kube::Client::try_default", "kube::Api<Pod>"]
    );
    assert_eq!(
        kube_io_paths("use kube::runtime::watcher;"),
        ["kube::runtime::watcher"]
    );
}
