//! Shipping: the release archive and rendered manifest, install.sh into a temporary prefix,
//! and the real kubectl finding, running and completing the plugin.

use std::path::Path;
use std::process::Command;

use crate::harness::text;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One of our scripts that builds with cargo (release.sh, install.sh), in an explicit
/// environment: the caller's PATH and toolchain variables, nothing else. It builds into the
/// run's shared target directory (`REGCRED_SHIPPED_TARGET_DIR`, from tests/e2e/run.sh), so
/// each target is built once per run, whichever test, image.sh or platforms.sh needs it first.
fn cargo_script(script: &str) -> Command {
    let mut cmd = Command::new(root().join(script));
    cmd.env_clear();
    for var in ["PATH", "HOME", "CARGO_HOME", "RUSTUP_HOME", "TMPDIR"] {
        if let Some(value) = std::env::var_os(var) {
            cmd.env(var, value);
        }
    }
    if let Some(dir) = std::env::var_os("REGCRED_SHIPPED_TARGET_DIR") {
        cmd.env("CARGO_TARGET_DIR", dir);
    }
    cmd
}

/// Runs `scripts/release.sh --out DIR` for linux_amd64 (the static musl binary, built with
/// the fast `ci` profile; tests/e2e/platforms.sh builds the others) and returns the archive.
fn release_host_archive(dist: &Path) -> std::path::PathBuf {
    let (ok, _, stderr) = run(cargo_script("scripts/release.sh")
        .arg("--out")
        .arg(dist)
        .args(["--platforms", "linux_amd64", "--profile", "ci"]));
    assert!(ok, "{stderr}");
    std::fs::read_dir(dist)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .expect("the host archive")
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// `kubectl ...` with only `bin` and the system directories on PATH, in an empty environment:
/// a kubectl-regcred the user installed (say in ~/.local/bin) must not overshadow ours.
fn kubectl(bin: &Path, args: &[&str]) -> (bool, String, String) {
    let home = tempfile::tempdir().unwrap();
    run(Command::new("kubectl")
        .args(args)
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()),
        )
        .env("HOME", home.path()))
}

#[test]
#[ignore = "builds release archives: tests/e2e/run.sh"]
fn release_archive_matches_its_manifest() {
    let dist = tempfile::tempdir().unwrap();
    let archive = release_host_archive(dist.path());
    let manifest: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(dist.path().join("regcred.yaml")).unwrap())
            .unwrap();
    let file_name = archive.file_name().unwrap().to_string_lossy().to_string();
    let platform = manifest["spec"]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["uri"].as_str().unwrap().ends_with(&file_name))
        .expect("a platform entry for the host archive")
        .clone();
    let sha = text(
        &Command::new("sha256sum")
            .arg(&archive)
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(
        platform["sha256"].as_str().unwrap(),
        sha.split_whitespace().next().unwrap()
    );

    let unpacked = tempfile::tempdir().unwrap();
    assert!(
        Command::new("tar")
            .args(["-xzf"])
            .arg(&archive)
            .arg("-C")
            .arg(unpacked.path())
            .status()
            .unwrap()
            .success()
    );
    let bin = platform["bin"].as_str().unwrap();
    assert!(
        unpacked.path().join(bin).is_file(),
        "extracting yields bin {bin}"
    );
    for file in platform["files"].as_array().unwrap() {
        let from = file["from"].as_str().unwrap();
        assert!(
            unpacked.path().join(from).exists(),
            "files entry {from} is in the archive"
        );
    }
    // krew requires a license file after install.
    assert!(unpacked.path().join("LICENSE").is_file());
    let (ok, stdout, _) = run(Command::new(unpacked.path().join(bin)).arg("version"));
    assert!(
        ok && stdout.starts_with(&format!("kubectl-regcred {}", env!("CARGO_PKG_VERSION"))),
        "{stdout}"
    );
}

