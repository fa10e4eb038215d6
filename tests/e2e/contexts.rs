//! Many clusters at once, on two real control planes: the runner starts a second one and
//! exports `REGCRED_E2E_SECOND_KUBECONFIG`. Each test merges both kubeconfigs into contexts
//! `c1` (cluster 1, admin), `c2` (cluster 2, admin), `c2-dev` (cluster 2, the restricted
//! user `dev`) and `c3` (a closed port).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::{E2e, free_port, secret_writes, text};

/// The first cluster's E2e, with the merged kubeconfig (current context `c1`).
pub(crate) fn fleet() -> E2e {
    let first = E2e::new();
    let second = std::env::var_os("REGCRED_E2E_SECOND_KUBECONFIG")
        .map(PathBuf::from)
        .expect(
            "REGCRED_E2E_SECOND_KUBECONFIG is not set: run the e2e suite through tests/e2e/run.sh",
        );
    let merged = first.home.path().join("fleet-kubeconfig");
    let config = |args: &[&str]| {
        let out = std::process::Command::new("kubectl")
            .arg("config")
            .args(args)
            .arg("--kubeconfig")
            .arg(&merged)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", first.home.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl config {args:?}: {}",
            text(&out.stderr)
        );
    };
    let (server1, admin1, _) = endpoints(&first.kubeconfig);
    let (server2, admin2, dev2) = endpoints(&second);
    let closed = format!("https://127.0.0.1:{}", free_port());
    for (cluster, server) in [("one", &server1), ("two", &server2), ("closed", &closed)] {
        config(&[
            "set-cluster",
            cluster,
            "--server",
            server,
            "--insecure-skip-tls-verify=true",
        ]);
    }
    for (user, token) in [("admin1", &admin1), ("admin2", &admin2), ("dev2", &dev2)] {
        config(&["set-credentials", user, &format!("--token={token}")]);
    }
    for (context, cluster, user) in [
        ("c1", "one", "admin1"),
        ("c2", "two", "admin2"),
        ("c2-dev", "two", "dev2"),
        ("c3", "closed", "admin1"),
    ] {
        config(&["set-context", context, "--cluster", cluster, "--user", user]);
    }
    config(&["use-context", "c1"]);
    E2e {
        kubeconfig: merged,
        home: first.home,
    }
}

