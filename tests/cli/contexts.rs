//! Running in several contexts without a cluster: client-side dry runs (which preview
//! offline when no cluster answers),
//! refusals before anything is written, selection errors, unreachable servers, completion.

use predicates::prelude::*;

use crate::HELPER_WITH_TWO_LOGINS;
use crate::harness::{TestEnv, b64};

/// Three contexts whose servers are closed ports: `dev` (namespace team-a), `prod-eu`,
/// `prod-us`.
fn fleet(env: &TestEnv) -> std::path::PathBuf {
    env.docker_config(&format!(
        r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
        b64("robot:pw")
    ));
    env.write(
        "kubeconfig",
        "apiVersion: v1\nkind: Config\n\
         clusters: [{name: a, cluster: {server: 'https://127.0.0.1:1'}}, {name: b, cluster: {server: 'https://127.0.0.1:2'}}]\n\
         users: [{name: u, user: {token: abc}}]\n\
         contexts: [{name: dev, context: {cluster: a, user: u, namespace: team-a}}, \
         {name: prod-eu, context: {cluster: b, user: u}}, {name: prod-us, context: {cluster: b, user: u}}]\n\
         current-context: dev\n",
    )
}

fn cmd(env: &TestEnv, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = env.cmd(args);
    cmd.env("KUBECONFIG", fleet(env));
    cmd
}

#[test]
fn a_client_dry_run_in_several_contexts_prints_one_list_whose_items_name_their_context() {
    let env = TestEnv::new();
    let list = env.json_stdout(&mut cmd(
        &env,
        &[
            "create",
            "x",
            "--context",
            "dev,/^prod-/",
            "-n",
            "team-b",
            "--server",
            "quay.io",
            "--dry-run=client",
            "-o",
            "json",
        ],
    ));
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    let contexts: Vec<&str> = items
        .iter()
        .map(|i| i["context"].as_str().unwrap())
        .collect();
    assert_eq!(contexts, ["dev", "prod-eu", "prod-us"]);
    for item in items {
        assert_eq!(item["kind"], "Secret");
        assert_eq!(item["metadata"]["namespace"], "team-b");
        assert_eq!(item["data"], items[0]["data"]);
    }
}

#[test]
fn lines_carry_their_context_and_the_summary_adds_up() {
    let env = TestEnv::new();
    crate::regcred_snapshot!(
        env,
        cmd(
            &env,
            &[
                "create",
                "x",
                "--all-contexts",
                "--context",
                "^prod-us",
                "--namespaces",
                "a,b",
                "--server",
                "quay.io",
                "--dry-run=client"
            ]
        ),
        "contexts_dry_run_lines"
    );
}

#[test]
fn the_local_credential_helper_is_asked_once_for_all_contexts() {
    let env = TestEnv::new();
    let kubeconfig = fleet(&env);
    env.helper("teststore", HELPER_WITH_TWO_LOGINS);
    env.docker_config(r#"{"auths":{"quay.io":{}},"credsStore":"teststore"}"#);
    let list = env.json_stdout(
        env.cmd(&[
            "create",
            "x",
            "--all-contexts",
            "--server",
            "quay.io",
            "-n",
            "a",
            "--dry-run=client",
            "-o",
            "json",
        ])
        .env("KUBECONFIG", &kubeconfig),
    );
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    assert_eq!(env.helper_log("teststore"), "get quay.io\n");
}

#[test]
fn writing_to_several_contexts_without_a_terminal_needs_yes_and_connects_nowhere() {
    let env = TestEnv::new();
    crate::regcred_snapshot!(
        env,
        cmd(
            &env,
            &[
                "create",
                "x",
                "--server",
                "quay.io",
                "--context",
                "dev,prod-eu"
            ]
        ),
        "contexts_write_needs_yes"
    );
    // With --yes it goes ahead: each closed port is its own failure, and exit 1.
    cmd(
        &env,
        &[
            "delete",
            "x",
            "--context",
            "/prod/",
            "--yes",
            "--request-timeout",
            "5s",
        ],
    )
    .assert()
    .code(1)
    .stderr(
        predicate::str::contains("error: prod-eu: ")
            .and(predicate::str::contains("error: prod-us: "))
            .and(predicate::str::contains(
                "2 contexts: 0 succeeded, 2 reported problems (prod-eu, prod-us)",
            )),
    );
}

#[test]
fn a_selection_that_matches_nothing_is_a_usage_error_listing_the_contexts() {
    let env = TestEnv::new();
    for selection in ["qa", "dev,qa", "/^qa/", "dev,^dev"] {
        cmd(&env, &["list", "--context", selection])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "the kubeconfig has: dev, prod-eu, prod-us",
            ));
    }
}

#[test]
fn commands_that_run_in_one_place_refuse_several_contexts() {
    let env = TestEnv::new();
    for args in [
        &["logins", "--all-contexts"][..],
        &["sync", "--watch", "--context", "dev,prod-eu"],
        &["verify", "--all-contexts"],
    ] {
        cmd(&env, args).assert().code(2).stderr(
            predicate::str::contains("--context selects 3 contexts")
                .or(predicate::str::contains("--context selects 2 contexts")),
        );
    }
}

#[test]
fn context_names_complete_in_comma_lists() {
    let env = TestEnv::new();
    cmd(&env, &["__complete", "list", "--context", "dev,^prod-"])
        .assert()
        .success()
        .stdout("dev,^prod-eu\ndev,^prod-us\n:4\n");
}
