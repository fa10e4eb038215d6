//! A tenant who may write Secrets in one namespace must never steer what an operator's
//! `sync` or `delete` does (docs/sync.md, "Trust").

use crate::harness::{E2e, text};

/// A user whose only right is a Role on Secrets in `namespace`.
fn tenant(e2e: &E2e, namespace: &str) -> String {
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
