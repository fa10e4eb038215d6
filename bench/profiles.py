"""The release profile, chosen by measurement (docs/benchmarks.md).

For each candidate setting of [profile.release] it builds the binary from a cold target
directory (cargo's registry warm, as after `cargo fetch`), the way `./install.sh` does, and
prints the build's wall time, the binary's size, and the startup cost of
`create --dry-run=client -o json` (median of 50 runs) next to kubectl's
`create secret docker-registry --dry-run=client -o json`. Candidates are set through cargo's
CARGO_PROFILE_RELEASE_* variables, so Cargo.toml is untouched.

    python3 bench/profiles.py                  # every candidate (about 35 minutes on 2 cores)
    python3 bench/profiles.py thin off         # only these
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import ROOT

# name: the [profile.release] settings it changes (lto, codegen-units, opt-level, panic).
CANDIDATES = {
    "off": {"LTO": "off", "CODEGEN_UNITS": "16"},                   # no cross-crate LTO
    "local": {"LTO": "false", "CODEGEN_UNITS": "16"},               # LTO within each crate only
    "off-s": {"LTO": "off", "CODEGEN_UNITS": "16", "OPT_LEVEL": "s"},  # no LTO, optimised for size (chosen)
    "off-z": {"LTO": "off", "CODEGEN_UNITS": "16", "OPT_LEVEL": "z"},  # no LTO, smallest code
    "thin": {"LTO": "thin", "CODEGEN_UNITS": "16"},                 # ThinLTO across crates
    "thin-s": {"LTO": "thin", "CODEGEN_UNITS": "16", "OPT_LEVEL": "s"},  # ThinLTO, optimised for size
    "fat": {"LTO": "true", "CODEGEN_UNITS": "1"},                   # single-unit fat LTO (before issue 24)
}
RUNS = 50


def median_ms(cmd, env):
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    names = sys.argv[1:] or list(CANDIDATES)
    subprocess.run(["cargo", "fetch", "--locked", "--quiet"], cwd=ROOT, check=True)
    home = tempfile.mkdtemp(prefix="regcred-profiles.")
    os.makedirs(os.path.join(home, "docker"))
    with open(os.path.join(home, "docker", "config.json"), "w") as f:
        f.write('{"auths":{"quay.io":{"auth":"cm9ib3Q6czNjcmV0"}}}\n')
    run_env = {"PATH": "/usr/bin:/bin", "HOME": home, "DOCKER_CONFIG": os.path.join(home, "docker")}
    kubectl = median_ms(["kubectl", "create", "secret", "docker-registry", "regcred", "-n", "team-a",
                         "--docker-server=quay.io", "--docker-username=robot", "--docker-password=s3cret",
                         "--dry-run=client", "-o", "json"], run_env)
    print(f"kubectl create secret docker-registry --dry-run=client -o json: {kubectl:.1f} ms (median of {RUNS})")
    print(f"{'profile':<8} {'settings':<36} {'cold build':>11} {'size':>8} {'startup':>8} {'vs kubectl':>10}")
    for name in names:
        settings = CANDIDATES[name]
        target = tempfile.mkdtemp(prefix=f"regcred-profile-{name}.")
        env = dict(os.environ, CARGO_PROFILE_RELEASE_STRIP="true", CARGO_TARGET_DIR=target,
                   **{f"CARGO_PROFILE_RELEASE_{key}": value for key, value in settings.items()})
        start = time.perf_counter()
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, env=env, check=True)
        build = time.perf_counter() - start
        binary = os.path.join(target, "release", "kubectl-regcred")
        size = os.path.getsize(binary) / 1e6
        startup = median_ms([binary, "create", "regcred", "-n", "team-a", "--dry-run=client", "-o", "json"], run_env)
        described = " ".join(f"{key.lower().replace('_', '-')}={value}" for key, value in settings.items())
        print(f"{name:<8} {described:<36} {build / 60:>8.1f} min {size:>5.1f} MB {startup:>5.1f} ms {kubectl / startup:>9.0f}x",
              flush=True)
        shutil.rmtree(target)
    shutil.rmtree(home)


if __name__ == "__main__":
    main()
