//! A dry run never writes (docs/dry-run.md): every writing command, in every scope, with
//! `--dry-run=client` and `--dry-run=server`, judged by the API servers' audit logs and by
//! the `resourceVersion` of every object it could have touched.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::contexts::fleet;
use crate::harness::{E2e, text};

/// Every object in `ns` a write command could touch, as `kind/name` → its version: the
/// `resourceVersion` of Secrets and ServiceAccounts, and a Deployment's `generation`, which
/// only a change of its spec moves (the controller manager keeps writing its status).
fn versions(e2e: &E2e, context: &str, ns: &str) -> BTreeMap<String, String> {
    let list = e2e.get_json(&[
        "--context",
        context,
        "secrets,serviceaccounts,deployments",
        "-n",
        ns,
    ]);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let kind = item["kind"].as_str().unwrap();
            let version = if kind == "Deployment" {
                item["metadata"]["generation"].to_string()
            } else {
                item["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .to_string()
            };
            (
                format!("{kind}/{}", item["metadata"]["name"].as_str().unwrap()),
                version,
            )
        })
        .collect()
}

/// A Secret of another type (Opaque) named `name` in `ns`: what `--force` takes over.
fn opaque_secret(e2e: &E2e, ns: &str, name: &str) {
    e2e.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        name,
        "-n",
        ns,
        "--from-literal=k=v",
    ]);
}

/// The audit log of each control plane: the first's, and the second's beside its kubeconfig.
fn audit_logs() -> Vec<PathBuf> {
    let first =
        std::env::var_os("REGCRED_E2E_AUDIT_LOG").expect("the e2e runner exports the audit log");
    let second = std::env::var_os("REGCRED_E2E_SECOND_KUBECONFIG")
        .map(PathBuf::from)
        .expect("the e2e runner exports the second kubeconfig");
    vec![PathBuf::from(first), second.with_file_name("audit.log")]
}

