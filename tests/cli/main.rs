//! Hermetic CLI tests: the real binary, a temporary HOME, and small credential-helper
//! scripts on a temporary PATH. No cluster is contacted (client-side dry runs only).

mod contexts;
mod docs;
mod harness;
mod manifest;
#[path = "../shared/markdown.rs"]
mod markdown;

use harness::{TestEnv, b64, decoded_payload};
use predicates::prelude::*;

#[test]
fn help_shows_every_create_flag() {
    let env = TestEnv::new();
    let output = env.cmd(&["create", "--help-all"]).output().unwrap();
    assert!(output.status.success());
    insta::assert_snapshot!("create_help", String::from_utf8_lossy(&output.stdout));
}

/// Each command line exits 2, prints nothing on stdout, and says `error: ...NEEDLE...`.
fn assert_usage_errors(env: &TestEnv, cases: &[(&[&str], &str)]) {
    for (args, needle) in cases {
        let report = env.run_report(&mut env.cmd(args));
        let expected = "exit_code: 2\n----- stdout -----\n----- stderr -----\nerror:";
        assert!(report.starts_with(expected), "{args:?}:\n{report}");
        assert!(report.contains(needle), "{args:?}:\n{report}");
    }
}

#[test]
fn usage_errors_exit_2_and_name_the_problem() {
    let env = TestEnv::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["create", "Bad_Name", "--dry-run=client"],
            "invalid Secret name \"Bad_Name\"",
        ),
        (
            &[
                "create",
                "x",
                "--namespaces",
                "ok,Not-OK",
                "--dry-run=client",
            ],
            "invalid namespace \"Not-OK\"",
        ),
        (
            &[
                "create",
                "x",
                "--server",
                "ftp://quay.io",
                "--dry-run=client",
            ],
            "invalid registry server",
        ),
        (&["create", "x", "--dry-run=maybe"], "invalid value 'maybe'"),
        (&["create", "x", "-o", "table"], "invalid value 'table'"),
        (
            &["create", "x", "-n", "a", "--namespaces", "b"],
            "-n and --namespaces cannot be combined",
        ),
        (
            &["create", "x", "-A", "--namespaces", "b"],
            "cannot be used with",
        ),
        (&["create", "x", "--password-stdin"], "--username"),
        (
            &["create", "x", "--request-timeout", "5"],
            "invalid duration",
        ),
        (
            &[
                "create",
                "x",
                "--server",
                "quay.io:99999999",
                "--dry-run=client",
            ],
            "the port must be 1 to 65535",
        ),
        (
            &[
                "create",
                "x",
                "--server",
                "quay.io/../..",
                "--dry-run=client",
            ],
            "the repository path must be",
        ),
        (
            &["create", "x", "--server", "a:b:c", "--dry-run=client"],
            "invalid registry server \"a:b:c\"",
        ),
        // Durations past Go's limit are usage errors, never a panic (exit 101).
        (
            &[
                "create",
                "x",
                "--helper-timeout",
                "99999999999999999999999h",
            ],
            "about 292 years",
        ),
        (
            &["create", "x", "--request-timeout", "300000000h"],
            "about 292 years",
        ),
        (
            &["check", "--probe-timeout", "99999999999999999999999h"],
            "about 292 years",
        ),
    ];
    assert_usage_errors(&env, cases);
}

#[test]
fn explicit_credentials_match_kubectl_create_secret_docker_registry() {
    let env = TestEnv::new();
    for namespace in [None, Some("team-a")] {
        let mut ours = vec![
            "create",
            "x",
            "--server",
            "quay.io",
            "--username",
            "robot",
            "--password-stdin",
        ];
        let mut theirs = vec![
            "create",
            "secret",
            "docker-registry",
            "x",
            "--docker-server",
            "quay.io",
            "--docker-username",
            "robot",
            "--docker-password",
            "p:w rd",
            "--docker-email",
            "r@example.com",
        ];
        ours.extend(["--email", "r@example.com", "--dry-run=client", "-o", "json"]);
        theirs.extend(["--dry-run=client", "-o", "json"]);
        if let Some(ns) = namespace {
            ours.extend(["-n", ns]);
            theirs.extend(["-n", ns]);
        }
        let ours: serde_json::Value = env.json_stdout(env.cmd(&ours).write_stdin("p:w rd\n"));
        let kubectl = env.kubectl(&theirs);
        assert_eq!(ours["type"], kubectl["type"]);
        assert_eq!(ours["metadata"]["name"], kubectl["metadata"]["name"]);
        assert_eq!(
            ours["metadata"].get("namespace"),
            kubectl["metadata"].get("namespace")
        );
        assert_eq!(decoded_payload(&ours), decoded_payload(&kubectl));
    }
}

#[test]
fn hub_is_the_default_server_like_kubectl() {
    let env = TestEnv::new();
    let ours = env.json_stdout(
        env.cmd(&[
            "create",
            "x",
            "--docker-username",
            "u",
            "--password-stdin",
            "--dry-run=client",
            "-o",
            "json",
        ])
        .write_stdin("pw"),
    );
    let kubectl = env.kubectl(&[
        "create",
        "secret",
        "docker-registry",
        "x",
        "--docker-username",
        "u",
        "--docker-password",
        "pw",
        "--dry-run=client",
        "-o",
        "json",
    ]);
    assert_eq!(decoded_payload(&ours), decoded_payload(&kubectl));
}

#[test]
fn password_in_argv_warns() {
    let env = TestEnv::new();
    regcred_snapshot!(
        env,
        env.cmd(&[
            "create",
            "x",
            "--username",
            "u",
            "--docker-password",
            "pw",
            "--dry-run=client",
        ]),
        "password_in_argv"
    );
}

#[test]
fn no_password_and_no_terminal_is_a_usage_error() {
    let env = TestEnv::new();
    regcred_snapshot!(
        env,
        env.cmd(&["create", "x", "--username", "u", "--dry-run=client"])
            .write_stdin(""),
        "no_password_no_terminal"
    );
}

#[test]
fn docker_config_auths_with_hub_aliases_and_colons() {
    let env = TestEnv::new();
    env.docker_config(&format!(
        r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{}"}},"https://quay.io":{{"auth":"{}","email":"x@y"}}}}}}"#,
        b64("hub:h:pw"),
        b64("q:qpw")
    ));
    let out = env.json_stdout(&mut env.cmd(&["create", "x", "--dry-run=client", "-o", "json"]));
    let auths = &decoded_payload(&out)["auths"];
    assert_eq!(auths["https://index.docker.io/v1/"]["password"], "h:pw");
    assert_eq!(auths["quay.io"]["username"], "q");
    // docker v29 dropped email; it is not copied from config files.
    assert!(auths["quay.io"].get("email").is_none());
    let out = env.json_stdout(&mut env.cmd(&[
        "create",
        "x",
        "--server",
        "docker.io",
        "--dry-run=client",
        "-o",
        "json",
    ]));
    assert_eq!(decoded_payload(&out)["auths"].as_object().unwrap().len(), 1);
}

