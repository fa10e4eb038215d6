//! `verify` against real registries: Debian's docker-registry with htpasswd behind TLS, and
//! in token mode behind tests/e2e/token_server.py. skopeo, a real client, is the ground truth:
//! for every case it reads the same login from the decoded `.dockerconfigjson` of a Secret we
//! created, and must agree with our verdict.

use base64::Engine;
use serde_json::Value;

use crate::harness::{E2e, Registry, RegistryAuth, free_port, text};

/// Whether skopeo can read `image` with the logins of Secret `ns/name` as its auth file.
fn skopeo_pulls_with_secret(
    e2e: &E2e,
    registry: &Registry,
    ns: &str,
    name: &str,
    image: &str,
) -> bool {
    let payload = e2e.payload(ns, name);
    let authfile = e2e.home.path().join(format!("auth-{name}.json"));
    std::fs::write(&authfile, payload.to_string()).unwrap();
    let args = [
        "inspect".to_string(),
        format!("--authfile={}", authfile.display()),
        registry.skopeo_tls(""),
        format!("docker://{image}"),
    ];
    e2e.skopeo(&args).status.success()
}

/// `verify secret/NAME -n NS [extra]` as JSON: the exit code and each row's verdict.
fn verify_secret(e2e: &E2e, ns: &str, name: &str, extra: &[&str]) -> (i32, Vec<Value>) {
    let secret = format!("secret/{name}");
    let mut args = vec!["verify", &secret, "-n", ns, "-o", "json"];
    args.extend_from_slice(extra);
    let out = e2e.run(&args);
    let document: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "verify {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    (
        out.status.code().unwrap(),
        document["items"].as_array().unwrap().clone(),
    )
}

fn verdicts(rows: &[Value]) -> Vec<&str> {
    rows.iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect()
}

