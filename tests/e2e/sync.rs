//! `sync`, `delete`, prune, `--from-secret`, expiry and Rancher projects on the real control
//! plane. Writes are counted from the API server's audit log, per namespace.

use base64::Engine;
use serde_json::Value;

use crate::harness::{E2e, secret_writes, text};

/// Our writes of `name` in `namespace`: other tests' `-A` writes land there too.
fn writes_of(namespace: &str, name: &str) -> Vec<String> {
    secret_writes(namespace)
        .into_iter()
        .filter(|write| write.ends_with(&format!(" {name}")))
        .collect()
}

/// A Secret name no other test (or earlier run on the same cluster) uses: `sync NAME` sees
/// every copy of NAME in the cluster.
fn unique(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// `~/.docker/config.json` in the test's HOME with one login for quay.io.
fn docker_login(e2e: &E2e, password: &str) {
    let config =
        serde_json::json!({"auths": {"quay.io": {"auth": b64(&format!("robot:{password}"))}}});
    e2e.docker_config(&config.to_string());
}

fn password_in(e2e: &E2e, ns: &str, name: &str) -> String {
    e2e.payload(ns, name)["auths"]["quay.io"]["password"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn label_into_project(e2e: &E2e, ns: &str, project: &str) {
    e2e.kubectl_ok(&[
        "label",
        "namespace",
        ns,
        "--overwrite",
        &format!("field.cattle.io/projectId={project}"),
    ]);
    e2e.kubectl_ok(&[
        "annotate",
        "namespace",
        ns,
        "--overwrite",
        &format!("field.cattle.io/projectId=c-e2e:{project}"),
    ]);
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn a_rotation_updates_each_copy_once_and_a_second_sync_writes_nothing() {
    let owned = unique("rotate");
    let name = owned.as_str();
    let e2e = E2e::new();
    let namespaces: Vec<String> = (0..3).map(|_| e2e.namespace("rotate")).collect();
    let list = namespaces.join(",");
    docker_login(&e2e, "first");
    e2e.regcred_ok(&["create", name, "--server", "quay.io", "--namespaces", &list]);
    let before: Vec<usize> = namespaces
        .iter()
        .map(|ns| writes_of(ns, name).len())
        .collect();

    docker_login(&e2e, "second");
    let out = e2e.regcred_ok(&["sync", name]);
    let stdout = text(&out.stdout);
    for (ns, before) in namespaces.iter().zip(&before) {
        assert!(
            stdout.contains(&format!("secret/{name} configured in namespace {ns}")),
            "{stdout}"
        );
        assert_eq!(password_in(&e2e, ns, name), "second");
        let writes = writes_of(ns, name);
        assert_eq!(
            writes[*before..],
            [format!("update {name}")],
            "exactly one write in {ns}"
        );
    }

    let out = e2e.regcred_ok(&["sync", name]);
    let stdout = text(&out.stdout);
    for (ns, before) in namespaces.iter().zip(&before) {
        assert!(
            stdout.contains(&format!("secret/{name} unchanged in namespace {ns}")),
            "{stdout}"
        );
        assert_eq!(
            writes_of(ns, name).len(),
            before + 1,
            "no write in {ns} the second time"
        );
    }
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn project_membership_drift_conflicts_and_prune() {
    let owned = unique("projcred");
    let name = owned.as_str();
    let e2e = E2e::new();
    let project = format!("p-e2e{}", std::process::id());
    let first = e2e.namespace("proj");
    let second = e2e.namespace("proj");
    for ns in [&first, &second] {
        label_into_project(&e2e, ns, &project);
    }
    docker_login(&e2e, "pw");
    let out = e2e.regcred_ok(&["create", name, "--server", "quay.io", "--project", &project]);
    assert!(text(&out.stdout).contains(&format!("created in namespace {second}")));
    let recorded = e2e.get_json(&["secret", name, "-n", &first]);
    assert_eq!(
        recorded["metadata"]["annotations"]["kubectl-regcred/scope"],
        format!(r#"{{"selector":"field.cattle.io/projectId={project}"}}"#)
    );

    // A namespace that joins gets its copy; one with someone else's Secret is a conflict.
    let joined = e2e.namespace("proj");
    label_into_project(&e2e, &joined, &project);
    let foreign = e2e.namespace("proj");
    e2e.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        name,
        "-n",
        &foreign,
        "--from-literal=k=v",
    ]);
    label_into_project(&e2e, &foreign, &project);
    // Drift: one copy edited by hand, one deleted.
    e2e.kubectl_ok(&[
        "patch",
        "secret",
        name,
        "-n",
        &first,
        "--type",
        "merge",
        "-p",
        &format!(
            r#"{{"data":{{".dockerconfigjson":"{}"}}}}"#,
            b64(r#"{"auths":{"quay.io":{"auth":"aGFuZDplZGl0"}}}"#)
        ),
    ]);
    e2e.kubectl_ok(&["delete", "secret", name, "-n", &second]);

    let check = e2e.run(&["sync", name, "--check"]);
    assert_eq!(
        check.status.code(),
        Some(1),
        "drift: {}",
        text(&check.stderr)
    );
    let plan = text(&check.stdout);
    for (ns, action) in [
        (&first, "update"),
        (&second, "create"),
        (&joined, "create"),
        (&foreign, "conflict"),
    ] {
        assert!(
            plan.lines()
                .any(|line| line.starts_with(ns.as_str()) && line.contains(action)),
            "{ns} {action}:\n{plan}"
        );
    }
    let writes_before = writes_of(&joined, name).len();
    let out = e2e.run(&["sync", name, "--check", "-o", "json"]);
    let steps: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        steps["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["namespace"] == joined.as_str() && s["action"] == "create")
    );
    assert_eq!(
        writes_of(&joined, name).len(),
        writes_before,
        "--check writes nothing"
    );

    let out = e2e.run(&["sync", name]);
    assert_eq!(out.status.code(), Some(1), "the conflict fails the run");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("namespace {foreign}: secret/{name}"))
            && stderr.contains("not managed by kubectl-regcred"),
        "{stderr}"
    );
    assert_eq!(
        e2e.get_json(&["secret", name, "-n", &foreign])["type"],
        "Opaque",
        "never touched"
    );
    for ns in [&first, &second, &joined] {
        assert_eq!(password_in(&e2e, ns, name), "pw", "{ns} restored");
    }

    // Leaving the project: the copy stays without --prune, and a used copy needs --detach.
    e2e.kubectl_ok(&["label", "namespace", &first, "field.cattle.io/projectId-"]);
    e2e.kubectl_ok(&["label", "namespace", &second, "field.cattle.io/projectId-"]);
    e2e.create_deployment(&second, "web", "quay.io/team/web:1");
    e2e.regcred_ok(&["attach", name, "deployment/web", "-n", &second]);
    e2e.kubectl_ok(&["delete", "secret", name, "-n", &foreign]);
    let out = e2e.regcred_ok(&["sync", name]);
    assert!(
        text(&out.stderr).contains("left the scope"),
        "{}",
        text(&out.stderr)
    );
    assert!(e2e.secret_exists(&first, name));

    let out = e2e.run(&["sync", name, "--prune"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("still used by deployment.apps/web"),
        "{stderr}"
    );
    assert!(!e2e.secret_exists(&first, name), "unused copy pruned");
    assert!(e2e.secret_exists(&second, name), "used copy kept");

    let out = e2e.regcred_ok(&["sync", name, "--prune", "--detach"]);
    assert!(
        text(&out.stdout).contains(&format!("secret/{name} pruned in namespace {second}")),
        "{}",
        text(&out.stdout)
    );
    assert!(!e2e.secret_exists(&second, name));
    let template = e2e.get_json(&["deployment", "web", "-n", &second]);
    assert!(
        template["spec"]["template"]["spec"]["imagePullSecrets"]
            .as_array()
            .is_none_or(|l| l.is_empty())
    );
    let check = e2e.run(&["sync", name, "--check"]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "in sync: {}",
        text(&check.stdout)
    );
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn copies_made_before_definitions_are_adopted_only_with_a_scope() {
    let owned = unique("twoscope");
    let name = owned.as_str();
    let e2e = E2e::new();
    let (a, b, c) = (
        e2e.namespace("scopes"),
        e2e.namespace("scopes"),
        e2e.namespace("scopes"),
    );
    docker_login(&e2e, "pw");
    let all = format!("{a},{b},{c}");
    e2e.regcred_ok(&["create", name, "--server", "quay.io", "--namespaces", &all]);
    // As an older kubectl-regcred left them: no definition, and copies that record
    // different scopes, which anyone who can write one of them could have written.
    e2e.kubectl_ok(&["delete", "secret", name, "-n", "regcred-system"]);
    for (ns, scope) in [(&a, r#"{"namespaces":["x"]}"#), (&b, "{}"), (&c, "{}")] {
        e2e.kubectl_ok(&[
            "annotate",
            "secret",
            name,
            "-n",
            ns,
            "--overwrite",
            "kubectl-regcred/definition-",
            &format!("kubectl-regcred/scope={scope}"),
        ]);
    }
    let out = e2e.run(&["sync", name]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let mut sorted = [a.clone(), b.clone(), c.clone()];
    sorted.sort();
    // Where they are is said, but not offered as a command: anyone who may write one of
    // those namespaces could have put a Secret there to be adopted.
    assert!(
        stderr.contains("no definition claims them")
            && stderr.contains(&sorted.join(", "))
            && stderr.contains(&format!("kubectl regcred sync {name} --namespaces NS,NS")),
        "{stderr}"
    );
    // Naming the namespaces adopts them: one definition, and each copy refers to it.
    let out = e2e.regcred_ok(&["sync", name, "--namespaces", &sorted.join(",")]);
    assert!(
        text(&out.stderr).contains("adopting"),
        "{}",
        text(&out.stderr)
    );
    let definition = e2e.kubectl_ok(&[
        "get",
        "secret",
        name,
        "-n",
        "regcred-system",
        "-o",
        "jsonpath={.type}",
    ]);
    assert_eq!(definition, "kubectl-regcred.io/definition");
    for ns in [&a, &b, &c] {
        let reference = e2e.kubectl_ok(&[
            "get",
            "secret",
            name,
            "-n",
            ns,
            "-o",
            r"jsonpath={.metadata.annotations.kubectl-regcred/definition}",
        ]);
        assert_eq!(reference, format!("regcred-system/{name}"));
    }
    let out = e2e.regcred_ok(&["sync", name]);
    assert!(
        !text(&out.stdout).contains("configured"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn from_secret_copies_an_in_cluster_source_and_follows_its_rotation() {
    let owned = unique("fromsrc");
    let name = owned.as_str();
    let e2e = E2e::new();
    let source_ns = e2e.namespace("source");
    let targets = format!("{},{}", e2e.namespace("copy"), e2e.namespace("copy"));
    let source = |password: &str| {
        e2e.kubectl_apply(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: quay-robot, namespace: {source_ns}}}\n\
             type: kubernetes.io/dockerconfigjson\ndata: {{.dockerconfigjson: {}}}\n",
            b64(&format!(
                r#"{{"auths":{{"quay.io":{{"username":"robot","password":"{password}"}}}}}}"#
            ))
        ));
    };
    source("v1");
    let from = format!("{source_ns}/quay-robot");
    let out = e2e.regcred_ok(&[
        "create",
        name,
        "--from-secret",
        &from,
        "--namespaces",
        &targets,
    ]);
    assert!(
        text(&out.stderr).contains(&format!(
            "using quay.io from secret quay-robot in namespace {source_ns}"
        )),
        "{}",
        text(&out.stderr)
    );
    source("v2");
    e2e.regcred_ok(&["sync", name]);
    for ns in targets.split(',') {
        assert_eq!(password_in(&e2e, ns, name), "v2", "{ns}");
    }

    let missing = format!("{source_ns}/nope");
    let fresh = e2e.namespace("copy");
    let out = e2e.run(&["create", "nosrc", "--from-secret", &missing, "-n", &fresh]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!(
            "error: the source secret {source_ns}/nope does not exist"
        )),
        "{}",
        text(&out.stderr)
    );
    assert!(!e2e.secret_exists(&fresh, "nosrc"));
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn delete_detaches_keeps_other_entries_then_deletes() {
    let e2e = E2e::new();
    let ns = e2e.namespace("delete");
    let denied = e2e.namespace("delete-no");
    for n in [&ns, &denied] {
        e2e.create_explicit("gone", "quay.io", "robot", "pw", &["-n", n]);
        e2e.create_explicit("keep", "ghcr.io", "robot", "pw", &["-n", n]);
    }
    e2e.create_deployment(&ns, "web", "quay.io/team/web:1");
    e2e.kubectl_apply(&format!(
        "apiVersion: {}\nkind: CronJob\nmetadata: {{name: nightly, namespace: {ns}}}\n\
         spec:\n  schedule: '0 0 * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: c, image: quay.io/team/job:1}}]\n",
        e2e.cronjob_api_version()
    ));
    e2e.regcred_ok(&[
        "attach",
        "gone",
        "deployment/web",
        "cronjob/nightly",
        "sa/default",
        "-n",
        &ns,
    ]);
    e2e.regcred_ok(&[
        "attach",
        "keep",
        "deployment/web",
        "cronjob/nightly",
        "sa/default",
        "-n",
        &ns,
    ]);

    let dry = e2e.regcred_ok(&["delete", "gone", "-n", &ns, "--dry-run"]);
    assert!(
        text(&dry.stdout).contains("secret/gone deleted (dry run)"),
        "{}",
        text(&dry.stdout)
    );
    assert!(e2e.secret_exists(&ns, "gone"));

    // dev may do everything in `ns` and nothing in `denied`.
    e2e.kubectl_apply(&format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: dev-admin, namespace: {ns}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}}\n\
         subjects:\n- {{apiGroup: rbac.authorization.k8s.io, kind: User, name: dev}}\n"
    ));
    let both = format!("{denied},{ns}");
    let out = e2e.run(&["delete", "gone", "--namespaces", &both, "--as", "dev"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    for line in [
        "deployment.apps/web detached",
        "cronjob.batch/nightly detached",
        "serviceaccount/default detached",
        "secret/gone deleted",
    ] {
        assert!(
            stdout.contains(&format!("{line} in namespace {ns}")),
            "{line}:\n{stdout}"
        );
    }
    assert!(
        text(&out.stderr).contains(&format!("namespace {denied}")),
        "{}",
        text(&out.stderr)
    );
    assert!(!e2e.secret_exists(&ns, "gone"));
    assert!(e2e.secret_exists(&denied, "gone"));
    let names = |json: &Value| -> Vec<String> {
        json.as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|e| e["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let deployment = e2e.get_json(&["deployment", "web", "-n", &ns]);
    assert_eq!(
        names(&deployment["spec"]["template"]["spec"]["imagePullSecrets"]),
        ["keep"]
    );
    let cronjob = e2e.get_json(&["cronjob", "nightly", "-n", &ns]);
    assert_eq!(
        names(&cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["imagePullSecrets"]),
        ["keep"]
    );
    let account = e2e.get_json(&["serviceaccount", "default", "-n", &ns]);
    assert_eq!(names(&account["imagePullSecrets"]), ["keep"]);

    let foreign = e2e.namespace("delete");
    e2e.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "gone",
        "-n",
        &foreign,
        "--from-literal=k=v",
    ]);
    let out = e2e.run(&["delete", "gone", "-n", &foreign]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not managed by kubectl-regcred"));
    assert!(e2e.secret_exists(&foreign, "gone"));
}

/// A fake `docker-credential-*` helper that answers with `secret` for every registry.
fn fake_helper(e2e: &E2e, name: &str, secret: &str) -> std::path::PathBuf {
    e2e.credential_helper(
        name,
        &format!("#!/bin/sh\nread server\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"AWS\",\"Secret\":\"{secret}\"}}' \"$server\"\n"),
    )
}

fn jwt(exp: i64) -> String {
    let part = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
    format!(
        "{}.{}.{}",
        part(r#"{"alg":"none"}"#),
        part(&format!(r#"{{"exp":{exp}}}"#)),
        part("sig")
    )
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn expiry_is_read_from_ecr_tokens_and_jwts() {
    let e2e = E2e::new();
    let ns = e2e.namespace("expiry");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let ecr = |expiration: i64| {
        b64(&format!(
            r#"{{"payload":"p","datakey":"d","version":"2","type":"DATA_KEY","expiration":{expiration}}}"#
        ))
    };
    let cases = [
        (
            unique("expired-ecr"),
            "111111111111.dkr.ecr.us-east-1.amazonaws.com",
            ecr(now - 60),
            "EXPIRED",
        ),
        (
            unique("expiring-jwt"),
            "expiring.azurecr.io",
            jwt(now + 1200),
            "EXPIRING",
        ),
        (
            unique("fresh-jwt"),
            "fresh.azurecr.io",
            jwt(now + 6 * 3600),
            "OK",
        ),
    ];
    for (name, server, token, _) in &cases {
        let bin = fake_helper(&e2e, name, token);
        let dir = e2e.home.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.json"),
            format!(r#"{{"credHelpers":{{"{server}":"{name}"}}}}"#),
        )
        .unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let out = e2e
            // The expired token is written on purpose (create refuses it otherwise).
            .regcred(&[
                "create",
                name,
                "--server",
                server,
                "-n",
                &ns,
                "--allow-expired",
            ])
            .env("DOCKER_CONFIG", &dir)
            .env("PATH", path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let secret = e2e.get_json(&["secret", name, "-n", &ns]);
        let expires = secret["metadata"]["annotations"]["kubectl-regcred/expires-at"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(expires.contains(server), "{name}: {expires}");
        e2e.create_deployment(&ns, name, &format!("{server}/team/app:1"));
        e2e.regcred_ok(&["attach", name, &format!("deployment/{name}"), "-n", &ns]);
    }
    let out = e2e.regcred_ok(&["list", "-n", &ns, "-o", "wide"]);
    assert!(
        text(&out.stdout).contains("EXPIRES"),
        "{}",
        text(&out.stdout)
    );
    let out = e2e.run(&["check", "-n", &ns, "-o", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an expired credential fails check"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text_report = report.to_string();
    for (name, _, _, verdict) in &cases {
        let object = report["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["object"] == format!("deployment.apps/{name}"))
            .unwrap_or_else(|| panic!("{name} in {text_report}"));
        assert_eq!(object["images"][0]["verdict"], *verdict, "{name}: {object}");
    }
    let expired = cases[0].0.as_str();
    let target = format!("deployment/{expired}");
    let human = text(&e2e.run(&["check", &target, "-n", &ns]).stdout);
    assert!(
        human.contains(&format!("kubectl regcred sync {expired} -n {ns}")),
        "{human}"
    );

    // The helper now answers with a fresh token: sync reads it again and the verdict follows.
    let bin = fake_helper(&e2e, expired, &ecr(now + 12 * 3600));
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = e2e
        .regcred(&["sync", expired, "-n", &ns])
        .env("DOCKER_CONFIG", e2e.home.path().join(expired))
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("secret/{expired} configured")),
        "{}",
        text(&out.stdout)
    );
    let report: Value =
        serde_json::from_slice(&e2e.run(&["check", "-n", &ns, "-o", "json"]).stdout).unwrap();
    let object = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == format!("deployment.apps/{expired}"))
        .unwrap();
    assert_eq!(object["images"][0]["verdict"], "OK", "{object}");
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn sync_without_a_name_covers_every_defined_credential() {
    let e2e = E2e::new();
    let (one, two) = (unique("every-one"), unique("every-two"));
    let (a, b, c) = (
        e2e.namespace("every"),
        e2e.namespace("every"),
        e2e.namespace("every"),
    );
    e2e.create_explicit(&one, "quay.io", "robot", "pw", &["-n", &a]);
    let both = format!("{b},{c}");
    e2e.create_explicit(&two, "ghcr.io", "robot", "pw", &["--namespaces", &both]);
    e2e.kubectl_ok(&["delete", "secret", &two, "-n", &b]);
    // Other tests' credentials are in the plan too, and may not be readable from this HOME:
    // only ours are asserted on.
    let out = e2e.run(&["sync", "--check", "-o", "json"]);
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    // A standalone Secret is synced only by name: said, not planned.
    assert!(
        text(&out.stderr).contains("synced only by name"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !plan.to_string().contains(&format!(r#""secret":"{one}""#)),
        "{plan}"
    );
    let step = |secret: &str, ns: &str| {
        plan["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["secret"] == secret && s["namespace"] == ns)
            .cloned()
    };
    assert_eq!(step(&two, &b).unwrap()["action"], "create", "{plan}");
    assert_eq!(step(&two, &c).unwrap()["action"], "unchanged", "{plan}");
    assert!(!e2e.secret_exists(&b, &two), "--check writes nothing");
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn rancher_copies_are_recognised_and_never_overwritten() {
    let e2e = E2e::new();
    let ns = e2e.namespace("rancher");
    label_into_project(&e2e, &ns, "p-rancher");
    e2e.kubectl_apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: harbor\n  namespace: {ns}\n  labels: {{management.cattle.io/project-scoped-secret: p-rancher}}\n  annotations: {{management.cattle.io/project-scoped-secret-copy: 'true'}}\n\
         type: kubernetes.io/dockerconfigjson\ndata: {{.dockerconfigjson: {}}}\n",
        b64(r#"{"auths":{"harbor.example.com":{"username":"u","password":"p"}}}"#)
    ));
    let out = e2e.regcred_ok(&["list", "-n", &ns]);
    let line = text(&out.stdout)
        .lines()
        .find(|l| l.starts_with("harbor"))
        .unwrap()
        .to_string();
    assert!(line.contains("rancher"), "{line}");
    let out = e2e.regcred_ok(&["show", "harbor", "-n", &ns]);
    assert!(
        text(&out.stdout).contains("by Rancher (a copy of project p-rancher"),
        "{}",
        text(&out.stdout)
    );
    let out = e2e.create_explicit(
        "harbor",
        "harbor.example.com",
        "me",
        "pw",
        &["-n", &ns, "--force"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Rancher reverts any change to it"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        e2e.payload(&ns, "harbor")["auths"]["harbor.example.com"]["username"],
        "u"
    );
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn system_namespaces_only_when_named_and_exclusions_apply() {
    let e2e = E2e::new();
    let project = format!("p-sys{}", std::process::id());
    let kept = e2e.namespace("sys");
    let excluded = e2e.namespace("sysx");
    for ns in [&kept, &excluded] {
        label_into_project(&e2e, ns, &project);
    }
    e2e.kubectl_ok(&[
        "label",
        "namespace",
        "kube-public",
        "--overwrite",
        &format!("field.cattle.io/projectId={project}"),
    ]);
    let out = e2e.create_explicit(
        "syscred",
        "sys.e2e.example.com",
        "robot",
        "pw",
        &["--project", &project, "--exclude-namespaces", "sysx-.*"],
    );
    e2e.kubectl_ok(&[
        "label",
        "namespace",
        "kube-public",
        "field.cattle.io/projectId-",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(e2e.secret_exists(&kept, "syscred"));
    assert!(!e2e.secret_exists(&excluded, "syscred"));
    assert!(
        !e2e.secret_exists("kube-public", "syscred"),
        "a selector leaves system namespaces out"
    );
    let out = e2e.create_explicit(
        "syscred2",
        "sys.e2e.example.com",
        "robot",
        "pw",
        &["-n", "kube-public"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        e2e.secret_exists("kube-public", "syscred2"),
        "named explicitly, it is written"
    );
    e2e.kubectl_ok(&["delete", "secret", "syscred2", "-n", "kube-public"]);
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn an_edited_copy_cannot_steer_what_sync_spreads() {
    let e2e = E2e::new();
    let owned = unique("steer");
    let name = owned.as_str();
    let namespaces: Vec<String> = (0..3).map(|_| e2e.namespace("steer")).collect();
    let all = namespaces.join(",");
    let out = e2e.create_explicit(name, "quay.io", "robot", "pw", &["--namespaces", &all]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // One copy's explicit login edited by hand: the login most copies hold wins.
    let edited = b64(r#"{"auths":{"quay.io":{"username":"robot","password":"attacker"}}}"#);
    e2e.kubectl_ok(&[
        "patch",
        "secret",
        name,
        "-n",
        &namespaces[0],
        "--type",
        "merge",
        "-p",
        &format!(r#"{{"data":{{".dockerconfigjson":"{edited}"}}}}"#),
    ]);
    e2e.regcred_ok(&["sync", name]);
    for ns in &namespaces {
        assert_eq!(password_in(&e2e, ns, name), "pw", "{ns}");
    }
    // One copy's record pointed at another namespace's Secret and a wider scope: nothing a
    // copy records is read; sync repairs the copy from its definition.
    let sources = r#"{"quay.io":"secret kube-system/not-yours"}"#;
    e2e.kubectl_ok(&[
        "annotate",
        "secret",
        name,
        "-n",
        &namespaces[1],
        "--overwrite",
        &format!("kubectl-regcred/sources={sources}"),
        r#"kubectl-regcred/scope={"all":true}"#,
    ]);
    let out = e2e.regcred_ok(&["sync", name]);
    assert!(
        text(&out.stdout).contains(&format!(
            "secret/{name} configured in namespace {}",
            namespaces[1]
        )),
        "{}",
        text(&out.stdout)
    );
    let recorded = e2e.kubectl_ok(&[
        "get",
        "secret",
        name,
        "-n",
        &namespaces[1],
        "-o",
        r"jsonpath={.metadata.annotations.kubectl-regcred/sources}",
    ]);
    assert!(!recorded.contains("not-yours"));
    for ns in &namespaces {
        assert_eq!(password_in(&e2e, ns, name), "pw", "{ns}");
    }
}

/// The docker config of `user`, with one quay.io login.
fn docker_login_as(e2e: &E2e, user: &str, password: &str) {
    let config =
        serde_json::json!({"auths": {"quay.io": {"auth": b64(&format!("{user}:{password}"))}}});
    e2e.docker_config(&config.to_string());
}

/// Re-reading a source rotates the password of the same account; another account's login is
/// refused (with `--check` too) unless `--allow-identity-change` (docs/sync.md).
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn sync_keeps_the_identity_it_recorded() {
    let e2e = E2e::new();
    let ns = e2e.namespace("identity");
    let name = unique("bobcred");
    docker_login_as(&e2e, "bob", "bob-pw-1");
    e2e.regcred_ok(&["create", &name, "--server", "quay.io", "-n", &ns]);
    let user = |e2e: &E2e| e2e.payload(&ns, &name)["auths"]["quay.io"]["username"].clone();

    docker_login_as(&e2e, "alice", "alice-pw");
    for args in [
        vec!["sync", name.as_str(), "-n", &ns],
        vec!["sync", name.as_str(), "-n", &ns, "--check"],
    ] {
        let out = e2e.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(r#"the copies hold the login of "bob""#)
                && stderr.contains(r#"holds "alice"'s"#)
                && stderr.contains("--allow-identity-change"),
            "{stderr}"
        );
        assert!(!stderr.contains("alice-pw"), "{stderr}");
    }
    assert_eq!(user(&e2e), "bob");

    // Rotation of the same account goes through.
    docker_login_as(&e2e, "bob", "bob-pw-2");
    e2e.regcred_ok(&["sync", &name, "-n", &ns]);
    assert_eq!(
        e2e.payload(&ns, &name)["auths"]["quay.io"]["password"],
        "bob-pw-2"
    );

    docker_login_as(&e2e, "alice", "alice-pw");
    e2e.regcred_ok(&["sync", &name, "-n", &ns, "--allow-identity-change"]);
    assert_eq!(user(&e2e), "alice");
}

/// A name no copy carries is not found, and the names that exist are listed.
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn sync_of_a_name_no_copy_carries_lists_the_credentials_that_exist() {
    let e2e = E2e::new();
    let namespaces = format!("{},{}", e2e.namespace("typo"), e2e.namespace("typo"));
    let name = unique("realcred");
    docker_login(&e2e, "pw");
    e2e.regcred_ok(&[
        "create",
        &name,
        "--server",
        "quay.io",
        "--namespaces",
        &namespaces,
    ]);
    let typo = unique("realcrd");
    let out = e2e.run(&["sync", &typo]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("no definition regcred-system/{typo} exists"))
            && stderr.contains(&name),
        "{stderr}"
    );
}

/// Secrets made one namespace at a time (`create NAME -n a`, then `-n b`), by one person or by
/// two teams who both picked the tutorial's name, are separate credentials: `sync NAME` keeps
/// each in its own namespace, and `sync NAME -n a` touches only a's (docs/sync.md, "Trust").
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn secrets_made_one_namespace_at_a_time_are_separate_credentials() {
    let e2e = E2e::new();
    let (a, b) = (e2e.namespace("one-a"), e2e.namespace("one-b"));
    let name = unique("onebyone");
    // Team a from its docker login; team b with another registry and account, given by hand.
    docker_login(&e2e, "pw");
    e2e.regcred_ok(&["create", &name, "--server", "quay.io", "-n", &a]);
    let out = e2e.create_explicit(&name, "ghcr.io", "team-b", "pw-b\n", &["-n", &b]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let payload_b = e2e.payload(&b, &name);

    // Each is found in its own namespace, as kubectl finds objects; not in the context's.
    let out = e2e.run(&["sync", &name]);
    assert_eq!(out.status.code(), Some(1));
    for ns in [&a, &b] {
        let out = e2e.regcred_ok(&["sync", &name, "-n", ns]);
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains(&format!("secret/{name} unchanged")),
            "{stdout}"
        );
    }
    // Team a rotates: only a's changes, and b's is not even mentioned.
    docker_login(&e2e, "pw2");
    let out = e2e.regcred_ok(&["sync", &name, "-n", &a]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("configured"), "{stdout}");
    assert!(!stdout.contains(&b), "{stdout}");
    assert_eq!(e2e.payload(&b, &name), payload_b);
    let out = e2e.regcred_ok(&["sync", &name, "-n", &b]);
    assert!(
        text(&out.stdout).contains("unchanged"),
        "{}",
        text(&out.stdout)
    );
    // Each keeps its own registry: nothing of a's reached b.
    let auths = e2e.payload(&b, &name)["auths"].clone();
    assert!(auths.get("quay.io").is_none(), "{auths}");
}