#[test]
fn stderr_names_the_source_of_each_registry_and_no_secret() {
    let env = TestEnv::new();
    env.docker_config(&format!(
        r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
        b64("q:sup3rsecret")
    ));
    let report = regcred_snapshot!(
        env,
        env.cmd(&["create", "x", "--dry-run=client"]),
        "sources_on_stderr"
    );
    assert!(!report.contains("sup3rsecret"));
}

#[test]
fn creds_store_helper_is_asked_and_listed() {
    let env = TestEnv::new();
    env.helper("teststore", HELPER_WITH_TWO_LOGINS);
    env.docker_config(r#"{"auths":{"quay.io":{}},"credsStore":"teststore"}"#);
    let out = env.json_stdout(&mut env.cmd(&["create", "x", "--dry-run=client", "-o", "json"]));
    let auths = decoded_payload(&out)["auths"].clone();
    assert_eq!(auths["quay.io"]["password"], "quay-secret");
    assert_eq!(auths["https://index.docker.io/v1/"]["username"], "hubuser");
    // The helper saw the server URL on stdin, exactly as docker stores it.
    let log = env.helper_log("teststore");
    assert!(log.contains("get https://index.docker.io/v1/"), "{log}");
    assert!(log.contains("get quay.io"), "{log}");
}

#[test]
fn cred_helpers_win_over_creds_store_which_wins_over_auths() {
    let env = TestEnv::new();
    env.helper("teststore", HELPER_WITH_TWO_LOGINS);
    env.helper(
        "perhost",
        r#"printf '{"ServerURL":"%s","Username":"perhost","Secret":"ph"}' "$url""#,
    );
    env.docker_config(&format!(
        r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}},"credsStore":"teststore","credHelpers":{{"quay.io":"perhost"}}}}"#,
        b64("file:pw")
    ));
    let out = env.json_stdout(&mut env.cmd(&[
        "create",
        "x",
        "--server",
        "quay.io",
        "--dry-run=client",
        "-o",
        "json",
    ]));
    assert_eq!(
        decoded_payload(&out)["auths"]["quay.io"]["username"],
        "perhost"
    );
    let out = env.json_stdout(&mut env.cmd(&[
        "create",
        "x",
        "--server",
        "docker.io",
        "--dry-run=client",
        "-o",
        "json",
    ]));
    assert_eq!(
        decoded_payload(&out)["auths"]["https://index.docker.io/v1/"]["username"],
        "hubuser"
    );
}

