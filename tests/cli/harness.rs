//! The test environment: a temporary HOME, an empty PATH except for helper scripts, and
//! none of the caller's kubeconfig or registry variables (bat's pattern).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::Engine;

pub struct TestEnv {
    dir: tempfile::TempDir,
}

pub fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The decoded `.dockerconfigjson` of a printed Secret.
pub fn decoded_payload(secret: &serde_json::Value) -> serde_json::Value {
    let encoded = secret["data"][".dockerconfigjson"]
        .as_str()
        .expect("a .dockerconfigjson key");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

impl TestEnv {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        Self { dir }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("kubectl-regcred").unwrap();
        for var in [
            "KUBECONFIG",
            "DOCKER_CONFIG",
            "DOCKER_AUTH_CONFIG",
            "REGISTRY_AUTH_FILE",
            "XDG_RUNTIME_DIR",
            "XDG_CONFIG_HOME",
            "KUBECTL_PATH",
            // Never reach a developer's real keychain.
            "DBUS_SESSION_BUS_ADDRESS",
            // Nor their proxy.
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.home())
            .env("PATH", self.dir.path().join("bin"))
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .args(args);
        cmd
    }

    /// Runs the real kubectl (client-side only) and parses its JSON output.
    pub fn kubectl(&self, args: &[&str]) -> serde_json::Value {
        let output = std::process::Command::new("kubectl")
            .args(args)
            .env_remove("KUBECONFIG")
            .env("HOME", self.home())
            .output()
            .expect("kubectl is installed (the README's test prerequisites)");
        assert!(
            output.status.success(),
            "kubectl failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    pub fn json_stdout(&self, cmd: &mut Command) -> serde_json::Value {
        let output = cmd.output().unwrap();
        assert!(
            output.status.success(),
            "exit {:?}\nstderr: {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Writes `~/.docker/config.json`.
    pub fn docker_config(&self, json: &str) -> PathBuf {
        self.write("home/.docker/config.json", json)
    }

    /// Puts `docker-credential-NAME` on PATH: a shell script that reads the server URL of a
    /// `get` into `$url`, logs `ACTION URL`, then runs `body` (which sees the action as `$1`).
    pub fn helper(&self, name: &str, body: &str) {
        let log = self.dir.path().join(format!("{name}.log"));
        let script = format!(
            "#!/bin/sh\nurl=\nif [ \"$1\" = get ]; then read -r url; fi\nprintf '%s %s\\n' \"$1\" \"$url\" >> '{log}'\n{body}\n",
            log = log.display()
        );
        let path = self
            .dir
            .path()
            .join("bin")
            .join(format!("docker-credential-{name}"));
        std::fs::write(&path, script).unwrap();
        make_executable(&path);
    }

    pub fn helper_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default()
    }

    /// Replaces the temp directory in output so snapshots are stable.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.dir.path().display().to_string(), "[TMP]")
    }

    /// Runs `cmd` and renders all it did, exit code, stdout and stderr, as one text with the
    /// temp directory redacted: what [`regcred_snapshot!`] compares (uv's pattern).
    pub fn run_report(&self, cmd: &mut Command) -> String {
        let output = cmd.output().unwrap();
        let code = output
            .status
            .code()
            .map_or_else(|| "signal".to_string(), |c| c.to_string());
        format!(
            "exit_code: {code}\n----- stdout -----\n{}----- stderr -----\n{}",
            self.redact(&String::from_utf8_lossy(&output.stdout)),
            self.redact(&String::from_utf8_lossy(&output.stderr))
        )
    }
}

/// Snapshots a command's exit code, stdout and stderr together, so a test sees every line
/// kubectl users would see, not just a substring: `regcred_snapshot!(env, env.cmd(..), "name")`.
#[macro_export]
macro_rules! regcred_snapshot {
    ($env:expr, $cmd:expr, $name:literal) => {{
        let report = $env.run_report(&mut $cmd);
        insta::assert_snapshot!($name, report);
        report
    }};
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
