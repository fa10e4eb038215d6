//! Records the git commit and target triple for `kubectl regcred version`.

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=REGCRED_GIT_COMMIT={commit}");
    println!(
        "cargo:rustc-env=REGCRED_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    // Only a new commit changes the answer.
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
