//! Shared pieces for the end-to-end tests: the kubeconfig that `tests/e2e/cluster.sh up`
//! wrote, unique namespaces per test, and the real kubectl for setup and checks.

use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::Command;
use base64::Engine;

/// The cluster the e2e runner started. Panics (fails, never skips) when it is missing.
pub struct E2e {
    pub kubeconfig: PathBuf,
    pub home: tempfile::TempDir,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl E2e {
    pub fn new() -> Self {
        let kubeconfig = std::env::var_os("REGCRED_E2E_KUBECONFIG")
            .map(PathBuf::from)
            .expect(
                "REGCRED_E2E_KUBECONFIG is not set: run the e2e suite through tests/e2e/run.sh",
            );
        Self {
            kubeconfig,
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// The Kubernetes version the runner started (`tests/e2e/cluster.sh up DIR VERSION`).
    pub fn kube_minor(&self) -> u32 {
        let version = std::env::var("REGCRED_E2E_KUBE_VERSION")
            .expect("REGCRED_E2E_KUBE_VERSION is not set: run through tests/e2e/run.sh");
        version
            .split('.')
            .nth(1)
            .and_then(|minor| minor.parse().ok())
            .unwrap_or_else(|| panic!("bad REGCRED_E2E_KUBE_VERSION {version:?}"))
    }

    /// CronJobs are batch/v1 since 1.21; batch/v1beta1 was removed in 1.25.
    pub fn cronjob_api_version(&self) -> &'static str {
        if self.kube_minor() >= 21 {
            "batch/v1"
        } else {
            "batch/v1beta1"
        }
    }

    /// A fresh namespace, unique to this test run.
    pub fn namespace(&self, prefix: &str) -> String {
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        self.kubectl_ok(&["create", "namespace", &name]);
        name
    }

    /// Our binary, pointed at the test cluster, with a clean HOME and none of the caller's
    /// registry variables.
    pub fn regcred(&self, args: &[&str]) -> Command {
        Command::from_std(self.regcred_std(args))
    }

    pub fn regcred_std(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("kubectl-regcred"));
        self.scrub(&mut cmd);
        cmd.args(args);
        cmd
    }

    /// Runs our binary to the end and returns what it printed and how it exited.
    pub fn run(&self, args: &[&str]) -> Output {
        self.regcred(args).output().unwrap()
    }

    /// Runs our binary, fails the test (showing stderr) unless it succeeded, and returns its
    /// output.
    pub fn regcred_ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl-regcred {args:?} failed: {}",
            text(&out.stderr)
        );
        out
    }

    /// The environment every process a test starts gets, as the CLI harness gives it: the
    /// test cluster, a private HOME and runtime directory, and none of the caller's registry,
    /// keychain (D-Bus) or kubectl-plugin variables, so a developer's own logins cannot leak in.
    pub fn scrub(&self, cmd: &mut std::process::Command) {
        for var in [
            "DOCKER_CONFIG",
            "DOCKER_AUTH_CONFIG",
            "REGISTRY_AUTH_FILE",
            "XDG_CONFIG_HOME",
            "KUBECTL_PATH",
            "DBUS_SESSION_BUS_ADDRESS",
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            cmd.env_remove(var);
        }
        let runtime = self.home.path().join("run");
        std::fs::create_dir_all(&runtime).unwrap();
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.home.path())
            .env("XDG_RUNTIME_DIR", runtime);
    }

    /// `create NAME --server S --username U --password-stdin` with extra args.
    pub fn create_explicit(
        &self,
        name: &str,
        server: &str,
        user: &str,
        password: &str,
        extra: &[&str],
    ) -> Output {
        let mut args = vec![
            "create",
            name,
            "--server",
            server,
            "--username",
            user,
            "--password-stdin",
        ];
        args.extend_from_slice(extra);
        self.regcred(&args).write_stdin(password).output().unwrap()
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        let mut cmd = std::process::Command::new("kubectl");
        self.scrub(&mut cmd);
        cmd.args(args).output().expect("kubectl runs")
    }

    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `kubectl create deployment NAME --image=IMAGE -n NS`.
    pub fn create_deployment(&self, ns: &str, name: &str, image: &str) {
        self.kubectl_ok(&[
            "create",
            "deployment",
            name,
            "-n",
            ns,
            &format!("--image={image}"),
        ]);
    }

    /// kubectl with `input` on stdin.
    pub fn kubectl_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        use std::process::Stdio;
        let mut cmd = std::process::Command::new("kubectl");
        self.scrub(&mut cmd);
        let mut child = cmd
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    pub fn kubectl_apply(&self, yaml: &str) {
        let out = self.kubectl_stdin(&["apply", "-f", "-"], yaml.as_bytes());
        assert!(
            out.status.success(),
            "kubectl apply failed for:\n{yaml}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn get_json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["get"];
        full.extend_from_slice(args);
        full.extend(["-o", "json"]);
        serde_json::from_str(&self.kubectl_ok(&full)).unwrap()
    }

    /// The decoded `.dockerconfigjson` of a Secret in the cluster.
    pub fn payload(&self, ns: &str, name: &str) -> serde_json::Value {
        let secret = self.get_json(&["secret", name, "-n", ns]);
        let encoded = secret["data"][".dockerconfigjson"].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    pub fn secret_exists(&self, ns: &str, name: &str) -> bool {
        self.kubectl(&["get", "secret", name, "-n", ns])
            .status
            .success()
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Secret writes (create, update, patch, delete) in `namespace` that the API server's audit
/// log holds, by anyone but kubectl: what our binary wrote there.
pub fn secret_writes(namespace: &str) -> Vec<String> {
    let path =
        std::env::var("REGCRED_E2E_AUDIT_LOG").expect("the e2e runner exports the audit log");
    let audit = std::fs::read_to_string(path).unwrap();
    audit
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["objectRef"]["resource"] == "secrets")
        .filter(|event| event["objectRef"]["namespace"] == namespace)
        .filter(|event| {
            !event["userAgent"]
                .as_str()
                .unwrap_or_default()
                .starts_with("kubectl")
        })
        .filter_map(|event| {
            let verb = event["verb"].as_str()?;
            matches!(verb, "create" | "update" | "patch" | "delete").then(|| {
                format!(
                    "{verb} {}",
                    event["objectRef"]["name"].as_str().unwrap_or("")
                )
            })
        })
        .collect()
}

/// A real HTTP CONNECT proxy (Debian's `tinyproxy`) on a free loopback port, optionally
/// asking for basic auth. Stopped when dropped.
pub struct HttpProxy {
    pub url: String,
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl HttpProxy {
    pub fn start(credentials: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("proxy.log");
        let mut config = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nAllow 127.0.0.1\n\
             LogLevel Connect\nLogFile \"{}\"\n",
            log.display()
        );
        if let Some((user, password)) = credentials {
            config.push_str(&format!("BasicAuth {user} {password}\n"));
        }
        std::fs::write(dir.path().join("tinyproxy.conf"), config).unwrap();
        let child = std::process::Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(dir.path().join("tinyproxy.conf"))
            .env_clear()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tinyproxy is installed (tests/setup.sh)");
        wait_for_port(port);
        Self {
            url: format!("http://127.0.0.1:{port}"),
            child,
            dir,
        }
    }

    /// The `CONNECT host:port` requests the proxy has seen, from its own log.
    pub fn tunnels(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.path().join("proxy.log")).unwrap_or_default();
        log.lines()
            .filter_map(|line| line.split_once("): CONNECT ").map(|(_, rest)| rest))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(String::from)
            .collect()
    }

    /// Forgets what the log holds so far.
    pub fn clear(&self) {
        std::fs::write(self.dir.path().join("proxy.log"), "").unwrap();
    }
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}

/// A real Docker Distribution registry (`docker-registry`) on a free loopback port, plain
/// http or TLS, open, behind htpasswd basic auth, or behind a token server. Stopped when
/// dropped.
pub struct Registry {
    pub host: String,
    /// With TLS: the CA that signed the registry's certificate (PEM).
    pub ca: Option<std::path::PathBuf>,
    child: std::process::Child,
    token_server: Option<std::process::Child>,
    _dir: tempfile::TempDir,
}

/// How a test registry authenticates.
pub enum RegistryAuth<'a> {
    Open,
    Htpasswd(&'a str, &'a str),
    /// tests/e2e/token_server.py: its users and rights are described there.
    Token,
}

