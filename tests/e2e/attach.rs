//! `attach` / `detach` on the real control plane.

use base64::Engine;

use crate::harness::{E2e, text};

/// A managed pull Secret named `name` for `server` in `ns`.
fn pull_secret(e2e: &E2e, ns: &str, name: &str, server: &str) {
    let out = e2e.create_explicit(name, server, "robot", "pw", &["-n", ns]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// The names in a list of object references (`[{name: …}]`); none when it is absent.
fn reference_names(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .map(|l| {
            l.iter()
                .map(|r| r["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn sa_pull_secrets(e2e: &E2e, ns: &str, sa: &str) -> Vec<String> {
    let sa = e2e.get_json(&["serviceaccount", sa, "-n", ns]);
    reference_names(&sa["imagePullSecrets"])
}

fn template_pull_secrets(e2e: &E2e, ns: &str, deployment: &str) -> (Vec<String>, i64) {
    let d = e2e.get_json(&["deployment", deployment, "-n", ns]);
    let names = reference_names(&d["spec"]["template"]["spec"]["imagePullSecrets"]);
    (names, d["metadata"]["generation"].as_i64().unwrap())
}

fn service_account(e2e: &E2e, ns: &str, name: &str, pull_secrets: &[&str]) {
    let list: Vec<String> = pull_secrets
        .iter()
        .map(|n| format!("{{name: {n}}}"))
        .collect();
    e2e.kubectl_apply(&format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: {name}, namespace: {ns}}}\nimagePullSecrets: [{}]\n",
        list.join(", ")
    ));
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn service_account_attach_and_detach_keep_other_entries() {
    let e2e = E2e::new();
    let ns = e2e.namespace("sa");
    for name in ["a", "b", "c"] {
        pull_secret(&e2e, &ns, name, "quay.io");
    }
    service_account(&e2e, &ns, "builder", &["a", "b"]);
    let out = e2e.run(&["attach", "c", "sa/builder", "-n", &ns]);
    assert_eq!(
        text(&out.stdout),
        "serviceaccount/builder attached\n",
        "{}",
        text(&out.stderr)
    );
    assert_eq!(sa_pull_secrets(&e2e, &ns, "builder"), ["a", "b", "c"]);

    let out = e2e.run(&["detach", "b", "serviceaccount/builder", "-n", &ns]);
    assert_eq!(
        text(&out.stdout),
        "serviceaccount/builder detached\n",
        "{}",
        text(&out.stderr)
    );
    assert_eq!(sa_pull_secrets(&e2e, &ns, "builder"), ["a", "c"]);

    let out = e2e.run(&["detach", "b", "sa/builder", "-n", &ns]);
    assert_eq!(text(&out.stdout), "serviceaccount/builder unchanged\n");
}

/// The names in a ServiceAccount's `secrets` (token Secrets), waiting up to 30 s for `want`.
fn sa_token_secrets(e2e: &E2e, ns: &str, sa: &str, want: usize) -> Vec<String> {
    for _ in 0..120 {
        let sa = e2e.get_json(&["serviceaccount", sa, "-n", ns]);
        let names = reference_names(&sa["secrets"]);
        if names.len() >= want {
            return names;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    panic!("ServiceAccount {ns}/{sa} never listed {want} token Secrets");
}

/// ServiceAccounts from before 1.24 list their token Secrets in `secrets`, a list merged by
/// name; attach and detach touch only `imagePullSecrets`. On 1.20 the token controller adds
/// the token Secret; 1.24+ no longer creates them, so there the test lists one by hand, as
/// such a legacy account still has it.
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn service_account_token_secrets_survive_attach_and_detach() {
    let e2e = E2e::new();
    let ns = e2e.namespace("satoken");
    pull_secret(&e2e, &ns, "regcred", "quay.io");
    service_account(&e2e, &ns, "legacy", &[]);
    let tokens = if e2e.kube_minor() < 24 {
        sa_token_secrets(&e2e, &ns, "legacy", 1)
    } else {
        e2e.kubectl_apply(&format!(
            "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/service-account-token\n\
             metadata: {{name: legacy-token, namespace: {ns}, annotations: {{kubernetes.io/service-account.name: legacy}}}}\n"
        ));
        e2e.kubectl_ok(&[
            "patch",
            "serviceaccount",
            "legacy",
            "-n",
            &ns,
            "-p",
            r#"{"secrets":[{"name":"legacy-token"}]}"#,
        ]);
        sa_token_secrets(&e2e, &ns, "legacy", 1)
    };
    for (verb, done) in [("attach", "attached"), ("detach", "detached")] {
        let out = e2e.run(&[verb, "regcred", "sa/legacy", "-n", &ns]);
        assert_eq!(
            text(&out.stdout),
            format!("serviceaccount/legacy {done}\n"),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(sa_token_secrets(&e2e, &ns, "legacy", 1), tokens);
    }
    assert!(sa_pull_secrets(&e2e, &ns, "legacy").is_empty());
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn ten_concurrent_attaches_on_one_service_account_all_land() {
    let e2e = E2e::new();
    let ns = e2e.namespace("sa10");
    let names: Vec<String> = (0..10).map(|i| format!("cred-{i}")).collect();
    for name in &names {
        pull_secret(&e2e, &ns, name, "quay.io");
    }
    service_account(&e2e, &ns, "shared", &[]);
    let children: Vec<_> = names
        .iter()
        .map(|name| {
            e2e.regcred_std(&["attach", name, "sa/shared", "-n", &ns])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let mut present = sa_pull_secrets(&e2e, &ns, "shared");
    present.sort();
    assert_eq!(present, names);
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn deployment_keeps_its_own_entries_and_does_not_roll_out_twice() {
    let e2e = E2e::new();
    let ns = e2e.namespace("deploy");
    pull_secret(&e2e, &ns, "x", "ghcr.io");
    pull_secret(&e2e, &ns, "regcred", "quay.io");
    e2e.create_deployment(&ns, "web", "quay.io/team/web:1");
    e2e.kubectl_ok(&[
        "patch",
        "deployment",
        "web",
        "-n",
        &ns,
        "-p",
        r#"{"spec":{"template":{"spec":{"imagePullSecrets":[{"name":"x"}]}}}}"#,
    ]);

    let out = e2e.run(&["attach", "regcred", "deploy/web", "-n", &ns]);
    assert_eq!(
        text(&out.stdout),
        "deployment.apps/web attached\n",
        "{}",
        text(&out.stderr)
    );
    let (names, generation) = template_pull_secrets(&e2e, &ns, "web");
    assert_eq!(names, ["x", "regcred"]);

    let out = e2e.run(&["attach", "regcred", "deployment/web", "-n", &ns]);
    assert_eq!(text(&out.stdout), "deployment.apps/web unchanged\n");
    assert_eq!(
        template_pull_secrets(&e2e, &ns, "web").1,
        generation,
        "no write, no rollout"
    );

    let out = e2e.run(&["detach", "regcred", "deployment/web", "-n", &ns]);
    assert_eq!(
        text(&out.stdout),
        "deployment.apps/web detached\n",
        "{}",
        text(&out.stderr)
    );
    assert_eq!(template_pull_secrets(&e2e, &ns, "web").0, ["x"]);
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn auto_attaches_exactly_the_matching_secret() {
    let e2e = E2e::new();
    let ns = e2e.namespace("auto");
    pull_secret(&e2e, &ns, "quay-cred", "quay.io");
    pull_secret(&e2e, &ns, "other-cred", "registry.example.com");
    e2e.kubectl_apply(&format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: two-registries, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: two}}}}
  template:
    metadata: {{labels: {{app: two}}}}
    spec:
      initContainers: [{{name: init, image: 'quay.io/team/init:1'}}]
      containers: [{{name: app, image: 'ghcr.io/org/app:2'}}]
"
    ));
    let out = e2e.regcred_ok(&["attach", "--auto", "deployment/two-registries", "-n", &ns]);
    assert_eq!(
        text(&out.stdout),
        "deployment.apps/two-registries attached quay-cred\n"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no pull Secret matches image ghcr.io/org/app:2"),
        "{stderr}"
    );
    assert_eq!(
        template_pull_secrets(&e2e, &ns, "two-registries").0,
        ["quay-cred"]
    );

    // With a named candidate that matches nothing, nothing changes.
    let out = e2e.run(&[
        "attach",
        "other-cred",
        "--auto",
        "deploy/two-registries",
        "-n",
        &ns,
    ]);
    assert_eq!(
        text(&out.stdout),
        "deployment.apps/two-registries unchanged\n"
    );
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn service_account_attach_reaches_new_pods_and_restart_rolls_out() {
    let e2e = E2e::new();
    let ns = e2e.namespace("admission");
    pull_secret(&e2e, &ns, "regcred", "quay.io");
    e2e.create_deployment(&ns, "api", "quay.io/team/api:1");
    e2e.create_deployment(&ns, "own", "quay.io/team/own:1");
    e2e.kubectl_ok(&[
        "patch",
        "deployment",
        "own",
        "-n",
        &ns,
        "-p",
        r#"{"spec":{"template":{"spec":{"imagePullSecrets":[{"name":"mine"}]}}}}"#,
    ]);

    let out = e2e.regcred_ok(&["attach", "regcred", "sa/default", "-n", &ns, "--restart"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("serviceaccount/default attached"),
        "{stdout}"
    );
    assert!(stdout.contains("deployment.apps/api restarted"), "{stdout}");
    assert!(
        !stdout.contains("deployment.apps/own restarted"),
        "{stdout}"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("deployment.apps/own in namespace")
            && stderr.contains("lists its own imagePullSecrets"),
        "{stderr}"
    );
    let api = e2e.get_json(&["deployment", "api", "-n", &ns]);
    assert!(
        api["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string()
    );

    // The real ServiceAccount admission plugin copies the Secret into a Pod created now.
    e2e.kubectl_ok(&[
        "run",
        "fresh",
        "-n",
        &ns,
        "--image=quay.io/team/fresh:1",
        "--restart=Never",
    ]);
    let pod = e2e.get_json(&["pod", "fresh", "-n", &ns]);
    assert_eq!(pod["spec"]["imagePullSecrets"][0]["name"], "regcred");
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn missing_secret_is_refused_unless_allowed() {
    let e2e = E2e::new();
    let ns = e2e.namespace("missing");
    e2e.create_deployment(&ns, "web", "quay.io/team/web:1");
    let out = e2e.run(&["attach", "ghost", "deployment/web", "-n", &ns]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("secret \"ghost\" not found") && stderr.contains("--allow-missing"),
        "{stderr}"
    );
    assert!(template_pull_secrets(&e2e, &ns, "web").0.is_empty());

    e2e.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "opaque",
        "-n",
        &ns,
        "--from-literal=a=b",
    ]);
    let out = e2e.run(&["attach", "opaque", "deployment/web", "-n", &ns]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("has type Opaque"),
        "{}",
        text(&out.stderr)
    );

    let out = e2e.run(&[
        "attach",
        "ghost",
        "deployment/web",
        "-n",
        &ns,
        "--allow-missing",
    ]);
    assert_eq!(
        text(&out.stdout),
        "deployment.apps/web attached\n",
        "{}",
        text(&out.stderr)
    );

    let out = e2e.run(&[
        "attach",
        "ghost",
        "deployment/nope",
        "-n",
        &ns,
        "--allow-missing",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("deployment.apps/nope not found"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn a_forbidden_user_changes_nothing_and_fails() {
    let e2e = E2e::new();
    let ns = e2e.namespace("attach-rbac");
    pull_secret(&e2e, &ns, "regcred", "quay.io");
    e2e.create_deployment(&ns, "web", "quay.io/team/web:1");
    let out = e2e.run(&[
        "attach",
        "regcred",
        "deployment/web",
        "-n",
        &ns,
        "--context",
        "dev",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("forbidden: User \"dev\""), "{stderr}");
    assert!(template_pull_secrets(&e2e, &ns, "web").0.is_empty());
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn dry_runs_show_the_result_and_write_nothing() {
    let e2e = E2e::new();
    let ns = e2e.namespace("attach-dry");
    pull_secret(&e2e, &ns, "regcred", "quay.io");
    e2e.create_deployment(&ns, "web", "quay.io/team/web:1");
    for mode in ["--dry-run=server", "--dry-run=client"] {
        let out = e2e.regcred_ok(&[
            "attach",
            "regcred",
            "deploy/web",
            "-n",
            &ns,
            mode,
            "-o",
            "yaml",
        ]);
        let printed: serde_json::Value = serde_saphyr::from_slice(&out.stdout).unwrap();
        assert_eq!(printed["kind"], "Deployment");
        assert_eq!(
            printed["spec"]["template"]["spec"]["imagePullSecrets"][0]["name"], "regcred",
            "{mode}"
        );
        assert!(
            template_pull_secrets(&e2e, &ns, "web").0.is_empty(),
            "{mode} wrote"
        );
    }
    let out = e2e.run(&[
        "attach",
        "regcred",
        "deploy/web",
        "-n",
        &ns,
        "--dry-run=server",
    ]);
    assert_eq!(
        text(&out.stdout),
        "deployment.apps/web attached (server dry run)\n"
    );
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn all_kinds_labels_and_create_attach() {
    let e2e = E2e::new();
    let ns = e2e.namespace("kinds");
    e2e.create_deployment(&ns, "shop-a", "quay.io/team/a:1");
    // On 1.20 only batch/v1beta1 CronJobs exist, on 1.25+ only batch/v1: kubectl-regcred
    // discovers which version the server has. On 1.20 this is the old-API fallback test.
    e2e.kubectl_apply(&format!(
        "apiVersion: {}
kind: CronJob
metadata: {{name: shop-a, namespace: {ns}}}
spec:
  schedule: '0 0 * * *'
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{{name: a, image: 'quay.io/team/a:1'}}]
",
        e2e.cronjob_api_version()
    ));
    e2e.create_deployment(&ns, "other", "quay.io/team/o:1");
    e2e.kubectl_ok(&["label", "deployment", "shop-a", "-n", &ns, "part-of=shop"]);
    e2e.kubectl_apply(&format!(
        "apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db, namespace: {ns}}}
spec:
  serviceName: db
  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata: {{labels: {{app: db}}}}
    spec: {{containers: [{{name: db, image: 'quay.io/team/db:1'}}]}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec: {{containers: [{{name: agent, image: 'quay.io/team/agent:1'}}]}}
"
    ));
    let out = e2e.create_explicit(
        "regcred",
        "quay.io",
        "robot",
        "pw",
        &[
            "-n",
            &ns,
            "--attach",
            "sts/db",
            "--attach",
            "ds/agent",
            "--attach",
            "cj/shop-a",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in [
        "secret/regcred created",
        "statefulset.apps/db attached",
        "daemonset.apps/agent attached",
        "cronjob.batch/shop-a attached",
    ] {
        assert!(stdout.contains(line), "{line} in {stdout}");
    }
    let cj = e2e.get_json(&["cronjob", "shop-a", "-n", &ns]);
    assert_eq!(
        cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["imagePullSecrets"][0]["name"],
        "regcred"
    );

    let out = e2e.run(&[
        "attach",
        "regcred",
        "--all",
        "deployments",
        "-l",
        "part-of=shop",
        "-n",
        &ns,
    ]);
    assert_eq!(
        text(&out.stdout),
        "deployment.apps/shop-a attached\n",
        "{}",
        text(&out.stderr)
    );
    assert!(template_pull_secrets(&e2e, &ns, "other").0.is_empty());
}

/// A malformed pull Secret breaks every pull of the pods that reference it, so attaching one
/// by name is refused as SECRET-MALFORMED (without quoting its content), unless
/// --allow-missing, which attaches it with a warning.
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn malformed_secret_is_refused_unless_allowed() {
    let e2e = E2e::new();
    let ns = e2e.namespace("malformed");
    e2e.create_deployment(&ns, "web", "ghcr.io/team/web:1");
    let payload = base64::engine::general_purpose::STANDARD
        .encode(r#"{"auths":{"ghcr.io":"TOKEN-CANARY-1234"}}"#);
    e2e.kubectl_apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: broken, namespace: {ns}}}\ntype: kubernetes.io/dockerconfigjson\ndata: {{.dockerconfigjson: {payload}}}\n"
    ));
    let out = e2e.run(&["attach", "broken", "deployment/web", "-n", &ns]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("SECRET-MALFORMED") && stderr.contains("--allow-missing"),
        "{stderr}"
    );
    assert!(!stderr.contains("TOKEN-CANARY"), "{stderr}");
    assert!(template_pull_secrets(&e2e, &ns, "web").0.is_empty());

    let out = e2e.run(&[
        "attach",
        "broken",
        "deployment/web",
        "-n",
        &ns,
        "--allow-missing",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(
        text(&out.stdout),
        "deployment.apps/web attached\n",
        "{stderr}"
    );
    assert!(
        stderr.contains("warning:") && stderr.contains("SECRET-MALFORMED"),
        "{stderr}"
    );
    assert!(!stderr.contains("TOKEN-CANARY"), "{stderr}");
}
