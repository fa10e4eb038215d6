//! The examples the docs mark ```` ```sh e2e ```` (README's quickstart among them), run as
//! they are written, against the real control plane: in a fresh namespace that is the
//! context's namespace, with a docker login in HOME, and our binary on PATH as a kubectl
//! plugin. tests/cli/docs.rs makes every other cluster example say it is illustrative.

use crate::harness::{E2e, text};
use crate::markdown::{fenced_blocks, markdown_files};

/// The `sh e2e` blocks of README.md and docs/*.md, with where each starts.
fn e2e_blocks() -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    for file in markdown_files() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for (start, info, body) in fenced_blocks(&file) {
            if info == "sh e2e" {
                blocks.push((format!("{name}:{start}"), body));
            }
        }
    }
    blocks
}

#[test]
#[ignore = "needs the real control plane: tests/e2e/run.sh"]
fn the_examples_marked_e2e_run_as_written() {
    let blocks = e2e_blocks();
    assert!(!blocks.is_empty(), "README's quickstart is marked sh e2e");
    for (place, block) in blocks {
        let e2e = E2e::new();
        let ns = e2e.namespace("docs");
        // The context's namespace is the test's, as on a kind or minikube cluster.
        let kubeconfig = e2e.home.path().join("kubeconfig");
        std::fs::copy(&e2e.kubeconfig, &kubeconfig).unwrap();
        let e2e = E2e {
            kubeconfig,
            home: e2e.home,
        };
        e2e.kubectl_ok(&["config", "set-context", "--current", "--namespace", &ns]);
        // `auth` is base64 of `me:gh-token` and `robot:quay-pw`.
        e2e.docker_config(
            r#"{"auths":{"ghcr.io":{"auth":"bWU6Z2gtdG9rZW4="},"quay.io":{"auth":"cm9ib3Q6cXVheS1wdw=="}}}"#,
        );
        // `kubectl regcred` finds the plugin on PATH, as after install.sh.
        let out = e2e
            .plugin_shell()
            .args(["-euo", "pipefail", "-c", &block])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{place} failed:\n{block}\nstdout:\n{}\nstderr:\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        // What the quickstart promises: the Secret, and the Deployment naming it.
        if block.contains("kubectl regcred attach regcred deployment/web") {
            assert!(e2e.secret_exists(&ns, "regcred"), "{place}");
            let deployment = e2e.get_json(&["deployment", "web", "-n", &ns]);
            assert_eq!(
                deployment["spec"]["template"]["spec"]["imagePullSecrets"],
                serde_json::json!([{"name": "regcred"}]),
                "{place}"
            );
        }
    }
}