/// The server and the admin and dev tokens `tests/e2e/cluster.sh up` wrote.
fn endpoints(kubeconfig: &Path) -> (String, String, String) {
    let view = |path: &str| {
        let out = std::process::Command::new("kubectl")
            .args(["config", "view", "--raw", "-o"])
            .arg(format!("jsonpath={path}"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .output()
            .unwrap();
        text(&out.stdout)
    };
    (
        view("{.clusters[0].cluster.server}"),
        view(r#"{.users[?(@.name=="admin")].user.token}"#),
        view(r#"{.users[?(@.name=="dev")].user.token}"#),
    )
}

/// In cluster 2, `dev` may manage Secrets in `ns` (and nowhere else).
fn allow_dev_secrets(e2e: &E2e, ns: &str) {
    e2e.kubectl_ok(&[
        "--context",
        "c2",
        "create",
        "role",
        "secrets",
        "-n",
        ns,
        "--verb=get,list,create,update,patch",
        "--resource=secrets",
    ]);
    e2e.kubectl_ok(&[
        "--context",
        "c2",
        "create",
        "rolebinding",
        "dev-secrets",
        "-n",
        ns,
        "--role=secrets",
        "--user=dev",
    ]);
}

/// The same new namespace in both clusters.
fn namespace_in_both(e2e: &E2e, prefix: &str) -> String {
    let ns = e2e.namespace(prefix);
    e2e.kubectl_ok(&["--context", "c2", "create", "namespace", &ns]);
    ns
}

fn exists(e2e: &E2e, context: &str, ns: &str, name: &str) -> bool {
    e2e.kubectl(&["--context", context, "get", "secret", name, "-n", ns])
        .status
        .success()
}

/// `create regcred` of an explicit login with `args`; the password on stdin.
fn create(e2e: &E2e, args: &[&str]) -> std::process::Output {
    e2e.create_explicit("regcred", "quay.io", "robot", "pw\n", args)
}

#[test]
#[ignore = "needs two real control planes: tests/e2e/run.sh"]
fn create_writes_to_two_clusters_and_reports_an_unreachable_third() {
    let e2e = fleet();
    let (a, b) = (
        namespace_in_both(&e2e, "ctx-a"),
        namespace_in_both(&e2e, "ctx-b"),
    );
    let selector = format!("regcred-ctx={a}");
    for context in ["c1", "c2"] {
        for ns in [&a, &b] {
            e2e.kubectl_ok(&["--context", context, "label", "namespace", ns, &selector]);
        }
    }
    let out = create(
        &e2e,
        &[
            "--namespace-selector",
            &selector,
            "--context",
            "c1,c2",
            "--yes",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for context in ["c1", "c2"] {
        for ns in [&a, &b] {
            assert!(exists(&e2e, context, ns, "regcred"), "{context} {ns}");
            let line = format!("{context}: secret/regcred created in namespace {ns}\n");
            assert!(stdout.contains(&line), "{stdout}");
        }
    }
    assert!(
        text(&out.stderr).contains("2 contexts: 2 succeeded; 4 namespaces: 4 created"),
        "{}",
        text(&out.stderr)
    );

    // A third context whose server is a closed port fails alone; the others still finish.
    let out = create(
        &e2e,
        &[
            "--namespace-selector",
            &selector,
            "--context",
            "c1,c2,c3",
            "--yes",
            "--request-timeout",
            "5s",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        stdout
            .matches("secret/regcred unchanged in namespace")
            .count(),
        4,
        "{stdout}"
    );
    assert!(
        stderr.contains("error: c3: ") && stderr.contains("cannot reach"),
        "{stderr}"
    );
    assert!(
        stderr.contains("3 contexts: 2 succeeded, 1 could not run (c3); 4 namespaces: 4 unchanged"),
        "{stderr}"
    );

    // One report: a table with a CONTEXT column, one List whose items name their context.
    let out = e2e.regcred_ok(&["list", "-n", &a, "--context", "c1,c2"]);
    let table = text(&out.stdout);
    let rows: Vec<&str> = table.lines().collect();
    assert!(rows[0].starts_with("CONTEXT   NAME"), "{table}");
    assert!(
        rows[1].starts_with("c1 ") && rows[2].starts_with("c2 "),
        "{table}"
    );
    assert_eq!(rows.len(), 3, "{table}");
    let out = e2e.regcred_ok(&["check", "-n", &a, "--context", "c1,c2", "-o", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["kind"], "List");
    let out = e2e.regcred_ok(&["list", "-n", &a, "--context", "c2,c1", "-o", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let contexts: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["context"].as_str().unwrap())
        .collect();
    assert_eq!(contexts, ["c1", "c2"], "kubeconfig order");
}

#[test]
#[ignore = "needs two real control planes: tests/e2e/run.sh"]
fn a_forbidden_namespace_in_one_context_fails_alone() {
    let e2e = fleet();
    let (open, closed) = (
        namespace_in_both(&e2e, "ctx-open"),
        namespace_in_both(&e2e, "ctx-closed"),
    );
    // In cluster 2, `dev` may manage Secrets in `open` only.
    allow_dev_secrets(&e2e, &open);
    let namespaces = format!("{open},{closed}");
    let out = create(
        &e2e,
        &[
            "--namespaces",
            &namespaces,
            "--context",
            "c1,c2-dev",
            "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let forbidden: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(forbidden.len(), 1, "{stderr}");
    assert!(
        forbidden[0].starts_with(&format!("error: c2-dev: namespace {closed}: "))
            && forbidden[0].contains("forbidden"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "2 contexts: 1 succeeded, 1 reported problems (c2-dev); 4 namespaces: 3 created, 1 failed"
        ),
        "{stderr}"
    );
    assert!(exists(&e2e, "c1", &open, "regcred") && exists(&e2e, "c1", &closed, "regcred"));
    assert!(exists(&e2e, "c2", &open, "regcred"));
    assert!(!exists(&e2e, "c2", &closed, "regcred"));
}

#[test]
#[ignore = "needs two real control planes: tests/e2e/run.sh"]
fn regexes_and_exclusions_select_exactly_and_a_miss_lists_the_contexts() {
    let e2e = fleet();
    let ns = namespace_in_both(&e2e, "ctx-sel");
    allow_dev_secrets(&e2e, &ns);
    // `list` also reads the workloads that use each Secret.
    e2e.kubectl_ok(&[
        "--context",
        "c2",
        "create",
        "rolebinding",
        "dev-view",
        "-n",
        &ns,
        "--clusterrole=view",
        "--user=dev",
    ]);
    let out = create(&e2e, &["-n", &ns, "--context", "c1,c2", "--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Which contexts ran: the `context` of each listed Secret.
    let contexts_listed = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["list", "-n", &ns, "-o", "json"];
        all.extend_from_slice(args);
        let out = e2e.regcred_ok(&all);
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["context"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        contexts_listed(&["--context", "/^c[0-9]/", "--context", "^/-dev$/,^c3"]),
        ["c1", "c2"]
    );
    assert_eq!(
        contexts_listed(&["--all-contexts", "--context", "^c3", "--context", "^c1"]),
        ["c2", "c2-dev"]
    );
    let out = e2e.run(&["list", "--context", "/^prod-/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the kubeconfig has: c1, c2, c2-dev, c3"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
#[ignore = "needs two real control planes: tests/e2e/run.sh"]
fn without_a_terminal_several_contexts_need_yes_and_nothing_is_written() {
    let e2e = fleet();
    let ns = namespace_in_both(&e2e, "ctx-tty");
    e2e.docker_config(r#"{"auths":{"quay.io":{"auth":"cm9ib3Q6cHc="}}}"#);
    let out = e2e
        .regcred_std(&[
            "create",
            "regcred",
            "--server",
            "quay.io",
            "-n",
            &ns,
            "--context",
            "c1,c2",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("pass --yes. Nothing was written"));
    assert!(!exists(&e2e, "c1", &ns, "regcred") && !exists(&e2e, "c2", &ns, "regcred"));
    assert_eq!(
        secret_writes(&ns),
        Vec::<String>::new(),
        "cluster 1's audit log"
    );
}

/// Runs our binary on a terminal (a tmux pane), answers its prompt with `answer`, and returns
/// the exit code and what the pane showed.
fn on_a_terminal(e2e: &E2e, args: &[&str], answer: &str) -> (i32, String) {
    let dir = e2e.home.path().join(format!("tty-{answer}"));
    std::fs::create_dir_all(&dir).unwrap();
    let status = dir.join("status");
    let script = dir.join("run.sh");
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nenv -i HOME='{home}' KUBECONFIG='{kubeconfig}' PATH=/usr/bin:/bin TERM=xterm '{bin}' {args}\necho $? > '{status}'\nsleep 60\n",
            home = e2e.home.path().display(),
            kubeconfig = e2e.kubeconfig.display(),
            bin = assert_cmd::cargo::cargo_bin("kubectl-regcred").display(),
            args = quoted.join(" "),
            status = status.display(),
        ),
    )
    .unwrap();
    let socket = dir.join("tmux.sock");
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("TERM", "xterm")
            .output()
            .expect("tmux runs (tests/setup.sh installs it)")
    };
    let started = tmux(&[
        "new-session",
        "-d",
        "-x",
        "250",
        "-y",
        "40",
        "sh",
        &script.display().to_string(),
    ]);
    assert!(started.status.success(), "{}", text(&started.stderr));
    let pane = || text(&tmux(&["capture-pane", "-p", "-J"]).stdout);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pane().contains("Continue? [y/N]") {
        assert!(
            Instant::now() < deadline,
            "no prompt; the pane shows:\n{}",
            pane()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    tmux(&["send-keys", answer, "Enter"]);
    while !status.exists() || std::fs::read_to_string(&status).unwrap().trim().is_empty() {
        assert!(
            Instant::now() < deadline,
            "did not finish; the pane shows:\n{}",
            pane()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let shown = pane();
    tmux(&["kill-server"]);
    let code = std::fs::read_to_string(&status)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (code, shown)
}

#[test]
#[ignore = "needs two real control planes: tests/e2e/run.sh"]
fn on_a_terminal_the_prompt_lists_the_contexts_and_only_yes_writes() {
    let e2e = fleet();
    let ns = namespace_in_both(&e2e, "ctx-pty");
    e2e.docker_config(r#"{"auths":{"quay.io":{"auth":"cm9ib3Q6cHc="}}}"#);
    let args = [
        "create",
        "regcred",
        "--server",
        "quay.io",
        "-n",
        &ns,
        "--context",
        "c1,c2",
    ];
    let (code, shown) = on_a_terminal(&e2e, &args, "n");
    assert_eq!(code, 1, "{shown}");
    assert!(
        shown.contains(&format!(
            "This will create or update secret/regcred in namespace {ns} in 2 contexts: c1, c2."
        )),
        "{shown}"
    );
    assert!(
        shown.contains("error: not confirmed; nothing was written"),
        "{shown}"
    );
    assert!(!exists(&e2e, "c1", &ns, "regcred") && !exists(&e2e, "c2", &ns, "regcred"));

    let (code, shown) = on_a_terminal(&e2e, &args, "y");
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("c2: secret/regcred created"), "{shown}");
    assert!(exists(&e2e, "c1", &ns, "regcred") && exists(&e2e, "c2", &ns, "regcred"));
}

#[test]
#[ignore = "needs two real control planes: tests/e2e/run.sh"]
fn a_credential_helper_is_asked_once_for_three_contexts() {
    let e2e = fleet();
    let ns = namespace_in_both(&e2e, "ctx-helper");
    allow_dev_secrets(&e2e, &ns);
    // Cluster 2 outlives a test run while developing: a name no earlier run used.
    let name = format!("cred-{ns}");
    // A helper that counts its calls.
    let log = e2e.home.path().join("helper.log");
    let bin = e2e.credential_helper(
        "counting",
        &format!(
            "#!/bin/sh\necho \"$1\" >> '{}'\nread server\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"robot\",\"Secret\":\"from-helper\"}}' \"$server\"\n",
            log.display()
        ),
    );
    e2e.docker_config(r#"{"auths":{},"credHelpers":{"quay.io":"counting"}}"#);
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let run = |args: &[&str]| {
        let out = e2e.regcred(args).env("PATH", &path).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    };
    run(&[
        "create",
        &name,
        "--server",
        "quay.io",
        "-n",
        &ns,
        "--context",
        "c1,c2,c2-dev",
        "--yes",
    ]);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "get\n");
    for context in ["c1", "c2"] {
        let payload: serde_json::Value = {
            let out = e2e.kubectl_ok(&[
                "--context",
                context,
                "get",
                "secret",
                &name,
                "-n",
                &ns,
                "-o",
                "jsonpath={.data.\\.dockerconfigjson}",
            ]);
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(out.trim())
                .unwrap();
            serde_json::from_slice(&bytes).unwrap()
        };
        assert_eq!(payload["auths"]["quay.io"]["password"], "from-helper");
    }
    // `sync` reads the helper again once, for both clusters' copies.
    run(&["sync", &name, "-n", &ns, "--context", "c1,c2", "--yes"]);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "get\nget\n");
}

/// A `check` that ran and found problems is not a context that could not run: the summary
/// and `-o json`'s `contexts` tell them apart (docs/contexts.md).
#[test]
#[ignore = "needs two real control planes: tests/e2e/run.sh"]
fn a_check_that_finds_problems_is_told_apart_from_a_context_that_could_not_run() {
    let e2e = fleet();
    let ns = namespace_in_both(&e2e, "ctx-check");
    e2e.deployment(
        &ns,
        "web",
        serde_json::json!({"imagePullSecrets": [{"name": "absent"}],
            "containers": [{"name": "app", "image": "quay.io/team/web:1"}]}),
    );
    let out = e2e.run(&[
        "check",
        "-n",
        &ns,
        "--context",
        "c1,c2,c3",
        "--request-timeout",
        "5s",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("3 contexts: 1 succeeded, 1 reported problems (c1), 1 could not run (c3)"),
        "{stderr}"
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let outcomes: Vec<(&str, &str)> = list["contexts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("c1", "ReportedProblems"),
            ("c2", "Succeeded"),
            ("c3", "CouldNotRun")
        ]
    );
    assert!(
        list["contexts"][2]["error"]
            .as_str()
            .unwrap()
            .contains("cannot reach")
    );
}
