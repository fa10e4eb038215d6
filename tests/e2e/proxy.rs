//! Proxies between us and the API server, through a real HTTP CONNECT proxy (tinyproxy), with
//! kubectl on the same kubeconfig and environment as the oracle.

use std::path::PathBuf;
use std::process::Output;

use crate::harness::{E2e, HttpProxy, Registry, free_port, text};

/// A copy of the test kubeconfig in the test's HOME, with `kubectl config set` edits to the
/// cluster entry.
fn kubeconfig_with(e2e: &E2e, file: &str, edits: &[(&str, &str)]) -> PathBuf {
    let path = e2e.home.path().join(file);
    std::fs::copy(&e2e.kubeconfig, &path).unwrap();
    let path_arg = path.to_str().unwrap();
    let cluster = e2e.kubectl_ok(&[
        "config",
        "view",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].name}",
    ]);
    for (field, value) in edits {
        let property = format!("clusters.{cluster}.{field}");
        e2e.kubectl_ok(&["--kubeconfig", path_arg, "config", "set", &property, value]);
    }
    path
}

/// The API server's address with another host: `0.0.0.0` reaches the loopback listener on
/// Linux, but Go's proxy rules do not count it as loopback, so the environment's proxy applies.
fn server_on(e2e: &E2e, host: &str) -> String {
    let server = e2e.kubectl_ok(&[
        "config",
        "view",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ]);
    let port = server.rsplit(':').next().unwrap().to_string();
    format!("https://{host}:{port}")
}

