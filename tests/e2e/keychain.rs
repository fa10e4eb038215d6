//! The OS keychain and credential-helper mode against real peers: gnome-keyring (a real
//! Secret Service), the Debian docker-credential-secretservice, skopeo and a real registry.

use crate::harness::{E2e, Registry, text, tiny_image};

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn login_logins_create_from_keychain_and_logout() {
    let e2e = E2e::new();
    let ns = e2e.namespace("keychain");
    let out = e2e.in_keyring_session(&format!(
        r#"echo "robot-token" | $REGCRED login quay.io -u robot --password-stdin --no-verify || exit 10
printf 'hubpw' | $REGCRED login docker.io -u hubuser --password-stdin --no-verify || exit 11
$REGCRED logins || exit 12
$REGCRED create kcred --from keychain -n {ns} || exit 13
$REGCRED logout quay.io || exit 14
$REGCRED logins -o json > "$HOME/logins.json" || exit 15
$REGCRED logout quay.io && exit 16
exit 0"#
    ));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status.code()
    );
    assert!(
        stdout.contains("Login for quay.io (user robot) stored in the OS keychain"),
        "{stdout}"
    );
    assert!(
        stdout.contains("SERVER      USERNAME\ndocker.io   hubuser\nquay.io     robot\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&"secret/kcred created".to_string()),
        "{stdout}"
    );
    assert!(
        stderr.contains("using quay.io from the OS keychain (kubectl-regcred)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: no login for quay.io in the OS keychain"),
        "{stderr}"
    );
    assert!(!stdout.contains("robot-token") && !stderr.contains("robot-token"));
    let payload = e2e.payload(&ns, "kcred");
    assert_eq!(payload["auths"]["quay.io"]["password"], "robot-token");
    assert_eq!(
        payload["auths"]["https://index.docker.io/v1/"]["username"],
        "hubuser"
    );
    let logins: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(e2e.home.path().join("logins.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        logins["items"].as_array().unwrap().len(),
        1,
        "only docker.io is left: {logins}"
    );
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn without_a_secret_service_errors_are_clear_and_other_sources_still_work() {
    let e2e = E2e::new();
    let run = |args: &[&str]| {
        // The scrubbed environment has no D-Bus session, so no Secret Service.
        e2e.regcred(args).write_stdin("pw").output().unwrap()
    };
    for args in [
        vec![
            "login",
            "quay.io",
            "-u",
            "robot",
            "--password-stdin",
            "--no-verify",
        ],
        vec!["logins"],
        vec!["create", "x", "--from", "keychain", "--dry-run=client"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("error: no OS keychain is available")
                && stderr.contains("dbus-run-session"),
            "{args:?}: {stderr}"
        );
    }
    // The keychain is optional by default: explicit credentials still work.
    let out = run(&[
        "create",
        "x",
        "--server",
        "quay.io",
        "--username",
        "u",
        "--password-stdin",
        "--dry-run=client",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // No D-Bus session at all: the scrubbed environment has none.
    let mut helper = std::process::Command::new(e2e.helper_bin().join("docker-credential-regcred"));
    e2e.scrub(&mut helper);
    let out = helper.arg("list").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("no OS keychain is available"),
        "helper errors go to stdout"
    );
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn a_locked_keyring_is_named_and_nothing_is_half_written() {
    let e2e = E2e::new();
    // gnome-keyring running, but never unlocked: there is no usable login collection.
    let out = e2e.in_dbus_session(
        "gnome-keyring-daemon --start --components=secrets >/dev/null 2>&1",
        r#"echo pw | timeout 20 $REGCRED login quay.io -u robot --password-stdin --no-verify; echo "login=$?"
echo quay.io | timeout 20 docker-credential-regcred get; echo "get=$?"
timeout 20 $REGCRED logins; echo "logins=$?""#,
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(stdout.contains("login=1"), "{stdout}{stderr}");
    assert!(
        stderr.contains("error: the keychain is locked or access was denied")
            && stderr.contains("Unlock it"),
        "{stderr}"
    );
    assert!(
        stdout.contains("credentials not found in native keychain") && stdout.contains("get=1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("logins=0") && stderr.contains("No logins in the OS keychain."),
        "{stdout}{stderr}"
    );
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn protocol_matches_docker_credential_secretservice() {
    let e2e = E2e::new();
    // Each case runs against both helpers in the same keyring session; stdout and the exit
    // code must be the same (the usage line differs only by the helper's name).
    let cases: &[(&str, &str)] = &[
        (
            "store",
            r#"{"ServerURL":"reg.example.com:5000","Username":"robot","Secret":"s3:cret"}"#,
        ),
        ("get", "reg.example.com:5000"),
        ("get", "  reg.example.com:5000\n"),
        (
            "store",
            r#"{"ServerURL":"https://idp.example.com","Username":"<token>","Secret":"refresh&token"}"#,
        ),
        ("get", "https://idp.example.com"),
        ("list", ""),
        ("get", "absent.example.com"),
        ("erase", "reg.example.com:5000"),
        ("get", "reg.example.com:5000"),
        ("erase", "absent.example.com"),
        ("get", ""),
        ("erase", ""),
        ("store", ""),
        ("store", "not json"),
        ("store", "tru"),
        ("store", "[1]"),
        ("store", "null"),
        (
            "store",
            r#"{"serverurl":"case.example.com","USERNAME":"u","secret":"s","extra":1}"#,
        ),
        ("get", "case.example.com"),
        ("store", r#"{"ServerURL":7}"#),
        ("store", r#"{"ServerURL":"#),
        ("store", r#"{"Username":"u","Secret":"s"}"#),
        ("store", r#"{"ServerURL":"x.example.com","Secret":"s"}"#),
        ("fetch", ""),
        ("", ""),
    ];
    let mut script = String::new();
    for (i, (action, input)) in cases.iter().enumerate() {
        let input_file = e2e.home.path().join(format!("in-{i}"));
        std::fs::write(&input_file, input).unwrap();
        for helper in ["secretservice", "regcred"] {
            let args = if action.is_empty() {
                String::new()
            } else {
                format!(" {action}")
            };
            script.push_str(&format!(
                "docker-credential-{helper}{args} < {input} > {out} 2>/dev/null; echo $? > {code}\n",
                input = input_file.display(),
                out = e2e.home.path().join(format!("{helper}-{i}.out")).display(),
                code = e2e.home.path().join(format!("{helper}-{i}.code")).display(),
            ));
        }
    }
    let out = e2e.in_keyring_session(&script);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let read = |helper: &str, i: usize, ext: &str| {
        std::fs::read_to_string(e2e.home.path().join(format!("{helper}-{i}.{ext}"))).unwrap()
    };
    for (i, (action, input)) in cases.iter().enumerate() {
        let theirs = read("secretservice", i, "out").replace(
            "docker-credential-secretservice",
            "docker-credential-regcred",
        );
        let ours = read("regcred", i, "out");
        assert_eq!(ours, theirs, "stdout for `{action}` with {input:?}");
        assert_eq!(
            read("regcred", i, "code"),
            read("secretservice", i, "code"),
            "exit code for `{action}` with {input:?}"
        );
    }
    // Spot-check that the comparison saw real answers, not two identical failures.
    assert_eq!(
        read("regcred", 1, "out"),
        "{\"ServerURL\":\"reg.example.com:5000\",\"Username\":\"robot\",\"Secret\":\"s3:cret\"}\n"
    );
    assert!(
        read("regcred", 4, "out").contains("\\u003ctoken\\u003e")
            && read("regcred", 4, "out").contains("refresh\\u0026token")
    );
    assert_eq!(
        read("regcred", 6, "out"),
        "credentials not found in native keychain\n"
    );
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn skopeo_logs_in_and_pulls_through_our_helper() {
    let e2e = E2e::new();
    let registry = Registry::start(Some(("robot", "registry-pw")));
    let auth_file = e2e.home.path().join("auth.json");
    std::fs::write(
        &auth_file,
        format!(r#"{{"credHelpers":{{"{}":"regcred"}}}}"#, registry.host),
    )
    .unwrap();
    let image = tiny_image(e2e.home.path());
    let reference = format!("docker://{}/team/app:1", registry.host);
    let out = e2e.in_keyring_session(&format!(
        r#"A={auth}
printf 'registry-pw\n' | skopeo login --authfile $A --tls-verify=false -u robot --password-stdin {host} || exit 20
docker-credential-regcred list || exit 21
skopeo copy --authfile $A --dest-tls-verify=false dir:{image} {reference} >/dev/null || exit 22
skopeo inspect --authfile $A --tls-verify=false {reference} >/dev/null || exit 23
$REGCRED logins || exit 24
skopeo logout --authfile $A {host} || exit 25
skopeo inspect --authfile $A --tls-verify=false {reference} 2>&1 && exit 26
exit 0"#,
        auth = auth_file.display(),
        host = registry.host,
        image = image.display(),
    ));
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status.code(),
        text(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("\"{}\":\"robot\"", registry.host)),
        "skopeo stored through us: {stdout}"
    );
    assert!(
        stdout.contains(&format!("{}   robot", registry.host)),
        "{stdout}"
    );
    let lower = stdout.to_ascii_lowercase();
    assert!(
        lower.contains("unauthorized") || lower.contains("authentication required"),
        "after logout: {stdout}"
    );
}

/// The index of logins lives under a reserved name: a client storing and erasing a login
/// for a "server" spelled like that name must not wipe every other login.
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn a_server_named_like_the_index_cannot_wipe_it() {
    let e2e = E2e::new();
    let out = e2e.in_keyring_session(
        r#"echo "robot-token" | $REGCRED login quay.io -u robot --password-stdin --no-verify >/dev/null || exit 10
printf '{"ServerURL":"kubectl-regcred index","Username":"x","Secret":"y"}' | docker-credential-regcred store || exit 11
printf 'kubectl-regcred index' | docker-credential-regcred erase || exit 12
$REGCRED logins -o json || exit 13
exit 0"#,
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status.code(),
        text(&out.stderr)
    );
    let logins: serde_json::Value = serde_json::from_str(&stdout).expect(&stdout);
    let servers: Vec<&str> = logins["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|login| login["server"].as_str())
        .collect();
    assert_eq!(servers, ["quay.io"], "{stdout}");
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn login_verifies_with_the_registry_before_storing() {
    let e2e = E2e::new();
    let registry = Registry::start(Some(("robot", "s3cret")));
    let host = &registry.host;
    let out = e2e.in_keyring_session(&format!(
        r#"echo wrong | $REGCRED login {host} -u robot --password-stdin; echo "bad=$?"
$REGCRED logins -o json > "$HOME/after-bad.json" || exit 10
echo s3cret | $REGCRED login {host} -u robot --password-stdin || exit 11
$REGCRED logins || exit 12"#
    ));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("bad=1"), "{stdout}");
    assert!(
        stderr.contains("error: the login was not stored")
            && stderr.contains("BAD-CREDENTIALS")
            && stderr.contains(host.as_str()),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong") && !stderr.contains("s3cret"),
        "{stderr}"
    );
    let after_bad: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(e2e.home.path().join("after-bad.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        after_bad["items"],
        serde_json::json!([]),
        "a refused login was stored"
    );
    assert!(
        stdout.contains(&format!("Login for {host} (user robot) stored")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("{host}   robot")), "{stdout}");
}