impl Registry {
    pub fn start(credentials: Option<(&str, &str)>) -> Self {
        let auth = match credentials {
            Some((user, password)) => RegistryAuth::Htpasswd(user, password),
            None => RegistryAuth::Open,
        };
        Self::start_with(auth, false)
    }

    pub fn start_with(auth: RegistryAuth<'_>, tls: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nstorage: {{filesystem: {{rootdirectory: {}}}}}\n",
            dir.path().join("data").display()
        );
        let ca = tls.then(|| {
            let (cert, key) = make_certificates(dir.path());
            config.push_str(&format!(
                "http: {{addr: 127.0.0.1:{port}, tls: {{certificate: {}, key: {}}}}}\n",
                cert.display(),
                key.display()
            ));
            // skopeo wants a directory holding only CA certificates.
            let certs = dir.path().join("skopeo-certs");
            std::fs::create_dir_all(&certs).unwrap();
            std::fs::copy(dir.path().join("ca.crt"), certs.join("ca.crt")).unwrap();
            dir.path().join("ca.crt")
        });
        if !tls {
            config.push_str(&format!("http: {{addr: 127.0.0.1:{port}}}\n"));
        }
        let mut token_server = None;
        if let RegistryAuth::Token = auth {
            let token_port = free_port();
            let mut child = std::process::Command::new("/usr/bin/python3")
                .arg(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/e2e/token_server.py"
                ))
                .arg(dir.path())
                .arg(token_port.to_string())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("python3 with python3-jwt and python3-cryptography");
            let mut ready = String::new();
            std::io::BufRead::read_line(
                &mut std::io::BufReader::new(child.stdout.take().unwrap()),
                &mut ready,
            )
            .unwrap();
            assert_eq!(ready.trim(), "ready", "the token server did not start");
            config.push_str(&format!(
                "auth: {{token: {{realm: \"http://127.0.0.1:{token_port}/token\", service: e2e-registry, issuer: e2e-token-issuer, rootcertbundle: {}}}}}\n",
                dir.path().join("token.crt").display()
            ));
            token_server = Some(child);
        }
        if let RegistryAuth::Htpasswd(user, password) = auth {
            let out = std::process::Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd (apache2-utils) is installed");
            std::fs::write(dir.path().join("htpasswd"), out.stdout).unwrap();
            config.push_str(&format!(
                "auth: {{htpasswd: {{realm: e2e, path: {}}}}}\n",
                dir.path().join("htpasswd").display()
            ));
        }
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = std::process::Command::new("docker-registry")
            .args(["serve", dir.path().join("config.yml").to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry is installed");
        wait_for_port(port);
        Self {
            host: format!("127.0.0.1:{port}"),
            ca,
            child,
            token_server,
            _dir: dir,
        }
    }
}

