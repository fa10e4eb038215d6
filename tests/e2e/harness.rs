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
        for var in [
            "DOCKER_CONFIG",
            "DOCKER_AUTH_CONFIG",
            "REGISTRY_AUTH_FILE",
            "XDG_CONFIG_HOME",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.home.path())
            .args(args);
        cmd
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
        std::process::Command::new("kubectl")
            .env("KUBECONFIG", &self.kubeconfig)
            .args(args)
            .output()
            .expect("kubectl runs")
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

    pub fn kubectl_apply(&self, yaml: &str) {
        let mut child = std::process::Command::new("kubectl")
            .env("KUBECONFIG", &self.kubeconfig)
            .args(["apply", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(yaml.as_bytes())
            .unwrap();
        assert!(
            child.wait().unwrap().success(),
            "kubectl apply failed for:\n{yaml}"
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
