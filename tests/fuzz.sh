#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a bounded time (default 30 s each), after replaying the
# inputs kept in fuzz/regressions/TARGET/ (crashes found earlier). Needs the pinned nightly and
# cargo-fuzz (tests/env.sh), which tests/setup.sh installs: this script installs nothing. A
# crash fails the run; libFuzzer saves the input under fuzz/artifacts/TARGET/, and it belongs
# in fuzz/regressions/TARGET/ once fixed.
#
# Bounded: the build may take FUZZ_BUILD_MINUTES (default 20), each run its seconds plus a
# minute. The targets run without AddressSanitizer: the code they reach is safe Rust (src/lib.rs
# forbids `unsafe`, checked here), where ASan finds nothing and slows every execution. The
# fuzz crate uses the public API, `regcred::rules`, without the `cli` feature (fuzz/Cargo.toml),
# and its build is cached (tests/env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
build_minutes=${FUZZ_BUILD_MINUTES:-20}
targets=(image_reference local_config pull_secret www_authenticate glob escaping kubeconfig kubectl_output)

# shellcheck source=tests/env.sh
source tests/env.sh
rustup toolchain list | grep -q "^$FUZZ_TOOLCHAIN" ||
  { echo "fuzz: needs the $FUZZ_TOOLCHAIN toolchain: run tests/setup.sh" >&2; exit 1; }
cargo fuzz --version >/dev/null 2>&1 ||
  { echo "fuzz: needs cargo-fuzz: run tests/setup.sh" >&2; exit 1; }
grep -qx '#!\[forbid(unsafe_code)\]' src/lib.rs ||
  { echo "fuzz: src/lib.rs no longer forbids unsafe code: fuzz with AddressSanitizer" >&2; exit 1; }

cd fuzz
opts=(--sanitizer none --target-dir "$FUZZ_TARGET_DIR")
timeout "${build_minutes}m" cargo "+$FUZZ_TOOLCHAIN" fuzz build "${opts[@]}" ||
  { echo "fuzz: the build failed or took over ${build_minutes} minutes" >&2; exit 1; }
for target in "${targets[@]}"; do
  regressions=regressions/$target
  mkdir -p "$regressions" "corpus/$target"
  kept=$(find "$regressions" -type f | wc -l)
  if ((kept > 0)); then
    echo "fuzz: $target: replaying $kept kept input(s)"
    timeout 5m cargo "+$FUZZ_TOOLCHAIN" fuzz run "${opts[@]}" "$target" "$regressions" -- -runs=0
  fi
  echo "fuzz: $target: ${seconds}s"
  # The kept inputs seed the run too; new ones go to the first directory, the corpus.
  timeout "$((seconds + 60))s" cargo "+$FUZZ_TOOLCHAIN" fuzz run "${opts[@]}" "$target" "corpus/$target" "$regressions" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048
done