impl Registry {
    /// The skopeo flag that reaches this registry: its CA directory, or plain http.
    /// `prefix` is `""`, `"src-"` or `"dest-"`.
    pub fn skopeo_tls(&self, prefix: &str) -> String {
        match &self.ca {
            Some(ca) => format!(
                "--{prefix}cert-dir={}",
                ca.parent().unwrap().join("skopeo-certs").display()
            ),
            None => format!("--{prefix}tls-verify=false"),
        }
    }

    /// Pushes [`tiny_image`] to `image` (`HOST/REPO:TAG`) as `user`, with skopeo.
    pub fn push(&self, e2e: &E2e, image: &str, user: &str, password: &str) {
        let layout = tiny_image(e2e.home.path());
        let args = [
            "copy".to_string(),
            "--quiet".to_string(),
            format!("--dest-creds={user}:{password}"),
            self.skopeo_tls("dest-"),
            format!("dir:{}", layout.display()),
            format!("docker://{image}"),
        ];
        let out = e2e.skopeo(&args);
        assert!(out.status.success(), "skopeo copy: {}", text(&out.stderr));
    }
}

impl E2e {
    /// skopeo with the scrubbed environment.
    pub fn skopeo(&self, args: &[String]) -> Output {
        let mut cmd = std::process::Command::new("skopeo");
        self.scrub(&mut cmd);
        cmd.args(args).output().unwrap()
    }
}

/// A CA (`ca.crt`) and a certificate it signed for 127.0.0.1, made with openssl; returns
/// the server's certificate and key.
fn make_certificates(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            text(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "1",
        "-subj",
        "/CN=regcred e2e CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "1",
        "-extfile",
        "server.ext",
    ]);
    (dir.join("server.crt"), dir.join("server.key"))
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(token_server) = &mut self.token_server {
            let _ = token_server.kill();
            let _ = token_server.wait();
        }
    }
}

impl E2e {
    /// Waits until the controller-manager has created a Pod for `app=NAME`; returns its name.
    pub fn wait_for_pod(&self, ns: &str, app: &str) -> String {
        for _ in 0..120 {
            let out = self.kubectl_ok(&[
                "get",
                "pods",
                "-n",
                ns,
                "-l",
                &format!("app={app}"),
                "-o",
                "name",
            ]);
            if let Some(name) = out.lines().next() {
                return name.trim_start_matches("pod/").to_string();
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        panic!("no pod for app={app} in {ns}");
    }

    /// Records a pull-failure Event on a Pod, as the kubelet reports one.
    pub fn pull_failure_event(&self, ns: &str, pod: &str, image: &str, message: &str) {
        let uid = self.get_json(&["pod", pod, "-n", ns])["metadata"]["uid"]
            .as_str()
            .unwrap()
            .to_string();
        let now = "2026-01-01T00:00:00Z";
        let event = serde_json::json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("{pod}.pull-{}", COUNTER.fetch_add(1, Ordering::SeqCst)), "namespace": ns},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": pod, "namespace": ns, "uid": uid,
                               "fieldPath": "spec.containers{app}"},
            "reason": "Failed", "type": "Warning", "count": 1,
            "message": format!("Failed to pull image \"{image}\": {message}"),
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": now, "lastTimestamp": now,
        });
        self.kubectl_apply(&event.to_string());
    }

    /// A Deployment `name` (label app=NAME) from a pod spec given as JSON.
    pub fn deployment(&self, ns: &str, name: &str, pod_spec: serde_json::Value) {
        let deployment = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}}
        });
        self.kubectl_apply(&deployment.to_string());
    }
}