#[test]
#[ignore = "builds and installs the release binary: tests/e2e/run.sh"]
fn install_sh_installs_and_uninstalls_exactly_its_files() {
    let base = tempfile::tempdir().unwrap();
    let prefix = base.path().join("prefix");
    let bin = prefix.join("bin");
    // From source, with cargo install.
    let (ok, stdout, stderr) =
        run(cargo_script("install.sh").args(["--prefix", prefix.to_str().unwrap()]));
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("kubectl plugin list | grep regcred"),
        "prints how to verify: {stdout}"
    );
    // Idempotent: a second run succeeds and leaves the same files.
    let (ok, _, stderr) =
        run(cargo_script("install.sh").args(["--prefix", prefix.to_str().unwrap()]));
    assert!(ok, "{stderr}");
    let mut names: Vec<String> = std::fs::read_dir(&bin)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "docker-credential-regcred",
            "kubectl-regcred",
            "kubectl_complete-regcred"
        ]
    );

    // A man page for the command and each subcommand, each rendered by man(1).
    let man1 = prefix.join("share/man/man1");
    let pages: Vec<std::path::PathBuf> = std::fs::read_dir(&man1)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for sub in [
        "",
        "-create",
        "-attach",
        "-sync",
        "-controller-status",
        "-verify",
        "-login",
    ] {
        assert!(
            pages.contains(&man1.join(format!("kubectl-regcred{sub}.1"))),
            "kubectl-regcred{sub}.1 in {pages:?}"
        );
    }
    for page in &pages {
        let (ok, stdout, stderr) = run(Command::new("man")
            .arg("-l")
            .arg(page)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80"));
        let name = page.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(
            ok && stdout.contains("NAME") && stdout.contains(&name) && stderr.is_empty(),
            "man -l {}: {stdout}{stderr}",
            page.display()
        );
    }

    let (ok, stdout, stderr) = kubectl(&bin, &["plugin", "list"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(&bin.join("kubectl-regcred").display().to_string()),
        "{stdout}"
    );
    let (ok, stdout, _) = kubectl(&bin, &["regcred", "version"]);
    assert!(
        ok && stdout.contains("kubectl-regcred 0.1.0 (commit"),
        "{stdout}"
    );
    let (_, stdout, _) = kubectl(&bin, &["regcred", "--help"]);
    assert!(
        stdout.contains("Usage:\n  kubectl regcred <COMMAND>")
            && stdout.contains("Use \"kubectl regcred options\""),
        "plugin-mode usage: {stdout}"
    );
    let (ok, stdout, stderr) = kubectl(&bin, &["__complete", "regcred", ""]);
    assert!(ok, "{stderr}");
    for sub in ["create", "attach", "check", "login"] {
        assert!(stdout.lines().any(|l| l == sub), "{sub} in {stdout}");
    }
    assert!(stdout.contains(":4"), "{stdout}");
    let (ok, stdout, _) = run(Command::new(bin.join("docker-credential-regcred")).arg("version"));
    assert!(
        ok && stdout.starts_with("docker-credential-regcred (kubectl-regcred)"),
        "{stdout}"
    );
    // Run by its bare name (not by kubectl), usage names the binary.
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (_, stdout, _) = run(Command::new("sh")
        .args(["-c", "kubectl-regcred --help"])
        .env("PATH", &path));
    assert!(
        stdout.contains("Usage:\n  kubectl-regcred <COMMAND>"),
        "{stdout}"
    );

    let (ok, stdout, stderr) =
        run(cargo_script("install.sh").args(["--uninstall", "--prefix", prefix.to_str().unwrap()]));
    assert!(ok, "{stdout}{stderr}");
    assert!(!prefix.exists(), "--uninstall leaves nothing behind");

    // From a release archive, into a prefix that already exists: only our files come and go.
    let dist = base.path().join("dist");
    let archive = release_host_archive(&dist);
    std::fs::create_dir_all(prefix.join("bin")).unwrap();
    std::fs::write(prefix.join("bin/someone-else"), "keep me").unwrap();
    let (ok, _, stderr) = run(cargo_script("install.sh").args([
        "--prefix",
        prefix.to_str().unwrap(),
        "--from-archive",
        archive.to_str().unwrap(),
    ]));
    assert!(ok, "{stderr}");
    let (ok, stdout, _) = kubectl(&bin, &["regcred", "version"]);
    assert!(ok, "{stdout}");
    let (ok, _, stderr) =
        run(cargo_script("install.sh").args(["--uninstall", "--prefix", prefix.to_str().unwrap()]));
    assert!(ok, "{stderr}");
    let left: Vec<String> = walk(&prefix);
    assert_eq!(
        left,
        ["bin", "bin/someone-else"],
        "only what was there before remains"
    );
}

fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            found.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The real krew (built by tests/e2e/cluster.sh, `REGCRED_KREW`) installs the host archive
/// from the rendered manifest into a temporary KREW_ROOT, the plugin runs from krew's bin
/// directory, and `krew uninstall` removes it. krew reads no index to install from a local
/// manifest, but `uninstall` wants an initialized one: an empty local index stands in for
/// `krew update`, which would need the network.
#[test]
#[ignore = "needs krew built by tests/e2e/cluster.sh: tests/e2e/run.sh"]
fn krew_installs_runs_and_uninstalls_the_plugin() {
    let krew = std::env::var_os("REGCRED_KREW")
        .expect("REGCRED_KREW is not set: run through tests/e2e/run.sh, which builds krew");
    let work = tempfile::tempdir().unwrap();
    let (dist, krew_root, home, tools) = (
        work.path().join("dist"),
        work.path().join("krew"),
        work.path().join("home"),
        work.path().join("tools"),
    );
    for dir in [&home, &tools] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::os::unix::fs::symlink(&krew, tools.join("kubectl-krew")).unwrap();
    let archive = release_host_archive(&dist);
    // kubectl and git from the system; krew's bin first, as `krew install` tells users.
    let path = format!(
        "{}:{}:/usr/local/bin:/usr/bin:/bin",
        krew_root.join("bin").display(),
        tools.display()
    );
    let kubectl = |args: &[&str]| {
        run(Command::new("kubectl")
            .args(args)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", &home)
            .env("KREW_ROOT", &krew_root)
            .stdin(std::process::Stdio::null()))
    };
    let manifest = format!("--manifest={}", dist.join("regcred.yaml").display());
    let archive_flag = format!("--archive={}", archive.display());
    let (ok, stdout, stderr) = kubectl(&["krew", "install", &manifest, &archive_flag]);
    assert!(ok, "krew install failed: {stdout}{stderr}");
    let said = format!("{stdout}{stderr}");
    assert!(said.contains("Installed plugin: regcred"), "{said}");
    assert!(
        said.contains("Caveats:") && said.contains("kubectl_complete-regcred"),
        "the manifest's caveats are printed: {said}"
    );
    let installed = krew_root.join("bin/kubectl-regcred");
    assert!(installed.exists(), "krew links the plugin into its bin");

    let (ok, stdout, stderr) = kubectl(&["regcred", "version"]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("kubectl-regcred "), "{stdout}");
    let (_, plugins, _) = kubectl(&["plugin", "list", "--name-only"]);
    assert!(plugins.lines().any(|l| l == "kubectl-regcred"), "{plugins}");

    let index = krew_root.join("index/default");
    std::fs::create_dir_all(index.join("plugins")).unwrap();
    assert!(
        Command::new("git")
            .args(["init", "-q"])
            .arg(&index)
            .status()
            .unwrap()
            .success()
    );
    let (ok, stdout, stderr) = kubectl(&["krew", "uninstall", "regcred"]);
    assert!(ok, "krew uninstall failed: {stdout}{stderr}");
    assert!(!installed.exists() && std::fs::symlink_metadata(&installed).is_err());
    assert!(
        walk(&krew_root.join("store")).is_empty(),
        "the store is empty again"
    );
    assert!(walk(&krew_root.join("receipts")).is_empty());
}
