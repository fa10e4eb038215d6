//! A tenant who may write Secrets in one namespace must never steer what an operator's
//! `sync` or `delete` does (docs/sync.md, "Trust").

use crate::harness::{E2e, text};

/// A user whose only right is a Role on Secrets in `namespace`.
pub(crate) fn tenant(e2e: &E2e, namespace: &str) -> String {
    let user = format!("tenant-{namespace}");
    e2e.kubectl_apply(&format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n\
         metadata: {{name: secrets, namespace: {namespace}}}\n\
         rules:\n- {{apiGroups: [\"\"], resources: [secrets], verbs: [get, list, watch, create, update, patch, delete]}}\n\
         ---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n\
         metadata: {{name: secrets, namespace: {namespace}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: secrets}}\n\
         subjects:\n- {{apiGroup: rbac.authorization.k8s.io, kind: User, name: {user}}}\n"
    ));
    user
}

/// What the tenant writes, as the tenant: a YAML document applied with `--as`.
fn as_tenant(e2e: &E2e, user: &str, yaml: &str) {
    let out = e2e.kubectl_stdin(&["apply", "-f", "-", "--as", user], yaml.as_bytes());
    assert!(out.status.success(), "{yaml}\n{}", text(&out.stderr));
}

/// Reproduction 3 of the trust issue: our label on an Opaque Secret made `sync --prune` prune
/// it and `delete NAME` delete it; and `sync --force` with only the copies' record for a scope
/// took over what a look-alike pointed at.
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn our_label_on_another_type_is_never_pruned_deleted_or_taken_over() {
    let e2e = E2e::new();
    let a = e2e.namespace("trust-a");
    let dev = e2e.namespace("trust-dev");
    let user = tenant(&e2e, &dev);
    // The operator's credential, for namespace a only.
    let name = format!("app-config-{}", std::process::id());
    let out = e2e.create_explicit(&name, "quay.io", "robot", "pw\n", &["-n", &a]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The tenant's own Opaque Secret of the same name, dressed up as one of our copies.
    as_tenant(
        &e2e,
        &user,
        &format!(
            "apiVersion: v1\nkind: Secret\ntype: Opaque\n\
             metadata:\n  name: {name}\n  namespace: {dev}\n\
             \x20 labels: {{app.kubernetes.io/managed-by: kubectl-regcred}}\n\
             \x20 annotations:\n\
             \x20   kubectl-regcred/scope: '{{\"namespaces\":[\"{a}\"]}}'\n\
             \x20   kubectl-regcred/registries: quay.io\n\
             \x20   kubectl-regcred/sources: '{{\"quay.io\":\"explicit\"}}'\n\
             stringData: {{config: keep-me}}\n"
        ),
    );
    let version = || {
        e2e.get_json(&["secret", &name, "-n", &dev])["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let before = version();

    // sync --prune: the look-alike is neither a copy to prune nor a record to follow.
    let out = e2e.run(&["sync", &name, "-n", &a, "--prune"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        !text(&out.stdout).contains(&format!("namespace {dev}")),
        "{}",
        text(&out.stdout)
    );
    // delete NAME refuses it, and says why.
    let out = e2e.run(&["delete", &name, "-n", &dev]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("has type Opaque, not kubernetes.io/dockerconfigjson"),
        "{}",
        text(&out.stderr)
    );
    // --force with the recorded scope is refused before anything is read.
    let out = e2e.run(&["sync", &name, "--force"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("--force takes over Secrets only in namespaces given on the command line"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(version(), before, "the tenant's Secret changed");
    let data = e2e.get_json(&["secret", &name, "-n", &dev]);
    assert_eq!(data["type"], "Opaque");
}

/// A tenant whose Role covers Secrets, ServiceAccounts, Pods, Deployments and ReplicaSets in
/// one namespace, and nothing else: `check` reads what it may and says what it may not, its
/// fixes carry `--as` and work when pasted, `sync NAME` looks in that namespace only, and
/// `delete` detaches what it can see and says what it could not (docs/check.md, docs/sync.md).
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn a_tenant_with_a_role_in_one_namespace_works_there() {
    let e2e = E2e::new();
    let ns = e2e.namespace("tenant");
    let user = format!("dev-{ns}");
    e2e.kubectl_apply(&format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n\
         metadata: {{name: dev, namespace: {ns}}}\n\
         rules:\n\
         - {{apiGroups: [\"\"], resources: [secrets, serviceaccounts, pods], verbs: [get, list, watch, create, update, patch, delete]}}\n\
         - {{apiGroups: [apps], resources: [deployments, replicasets], verbs: [get, list, watch, create, update, patch, delete]}}\n\
         ---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n\
         metadata: {{name: dev, namespace: {ns}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: dev}}\n\
         subjects:\n- {{apiGroup: rbac.authorization.k8s.io, kind: User, name: {user}}}\n"
    ));
    e2e.create_deployment(&ns, "web", "quay.io/team/web:1");
    e2e.docker_config(r#"{"auths":{"quay.io":{"auth":"cm9ib3Q6cHc="}}}"#);
    let name = format!("tenantcred-{}", std::process::id());
    let out = e2e.regcred_ok(&[
        "create", &name, "--server", "quay.io", "-n", &ns, "--as", &user,
    ]);
    assert!(
        text(&out.stdout).contains("created"),
        "{}",
        text(&out.stdout)
    );

    let out = e2e.run(&["check", "-n", &ns, "--as", &user]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "warning: namespace {ns}: may not list statefulsets.apps, daemonsets.apps, jobs.batch, cronjobs.batch, events (forbidden)"
        )),
        "{stderr}"
    );
    let fixes = crate::check::fix_lines(&text(&out.stdout));
    assert!(!fixes.is_empty(), "{}", text(&out.stdout));
    for fix in &fixes {
        assert!(fix.contains(&format!("--as {user}")), "{fix}");
        let pasted = e2e
            .plugin_shell()
            .args(["-c", fix])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(pasted.status.success(), "{fix}: {}", text(&pasted.stderr));
    }
    let out = e2e.run(&["check", "-n", &ns, "--as", &user]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("OK"), "{}", text(&out.stdout));

    // sync NAME: not allowed to list Secrets everywhere, it looks where it may.
    let out = e2e.regcred_ok(&["sync", &name, "-n", &ns, "--as", &user]);
    assert!(
        text(&out.stdout).contains(&format!("secret/{name} unchanged")),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // delete: detached from the Deployment it can see; told about the kinds it cannot.
    let out = e2e.regcred_ok(&["delete", &name, "-n", &ns, "--as", &user]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("deployment.apps/web detached"), "{stdout}");
    assert!(
        stdout.contains(&format!("secret/{name} deleted")),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("may not list statefulsets.apps, daemonsets.apps, jobs.batch, cronjobs.batch (forbidden)"),
        "{}",
        text(&out.stderr)
    );
    assert!(!e2e.secret_exists(&ns, &name));
}

/// A namespace of definitions of the test's own, so that no other test's credential is in
/// its `sync` without a NAME.
fn definitions_namespace(e2e: &E2e) -> String {
    e2e.namespace("defs")
}

/// The tenant's look-alike: our label and type, empty auths, and records naming the
/// operator's docker login, another team's Secret and `scope`.
fn look_alike(
    name: &str,
    namespace: &str,
    scope: &str,
    other_team: &str,
    corp_source: &str,
) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\n\
         metadata:\n  name: {name}\n  namespace: {namespace}\n\
         \x20 labels: {{app.kubernetes.io/managed-by: kubectl-regcred}}\n\
         \x20 annotations:\n\
         \x20   kubectl-regcred/scope: '{scope}'\n\
         \x20   kubectl-regcred/registries: corp.e2e.example.com,ghcr.io\n\
         \x20   kubectl-regcred/sources: '{{\"corp.e2e.example.com\":\"{corp_source}\",\"ghcr.io\":\"secret {other_team}/team-robot\"}}'\n\
         \x20   kubectl-regcred/usernames: '{{\"corp.e2e.example.com\":\"operator\",\"ghcr.io\":\"robot\"}}'\n\
         data: {{.dockerconfigjson: eyJhdXRocyI6e319}}\n"
    )
}

/// Reproductions 1, 2 and 4 of the trust issue, as the operator's `sync` meets them: a tenant
/// whose only right is a Role on Secrets in team-dev writes look-alikes that ask for the
/// operator's docker login, another team's robot password, a copy in team-a, and a scope that
/// disagrees with the operator's credential. Nothing they ask is done, and the operator's
/// runs report them instead of failing (docs/sync.md, "Trust").
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn look_alikes_never_get_a_login_or_a_copy_and_never_stop_the_operator() {
    let e2e = E2e::new();
    let defs = definitions_namespace(&e2e);
    let (dev_pull, shared) = (
        format!("dev-pull-{}", std::process::id()),
        format!("shared-{}", std::process::id()),
    );
    let (dev, other, a, b) = (
        e2e.namespace("team-dev"),
        e2e.namespace("team-other"),
        e2e.namespace("team-a"),
        e2e.namespace("team-b"),
    );
    let user = tenant(&e2e, &dev);
    // The other team's robot, which the tenant may not read.
    e2e.kubectl_apply(&format!(
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\n\
         metadata: {{name: team-robot, namespace: {other}}}\n\
         data: {{.dockerconfigjson: {}}}\n",
        base64_of(r#"{"auths":{"ghcr.io":{"username":"robot","password":"other-teams-secret"}}}"#)
    ));
    assert!(
        !e2e.kubectl(&["get", "secret", "team-robot", "-n", &other, "--as", &user])
            .status
            .success()
    );
    // The operator: a docker login for corp, and one credential of its own for a and b.
    e2e.docker_config(&format!(
        r#"{{"auths":{{"corp.e2e.example.com":{{"auth":"{}"}}}}}}"#,
        base64_of("operator:operators-password")
    ));
    let real = format!("real-{}", std::process::id());
    let ab = format!("{a},{b}");
    let out = e2e.create_explicit(
        &real,
        "corp.e2e.example.com",
        "operator",
        "operators-password\n",
        &["--namespaces", &ab, "--definitions-namespace", &defs],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    // 1: a look-alike for the tenant's own namespace; 2: one whose scope names team-a;
    // 4: one named like the operator's credential, with a scope that disagrees.
    let own = format!(r#"{{"namespaces":["{dev}"]}}"#);
    let wider = format!(r#"{{"namespaces":["{dev}","{a}"]}}"#);
    for (name, scope, corp_source) in [
        (dev_pull.as_str(), own.as_str(), "docker config.json"),
        (shared.as_str(), wider.as_str(), "explicit"),
        (real.as_str(), r#"{"all":true}"#, "explicit"),
    ] {
        as_tenant(
            &e2e,
            &user,
            &look_alike(name, &dev, scope, &other, corp_source),
        );
    }
    let untouched = |e2e: &E2e| {
        for name in [dev_pull.as_str(), shared.as_str(), real.as_str()] {
            assert_eq!(
                e2e.payload(&dev, name),
                serde_json::json!({"auths": {}}),
                "{name} in {dev} was filled"
            );
        }
        assert!(
            !e2e.secret_exists(&a, shared.as_str()),
            "a copy reached {a}"
        );
    };

    // The routine sync: the operator's credential is kept, the look-alikes are reported.
    let defs_flag = ["--definitions-namespace", defs.as_str()];
    let out = e2e.run(&[&["sync"][..], &defs_flag].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    for name in [shared.as_str(), real.as_str()] {
        assert!(
            stderr.contains(&format!("secret/{name} in namespace {dev} is not synced")),
            "{stderr}"
        );
    }
    assert!(stderr.contains("synced only by name"), "{stderr}");
    // list says which are not claimed by any definition; show says why.
    let listed = e2e.regcred_ok(&[&["list", "-n", dev.as_str()][..], &defs_flag].concat());
    for name in [shared.as_str(), real.as_str()] {
        let line = text(&listed.stdout)
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .map(String::from)
            .unwrap_or_default();
        assert!(line.contains("unmanaged"), "{}", text(&listed.stdout));
    }
    let shown = e2e.regcred_ok(&["show", shared.as_str(), "-n", &dev]);
    assert!(
        text(&shown.stdout).contains("no definition claims it"),
        "{}",
        text(&shown.stdout)
    );
    assert!(!text(&out.stdout).contains(&dev), "{}", text(&out.stdout));
    untouched(&e2e);

    // A password given again goes only where the operator's definitions say.
    let out = e2e
        .regcred(
            &[
                &[
                    "sync",
                    "--server",
                    "corp.e2e.example.com",
                    "--username",
                    "operator",
                ][..],
                &["--password-stdin"],
                &defs_flag,
            ]
            .concat(),
        )
        .write_stdin("new-password\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    untouched(&e2e);

    // sync NAME: the operator's own is unaffected by the look-alike outside its scope.
    let out = e2e.run(&[&["sync", real.as_str()][..], &defs_flag].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains(&dev), "{}", text(&out.stdout));
    // Naming a look-alike does not follow it: one that reaches beyond its namespace is
    // refused, and one for its own namespace may not copy another team's Secret.
    let out = e2e.run(
        &[
            &["sync", shared.as_str(), "-n", dev.as_str()][..],
            &defs_flag,
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is not synced"),
        "{}",
        text(&out.stderr)
    );
    let out = e2e.run(
        &[
            &["sync", dev_pull.as_str(), "-n", dev.as_str()][..],
            &defs_flag,
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!(
            "the source Secret {other}/team-robot does not permit copies into namespace {dev}"
        )),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains("other-teams-secret"));
    untouched(&e2e);
    assert_eq!(
        e2e.payload(&a, &real)["auths"]["corp.e2e.example.com"]["password"],
        "new-password"
    );

    // The look-alike named like the operator's credential now poses as made for the tenant's
    // namespace. `sync NAME -n NS`, which show suggests for such a Secret, keeps that Secret
    // by its own record; it never re-scopes the operator's definition to NS.
    as_tenant(
        &e2e,
        &user,
        &look_alike(&real, &dev, &own, &other, "explicit"),
    );
    let scope_of = |e2e: &E2e| {
        e2e.get_json(&["secret", &real, "-n", &defs])["metadata"]["annotations"]
            ["kubectl-regcred/scope"]
            .clone()
    };
    let before = scope_of(&e2e);
    let _ = e2e.run(&[&["sync", real.as_str(), "-n", dev.as_str()][..], &defs_flag].concat());
    assert_eq!(scope_of(&e2e), before, "the definition was re-scoped");
    untouched(&e2e);
    for ns in [&a, &b] {
        assert!(e2e.secret_exists(ns, &real), "{ns} lost its copy");
    }

    // Adopting by naming a scope never takes an explicit login from a copy's data, which
    // the tenant chose: it must be given again.
    let legacy = format!("legacy-{}", std::process::id());
    for ns in [&dev, &other] {
        as_tenant_or_admin(
            &e2e,
            ns == &dev,
            &user,
            &look_alike(&legacy, ns, &wider, &other, "explicit"),
        );
    }
    let both = format!("{dev},{other}");
    let out = e2e.run(
        &[
            &["sync", legacy.as_str(), "--namespaces", both.as_str()][..],
            &defs_flag,
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("an explicit login is not taken from copies being adopted"),
        "{}",
        text(&out.stderr)
    );
}

/// Applies `yaml` as the tenant, or as the admin.
fn as_tenant_or_admin(e2e: &E2e, tenant: bool, user: &str, yaml: &str) {
    if tenant {
        as_tenant(e2e, user, yaml);
    } else {
        e2e.kubectl_apply(yaml);
    }
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A username or annotation written into a Secret, and a context named in a kubeconfig, are
/// single fields: a line end in them is shown escaped and never forges a line of its own
/// (`error: ...`), and a right-to-left override is shown, not obeyed (docs/conventions.md).
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn fields_from_the_cluster_never_forge_a_line() {
    use base64::Engine;
    let e2e = E2e::new();
    let ns = e2e.namespace("forge");
    let payload = serde_json::json!({"auths": {"quay.io": {
        "username": "robot\nerror: forged line\u{202e}txt.exe",
        "password": "pw",
    }}});
    e2e.kubectl_apply(&format!(
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\n\
         metadata:\n  name: forge\n  namespace: {ns}\n\
         \x20 labels: {{app.kubernetes.io/managed-by: kubectl-regcred}}\n\
         \x20 annotations: {{kubectl-regcred/sources: \"{{\\\"quay.io\\\":\\\"explicit\\\"}}\\nManaged:     yes, forged\"}}\n\
         data: {{.dockerconfigjson: {}}}\n",
        base64::engine::general_purpose::STANDARD.encode(payload.to_string())
    ));
    for args in [
        vec!["show", "forge", "-n", ns.as_str()],
        vec!["list", "-n", ns.as_str(), "-o", "wide"],
    ] {
        let out = e2e.regcred_ok(&args);
        let stdout = text(&out.stdout);
        for line in stdout.lines() {
            assert!(
                !line.trim_start().starts_with("error: forged")
                    && !line.trim_start().starts_with("Managed:     yes, forged"),
                "{args:?}: a forged line:\n{stdout}"
            );
        }
        assert!(!stdout.contains('\u{202e}'), "{args:?}: {stdout}");
        assert!(
            stdout.contains(r"\u{a}error: forged line\u{202e}"),
            "{args:?}: {stdout}"
        );
    }
}