/// A JWT (unsigned: only its `exp` matters here) that expired a minute ago, or expires in an hour.
fn jwt(expired: bool) -> String {
    let encode = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let exp = if expired { now - 60 } else { now + 3600 };
    format!(
        "{}.{}.c2lnbmF0dXJl",
        encode(serde_json::json!({"alg": "RS256", "typ": "JWT"})),
        encode(serde_json::json!({"sub": "robot", "exp": exp}))
    )
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn basic_auth_over_tls_gives_valid_bad_credentials_unreachable_and_tls() {
    let e2e = E2e::new();
    let registry = Registry::start_with(RegistryAuth::Htpasswd("robot", "s3cret"), true);
    let ca = registry.ca.clone().unwrap();
    let ca = ca.to_str().unwrap();
    let image = format!("{}/team/app:1", registry.host);
    registry.push(&e2e, &image, "robot", "s3cret");
    let ns = e2e.namespace("verify-basic");
    for (name, password) in [("good", "s3cret"), ("bad", "wrong")] {
        let out = e2e.create_explicit(name, &registry.host, "robot", password, &["-n", &ns]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    let (code, rows) = verify_secret(&e2e, &ns, "good", &["--ca-file", ca]);
    assert_eq!((code, verdicts(&rows)), (0, vec!["VALID"]), "{rows:?}");
    assert!(skopeo_pulls_with_secret(
        &e2e, &registry, &ns, "good", &image
    ));
    let (code, rows) = verify_secret(&e2e, &ns, "good", &["--ca-file", ca, "--image", &image]);
    assert_eq!((code, verdicts(&rows)), (0, vec!["VALID"]), "{rows:?}");

    let (code, rows) = verify_secret(&e2e, &ns, "bad", &["--ca-file", ca]);
    assert_eq!(
        (code, verdicts(&rows)),
        (1, vec!["BAD-CREDENTIALS"]),
        "{rows:?}"
    );
    assert!(!skopeo_pulls_with_secret(
        &e2e, &registry, &ns, "bad", &image
    ));

    // Without the CA, the certificate is not trusted: TLS, and skopeo refuses too.
    let (code, rows) = verify_secret(&e2e, &ns, "good", &[]);
    assert_eq!((code, verdicts(&rows)), (1, vec!["TLS"]), "{rows:?}");
    assert!(
        rows[0]["reason"].as_str().unwrap().contains("not trusted"),
        "{rows:?}"
    );
    let args = [
        "inspect".to_string(),
        "--creds=robot:s3cret".to_string(),
        format!("docker://{image}"),
    ];
    assert!(!e2e.skopeo(&args).status.success());
    // Asked for, the check can be skipped; and --plain-http speaks http to a TLS port, which
    // no registry answers there.
    let (code, rows) = verify_secret(&e2e, &ns, "good", &["--insecure-skip-tls-verify"]);
    assert_eq!((code, verdicts(&rows)), (0, vec!["VALID"]), "{rows:?}");
    let (code, rows) = verify_secret(&e2e, &ns, "good", &["--plain-http"]);
    assert_eq!(code, 1, "{rows:?}");
    assert_ne!(verdicts(&rows), vec!["VALID"], "{rows:?}");

    // Nothing listens: UNREACHABLE, named.
    let closed = format!("127.0.0.1:{}", free_port());
    let out = e2e
        .regcred(&[
            "verify",
            &closed,
            "-u",
            "robot",
            "--password-stdin",
            "--timeout",
            "3s",
        ])
        .write_stdin("s3cret")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let table = text(&out.stdout);
    assert!(
        table.contains("UNREACHABLE") && table.contains(&closed),
        "{table}"
    );
    // No password in any output.
    assert!(!text(&out.stdout).contains("s3cret") && !text(&out.stderr).contains("s3cret"));
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn token_auth_proves_pull_rights_that_a_login_alone_does_not() {
    let e2e = E2e::new();
    let registry = Registry::start_with(RegistryAuth::Token, false);
    let image = format!("{}/team/app:1", registry.host);
    registry.push(&e2e, &image, "pusher", "push-pw");
    let ns = e2e.namespace("verify-token");
    let fresh = jwt(false);
    let expired = jwt(true);
    let logins = [
        ("puller", "puller", "pull-pw", "VALID", true),
        ("other", "other", "other-pw", "NO-PULL-ACCESS", false),
        (
            "wrong",
            "puller",
            "not-the-password",
            "BAD-CREDENTIALS",
            false,
        ),
        ("fresh", "robot", fresh.as_str(), "VALID", true),
        ("expired", "robot", expired.as_str(), "EXPIRED", false),
    ];
    for (name, user, password, _, _) in logins {
        // The expired token is written on purpose (create refuses it otherwise).
        let out = e2e.create_explicit(
            name,
            &registry.host,
            user,
            password,
            &["-n", &ns, "--allow-expired"],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    for (name, _, password, expected, pulls) in logins {
        let (code, rows) = verify_secret(&e2e, &ns, name, &["--image", &image]);
        assert_eq!(verdicts(&rows), vec![expected], "{name}: {rows:?}");
        assert_eq!(code, if expected == "VALID" { 0 } else { 1 }, "{name}");
        // The ground truth: a real client with the Secret's own payload.
        assert_eq!(
            skopeo_pulls_with_secret(&e2e, &registry, &ns, name, &image),
            pulls,
            "skopeo disagrees for {name}"
        );
        let printed = rows[0].to_string();
        assert!(
            !printed.contains(password),
            "{name}: the password was printed"
        );
        // The realm is on another host (port) than the registry: the verdict names it.
        if expected != "EXPIRED" {
            let service = rows[0]["tokenService"].as_str().unwrap_or_default();
            assert!(
                service.starts_with("127.0.0.1:") && service != registry.host,
                "{name}: {rows:?}"
            );
        }
    }
    // A login-only check cannot see that `other` may pull nothing: the server grants it an
    // empty scope rather than an error, as the spec says it must.
    let (code, rows) = verify_secret(&e2e, &ns, "other", &[]);
    assert_eq!((code, verdicts(&rows)), (0, vec!["VALID"]), "{rows:?}");
    // An image the login may pull that does not exist is NOT-FOUND, not a bad login.
    let missing = format!("{}/team/app:missing", registry.host);
    let (_, rows) = verify_secret(&e2e, &ns, "puller", &["--image", &missing]);
    assert_eq!(verdicts(&rows), vec!["NOT-FOUND"], "{rows:?}");
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn create_verify_writes_nothing_unless_every_login_is_valid() {
    let e2e = E2e::new();
    let registry = Registry::start_with(RegistryAuth::Htpasswd("robot", "s3cret"), false);
    let ns = e2e.namespace("verify-create");
    let out = e2e.create_explicit(
        "refused",
        &registry.host,
        "robot",
        "wrong",
        &["-n", &ns, "--verify"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("BAD-CREDENTIALS") && stderr.contains(&registry.host),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong"), "{stderr}");
    assert!(
        !e2e.secret_exists(&ns, "refused"),
        "a refused login was written"
    );
    let out = e2e.create_explicit(
        "accepted",
        &registry.host,
        "robot",
        "s3cret",
        &["-n", &ns, "--verify"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(e2e.secret_exists(&ns, "accepted"));
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn check_probe_asks_the_registry_with_the_referenced_credentials() {
    let e2e = E2e::new();
    let registry = Registry::start(Some(("robot", "s3cret")));
    let image = format!("{}/team/app:1", registry.host);
    registry.push(&e2e, &image, "robot", "s3cret");
    let ns = e2e.namespace("verify-check");
    for (name, password) in [("stale", "old-password"), ("current", "s3cret")] {
        let out = e2e.create_explicit(name, &registry.host, "robot", password, &["-n", &ns]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        e2e.deployment(
            &ns,
            &format!("web-{name}"),
            serde_json::json!({
                "imagePullSecrets": [{"name": name}],
                "containers": [{"name": "app", "image": image}],
            }),
        );
    }
    let check = |target: &str, extra: &[&str]| {
        let mut args = vec!["check", target, "-n", &ns];
        args.extend_from_slice(extra);
        e2e.run(&args)
    };
    // Without --probe nothing is asked: the credential matches, so it looks fine.
    let out = check("deployment/web-stale", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // With it, the registry refuses the stale password: BAD-CREDENTIALS with the fix.
    let out = check("deployment/web-stale", &["--probe", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let found = &report["items"][0]["images"][0];
    assert_eq!(found["verdict"], "BAD-CREDENTIALS", "{report}");
    assert!(
        found["fix"]["command"]
            .as_str()
            .unwrap()
            .contains("kubectl regcred"),
        "{report}"
    );
    let out = check("deployment/web-stale", &["--probe"]);
    let printed = text(&out.stdout);
    assert!(
        printed.contains("BAD-CREDENTIALS") && printed.contains("fix:"),
        "{printed}"
    );
    assert!(!printed.contains("old-password"), "{printed}");
    // The current password is accepted for that image.
    let out = check("deployment/web-current", &["--probe", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["items"][0]["images"][0]["verdict"], "OK", "{report}");
}

/// A Pod running from a node's cache whose Secret's password was rotated at the registry:
/// `check --probe` says NEXT-PULL-FAILS (the running Pod is fine, its next pull is not), and
/// rotating the Secret in place (same uid, so the kubelet's pull records stay valid) makes
/// it OK (docs/check.md, "Running now, failing on the next pull").
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn a_running_pod_whose_credential_was_rotated_away_fails_its_next_pull() {
    let e2e = E2e::new();
    // The registry's password is the new one; the Secret still holds the old.
    let registry = Registry::start(Some(("robot", "new-password")));
    let image = format!("{}/team/app:1", registry.host);
    registry.push(&e2e, &image, "robot", "new-password");
    let ns = e2e.namespace("nextpull");
    let out = e2e.create_explicit(
        "regcred",
        &registry.host,
        "robot",
        "old-password",
        &["-n", &ns],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let uid = e2e.get_json(&["secret", "regcred", "-n", &ns])["metadata"]["uid"].clone();
    e2e.deployment(
        &ns,
        "web",
        serde_json::json!({
            "imagePullSecrets": [{"name": "regcred"}],
            "containers": [{"name": "app", "image": image}],
        }),
    );
    // The test cluster has no nodes: the Pod is made Running through its status, as a
    // kubelet would report it after pulling with the old password.
    let pod = e2e.wait_for_pod(&ns, "web");
    e2e.kubectl_ok(&[
        "patch",
        "pod",
        &pod,
        "-n",
        &ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Running"}}"#,
    ]);
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "deployment/web", "-n", &ns, "--probe"];
        args.extend_from_slice(extra);
        e2e.run(&args)
    };
    let out = check(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let found = &report["items"][0]["images"][0];
    assert_eq!(found["verdict"], "NEXT-PULL-FAILS", "{report}");
    assert_eq!(found["because"]["verdict"], "BAD-CREDENTIALS", "{report}");
    assert_eq!(found["pods"], serde_json::json!([pod]), "{report}");
    let printed = text(&check(&[]).stdout);
    assert!(
        printed.contains("NEXT-PULL-FAILS")
            && printed.contains("the next pull will fail")
            && printed.contains("fix:"),
        "{printed}"
    );
    assert!(!printed.contains("old-password"), "{printed}");
    // A Pod made before its template named the Secret runs without it: its cached image says
    // nothing about this Secret, so the template's verdict stays BAD-CREDENTIALS.
    e2e.deployment(
        &ns,
        "older",
        serde_json::json!({"containers": [{"name": "app", "image": image}]}),
    );
    let older = e2e.wait_for_pod(&ns, "older");
    e2e.kubectl_ok(&[
        "patch",
        "pod",
        &older,
        "-n",
        &ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Running"}}"#,
    ]);
    e2e.kubectl_ok(&[
        "patch",
        "deployment",
        "older",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"template":{"spec":{"imagePullSecrets":[{"name":"regcred"}]}}}}"#,
    ]);
    let out = e2e.run(&[
        "check",
        "deployment/older",
        "-n",
        &ns,
        "--probe",
        "-o",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["items"][0]["images"][0]["verdict"], "BAD-CREDENTIALS",
        "{report}"
    );
    // Rotated in place: the same Secret (uid) with the new password.
    let out = e2e.create_explicit(
        "regcred",
        &registry.host,
        "robot",
        "new-password",
        &["-n", &ns],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        e2e.get_json(&["secret", "regcred", "-n", &ns])["metadata"]["uid"],
        uid
    );
    let out = check(&["-o", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["items"][0]["images"][0]["verdict"], "OK", "{report}");
    assert_eq!(out.status.code(), Some(0), "{report}");
}