/// Write requests (create, update, patch, delete) in the audit logs that `is_ours` selects,
/// as `verb URI` lines.
fn writes(is_ours: impl Fn(&Value) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for log in audit_logs() {
        let audit =
            std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        for event in audit
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        {
            let verb = event["verb"].as_str().unwrap_or_default();
            if matches!(verb, "create" | "update" | "patch" | "delete") && is_ours(&event) {
                found.push(format!(
                    "{verb} {}",
                    event["requestURI"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    found
}

fn uri(event: &Value) -> &str {
    event["requestURI"].as_str().unwrap_or_default()
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn dry_runs_never_write() {
    let e2e = fleet();
    let tag = format!("t{}", std::process::id());
    // `sync NAME` sees every copy of NAME in the cluster: a name no other test uses.
    let cred = format!("dry-{tag}");
    let a = e2e.namespace("dry-a");
    let b = e2e.namespace("dry-b");
    for ns in [&a, &b] {
        e2e.kubectl_ok(&[
            "label",
            "namespace",
            ns,
            &format!("dryrun={tag}"),
            &format!("field.cattle.io/projectId=p-{tag}"),
        ]);
        e2e.create_deployment(ns, "web", "quay.io/team/web:1");
    }
    // The second cluster holds namespace `a` too, with web, for `--context c1,c2 -n a`.
    e2e.kubectl_ok(&["--context", "c2", "create", "namespace", &a]);
    e2e.kubectl_ok(&[
        "--context",
        "c2",
        "create",
        "deployment",
        "web",
        "-n",
        &a,
        "--image=quay.io/team/web:1",
    ]);
    e2e.docker_config(r#"{"auths":{"quay.io":{"auth":"cm9ib3Q6cHc="}}}"#);
    // What exists before: our Secret in a, attached to web; a Secret of another type named
    // `taken` (for --force); a source Secret for --from-secret.
    e2e.regcred_ok(&[
        "create",
        &cred,
        "--server",
        "quay.io",
        "--namespaces",
        &format!("{a},{b}"),
    ]);
    e2e.regcred_ok(&["attach", &cred, "deployment/web", "-n", &a]);
    e2e.regcred_ok(&[
        "create",
        &cred,
        "--server",
        "quay.io",
        "--context",
        "c2",
        "-n",
        &a,
        "--attach",
        "deployment/web",
    ]);
    opaque_secret(&e2e, &a, "taken");
    e2e.kubectl_ok(&[
        "create",
        "secret",
        "docker-registry",
        "source",
        "-n",
        &a,
        "--docker-server=quay.io",
        "--docker-username=robot",
        "--docker-password=pw",
    ]);
    let before = [
        versions(&e2e, "c1", &a),
        versions(&e2e, "c1", &b),
        versions(&e2e, "c2", &a),
    ];

    let selector = format!("dryrun={tag}");
    let project = format!("p-{tag}");
    let both = format!("{a},{b}");
    let source = format!("{a}/source");
    // A name no other test uses, for -A: other tests' namespaces hold Secrets of their own.
    let everywhere = format!("dryrun-{tag}");
    let commands: Vec<Vec<&str>> = vec![
        vec!["create", &cred, "--server", "quay.io", "-n", &a],
        vec![
            "create",
            &cred,
            "--server",
            "quay.io",
            "--namespaces",
            &both,
        ],
        vec![
            "create",
            &cred,
            "--server",
            "quay.io",
            "--namespace-selector",
            &selector,
        ],
        vec![
            "create",
            &cred,
            "--server",
            "quay.io",
            "--project",
            &project,
        ],
        vec![
            "create",
            &cred,
            "--server",
            "quay.io",
            "--context",
            "c1,c2",
            "-n",
            &a,
            "--yes",
        ],
        vec![
            "create",
            "copied",
            "--from-secret",
            &source,
            "--namespace-selector",
            &selector,
        ],
        vec![
            "create", "taken", "--server", "quay.io", "-n", &a, "--force",
        ],
        vec![
            "create",
            &cred,
            "--server",
            "quay.io",
            "-n",
            &b,
            "--attach",
            "deployment/web",
        ],
        vec!["attach", &cred, "serviceaccount/default", "-n", &a],
        vec!["detach", &cred, "deployment/web", "-n", &a],
        vec![
            "attach",
            &cred,
            "deployment/web",
            "--namespace-selector",
            &selector,
        ],
        vec!["detach", &cred, "deployment/web", "--namespaces", &both],
        vec!["attach", &cred, "deployment/web", "--project", &project],
        vec![
            "attach",
            &cred,
            "serviceaccount/default",
            "--context",
            "c1,c2",
            "-n",
            &a,
            "--yes",
        ],
        vec!["detach", &cred, "deployment/web", "--project", &project],
        vec![
            "detach",
            &cred,
            "deployment/web",
            "--context",
            "c1,c2",
            "-n",
            &a,
            "--yes",
        ],
        vec![
            "create",
            "copied",
            "--from-secret",
            &source,
            "--project",
            &project,
        ],
        vec![
            "sync",
            &cred,
            "--namespaces",
            &both,
            "--prune",
            "--detach",
            "--force",
        ],
        vec!["sync", &cred, "--namespaces", &both],
        vec!["sync", &cred, "--namespace-selector", &selector],
        vec!["sync", &cred, "--project", &project],
        vec!["sync", &cred, "-n", &a, "--context", "c1,c2", "--yes"],
        vec!["sync", "--context", "c1,c2", "--yes"],
        vec!["delete", &cred, "-n", &a],
        vec!["delete", &cred, "--namespaces", &both],
        vec!["delete", &cred, "--namespace-selector", &selector],
        vec!["delete", &cred, "--project", &project],
        vec!["delete", &cred, "--context", "c1,c2", "-n", &a, "--yes"],
        vec!["create", &everywhere, "--server", "quay.io", "-A"],
        vec!["attach", &cred, "--all", "deployments", "-A"],
        vec!["delete", &cred, "-A"],
    ];
    // Deletes carry no field manager, and a server dry run's `dryRun` rides in their body,
    // which the audit log does not show: after the client runs, none at all in our
    // namespaces; after the server runs, the resourceVersions below show nothing was deleted.
    let our_deletes = || {
        writes(|event: &Value| {
            let ns = event["objectRef"]["namespace"].as_str().unwrap_or_default();
            (ns == a || ns == b)
                && event["verb"] == "delete"
                && !event["userAgent"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("kubectl/")
        })
    };
    for mode in ["client", "server"] {
        let manager = format!("dryrun-{mode}-{tag}");
        let dry_run = format!("--dry-run={mode}");
        for command in &commands {
            let mut args = command.clone();
            args.extend([dry_run.as_str(), "--field-manager", &manager]);
            let out = e2e.run(&args);
            // -A and a `sync` of every credential meet other tests' namespaces and
            // credentials as they come and go: only a usage error would mean the command
            // did not run.
            let meets_other_tests =
                command.contains(&"-A") || (command[0] == "sync" && command[1].starts_with('-'));
            if meets_other_tests {
                assert_ne!(
                    out.status.code(),
                    Some(2),
                    "{args:?}: {}",
                    text(&out.stderr)
                );
            } else {
                assert!(
                    out.status.success(),
                    "{args:?}: {}{}",
                    text(&out.stdout),
                    text(&out.stderr)
                );
            }
            // A summary line says it was a dry run, as each line does.
            let mark = if mode == "client" {
                " (dry run)"
            } else {
                " (server dry run)"
            };
            for line in text(&out.stderr).lines() {
                let summary = line.starts_with(|c: char| c.is_ascii_digit())
                    && (line.contains(" namespaces: ") || line.contains(" objects: "));
                assert!(!summary || line.ends_with(mark), "{args:?}: {line}");
            }
        }
        if mode == "client" {
            assert_eq!(
                our_deletes(),
                Vec::<String>::new(),
                "a client dry run deleted"
            );
        }
    }

    // A client dry run sends no write at all; a server dry run only dryRun=All writes.
    let client = format!("fieldManager=dryrun-client-{tag}");
    let server = format!("fieldManager=dryrun-server-{tag}");
    assert_eq!(
        writes(|event| uri(event).contains(&client)),
        Vec::<String>::new()
    );
    assert_eq!(
        writes(|event| uri(event).contains(&server) && !uri(event).contains("dryRun=All")),
        Vec::<String>::new()
    );
    assert!(
        !writes(|event| uri(event).contains(&server)).is_empty(),
        "the server dry runs sent writes"
    );
    let after = [
        versions(&e2e, "c1", &a),
        versions(&e2e, "c1", &b),
        versions(&e2e, "c2", &a),
    ];
    // Other tests' real `-A` runs may add their own Secrets here meanwhile: every object that
    // was here is unchanged, and none of ours was added (the audit log above).
    for (before, after) in before.iter().zip(&after) {
        for (object, version) in before {
            assert_eq!(
                after.get(object),
                Some(version),
                "{object} changed or went away"
            );
        }
    }
}

/// A client dry run reads what exists, so it prints the verb the real run would print.
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn a_client_dry_run_prints_the_real_runs_verb() {
    let e2e = E2e::new();
    let a = e2e.namespace("dryverb-a");
    let b = e2e.namespace("dryverb-b");
    e2e.docker_config(r#"{"auths":{"quay.io":{"auth":"cm9ib3Q6cHc="}}}"#);
    e2e.regcred_ok(&["create", "regcred", "--server", "quay.io", "-n", &a]);
    let dry = |args: &[&str]| {
        let mut args = args.to_vec();
        args.push("--dry-run=client");
        text(&e2e.regcred_ok(&args).stdout)
    };
    assert_eq!(
        dry(&["create", "regcred", "--server", "quay.io", "-n", &a]),
        "secret/regcred unchanged (dry run)\n"
    );
    let both = dry(&[
        "create",
        "regcred",
        "--server",
        "quay.io",
        "--namespaces",
        &format!("{a},{b}"),
    ]);
    assert!(
        both.contains(&format!(
            "secret/regcred created in namespace {b} (dry run)"
        )),
        "{both}"
    );
    // The same verbs a real run then prints.
    let real = text(
        &e2e.regcred_ok(&[
            "create",
            "regcred",
            "--server",
            "quay.io",
            "--namespaces",
            &format!("{a},{b}"),
        ])
        .stdout,
    );
    assert_eq!(both.replace(" (dry run)", ""), real);
    opaque_secret(&e2e, &a, "taken");
    assert_eq!(
        dry(&[
            "create", "taken", "--server", "quay.io", "-n", &a, "--force"
        ]),
        "secret/taken recreated (dry run)\n"
    );
    assert_eq!(
        e2e.get_json(&["secret", "taken", "-n", &a])["type"],
        "Opaque"
    );
}