#[test]
fn helper_failures_name_the_helper_and_server() {
    let env = TestEnv::new();
    // A failing helper's stdout may be anything, a secret included: never quoted.
    env.helper("broken", "echo 'S3CRET-CANARY'; exit 1");
    env.docker_config(r#"{"credsStore":"broken"}"#);
    env.cmd(&["create", "x", "--server", "quay.io", "--dry-run=client"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: credential helper docker-credential-broken failed on `get` for quay.io: it exited non-zero",
        ).and(predicate::str::contains("CANARY").not()));
    env.docker_config(r#"{"credsStore":"absent"}"#);
    env.cmd(&["create", "x", "--server", "quay.io", "--dry-run=client"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "docker-credential-absent is not on PATH",
        ));
}

#[test]
fn a_hanging_helper_is_cut_off() {
    let env = TestEnv::new();
    env.helper("slow", "exec /bin/sleep 30");
    env.docker_config(r#"{"credsStore":"slow"}"#);
    let started = std::time::Instant::now();
    env.cmd(&[
        "create",
        "x",
        "--server",
        "quay.io",
        "--helper-timeout",
        "1s",
        "--dry-run=client",
    ])
    .assert()
    .code(1)
    .stderr(predicate::str::contains(
        "docker-credential-slow did not answer `get` for quay.io within 1s",
    ));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// A helper that answers and exits but leaves a background child holding stdout open is not
/// waited for: once it has exited, its process group is ended a moment later and its answer
/// used, long before the helper timeout (here 5 minutes, which this test would not survive).
#[test]
fn a_helpers_background_child_cannot_stall_us() {
    let env = TestEnv::new();
    env.helper(
        "lingering",
        r#"/bin/sleep 600 &
printf '{"ServerURL":"quay.io","Username":"robot","Secret":"pw"}'"#,
    );
    env.docker_config(r#"{"credsStore":"lingering"}"#);
    env.cmd(&[
        "create",
        "x",
        "--server",
        "quay.io",
        "--helper-timeout",
        "300s",
        "--dry-run=client",
    ])
    // A hang is killed here, and a killed process fails the assertion.
    .timeout(std::time::Duration::from_secs(60))
    .assert()
    .success()
    .stdout("secret/x created (dry run)\n");
}

/// A helper that writes without end is stopped at 1 MiB, and memory stays bounded.
#[test]
fn a_helpers_endless_reply_is_capped() {
    let env = TestEnv::new();
    env.helper("endless", "exec /bin/cat /dev/zero");
    env.docker_config(r#"{"credsStore":"endless"}"#);
    let started = std::time::Instant::now();
    env.cmd(&["create", "x", "--server", "quay.io", "--dry-run=client"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "docker-credential-endless wrote more than 1 MiB in reply to `get` for quay.io",
        ));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn identity_tokens_are_refused_with_advice() {
    let env = TestEnv::new();
    env.helper(
        "tok",
        r#"printf '{"ServerURL":"%s","Username":"<token>","Secret":"refresh-tok"}' "$url""#,
    );
    env.docker_config(r#"{"credHelpers":{"ghcr.io":"tok"}}"#);
    let output = env
        .cmd(&["create", "x", "--server", "ghcr.io", "--dry-run=client"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("holds only an identity token, which the kubelet cannot use"),
        "{stderr}"
    );
    assert!(stderr.contains("robot account"), "{stderr}");
    assert!(!stderr.contains("refresh-tok"), "{stderr}");
}

#[test]
fn nothing_found_lists_every_place_searched() {
    let env = TestEnv::new();
    env.docker_config(&format!(
        r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
        b64("q:pw")
    ));
    regcred_snapshot!(
        env,
        env.cmd(&["create", "x", "--server", "ghcr.io", "--dry-run=client"]),
        "not_found"
    );
}

#[test]
fn podman_auth_file_and_from_restriction() {
    let env = TestEnv::new();
    let auth_file = env.write(
        "podman-auth.json",
        &format!(
            r#"{{"auths":{{"docker.io":{{"auth":"{}"}}}}}}"#,
            b64("pod:pw")
        ),
    );
    env.docker_config(&format!(
        r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
        b64("q:pw")
    ));
    let out = env.json_stdout(
        env.cmd(&["create", "x", "--dry-run=client", "-o", "json"])
            .env("REGISTRY_AUTH_FILE", &auth_file),
    );
    let auths = decoded_payload(&out)["auths"].as_object().unwrap().clone();
    assert_eq!(auths.len(), 2);
    assert_eq!(auths["https://index.docker.io/v1/"]["username"], "pod");
    let out = env.json_stdout(
        env.cmd(&[
            "create",
            "x",
            "--from",
            "podman",
            "--dry-run=client",
            "-o",
            "json",
        ])
        .env("REGISTRY_AUTH_FILE", &auth_file),
    );
    assert_eq!(decoded_payload(&out)["auths"].as_object().unwrap().len(), 1);
}

#[test]
fn malformed_config_names_the_file() {
    let env = TestEnv::new();
    let path = env.docker_config(r#"{"auths":{"quay.io":{"auth":"bm9jb2xvbg=="}}}"#);
    env.cmd(&["create", "x", "--dry-run=client"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains(path.display().to_string())
                .and(predicate::str::contains("no ':'")),
        );
}

#[test]
fn several_namespaces_print_a_list_and_name_output() {
    let env = TestEnv::new();
    env.docker_config(&format!(
        r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
        b64("q:pw")
    ));
    let out = env.json_stdout(&mut env.cmd(&[
        "create",
        "x",
        "--namespaces",
        "a,b",
        "--server",
        "quay.io",
        "--dry-run=client",
        "-o",
        "json",
    ]));
    assert_eq!(out["kind"], "List");
    assert_eq!(out["items"][1]["metadata"]["namespace"], "b");
    env.cmd(&[
        "create",
        "x",
        "--namespaces",
        "a,b",
        "--server",
        "quay.io",
        "--dry-run=client",
        "-o",
        "name",
    ])
    .assert()
    .success()
    .stdout("secret/x\nsecret/x\n");
    regcred_snapshot!(
        env,
        env.cmd(&[
            "create",
            "x",
            "--namespaces",
            "a,b",
            "--server",
            "quay.io",
            "--dry-run=client"
        ]),
        "several_namespaces_lines"
    );
    // --quiet keeps the result lines and drops the summary and the sources.
    regcred_snapshot!(
        env,
        env.cmd(&[
            "create",
            "x",
            "--namespaces",
            "a,b",
            "--server",
            "quay.io",
            "--dry-run=client",
            "-q"
        ]),
        "several_namespaces_quiet"
    );
}

#[test]
fn the_context_namespace_is_the_default() {
    let env = TestEnv::new();
    env.docker_config(&format!(
        r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
        b64("q:pw")
    ));
    let kubeconfig = env.write(
        "kubeconfig",
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         users: [{name: u, user: {}}]\ncontexts: [{name: ctx, context: {cluster: c, user: u, namespace: team-z}}]\n\
         current-context: ctx\n",
    );
    // kubectl leaves the context's namespace out of client-side dry-run objects, and so do we.
    let out = env.json_stdout(
        env.cmd(&["create", "x", "--dry-run=client", "-o", "json"])
            .env("KUBECONFIG", &kubeconfig),
    );
    assert!(out["metadata"].get("namespace").is_none());
}

#[test]
fn version_flag() {
    let env = TestEnv::new();
    env.cmd(&["--version"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("kubectl-regcred "));
}

/// A credential store holding a Hub login (under docker's Hub key) and a quay.io login.
pub(crate) const HELPER_WITH_TWO_LOGINS: &str = r#"
case "$1" in
  list) printf '{"https://index.docker.io/v1/":"hubuser","quay.io":"q"}' ;;
  get)
    case "$url" in
      https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"hubuser","Secret":"hub-secret"}' "$url" ;;
      quay.io) printf '{"ServerURL":"%s","Username":"q","Secret":"quay-secret"}' "$url" ;;
      *) printf 'credentials not found in native keychain'; exit 1 ;;
    esac ;;
esac
"#;

/// `create x` with explicit credentials against the cluster a kubeconfig names.
fn create_with_kubeconfig(env: &TestEnv, kubeconfig: &std::path::Path) -> assert_cmd::Command {
    let mut cmd = env.cmd(&["create", "x", "--username", "u", "--password-stdin"]);
    cmd.arg("--kubeconfig").arg(kubeconfig).write_stdin("pw");
    cmd
}

#[test]
fn an_unreachable_server_is_named() {
    let env = TestEnv::new();
    let kubeconfig = env.write(
        "kubeconfig",
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         users: [{name: u, user: {token: abc}}]\ncontexts: [{name: ctx, context: {cluster: c, user: u}}]\n\
         current-context: ctx\n",
    );
    regcred_snapshot!(
        env,
        create_with_kubeconfig(&env, &kubeconfig),
        "unreachable_server"
    );
}

/// A password in the server's URL is masked wherever the URL is shown, as kubectl masks it.
#[test]
fn a_password_in_the_server_url_is_masked() {
    let env = TestEnv::new();
    let kubeconfig = env.write(
        "kubeconfig",
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://admin:hunter2@127.0.0.1:1'}}]\n\
         users: [{name: u, user: {token: abc}}]\ncontexts: [{name: ctx, context: {cluster: c, user: u}}]\n\
         current-context: ctx\n",
    );
    let out = create_with_kubeconfig(&env, &kubeconfig).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(
        stderr.contains("cannot reach the Kubernetes API server at https://admin:***@127.0.0.1:1"),
        "{stderr}"
    );
}

#[test]
fn a_missing_kubeconfig_is_named() {
    let env = TestEnv::new();
    regcred_snapshot!(
        env,
        create_with_kubeconfig(&env, std::path::Path::new("/nonexistent/kubeconfig")),
        "missing_kubeconfig"
    );
}

#[test]
fn attach_and_detach_usage_errors_exit_2() {
    let env = TestEnv::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["attach", "deployment/web"],
            "name the Secret to attach, or pass --auto",
        ),
        (&["attach", "regcred"], "name at least one target"),
        (
            &["attach", "regcred", "widget/x"],
            "unknown kind \"widget\"",
        ),
        (
            &["attach", "regcred", "deployment"],
            "\"deployment\" is not KIND/NAME",
        ),
        (
            &["attach", "regcred", "pod/web-1"],
            "a Pod's imagePullSecrets cannot change",
        ),
        (
            &["attach", "--auto", "sa/default"],
            "a ServiceAccount has none",
        ),
        (
            &["attach", "regcred", "deploy/web", "-l", "a=b"],
            "-l selects objects for --all KIND",
        ),
        (
            &["attach", "regcred", "--all", "gadgets"],
            "unknown kind \"gadgets\"",
        ),
        (&["attach", "Bad_Name", "deploy/web"], "invalid Secret name"),
        (&["detach", "regcred"], "name at least one target"),
        (
            &[
                "create",
                "x",
                "--attach",
                "pod/p",
                "--username",
                "u",
                "--password-stdin",
            ],
            "not Pods",
        ),
    ];
    assert_usage_errors(&env, cases);
}

#[test]
fn sync_and_delete_usage_errors_exit_2() {
    let env = TestEnv::new();
    let cases: &[(&[&str], &str)] = &[
        (&["sync", "Bad_Name"], "invalid Secret name \"Bad_Name\""),
        (
            &["sync", "x", "--from", "keychain"],
            "unexpected argument '--from' found",
        ),
        (&["sync", "x", "--detach"], "--prune"),
        (
            &["sync", "x", "--exclude-namespaces", "team-(a"],
            "invalid --exclude-namespaces entry \"team-(a\"",
        ),
        (
            &["sync", "x", "--project", "p-1", "-A"],
            "cannot be used with",
        ),
        (
            &["create", "x", "--project", "p-1", "-n", "a"],
            "-n and --project cannot be combined",
        ),
        (
            &["create", "x", "--project", "Not_A_Project"],
            "invalid --project",
        ),
        (
            &["create", "x", "--from-secret", "no-slash"],
            "give it as NAMESPACE/NAME",
        ),
        (
            &["create", "x", "--from-secret", "ns/y", "--username", "u"],
            "cannot be used with",
        ),
        (&["delete"], "required"),
        (&["delete", "Bad_Name"], "invalid Secret name"),
    ];
    assert_usage_errors(&env, cases);
}

/// Every command's `-h` fits a screen, shows its examples before its flags, and points at
/// `options` for the flags every command takes, which it leaves out (docs/conventions.md).
#[test]
fn every_commands_short_help_fits_a_screen_and_points_at_options() {
    let env = TestEnv::new();
    let commands: &[&[&str]] = &[
        &["create"],
        &["attach"],
        &["detach"],
        &["sync"],
        &["controller"],
        &["controller", "manifests"],
        &["controller", "status"],
        &["delete"],
        &["list"],
        &["show"],
        &["check"],
        &["verify"],
        &["login"],
        &["logout"],
        &["logins"],
        &["credential-helper"],
        &["completion"],
        &["version"],
    ];
    // As kubectl runs a plugin (by its full path), the name is `kubectl regcred`.
    let pointer = "Use \"kubectl regcred options\" for a list of global command-line options";
    for command in commands {
        let mut args = command.to_vec();
        args.push("-h");
        let output = env.cmd(&args).output().unwrap();
        assert!(output.status.success(), "{args:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        args.pop();
        args.push("--help");
        let long_flag = env.cmd(&args).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&long_flag.stdout),
            help,
            "--help is -h"
        );
        let lines = help.lines().count();
        assert!(lines <= 46, "{args:?}: {lines} lines:\n{help}");
        assert!(
            help.trim_end()
                .ends_with(&format!("{pointer} (applies to all commands).")),
            "{help}"
        );
        assert!(
            !help.contains("--kubeconfig") && !help.contains("--request-timeout"),
            "{help}"
        );
        if let (Some(examples), Some(flags)) = (help.find("Examples:"), help.find("Options:")) {
            assert!(examples < flags, "{args:?}: examples come first:\n{help}");
        }
        insta::assert_snapshot!(format!("short_help_{}", command.join("_")), help);
    }
    let root = env.cmd(&["--help"]).output().unwrap();
    assert!(root.status.success());
    insta::assert_snapshot!("root_help", String::from_utf8_lossy(&root.stdout));
}

#[test]
fn options_lists_the_flags_every_command_takes() {
    let env = TestEnv::new();
    let output = env.cmd(&["options"]).output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--kubeconfig",
        "--context",
        "--cluster",
        "--user",
        "--namespace",
        "--as ",
        "--as-group",
        "--request-timeout",
        "--all-contexts",
        "--quiet",
    ] {
        assert!(text.contains(flag), "{flag}: {text}");
    }
    insta::assert_snapshot!("options", text);
}

/// clap suggested hidden commands for typos (`get` offered `generate-man`).
#[test]
fn typos_are_offered_only_visible_commands() {
    let env = TestEnv::new();
    let output = env.cmd(&["get"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    // kubectl's wording: what is wrong, then where to read more; no usage line.
    assert!(
        stderr.starts_with("error: unrecognized subcommand 'get'\n")
            && stderr.ends_with("\nSee 'kubectl regcred --help' for usage.\n")
            && !stderr.contains("Usage:"),
        "{stderr}"
    );
    let output = env
        .cmd(&["create", "x", "--frm", "docker"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.ends_with("\n\nSee 'kubectl regcred create --help' for usage.\n"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("generate-man") && !stderr.contains("__complete"),
        "{stderr}"
    );
    let output = env.cmd(&["optins"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("'options'"), "{stderr}");
}

/// As with kubectl, a command given without its subcommand prints its help on stdout and
/// succeeds.
#[test]
fn a_bare_command_prints_its_help() {
    let env = TestEnv::new();
    for args in [&[][..], &["controller"][..]] {
        let output = env.cmd(args).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("Usage:") && output.stderr.is_empty(),
            "{stdout}"
        );
    }
}

#[test]
fn sync_and_delete_help() {
    let env = TestEnv::new();
    for command in ["sync", "delete"] {
        let output = env.cmd(&[command, "--help-all"]).output().unwrap();
        assert!(output.status.success());
        insta::assert_snapshot!(
            format!("{command}_help"),
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

#[test]
fn attach_help_lists_targets_and_examples() {
    let env = TestEnv::new();
    let output = env.cmd(&["attach", "--help-all"]).output().unwrap();
    assert!(output.status.success());
    insta::assert_snapshot!("attach_help", String::from_utf8_lossy(&output.stdout));
}

#[test]
fn the_password_prompt_does_not_echo() {
    // `script` (util-linux) runs the command on a real pseudo-terminal.
    let env = TestEnv::new();
    let binary = assert_cmd::cargo::cargo_bin("kubectl-regcred");
    let command = format!(
        "{} create x --server quay.io --username robot --dry-run=client -o json",
        binary.display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("HOME", env.home())
        .env_remove("KUBECONFIG")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux) is installed");
    // Type only once the prompt is on screen (echo is off by then), as a person would.
    use std::io::{Read, Write};
    let mut stdout = child.stdout.take().unwrap();
    let mut screen_bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&screen_bytes).contains("Password for robot: ") {
        assert_eq!(
            stdout.read(&mut byte).unwrap(),
            1,
            "no prompt: {}",
            String::from_utf8_lossy(&screen_bytes)
        );
        screen_bytes.push(byte[0]);
    }
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"typed-s3cret\n")
        .unwrap();
    stdout.read_to_end(&mut screen_bytes).unwrap();
    let status = child.wait().unwrap();
    let output = std::process::Output {
        status,
        stdout: screen_bytes,
        stderr: Vec::new(),
    };
    let screen = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    assert!(output.status.success(), "{screen}");
    assert!(screen.contains("Password for robot: "), "{screen}");
    assert!(
        !screen.contains("typed-s3cret"),
        "the password was echoed: {screen}"
    );
    let json_start = screen.find('{').unwrap();
    let secret: serde_json::Value = serde_json::from_str(&screen[json_start..]).unwrap();
    assert_eq!(
        decoded_payload(&secret)["auths"]["quay.io"]["password"],
        "typed-s3cret"
    );
}

/// A value in the wrong place of any credential source is reported by file, position and
/// kind of fault, never quoted: serde's own messages would echo it, and it may be a secret.
#[test]
fn parse_errors_never_quote_a_secret() {
    const CANARY: &str = "S3CRET-CANARY";
    let bad = format!(r#"{{"auths":{{"quay.io":"{CANARY}"}}}}"#);
    let check = |env: &TestEnv, cmd: &mut assert_cmd::Command, source: &str| {
        let report = env.run_report(cmd);
        assert!(!report.contains(CANARY), "{source}:\n{report}");
        assert!(report.starts_with("exit_code: 1"), "{source}:\n{report}");
        assert!(report.contains("line 1, column"), "{source}:\n{report}");
    };
    let create = ["create", "x", "--server", "quay.io", "--dry-run=client"];

    let env = TestEnv::new();
    env.docker_config(&bad);
    check(&env, &mut env.cmd(&create), "config.json");

    let env = TestEnv::new();
    check(
        &env,
        env.cmd(&create).env("DOCKER_AUTH_CONFIG", &bad),
        "DOCKER_AUTH_CONFIG",
    );

    let env = TestEnv::new();
    let auth_file = env.write("auth.json", &bad);
    check(
        &env,
        env.cmd(&create).env("REGISTRY_AUTH_FILE", &auth_file),
        "podman auth file",
    );

    // A helper whose `get` reply is a bare JSON string.
    let env = TestEnv::new();
    env.helper("bare", &format!(r#"printf '"{CANARY}"'"#));
    env.docker_config(r#"{"credsStore":"bare"}"#);
    check(&env, &mut env.cmd(&create), "helper reply");
}

/// A D-Bus peer that accepts the connection and never answers, so the OS keychain hangs.
/// Connections are held open until the test ends.
fn silent_session_bus(env: &TestEnv) -> std::os::unix::net::UnixListener {
    let socket = env.write("run/bus.placeholder", "").with_file_name("bus");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let accepting = listener.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in accepting.incoming().flatten() {
            held.push(stream);
        }
    });
    listener
}

/// Every keychain call has a deadline: `create` goes on with the other sources and warns,
/// and the helper protocol answers with an error instead of hanging `docker pull`.
#[test]
fn a_keychain_that_never_answers_is_skipped_in_time() {
    let env = TestEnv::new();
    let _bus = silent_session_bus(&env);
    env.docker_config(&format!(
        r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
        b64("q:pw")
    ));
    let started = std::time::Instant::now();
    let report = env.run_report(
        env.cmd(&["create", "x", "--server", "quay.io", "--dry-run=client"])
            .env("REGCRED_KEYCHAIN_TIMEOUT", "2"),
    );
    assert!(report.starts_with("exit_code: 0"), "{report}");
    assert!(
        report.contains(
            "warning: skipping the OS keychain: the OS keychain did not answer within 2s"
        ),
        "{report}"
    );
    assert!(report.contains("secret/x created (dry run)"), "{report}");

    let report = env.run_report(
        env.cmd(&["credential-helper", "get"])
            .env("REGCRED_KEYCHAIN_TIMEOUT", "2")
            .write_stdin("quay.io"),
    );
    assert!(report.starts_with("exit_code: 1"), "{report}");
    assert!(report.contains("did not answer within 2s"), "{report}");
    let elapsed = started.elapsed();
    assert!(elapsed < std::time::Duration::from_secs(15), "{elapsed:?}");
}

/// An API server that accepts TCP and never answers the TLS handshake is given up on after
/// kubectl's 10 s handshake bound, even without --request-timeout.
#[test]
fn a_silent_api_server_is_given_up_on() {
    let env = TestEnv::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let kubeconfig = env.write(
        "kubeconfig",
        &format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}}}]\n\
             users: [{{name: u, user: {{token: abc}}}}]\ncontexts: [{{name: ctx, context: {{cluster: c, user: u}}}}]\n\
             current-context: ctx\n"
        ),
    );
    let started = std::time::Instant::now();
    let report = env.run_report(&mut create_with_kubeconfig(&env, &kubeconfig));
    let elapsed = started.elapsed();
    assert!(report.starts_with("exit_code: 1"), "{report}");
    assert!(
        report.contains(&format!(
            "cannot reach the Kubernetes API server at https://127.0.0.1:{port}"
        )),
        "{report}"
    );
    assert!(
        elapsed < std::time::Duration::from_secs(20),
        "{elapsed:?}\n{report}"
    );
}

/// A kubeconfig with a YAML error is reported by position; the lines around it, which hold
/// tokens, are not shown.
#[test]
fn a_broken_kubeconfig_is_reported_without_its_lines() {
    let env = TestEnv::new();
    let kubeconfig = env.write(
        "kubeconfig",
        "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: S3CRET-CANARY\n  bad: [unclosed\ncurrent-context: x\n",
    );
    let report = env.run_report(&mut create_with_kubeconfig(&env, &kubeconfig));
    assert!(report.starts_with("exit_code: 1"), "{report}");
    assert!(!report.contains("CANARY"), "{report}");
    assert!(
        report.contains("[TMP]/kubeconfig: it is not a valid kubeconfig (line 8, column 16)"),
        "{report}"
    );
}

/// The image deploy/kubectl-regcred.yaml names: a placeholder that cannot be pulled (upper
/// case is not a valid reference), so applying the file unchanged fails at once.
const DEPLOY_IMAGE: &str = "REGISTRY/kubectl-regcred:v0.1.0";

#[test]
fn controller_manifests_need_an_image() {
    let env = TestEnv::new();
    let output = env.cmd(&["controller", "manifests"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--image <IMAGE>"), "{stderr}");
}

#[test]
fn controller_manifests_are_what_deploy_holds() {
    let env = TestEnv::new();
    let output = env
        .cmd(&["controller", "manifests", "--image", DEPLOY_IMAGE])
        .output()
        .unwrap();
    assert!(output.status.success());
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubectl-regcred.yaml"),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        committed,
        "regenerate: cargo run -q -- controller manifests --image {DEPLOY_IMAGE} > deploy/kubectl-regcred.yaml"
    );
    // Least privilege: no workload or ServiceAccount access unless auto-attach is on.
    for absent in ["deployments", "serviceaccounts]", "pods", "configmaps"] {
        assert!(!committed.contains(absent), "{absent}");
    }
    for present in [
        "runAsNonRoot: true",
        "readOnlyRootFilesystem: true",
        "replicas: 2",
        "- --leader-elect",
        "limits:",
    ] {
        assert!(committed.contains(present), "{present}");
    }

    let output = env
        .cmd(&[
            "controller",
            "manifests",
            "-n",
            "ops",
            "--auto-attach=serviceaccounts",
            "--refresh",
            "30m",
            "--heal",
            "--image",
            "registry.example/regcred:v9",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for present in [
        "namespace: ops",
        "resources: [deployments, statefulsets, daemonsets]",
        "resources: [serviceaccounts]",
        "- --auto-attach=serviceaccounts",
        "- --refresh=30m",
        "- --heal",
        "resources: [pods]\n    verbs: [get, list, watch, delete]",
        "resources: [replicasets, statefulsets, daemonsets]\n    verbs: [get]",
        "image: registry.example/regcred:v9",
    ] {
        assert!(text.contains(present), "{present}\n{text}");
    }
}

#[test]
fn watch_flags_are_checked_before_anything_runs() {
    let env = TestEnv::new();
    assert_usage_errors(
        &env,
        &[
            (&["sync", "--refresh", "1m"], "--watch"),
            (&["sync", "--watch", "--check"], "--check"),
            (
                &["sync", "--watch", "-o", "json"],
                "--watch writes as it goes",
            ),
            (
                &["sync", "--watch", "--dry-run"],
                "--watch writes as it goes",
            ),
            (
                &["sync", "--watch", "--resync", "0s"],
                "--resync must be at least 1s",
            ),
            (&["sync", "--watch", "--lease-name", "x"], "--leader-elect"),
            (&["sync", "--heal"], "--watch"),
            (&["sync", "--watch", "--heal-limit", "3"], "--heal"),
            (&["sync", "--watch", "--heal", "--heal-limit", "0"], "0"),
            (
                &[
                    "sync",
                    "--watch",
                    "--leader-elect",
                    "--lease-duration",
                    "1s",
                ],
                "--lease-duration must be at least 3s",
            ),
            (
                &["sync", "--watch", "--listen", "nowhere"],
                "invalid value 'nowhere'",
            ),
            (
                &[
                    "controller",
                    "manifests",
                    "--image",
                    "r.example/x:1",
                    "--refresh",
                    "soon",
                ],
                "invalid duration",
            ),
            (
                &[
                    "controller",
                    "manifests",
                    "--image",
                    "r.example/x:1",
                    "-n",
                    "Bad_NS",
                ],
                "invalid namespace",
            ),
        ],
    );
}

#[test]
fn verify_usage_errors_exit_2() {
    let env = TestEnv::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["verify", "secret/x", "quay.io"],
            "verify takes registries or one secret/NAME, not both",
        ),
        (
            &["verify", "a.io", "b.io", "-u", "me", "--password-stdin"],
            "--username verifies one registry",
        ),
        (&["verify", "secret/x", "-u", "me"], "drop --username"),
        (&["verify", "secret/Bad_Name"], "invalid Secret name"),
        (&["verify", "--image", "Not An Image"], "invalid --image"),
        (
            &["verify", "quay.io", "--timeout", "0s"],
            "--timeout must be more than 0",
        ),
        (&["verify", "ftp://quay.io"], "invalid registry server"),
    ];
    assert_usage_errors(&env, cases);
    let output = env.cmd(&["verify", "--help-all"]).output().unwrap();
    assert!(output.status.success());
    insta::assert_snapshot!("verify_help", String::from_utf8_lossy(&output.stdout));
}

#[test]
fn verify_names_a_bad_ca_file_before_reading_any_login() {
    let env = TestEnv::new();
    let missing = env.home().join("no-such-ca.pem");
    let not_pem = env.write("not-a-ca.pem", "hello");
    for (file, needle) in [(&missing, "No such file"), (&not_pem, "no PEM certificate")] {
        let out = env
            .cmd(&["verify", "127.0.0.1:1", "--ca-file", file.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with(&format!("error: reading --ca-file {}", file.display()))
                && stderr.contains(needle),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn verify_judges_a_known_expiry_and_a_closed_port_without_leaking_the_password() {
    let env = TestEnv::new();
    // A JWT password whose `exp` (2001) has passed, for a registry that does not exist: the
    // verdict needs no request. And a loopback port where nothing listens.
    let jwt = format!(
        "{}.{}.c2ln",
        b64(r#"{"alg":"RS256"}"#).trim_end_matches('='),
        b64(r#"{"exp":1000000000}"#).trim_end_matches('=')
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_host = format!("127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    env.docker_config(&format!(
        r#"{{"auths":{{"expired.invalid":{{"auth":"{}"}},"{closed_host}":{{"auth":"{}"}}}}}}"#,
        b64(&format!("robot:{jwt}")),
        b64("robot:closed-port-pw")
    ));
    let out = env
        .cmd(&["verify", "-o", "json", "--timeout", "3s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdict = |registry: &str| {
        report["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["registry"] == registry)
            .map(|row| row["verdict"].as_str().unwrap().to_string())
    };
    assert_eq!(
        verdict("expired.invalid").as_deref(),
        Some("EXPIRED"),
        "{report}"
    );
    assert_eq!(
        verdict(&closed_host).as_deref(),
        Some("UNREACHABLE"),
        "{report}"
    );
    let everything = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!everything.contains(&jwt) && !everything.contains("closed-port-pw"));
}

/// `man/` holds exactly what `generate-man` writes today: one page for the command and one
/// for every visible subcommand (nested ones too), so the pages never drift from the flags.
#[test]
fn the_committed_man_pages_are_generated_from_the_cli() {
    let env = TestEnv::new();
    let out = env.home().join("man");
    env.cmd(&["generate-man", out.to_str().unwrap()])
        .assert()
        .success();
    let names = |dir: &std::path::Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    assert_eq!(
        names(&out),
        names(&committed),
        "regenerate: kubectl-regcred generate-man man"
    );
    for name in names(&out) {
        assert_eq!(
            std::fs::read_to_string(out.join(&name)).unwrap(),
            std::fs::read_to_string(committed.join(&name)).unwrap(),
            "man/{name} is stale: regenerate with kubectl-regcred generate-man man"
        );
    }
    // Every subcommand a user can type has its page.
    let help = env.cmd(&["--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // Wrapped descriptions are indented further than command names.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() > 10, "{help}");
    for command in commands {
        let page = format!("kubectl-regcred-{command}.1");
        assert!(names(&out).contains(&page), "no man page for {command}");
    }
}

/// A JWT whose `exp` is `seconds_from_now` away.
fn jwt_expiring_in(seconds_from_now: i64) -> String {
    use base64::Engine;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let part = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
    format!(
        "{}.{}.{}",
        part(r#"{"alg":"RS256"}"#),
        part(&format!(r#"{{"exp":{}}}"#, now + seconds_from_now)),
        part("sig")
    )
}

/// An expired token is refused before anything is written (exit 1, `--allow-expired` to
/// override); one that expires within the hour is written with a warning (docs/create.md).
#[test]
fn an_expired_token_is_refused_and_one_expiring_soon_is_a_warning() {
    let env = TestEnv::new();
    let create = |token: String, extra: &[&str]| {
        let mut args = vec![
            "create",
            "x",
            "--server",
            "quay.io",
            "--username",
            "robot",
            "--password-stdin",
            "--dry-run=client",
        ];
        args.extend_from_slice(extra);
        env.cmd(&args).write_stdin(token).output().unwrap()
    };
    let out = create(jwt_expiring_in(-60), &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\nerror: a login has expired (quay.io at "),
        "{stderr}"
    );
    assert!(
        stderr.contains("--allow-expired") && !stderr.contains("eyJ"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    let out = create(jwt_expiring_in(-60), &["--allow-expired"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("writing it anyway (--allow-expired)"));

    let out = create(jwt_expiring_in(1800), &[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("within the hour"));
    let out = create(jwt_expiring_in(7200), &[]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("expire"));
}

/// A FIFO where a config, kubeconfig or token file should be, or a symlink to `/dev/zero`:
/// refused at once with the path named, never waited on or read without end
/// (docs/conventions.md, "Guarantees").
#[cfg(unix)]
#[test]
fn local_inputs_that_are_not_files_are_refused_at_once() {
    use std::time::Duration;
    let env = TestEnv::new();
    let fifo = |name: &str| {
        let path = env.home().join(name);
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        path
    };
    let config_dir = env.home().join("fifo-docker");
    std::fs::create_dir_all(&config_dir).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(config_dir.join("config.json"))
        .status()
        .unwrap();
    assert!(status.success());
    let zero_dir = env.home().join("zero-docker");
    std::fs::create_dir_all(&zero_dir).unwrap();
    std::os::unix::fs::symlink("/dev/zero", zero_dir.join("config.json")).unwrap();
    let kubeconfig_fifo = fifo("kubeconfig-fifo");
    let token_fifo = fifo("token-fifo");
    let with_token = env.write(
        "kubeconfig",
        &format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:1'}}}}]\n\
             users: [{{name: u, user: {{tokenFile: '{}'}}}}]\ncontexts: [{{name: ctx, context: {{cluster: c, user: u}}}}]\n\
             current-context: ctx\n",
            token_fifo.display()
        ),
    );
    // kube reads certificate files itself: a CA that is /dev/zero, a client key that is a FIFO.
    let key_fifo = fifo("key-fifo");
    let with_files = |name: &str, ca: &str, key: &str| {
        env.write(
            name,
            &format!(
                "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:1', certificate-authority: '{ca}'}}}}]\n\
                 users: [{{name: u, user: {{client-certificate-data: eA==, client-key: '{key}'}}}}]\ncontexts: [{{name: ctx, context: {{cluster: c, user: u}}}}]\n\
                 current-context: ctx\n"
            ),
        )
    };
    let regular = env.write("ca.pem", "not used");
    let zero_ca = with_files("zero-ca", "/dev/zero", regular.to_str().unwrap());
    let fifo_key = with_files(
        "fifo-key",
        regular.to_str().unwrap(),
        key_fifo.to_str().unwrap(),
    );
    // (arguments, environment, what stderr says)
    type Case<'a> = (Vec<String>, Vec<(&'a str, String)>, String);
    let cases: Vec<Case> = vec![
        (
            vec!["create".into(), "x".into(), "--dry-run=client".into()],
            vec![("DOCKER_CONFIG", config_dir.display().to_string())],
            format!(
                "{}: not a regular file (a FIFO)",
                config_dir.join("config.json").display()
            ),
        ),
        (
            vec!["create".into(), "x".into(), "--dry-run=client".into()],
            vec![("DOCKER_CONFIG", zero_dir.display().to_string())],
            "not a regular file (a character device)".to_string(),
        ),
        (
            vec![
                "list".into(),
                "--kubeconfig".into(),
                kubeconfig_fifo.display().to_string(),
            ],
            vec![],
            format!("{}: not a regular file (a FIFO)", kubeconfig_fifo.display()),
        ),
        (
            vec![
                "list".into(),
                "--kubeconfig".into(),
                with_token.display().to_string(),
            ],
            vec![],
            format!(
                "the kubeconfig's tokenFile {}: not a regular file (a FIFO)",
                token_fifo.display()
            ),
        ),
        (
            vec![
                "list".into(),
                "--kubeconfig".into(),
                zero_ca.display().to_string(),
            ],
            vec![],
            "the kubeconfig's certificate-authority /dev/zero: not a regular file (a character device)"
                .to_string(),
        ),
        (
            vec![
                "list".into(),
                "--kubeconfig".into(),
                fifo_key.display().to_string(),
            ],
            vec![],
            format!(
                "the kubeconfig's client-key {}: not a regular file (a FIFO)",
                key_fifo.display()
            ),
        ),
    ];
    for (args, vars, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = env.cmd(&args);
        for (key, value) in &vars {
            cmd.env(key, value);
        }
        // A hang is killed here, and a killed process has no exit code.
        let out = cmd.timeout(Duration::from_secs(20)).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(&expected), "{args:?}: {stderr}");
    }
}

/// `list -n x` with `kubeconfig`: its output and its stderr as text.
fn list_with(env: &TestEnv, kubeconfig: &std::path::Path) -> (std::process::Output, String) {
    let kubeconfig = kubeconfig.to_str().unwrap();
    let out = env
        .cmd(&["list", "-n", "x", "--kubeconfig", kubeconfig])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stderr)
}

/// Names from a kubeconfig in an error (a missing context or cluster) cannot forge a line of
/// their own, nor hide text behind bidi controls.
#[test]
fn kubeconfig_names_in_errors_forge_no_line() {
    let env = TestEnv::new();
    for (name, yaml) in [
        (
            "missing-context",
            "apiVersion: v1\nkind: Config\ncurrent-context: \"nope\\nerror: forged \\u202e\"\nclusters: []\ncontexts: []\nusers: []\n",
        ),
        (
            "missing-cluster",
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: []\ncontexts: [{name: c, context: {cluster: \"x\\nerror: forged\", user: u}}]\nusers: [{name: u, user: {token: x}}]\n",
        ),
    ] {
        let (out, stderr) = list_with(&env, &env.write(name, yaml));
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(r"\u{a}error: forged"),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains('\u{202e}'), "{name}: {stderr}");
    }
    // Context names listed when --context matches none, and in the summary of several.
    let kubeconfig = env.write(
        "forged-contexts",
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         contexts: [{name: \"ctx\\nerror: forged\", context: {cluster: c, user: u}}, {name: other, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: x}}]\n",
    );
    let kubeconfig = kubeconfig.to_str().unwrap();
    for args in [
        vec!["list", "--kubeconfig", kubeconfig, "--context", "zzz"],
        vec![
            "list",
            "--kubeconfig",
            kubeconfig,
            "--all-contexts",
            "--request-timeout",
            "2s",
        ],
    ] {
        let out = env.cmd(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.lines().any(|line| line.starts_with("error: forged")),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains(r"ctx\u{a}error: forged"),
            "{args:?}: {stderr}"
        );
    }
}

/// A kubeconfig `exec` plugin's bad reply or failure is told by position and kind, never
/// with its output, which holds its token (docs/conventions.md).
#[cfg(unix)]
#[test]
fn an_exec_plugins_token_never_reaches_a_message() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let plugin = |name: &str, body: &str| {
        let path = env.home().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    };
    let bad_json = plugin(
        "bad-json",
        "printf '{\\n  \"apiVersion\": \"client.authentication.k8s.io/v1\",\\n  \"kind\": \"ExecCredential\",\\n  \"status\": {\"token\": \"REAL-EXEC-TOKEN-abc123\",,}\\n}\\n'",
    );
    let failing = plugin("failing", "echo 'token REAL-EXEC-TOKEN-abc123'\nexit 3");
    for (program, expected) in [
        (
            &bad_json,
            "the exec credential plugin's reply is not a valid ExecCredential (line 4",
        ),
        (
            &failing,
            "the exec credential plugin of the kubeconfig's user failed (exit status: 3)",
        ),
    ] {
        let kubeconfig = env.write(
            "kubeconfig",
            &format!(
                "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:1'}}}}]\n\
                 users: [{{name: u, user: {{exec: {{apiVersion: client.authentication.k8s.io/v1, command: '{}', interactiveMode: Never}}}}}}]\n\
                 contexts: [{{name: ctx, context: {{cluster: c, user: u}}}}]\ncurrent-context: ctx\n",
                program.display()
            ),
        );
        let out = env
            .cmd(&["list", "--kubeconfig", kubeconfig.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(!stderr.contains("REAL-EXEC-TOKEN"), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
}

/// A config of 200,000 registries is read in linear time: `create` with every login takes
/// seconds, where de-duplicating by scanning took minutes (a hang this test would not survive).
/// And a config whose only key cannot be used says why instead of just "nothing found".
#[test]
fn many_registries_are_read_in_linear_time_and_skipped_keys_are_said() {
    let env = TestEnv::new();
    let auth = b64("u:p");
    let auths: serde_json::Map<String, serde_json::Value> = (0..200_000)
        .map(|i| {
            (
                format!("reg{i}.example.com"),
                serde_json::json!({ "auth": auth }),
            )
        })
        .collect();
    env.docker_config(&serde_json::json!({ "auths": auths }).to_string());
    let out = env
        .cmd(&[
            "create",
            "x",
            "--all-registries",
            "--dry-run=client",
            "-o",
            "json",
            "--namespaces",
            "a,b",
            "--quiet",
        ])
        // A hang is killed here, and a killed process fails the assertion.
        .timeout(std::time::Duration::from_secs(180))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Several namespaces print a List, as kubectl does.
    let first = printed.get("items").map_or(&printed, |items| &items[0]);
    assert_eq!(
        decoded_payload(first)["auths"].as_object().unwrap().len(),
        200_000
    );

    env.docker_config(&format!(
        r#"{{"auths":{{"https://u:p@quay.io":{{"auth":"{auth}"}}}}}}"#
    ));
    let out = env
        .cmd(&["create", "x", "--dry-run=client"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no registry credentials found") && stderr.contains("skipped:"),
        "{stderr}"
    );
    assert!(!stderr.contains("u:p@"), "{stderr}");
}

/// Listens on a port of its own, accepts every connection and never says a thing.
fn silent_listener() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    port
}

/// A kubeconfig whose one cluster is `cluster` (a YAML flow map) and whose user has a token.
fn kubeconfig_with_cluster(env: &TestEnv, cluster: &str) -> std::path::PathBuf {
    env.write(
        "kubeconfig",
        &format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {cluster}}}]\n\
             users: [{{name: u, user: {{token: abc}}}}]\ncontexts: [{{name: ctx, context: {{cluster: c, user: u}}}}]\n\
             current-context: ctx\n"
        ),
    )
}

/// Runs `cmd`, killed after `limit` seconds (a killed process has no exit code), and checks
/// that it failed saying that it cannot reach the API server, with `expected` in its words.
fn fails_unreachable(mut cmd: assert_cmd::Command, limit: u64, expected: &str) {
    let out = cmd
        .timeout(std::time::Duration::from_secs(limit))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot reach the Kubernetes API server") && stderr.contains(expected),
        "{stderr}"
    );
}

/// A proxy that accepts connections and never answers costs one bound too, as a dead server
/// does (a hang this test would not survive).
#[test]
fn one_silent_proxy_costs_one_bound() {
    let proxy = silent_listener();
    let env = TestEnv::new();
    let kubeconfig = kubeconfig_with_cluster(&env, "{server: 'https://kube.example.com:6443'}");
    let mut cmd = env.cmd(&[
        "list",
        "-n",
        "team-a",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    cmd.env("HTTPS_PROXY", format!("http://127.0.0.1:{proxy}"));
    fails_unreachable(
        cmd,
        45,
        &format!("through the proxy http://127.0.0.1:{proxy}"),
    );
}

/// A server that accepts connections and never answers: one command fails within one bound
/// (the 10 s connect, TLS included), not one bound per request: `list` reads ten kinds, and
/// ten waits one after another took 100 s (a hang this test would not survive).
#[test]
fn one_dead_server_costs_one_bound() {
    let port = silent_listener();
    let env = TestEnv::new();
    let kubeconfig =
        kubeconfig_with_cluster(&env, &format!("{{server: 'https://127.0.0.1:{port}'}}"));
    let cmd = env.cmd(&[
        "list",
        "-n",
        "team-a",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    fails_unreachable(cmd, 45, &format!("https://127.0.0.1:{port}"));
}

/// A server that completes TLS and then says nothing: a request gives up after the bound on
/// the first response byte (60 s, the API server's own request limit), as kubectl gives up,
/// instead of waiting minutes (docs/conventions.md). Takes that minute.
#[test]
fn a_server_silent_after_tls_is_given_up_on() {
    let env = TestEnv::new();
    let dir = env.home();
    let generated = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-days", "1", "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(generated.status.success(), "{generated:?}");
    let server = "import socket, ssl, sys\n\
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
        ctx.load_cert_chain(sys.argv[1], sys.argv[2])\n\
        s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n\
        print(s.getsockname()[1], flush=True)\n\
        held = []\n\
        while True:\n\
        \x20   c, _ = s.accept()\n\
        \x20   try:\n\
        \x20       held.append(ctx.wrap_socket(c, server_side=True))\n\
        \x20   except OSError:\n\
        \x20       pass\n";
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(server)
        .arg(dir.join("cert.pem"))
        .arg(dir.join("key.pem"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let port = line.trim().to_string();
    let kubeconfig = kubeconfig_with_cluster(
        &env,
        &format!("{{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}"),
    );
    let cmd = env.cmd(&[
        "show",
        "x",
        "-n",
        "team-a",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    fails_unreachable(cmd, 110, &format!("https://127.0.0.1:{port}"));
    let _ = child.kill();
    let _ = child.wait();
}

/// A token with a line end (in the kubeconfig, or from an exec plugin) cannot be a header:
/// an error that does not show it, never a panic.
#[test]
fn a_token_that_is_no_header_is_an_error_not_a_crash() {
    let env = TestEnv::new();
    let kubeconfig = env.write(
        "bad-token",
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: \"S3CRET\\nTOKEN\"}}]\n",
    );
    let (out, stderr) = list_with(&env, &kubeconfig);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("control"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("S3CRET") && !stderr.contains("panicked"),
        "{stderr}"
    );
}
