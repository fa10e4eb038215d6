//! End-to-end tests against a real kube-apiserver + etcd + kube-controller-manager.
//! They are `#[ignore]` so a plain `cargo test` does not need a cluster; `tests/e2e/run.sh`
//! starts the control plane and runs them with `--ignored`.

mod attach;
mod check;
mod contexts;
mod docs;
mod dryrun;
mod harness;
mod keychain;
#[path = "../shared/markdown.rs"]
mod markdown;
mod packaging;
mod proxy;
mod sync;
mod trust;
mod verify;
mod watch;

use harness::{E2e, text};

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn create_is_idempotent_and_updates_when_credentials_change() {
    let e2e = E2e::new();
    let ns = e2e.namespace("idem");
    let out = e2e.create_explicit("regcred", "quay.io", "robot", "pw-one\n", &["-n", &ns]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "secret/regcred created\n");
    let before = e2e.get_json(&["secret", "regcred", "-n", &ns]);

    let out = e2e.create_explicit("regcred", "quay.io", "robot", "pw-one\n", &["-n", &ns]);
    assert_eq!(text(&out.stdout), "secret/regcred unchanged\n");
    let after = e2e.get_json(&["secret", "regcred", "-n", &ns]);
    assert_eq!(
        before["metadata"]["resourceVersion"], after["metadata"]["resourceVersion"],
        "no write when equal"
    );

    let out = e2e.create_explicit("regcred", "quay.io", "robot", "pw-two\n", &["-n", &ns]);
    assert_eq!(text(&out.stdout), "secret/regcred configured\n");
    let payload = e2e.payload(&ns, "regcred");
    assert_eq!(payload["auths"]["quay.io"]["password"], "pw-two");
    assert_eq!(payload["auths"]["quay.io"]["auth"], "cm9ib3Q6cHctdHdv");

    let secret = e2e.get_json(&["secret", "regcred", "-n", &ns]);
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    assert_eq!(
        secret["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "kubectl-regcred"
    );
    assert_eq!(
        secret["metadata"]["annotations"]["kubectl-regcred/registries"],
        "quay.io"
    );
    let metadata = secret["metadata"].to_string();
    assert!(
        !metadata.contains("pw-two") && !metadata.contains("cm9ib3Q6cHctdHdv"),
        "{metadata}"
    );
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn the_context_namespace_is_the_default() {
    let e2e = E2e::new();
    let ns = e2e.namespace("ctxns");
    let kubeconfig = e2e.home.path().join("kubeconfig");
    let original = std::fs::read_to_string(&e2e.kubeconfig).unwrap();
    std::fs::write(
        &kubeconfig,
        original.replace(
            "context: {cluster: e2e, user: admin}",
            &format!("context: {{cluster: e2e, user: admin, namespace: {ns}}}"),
        ),
    )
    .unwrap();
    let out = e2e
        .regcred(&[
            "create",
            "ctxcred",
            "--server",
            "ghcr.io",
            "--username",
            "u",
            "--password-stdin",
        ])
        .env("KUBECONFIG", &kubeconfig)
        .write_stdin("pw")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(e2e.secret_exists(&ns, "ctxcred"));
    assert!(!e2e.secret_exists("default", "ctxcred"));
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn refuses_a_secret_that_is_not_ours_unless_forced() {
    let e2e = E2e::new();
    let ns = e2e.namespace("force");
    e2e.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "opaque",
        "-n",
        &ns,
        "--from-literal=k=v",
    ]);
    e2e.kubectl_ok(&[
        "create",
        "secret",
        "docker-registry",
        "handmade",
        "-n",
        &ns,
        "--docker-server=quay.io",
        "--docker-username=x",
        "--docker-password=y",
    ]);

    for (name, why) in [
        (
            "opaque",
            "has type Opaque, not kubernetes.io/dockerconfigjson",
        ),
        ("handmade", "is not managed by kubectl-regcred"),
    ] {
        let out = e2e.create_explicit(name, "quay.io", "robot", "pw", &["-n", &ns]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(why) && stderr.contains("--force"),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("error: namespace {ns}: secret \"{name}\" exists")),
            "{stderr}"
        );
    }
    assert_eq!(
        e2e.get_json(&["secret", "opaque", "-n", &ns])["type"],
        "Opaque",
        "nothing changed"
    );

    let out = e2e.create_explicit("opaque", "quay.io", "robot", "pw", &["-n", &ns, "--force"]);
    assert_eq!(
        text(&out.stdout),
        "secret/opaque recreated\n",
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        e2e.get_json(&["secret", "opaque", "-n", &ns])["type"],
        "kubernetes.io/dockerconfigjson"
    );

    let out = e2e.create_explicit(
        "handmade",
        "quay.io",
        "robot",
        "pw",
        &["-n", &ns, "--force"],
    );
    assert_eq!(
        text(&out.stdout),
        "secret/handmade configured\n",
        "{}",
        text(&out.stderr)
    );
    let secret = e2e.get_json(&["secret", "handmade", "-n", &ns]);
    assert_eq!(
        secret["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "kubectl-regcred"
    );
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn server_dry_run_validates_and_writes_nothing() {
    let e2e = E2e::new();
    let ns = e2e.namespace("dry");
    let out = e2e.create_explicit(
        "regcred",
        "quay.io",
        "robot",
        "pw",
        &["-n", &ns, "--dry-run=server", "-o", "yaml"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed: serde_json::Value = serde_saphyr::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["metadata"]["namespace"], ns.as_str());
    // kubectl itself reads our YAML back as the same object.
    let reread = e2e.kubectl_stdin(
        &["create", "--dry-run=client", "-f", "-", "-o", "json"],
        &out.stdout,
    );
    assert!(reread.status.success(), "{}", text(&reread.stderr));
    let reread: serde_json::Value = serde_json::from_slice(&reread.stdout).unwrap();
    assert_eq!(reread["data"], printed["data"]);
    assert_eq!(
        reread["metadata"]["annotations"],
        printed["metadata"]["annotations"]
    );
    assert!(
        printed["metadata"]["uid"].is_string(),
        "the server filled in the object"
    );
    assert!(!e2e.secret_exists(&ns, "regcred"));

    let out = e2e.create_explicit(
        "regcred",
        "quay.io",
        "robot",
        "pw",
        &["-n", &ns, "--dry-run=server"],
    );
    assert_eq!(
        text(&out.stdout),
        "secret/regcred created (server dry run)\n"
    );
    // A namespace that does not exist is the server's to reject.
    let out = e2e.create_explicit(
        "regcred",
        "quay.io",
        "robot",
        "pw",
        &["-n", "no-such-ns-e2e", "--dry-run=server"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("namespaces \"no-such-ns-e2e\" not found"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn selector_and_all_namespaces() {
    let e2e = E2e::new();
    let project = format!("payments-{}", std::process::id());
    let inside: Vec<String> = (0..3).map(|_| e2e.namespace("sel")).collect();
    let outside = e2e.namespace("sel-out");
    for ns in &inside {
        e2e.kubectl_ok(&["label", "namespace", ns, &format!("project={project}")]);
    }
    let selector = format!("project={project}");
    let out = e2e.create_explicit(
        "projcred",
        "quay.io",
        "robot",
        "pw",
        &["--namespace-selector", &selector],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    for ns in &inside {
        assert!(e2e.secret_exists(ns, "projcred"), "{ns}");
        assert!(text(&out.stdout).contains(&format!("secret/projcred created in namespace {ns}")));
    }
    assert!(!e2e.secret_exists(&outside, "projcred"));
    assert!(
        text(&out.stderr).contains("3 namespaces: 3 created"),
        "{}",
        text(&out.stderr)
    );

    let out = e2e.create_explicit(
        "projcred",
        "quay.io",
        "robot",
        "pw",
        &["--namespace-selector", "project=nobody-e2e"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no namespace matches the selector"));

    // -A writes into every namespace, other tests' too: a registry no test's images use keeps
    // this Secret from matching anything they check or auto-attach.
    let server = "all-namespaces.e2e.example.com";
    let out = e2e.create_explicit("allcred", server, "robot", "pw", &["-A"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ours: Vec<&String> = inside.iter().chain([&outside]).collect();
    for ns in ours.iter().copied() {
        assert!(e2e.secret_exists(ns, "allcred"), "{ns}");
    }
    // Writes leave the system namespaces out of -A unless they are named.
    assert!(!e2e.secret_exists("kube-system", "allcred"));
    // Other tests create namespaces meanwhile, so only ours are asserted on.
    let again = e2e.create_explicit("allcred", server, "robot", "pw", &["-A"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    for ns in ours {
        let line = format!("secret/allcred unchanged in namespace {ns}\n");
        assert!(text(&again.stdout).contains(&line), "second -A run: {line}");
    }
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn a_forbidden_namespace_does_not_stop_the_others() {
    let e2e = E2e::new();
    let allowed = e2e.namespace("rbac-ok");
    let denied = e2e.namespace("rbac-no");
    e2e.kubectl_apply(&format!(
        "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: secret-writer, namespace: {allowed}}}
rules:
- apiGroups: ['']
  resources: [secrets]
  verbs: [get, list, create, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: dev-secret-writer, namespace: {allowed}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: secret-writer}}
subjects:
- {{apiGroup: rbac.authorization.k8s.io, kind: User, name: dev}}
"
    ));
    let namespaces = format!("{denied},{allowed}");
    for args in [
        vec!["--context", "dev", "--namespaces", namespaces.as_str()],
        vec!["--as", "dev", "--namespaces", namespaces.as_str()],
    ] {
        let out = e2e.create_explicit("regcred", "quay.io", "robot", "pw", &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains(&format!("secret/regcred created in namespace {allowed}"))
                || stdout.contains(&format!("secret/regcred unchanged in namespace {allowed}")),
            "{stdout}"
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("error: namespace {denied}: secrets \"regcred\" is forbidden: User \"dev\" cannot get resource \"secrets\""))
                && stderr.contains(&format!("in the namespace \"{denied}\"")),
            "{stderr}"
        );
        assert!(stderr.contains("2 namespaces: 1 "), "{stderr}");
        assert!(stderr.contains("1 failed"), "{stderr}");
    }
    assert!(e2e.secret_exists(&allowed, "regcred"));
    assert!(!e2e.secret_exists(&denied, "regcred"));
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn concurrent_writers_all_succeed() {
    let e2e = E2e::new();
    let ns = e2e.namespace("race");
    let children: Vec<_> = (0..6)
        .map(|i| {
            let mut cmd = e2e.regcred_std(&[
                "create",
                "racecred",
                "--server",
                "quay.io",
                "--username",
                "robot",
                "--password-stdin",
                "-n",
                &ns,
            ]);
            cmd.stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("pw-{}", i % 2).as_bytes())
                .unwrap();
            child
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let password = e2e.payload(&ns, "racecred")["auths"]["quay.io"]["password"].clone();
    assert!(password == "pw-0" || password == "pw-1");
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn docker_credential_secretservice_behind_creds_store() {
    let e2e = E2e::new();
    let ns = e2e.namespace("keyring");
    e2e.docker_config(r#"{"auths":{"reg.example.com:5000":{}},"credsStore":"secretservice"}"#);
    let binary = assert_cmd::cargo::cargo_bin("kubectl-regcred");
    // A real Secret Service: gnome-keyring in its own D-Bus session, unlocked with a password.
    let script = format!(
        r#"set -e
export HOME={home}
echo -n e2e-keyring-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
printf '{{"ServerURL":"reg.example.com:5000","Username":"keyuser","Secret":"from-the-keyring"}}' | docker-credential-secretservice store
{binary} create kcred -n {ns} --from docker
"#,
        home = e2e.home.path().display(),
        binary = binary.display(),
    );
    let mut session = std::process::Command::new("dbus-run-session");
    e2e.scrub(&mut session);
    let out = session
        .args(["--", "sh", "-c", &script])
        .output()
        .expect("dbus-run-session (package dbus) is installed");
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "using reg.example.com:5000 from docker-credential-secretservice (credsStore in"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("from-the-keyring"));
    let payload = e2e.payload(&ns, "kcred");
    assert_eq!(
        payload["auths"]["reg.example.com:5000"]["username"],
        "keyuser"
    );
    assert_eq!(
        payload["auths"]["reg.example.com:5000"]["password"],
        "from-the-keyring"
    );
    let secret = e2e.get_json(&["secret", "kcred", "-n", &ns]);
    assert_eq!(
        secret["metadata"]["annotations"]["kubectl-regcred/sources"],
        r#"{"reg.example.com:5000":"docker credsStore docker-credential-secretservice"}"#
    );
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn output_formats_from_the_server() {
    let e2e = E2e::new();
    let a = e2e.namespace("out");
    let b = e2e.namespace("out");
    let namespaces = format!("{a},{b}");
    let out = e2e.create_explicit(
        "outcred",
        "quay.io",
        "robot",
        "pw",
        &["--namespaces", &namespaces, "-o", "json"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(list["items"][0]["metadata"].get("managedFields").is_none());
    let out = e2e.create_explicit(
        "outcred",
        "quay.io",
        "robot",
        "pw",
        &["--namespaces", &namespaces, "-o", "name"],
    );
    assert_eq!(text(&out.stdout), "secret/outcred\nsecret/outcred\n");
}

/// `-o json` and `-o yaml` of a Secret are kubectl's `get -o json|yaml` of the same Secret,
/// byte for byte, with annotations that take each of go-yaml's styles (docs/conventions.md).
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn json_and_yaml_match_kubectls_of_the_same_secret() {
    let e2e = E2e::new();
    let ns = e2e.namespace("kout");
    let create = |format: &str| {
        let out = e2e.create_explicit(
            "outcred",
            "quay.io",
            "robot",
            "pw",
            &["-n", &ns, "-o", format],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    create("name");
    let words = "word ".repeat(40);
    let quoted_words = format!("{{\"k\": \"{}\"}}", "word ".repeat(30));
    let labelled = format!("x: {}", "wordy ".repeat(30));
    let long_json = format!(
        "{{{}}}",
        (0..12)
            .map(|i| format!("\"k{i}\": \"vvvvvvvvvv\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let tricky = [
        ("a/empty", ""),
        ("a/yes", "yes"),
        ("a/y", "y"),
        ("a/num", "0777"),
        ("a/float", "1.5e3"),
        ("a/date", "2026-12-01"),
        ("a/colon", "a: b"),
        ("a/quote", "it's"),
        ("a/tab", "a\tb"),
        ("a/lines", "one\ntwo"),
        ("a/lines-end", "one\ntwo\n\n"),
        ("a/long", words.as_str()),
        ("a/longq", quoted_words.as_str()),
        ("a/long2", labelled.as_str()),
        ("a/json-long", long_json.as_str()),
        ("a/emoji", "\u{1F600} \u{e9}"),
        ("a/lead", " x"),
        ("a/hash", "a #b"),
        ("a/dq", "say \"hi\""),
        ("a/bs", "C:\\dir"),
        ("a/dash", "-"),
        ("a/trailing", "trailing "),
        ("a/nbsp", "a\u{a0}b"),
        ("a/base60", "1:20"),
    ];
    let mut annotate = vec!["annotate", "secret", "outcred", "-n", &ns];
    let pairs: Vec<String> = tricky.iter().map(|(k, v)| format!("{k}={v}")).collect();
    annotate.extend(pairs.iter().map(String::as_str));
    e2e.kubectl_ok(&annotate);
    // Unchanged now: the object printed is the one stored, as kubectl reads it.
    for format in ["json", "yaml"] {
        let ours = create(format);
        let theirs = e2e.kubectl_ok(&["get", "secret", "outcred", "-n", &ns, "-o", format]);
        assert_eq!(ours, theirs, "-o {format}");
    }
}

/// `-o jsonpath=` and `-o custom-columns=` print what kubectl prints for the same expressions,
/// of one object and of a List (docs/conventions.md, "jsonpath and custom-columns").
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn jsonpath_and_custom_columns_match_kubectls() {
    let e2e = E2e::new();
    let mut namespaces = [e2e.namespace("kjp"), e2e.namespace("kjp")];
    namespaces.sort();
    let both = namespaces.join(",");
    let name = format!("jp-{}", namespaces[0]);
    let ours = |scope: &[&str], format: String| {
        let mut args = scope.to_vec();
        args.extend(["-q", "-o", &format]);
        let out = e2e.create_explicit(&name, "quay.io", "robot", "pw", &args);
        assert!(out.status.success(), "{format}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    ours(&["--namespaces", &both], "name".into());
    let one = ["get", "secret", &name, "-n", &namespaces[0]];
    // The definition `create` keeps in regcred-system for a credential of several namespaces.
    let selector = format!("metadata.name={name},metadata.namespace!=regcred-system");
    let list = ["get", "secret", "-A", "--field-selector", &selector];
    let templates = [
        "{.metadata.name}",
        "{.data.\\.dockerconfigjson}",
        "{.metadata.labels}",
        "{.metadata.annotations.kubectl-regcred/registries}",
        "kind {.kind}{\"\\n\"}",
        "{range .items[*]}{.metadata.namespace}{\"\\t\"}{.metadata.name}{\"\\n\"}{end}",
        "{.items[*].metadata.namespace}",
        "{.items[?(@.metadata.namespace==\"NS\")].metadata.uid}",
        "{.items[-1:].metadata.namespace}",
        "{..manager}",
        "{range .metadata.managedFields[*]}{.manager}:{.operation}{end}",
        "{$}",
        "{.metadata['name','namespace']}",
        "{.missing}",
    ];
    // Ours of one object and of a List, against kubectl's `get` of the same.
    let same_as_kubectl = |format: String| {
        let (mut kubectl_one, mut kubectl_list) = (one.to_vec(), list.to_vec());
        kubectl_one.extend(["-o", &format]);
        kubectl_list.extend(["-o", &format]);
        assert_eq!(
            ours(&["-n", &namespaces[0]], format.clone()),
            e2e.kubectl_ok(&kubectl_one),
            "one object: {format}"
        );
        assert_eq!(
            ours(&["--namespaces", &both], format.clone()),
            e2e.kubectl_ok(&kubectl_list),
            "a List: {format}"
        );
    };
    for template in templates {
        same_as_kubectl(format!(
            "jsonpath={}",
            template.replace("NS", &namespaces[1])
        ));
    }
    for spec in [
        "NAME:.metadata.name,NAMESPACE:.metadata.namespace,TYPE:.type",
        "N:metadata.name,L:{.metadata.labels},M:.metadata.managedFields[*].manager,X:.nope",
        "R:.metadata.annotations.kubectl-regcred/registries",
    ] {
        same_as_kubectl(format!("custom-columns={spec}"));
    }
}

/// `--force` over a Secret of another type deletes it and creates ours. When an admission
/// policy refuses ours, the old Secret is put back as it was, and the error says what failed,
/// that the restore worked, and which workloads reference the Secret.
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn a_failed_forced_replacement_restores_the_old_secret() {
    let e2e = E2e::new();
    let ns = e2e.namespace("restore");
    e2e.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "regcred",
        "-n",
        &ns,
        "--from-literal=a=b",
    ]);
    e2e.create_deployment(&ns, "web", "quay.io/team/web:1");
    e2e.kubectl_ok(&[
        "patch",
        "deployment",
        "web",
        "-n",
        &ns,
        "-p",
        r#"{"spec":{"template":{"spec":{"imagePullSecrets":[{"name":"regcred"}]}}}}"#,
    ]);
    // A real admission policy that refuses pull Secrets, in this namespace only.
    let policy = format!("regcred-e2e-{ns}");
    e2e.kubectl_apply(&format!(
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: {policy}}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {{apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["secrets"]}}
  validations:
  - {{expression: "object.type != 'kubernetes.io/dockerconfigjson'", message: "e2e policy: no pull secrets here"}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: {policy}}}
spec:
  policyName: {policy}
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {{kubernetes.io/metadata.name: {ns}}}
"#
    ));
    // The policy takes effect within a few seconds.
    let denied = (0..60).any(|_| {
        let probe = e2e.kubectl(&[
            "create",
            "secret",
            "docker-registry",
            "probe",
            "-n",
            &ns,
            "--docker-server=quay.io",
            "--docker-username=u",
            "--docker-password=p",
        ]);
        if probe.status.success() {
            e2e.kubectl_ok(&["delete", "secret", "probe", "-n", &ns]);
            std::thread::sleep(std::time::Duration::from_millis(500));
            false
        } else {
            true
        }
    });
    assert!(denied, "the admission policy never took effect");

    let out = e2e.create_explicit("regcred", "quay.io", "robot", "pw", &["-n", &ns, "--force"]);
    let stderr = text(&out.stderr);
    e2e.kubectl_ok(&["delete", "validatingadmissionpolicybinding", &policy]);
    e2e.kubectl_ok(&["delete", "validatingadmissionpolicy", &policy]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for expected in [
        "--force deleted it to create ours, and creating ours failed",
        "e2e policy: no pull secrets here",
        "The old Secret was restored as it was.",
        "It is referenced by deployment.apps/web.",
    ] {
        assert!(stderr.contains(expected), "{expected:?} missing:\n{stderr}");
    }
    let secret = e2e.get_json(&["secret", "regcred", "-n", &ns]);
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["data"]["a"], "Yg==");
}

/// `create NAME --server X` over our Secret adds X and keeps the registries it already held,
/// saying so; `--replace` makes it hold exactly this run's (docs/create.md).
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn create_adds_a_registry_and_keeps_the_others_unless_replace() {
    let e2e = E2e::new();
    let ns = e2e.namespace("merge");
    let registries = |e2e: &E2e| -> Vec<String> {
        let payload = e2e.payload(&ns, "regcred");
        payload["auths"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let out = e2e.create_explicit("regcred", "ghcr.io", "gh", "pw-gh\n", &["-n", &ns]);
    assert_eq!(
        text(&out.stdout),
        "secret/regcred created\n",
        "{}",
        text(&out.stderr)
    );
    let out = e2e.create_explicit("regcred", "quay.io", "robot", "pw-q\n", &["-n", &ns]);
    assert_eq!(text(&out.stdout), "secret/regcred configured\n");
    assert!(
        text(&out.stderr).contains("secret/regcred kept ghcr.io, which this run did not write"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(registries(&e2e), ["ghcr.io", "quay.io"]);
    assert_eq!(
        e2e.payload(&ns, "regcred")["auths"]["ghcr.io"]["password"],
        "pw-gh"
    );
    // Again: nothing to write.
    let out = e2e.create_explicit("regcred", "quay.io", "robot", "pw-q\n", &["-n", &ns]);
    assert_eq!(text(&out.stdout), "secret/regcred unchanged\n");
    // A rotation of one keeps the other.
    let out = e2e.create_explicit("regcred", "ghcr.io", "gh", "pw-gh2\n", &["-n", &ns]);
    assert_eq!(text(&out.stdout), "secret/regcred configured\n");
    assert_eq!(registries(&e2e), ["ghcr.io", "quay.io"]);
    assert_eq!(
        e2e.payload(&ns, "regcred")["auths"]["quay.io"]["password"],
        "pw-q"
    );
    // --replace: exactly this run's registries.
    let out = e2e.create_explicit(
        "regcred",
        "quay.io",
        "robot",
        "pw-q\n",
        &["-n", &ns, "--replace"],
    );
    assert_eq!(text(&out.stdout), "secret/regcred configured\n");
    assert!(!text(&out.stderr).contains("kept"), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "warning: secret/regcred no longer holds ghcr.io, which it held before this run"
        ),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(registries(&e2e), ["quay.io"]);
    // --force over somebody else's pull Secret: taken over whole, and said.
    e2e.kubectl_ok(&[
        "create",
        "secret",
        "docker-registry",
        "theirs",
        "-n",
        &ns,
        "--docker-server=docker.io",
        "--docker-username=them",
        "--docker-password=pw",
    ]);
    for (dry_run, said) in [
        ("--dry-run=client", "would no longer hold"),
        ("--dry-run=none", "no longer holds"),
    ] {
        let out = e2e.create_explicit(
            "theirs",
            "quay.io",
            "robot",
            "pw-q\n",
            &["-n", &ns, "--force", dry_run],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(&format!("secret/theirs {said} docker.io")),
            "{}",
            text(&out.stderr)
        );
    }
}

/// With no `--server`, `create` copies every login on this machine only into one namespace;
/// a fan-out must name its registries or say `--all-registries` (docs/create.md).
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn personal_logins_fan_out_only_when_asked() {
    let e2e = E2e::new();
    let a = e2e.namespace("fanout-a");
    let b = e2e.namespace("fanout-b");
    e2e.docker_config(
        r#"{"auths":{"quay.io":{"auth":"cm9ib3Q6cHc="},"ghcr.io":{"auth":"Z2g6cHc="}}}"#,
    );
    let both = format!("{a},{b}");
    let out = e2e.run(&["create", "mine", "--namespaces", &both]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("ghcr.io, quay.io"), "{stderr}");
    assert!(
        stderr.contains("--server ghcr.io --server quay.io"),
        "{stderr}"
    );
    assert!(stderr.contains("--all-registries"), "{stderr}");
    assert!(!e2e.secret_exists(&a, "mine") && !e2e.secret_exists(&b, "mine"));
    // The fix it names works as printed.
    e2e.regcred_ok(&[
        "create",
        "mine",
        "--namespaces",
        &both,
        "--server",
        "ghcr.io",
        "--server",
        "quay.io",
    ]);
    e2e.regcred_ok(&["create", "all", "--namespaces", &both, "--all-registries"]);
    assert!(e2e.secret_exists(&b, "all"));
    // One namespace of one's own is a fine default.
    e2e.regcred_ok(&["create", "own", "-n", &a]);
    assert_eq!(
        e2e.payload(&a, "own")["auths"].as_object().unwrap().len(),
        2
    );
}

/// `delete` detaches from a Deployment and leaves its ReplicaSets to it: their template comes
/// from the Deployment, which rewrites them.
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn delete_never_writes_to_a_replicaset_its_deployment_controls() {
    let e2e = E2e::new();
    let ns = e2e.namespace("owned");
    let out = e2e.create_explicit("regcred", "quay.io", "robot", "pw", &["-n", &ns]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    e2e.create_deployment(&ns, "web", "quay.io/team/web:1");
    e2e.regcred_ok(&["attach", "regcred", "deployment/web", "-n", &ns]);
    // The controller manager stamps the attached template into a ReplicaSet.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let sets = e2e.get_json(&["replicasets", "-n", &ns]);
        let attached =
            sets["items"].as_array().unwrap().iter().any(|rs| {
                rs["spec"]["template"]["spec"]["imagePullSecrets"][0]["name"] == "regcred"
            });
        if attached {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no ReplicaSet with the Secret: {sets}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let out = e2e.regcred_ok(&["delete", "regcred", "-n", &ns]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("deployment.apps/web detached"), "{stdout}");
    assert!(!stdout.contains("replicaset"), "{stdout}");
    assert!(
        !harness::secret_writes(&ns).is_empty(),
        "the audit log holds our writes"
    );
    let audit = std::fs::read_to_string(std::env::var("REGCRED_E2E_AUDIT_LOG").unwrap()).unwrap();
    let replicaset_writes: Vec<&str> = audit
        .lines()
        .filter(|line| line.contains(&format!("/namespaces/{ns}/replicasets/")))
        .filter(|line| line.contains("\"verb\":\"patch\"") || line.contains("\"verb\":\"update\""))
        .filter(|line| line.contains("fieldManager=kubectl-regcred"))
        .collect();
    assert_eq!(replicaset_writes, Vec::<&str>::new());
}

/// A closed stdout or stderr (`… 2>&1 | head -0`) never panics: the command does its work and
/// reports through its exit code, as kubectl does. The pipes here are closed before the
/// command starts, so every write to them fails.
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn closed_pipes_never_panic_and_the_work_is_done() {
    use std::io::Write;
    use std::process::Stdio;
    let e2e = E2e::new();
    let ns = e2e.namespace("pipes");
    let run = |name: &str, namespace: &str, close_stdout: bool, close_stderr: bool| {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut cmd = e2e.regcred_std(&[
            "create",
            name,
            "--server",
            "quay.io",
            "--username",
            "robot",
            "--password-stdin",
            "-n",
            namespace,
        ]);
        cmd.stdin(Stdio::piped());
        cmd.stdout(if close_stdout {
            Stdio::from(writer.try_clone().unwrap())
        } else {
            Stdio::null()
        });
        cmd.stderr(if close_stderr {
            Stdio::from(writer)
        } else {
            Stdio::null()
        });
        let mut child = cmd.spawn().unwrap();
        child.stdin.take().unwrap().write_all(b"pw\n").unwrap();
        child.wait().unwrap().code()
    };
    for (name, close_stdout, close_stderr) in [
        ("out", true, false),
        ("err", false, true),
        ("both", true, true),
    ] {
        assert_eq!(
            run(name, &ns, close_stdout, close_stderr),
            Some(0),
            "{name}"
        );
        assert!(e2e.secret_exists(&ns, name), "{name}: the work is done");
    }
    // A failure on a closed stderr is still exit 1, not a panic's 101.
    assert_eq!(run("gone", "no-such-namespace-here", true, true), Some(1));
}