/// Runs `program args` with the test environment plus `env`.
fn run_with(e2e: &E2e, program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = match program {
        "kubectl" => {
            let mut cmd = std::process::Command::new("kubectl");
            e2e.scrub(&mut cmd);
            cmd.args(args);
            cmd
        }
        _ => e2e.regcred_std(args),
    };
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

/// How many tunnels our command and kubectl each opened through `proxy`, and our output.
fn tunnels_of_both(
    e2e: &E2e,
    proxy: &HttpProxy,
    kubeconfig: &str,
    env: &[(&str, &str)],
) -> (usize, usize, Output) {
    proxy.clear();
    let ours = run_with(
        e2e,
        "regcred",
        &["--kubeconfig", kubeconfig, "list", "-A"],
        env,
    );
    let our_tunnels = proxy.tunnels().len();
    proxy.clear();
    let theirs = run_with(
        e2e,
        "kubectl",
        &["--kubeconfig", kubeconfig, "get", "namespaces"],
        env,
    );
    assert!(theirs.status.success(), "{}", text(&theirs.stderr));
    (our_tunnels, proxy.tunnels().len(), ours)
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn kubeconfig_proxy_url_carries_every_request_as_with_kubectl() {
    let e2e = E2e::new();
    let proxy = HttpProxy::start(None);
    let kubeconfig = kubeconfig_with(&e2e, "proxied", &[("proxy-url", &proxy.url)]);
    let kubeconfig = kubeconfig.to_str().unwrap();
    // client-go applies a kubeconfig proxy-url even to a loopback server and despite NO_PROXY.
    let (ours, kubectls, out) = tunnels_of_both(&e2e, &proxy, kubeconfig, &[("NO_PROXY", "*")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(kubectls > 0, "kubectl went through the proxy");
    assert!(ours > 0, "we went through the proxy as kubectl does");

    // A write goes the same way, and the tunnel leads to the API server.
    let ns = e2e.namespace("proxy");
    proxy.clear();
    let out = e2e
        .regcred(&[
            "--kubeconfig",
            kubeconfig,
            "create",
            "via-proxy",
            "-n",
            &ns,
            "--server",
            "quay.io",
            "--username",
            "robot",
            "--password-stdin",
        ])
        .write_stdin("pw\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let server = server_on(&e2e, "127.0.0.1");
    let authority = server.trim_start_matches("https://");
    assert!(
        proxy.tunnels().iter().any(|tunnel| tunnel == authority),
        "a tunnel to {authority} in {:?}",
        proxy.tunnels()
    );
    assert!(e2e.secret_exists(&ns, "via-proxy"));
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn environment_proxies_apply_as_kubectl_applies_them() {
    let e2e = E2e::new();
    let proxy = HttpProxy::start(None);
    let through_any = kubeconfig_with(
        &e2e,
        "any-address",
        &[
            ("server", &server_on(&e2e, "0.0.0.0")),
            ("insecure-skip-tls-verify", "true"),
        ],
    );
    let through_any = through_any.to_str().unwrap();
    let loopback = e2e.kubeconfig.to_str().unwrap();
    let https_proxy = ("HTTPS_PROXY", proxy.url.as_str());
    // (case, kubeconfig, environment, whether kubectl uses the proxy)
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, bool);
    let cases: Vec<Case> = vec![
        ("HTTPS_PROXY", through_any, vec![https_proxy], true),
        (
            "https_proxy",
            through_any,
            vec![("https_proxy", &proxy.url)],
            true,
        ),
        (
            "NO_PROXY names the host",
            through_any,
            vec![https_proxy, ("NO_PROXY", "example.com,0.0.0.0")],
            false,
        ),
        (
            "NO_PROXY=*",
            through_any,
            vec![https_proxy, ("NO_PROXY", "*")],
            false,
        ),
        ("a loopback server", loopback, vec![https_proxy], false),
    ];
    for (case, kubeconfig, env, proxied) in cases {
        let (ours, kubectls, out) = tunnels_of_both(&e2e, &proxy, kubeconfig, &env);
        assert!(out.status.success(), "{case}: {}", text(&out.stderr));
        assert_eq!(kubectls > 0, proxied, "{case}: kubectl, the oracle");
        assert_eq!(ours > 0, proxied, "{case}: we agree with kubectl");
    }
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn proxy_credentials_are_sent_and_never_shown() {
    let e2e = E2e::new();
    let proxy = HttpProxy::start(Some(("proxyuser", "S3CRET-proxy")));
    let with_password = |password: &str| {
        let url = proxy
            .url
            .replace("http://", &format!("http://proxyuser:{password}@"));
        kubeconfig_with(&e2e, password, &[("proxy-url", &url)])
    };
    let good = with_password("S3CRET-proxy");
    let out = e2e.run(&["--kubeconfig", good.to_str().unwrap(), "list", "-A"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!proxy.tunnels().is_empty());

    let bad = with_password("WRONG-S3CRET");
    let out = e2e.run(&["--kubeconfig", bad.to_str().unwrap(), "list", "-A"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.contains("through the proxy http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(!stderr.contains("WRONG-S3CRET"), "{stderr}");

    let unsupported = kubeconfig_with(&e2e, "ftp", &[("proxy-url", "ftp://u:S3CRET-ftp@proxy")]);
    let out = e2e.run(&["--kubeconfig", unsupported.to_str().unwrap(), "list", "-A"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("proxy-url") && stderr.contains("\"ftp\""),
        "{stderr}"
    );
    assert!(!stderr.contains("S3CRET"), "{stderr}");
}

/// `verify HOST --plain-http` as robot, with `env` added to the test environment.
fn verify_via(e2e: &E2e, host: &str, env: &[(&str, &str)]) -> Output {
    e2e.regcred(&[
        "verify",
        host,
        "--plain-http",
        "-u",
        "robot",
        "--password-stdin",
        "--timeout",
        "5s",
    ])
    .envs(env.iter().copied())
    .write_stdin("s3cret")
    .output()
    .unwrap()
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn registry_probes_take_the_proxy_the_api_client_would() {
    let e2e = E2e::new();
    let registry = Registry::start(Some(("robot", "s3cret")));
    let proxy = HttpProxy::start(Some(("proxyuser", "S3CRET-proxy")));
    let proxy_url = proxy
        .url
        .replace("http://", "http://proxyuser:S3CRET-proxy@");
    let port = registry.host.rsplit(':').next().unwrap();
    // 0.0.0.0 reaches the loopback registry, but is not loopback to Go: it is proxied.
    let routed = format!("0.0.0.0:{port}");

    let out = verify_via(&e2e, &routed, &[("HTTP_PROXY", &proxy_url)]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("VALID"), "{}", text(&out.stdout));
    let tunnels = proxy.tunnels();
    assert!(
        !tunnels.is_empty() && tunnels.iter().all(|tunnel| *tunnel == routed),
        "every request tunnelled to the registry: {tunnels:?}"
    );
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains("S3CRET") && !all.contains("s3cret"), "{all}");

    // NO_PROXY and loopback registries go direct, as with Go and kubectl.
    for (host, no_proxy) in [(routed.as_str(), "0.0.0.0"), (registry.host.as_str(), "")] {
        proxy.clear();
        let out = verify_via(
            &e2e,
            host,
            &[("HTTP_PROXY", &proxy_url), ("NO_PROXY", no_proxy)],
        );
        assert!(out.status.success(), "{host}: {}", text(&out.stdout));
        assert!(proxy.tunnels().is_empty(), "{host}: {:?}", proxy.tunnels());
    }

    // A socks5 proxy is used, not skipped: nothing listens there, so the registry is not
    // reached, and the verdict names the proxy.
    let dead_socks = format!("socks5://127.0.0.1:{}", free_port());
    let out = verify_via(&e2e, &routed, &[("HTTP_PROXY", &dead_socks)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let table = text(&out.stdout);
    assert!(
        table.contains("UNREACHABLE") && table.contains(&format!("through the proxy {dead_socks}")),
        "{table}"
    );

    // A scheme neither Go nor we support is refused before any request, never bypassed.
    for variable in ["HTTP_PROXY", "HTTPS_PROXY"] {
        let out = verify_via(&e2e, &routed, &[(variable, "ftp://u:S3CRET-ftp@proxy")]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
        let stderr = text(&out.stderr);
        assert!(
            stderr.starts_with("error: ")
                && stderr.contains(variable)
                && stderr.contains("\"ftp\""),
            "{stderr}"
        );
        assert!(!stderr.contains("S3CRET") && !text(&out.stdout).contains("VALID"));
        // `check --probe` refuses it too, before reading anything.
        let out = e2e
            .regcred(&["check", "-n", "default", "--probe"])
            .env(variable, "ftp://u:S3CRET-ftp@proxy")
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(variable),
            "{stderr}"
        );
        assert!(!stderr.contains("S3CRET"), "{stderr}");
    }
}

/// A `tokenFile` written with `echo $TOKEN > file` ends in a newline; kubectl trims it, and so
/// do we (kube alone sent it and every request failed).
#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn a_token_file_ending_in_a_newline_works_as_with_kubectl() {
    let e2e = E2e::new();
    let token = e2e.kubectl_ok(&[
        "config",
        "view",
        "--raw",
        "--minify",
        "-o",
        "jsonpath={.users[0].user.token}",
    ]);
    assert!(!token.is_empty(), "the test kubeconfig uses a token");
    let file = e2e.home.path().join("token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let user = e2e.kubectl_ok(&[
        "config",
        "view",
        "--minify",
        "-o",
        "jsonpath={.users[0].name}",
    ]);
    let kubeconfig = e2e.home.path().join("token-file-kubeconfig");
    std::fs::copy(&e2e.kubeconfig, &kubeconfig).unwrap();
    let path = kubeconfig.to_str().unwrap();
    let token_field = format!("users.{user}.token");
    e2e.kubectl_ok(&["--kubeconfig", path, "config", "unset", &token_field]);
    let file_field = format!("users.{user}.tokenFile");
    e2e.kubectl_ok(&[
        "--kubeconfig",
        path,
        "config",
        "set",
        &file_field,
        file.to_str().unwrap(),
    ]);
    let theirs = run_with(
        &e2e,
        "kubectl",
        &["--kubeconfig", path, "get", "ns", "default"],
        &[],
    );
    assert!(theirs.status.success(), "kubectl: {}", text(&theirs.stderr));
    let ours = run_with(
        &e2e,
        "regcred",
        &["--kubeconfig", path, "list", "-n", "default"],
        &[],
    );
    assert!(ours.status.success(), "{}", text(&ours.stderr));
}