impl E2e {
    /// `bash` as a user who ran install.sh: our plugin on PATH (`kubectl regcred` finds it),
    /// then the system directories, and the test's scrubbed environment.
    pub fn plugin_shell(&self) -> std::process::Command {
        let plugins = self.home.path().join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        let link = plugins.join("kubectl-regcred");
        if !link.exists() {
            std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("kubectl-regcred"), &link)
                .unwrap();
        }
        let mut shell = std::process::Command::new("bash");
        self.scrub(&mut shell);
        shell.env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", plugins.display()),
        );
        shell
    }
}

impl E2e {
    /// Writes `~/.docker/config.json` in the test's HOME.
    pub fn docker_config(&self, json: &str) {
        let dir = self.home.path().join(".docker");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), json).unwrap();
    }

    /// Puts an executable `docker-credential-NAME` shell script in the test's `~/bin` and
    /// returns that directory, for PATH.
    pub fn credential_helper(&self, name: &str, script: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let bin = self.home.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let path = bin.join(format!("docker-credential-{name}"));
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    }

    /// A directory with `docker-credential-regcred` linked to our binary, for PATH.
    pub fn helper_bin(&self) -> PathBuf {
        let bin = self.home.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let link = bin.join("docker-credential-regcred");
        if !link.exists() {
            std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("kubectl-regcred"), &link)
                .unwrap();
        }
        bin
    }

    /// Runs `script` in a private D-Bus session with gnome-keyring unlocked (a real Secret
    /// Service), with our binary as `$REGCRED` and the helper link on PATH.
    pub fn in_keyring_session(&self, script: &str) -> Output {
        self.in_dbus_session(
            // The daemon answers --unlock before the login collection exists; under load the
            // first store can come too early, so wait until the collection answers.
            "echo -n e2e-keyring-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
             for _ in $(seq 100); do
               dbus-send --session --print-reply --dest=org.freedesktop.secrets \
                 /org/freedesktop/secrets/collection/login org.freedesktop.DBus.Properties.Get \
                 string:org.freedesktop.Secret.Collection string:Locked >/dev/null 2>&1 && break
               sleep 0.1
             done",
            script,
        )
    }

    /// Runs `script` in a private D-Bus session after `setup` (which starts a keyring).
    pub fn in_dbus_session(&self, setup: &str, script: &str) -> Output {
        let path = format!(
            "{}:{}",
            self.helper_bin().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let full = format!("set -e\n{setup}\nset +e\n{script}");
        let mut cmd = std::process::Command::new("dbus-run-session");
        // dbus-run-session sets the session address; the keyring's control socket goes into
        // the private runtime directory, never the caller's.
        self.scrub(&mut cmd);
        cmd.args(["--", "sh", "-c", &full])
            .env("PATH", path)
            .env("REGCRED", assert_cmd::cargo::cargo_bin("kubectl-regcred"))
            .output()
            .expect("dbus-run-session (package dbus) is installed")
    }
}

/// A one-layer image in skopeo's `dir:` layout (an empty tar layer), to push to a registry.
pub fn tiny_image(dir: &std::path::Path) -> PathBuf {
    let image = dir.join("tiny-image");
    std::fs::create_dir_all(&image).unwrap();
    let sha256 = |bytes: &[u8]| {
        let path = dir.join("hash-input");
        std::fs::write(&path, bytes).unwrap();
        let out = std::process::Command::new("sha256sum")
            .arg(&path)
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let layer = vec![0u8; 1024];
    let layer_digest = sha256(&layer);
    let config = serde_json::json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_digest}")]}, "config": {}})
    .to_string();
    let config_digest = sha256(config.as_bytes());
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{config_digest}"), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{layer_digest}"), "size": layer.len()}]});
    std::fs::write(image.join(&layer_digest), &layer).unwrap();
    std::fs::write(image.join(&config_digest), &config).unwrap();
    std::fs::write(image.join("manifest.json"), manifest.to_string()).unwrap();
    std::fs::write(image.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    image
}
