#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a bounded time (default 30 s each), after replaying the
# inputs kept in fuzz/regressions/TARGET/ (crashes found earlier). Installs what it needs: a
# nightly toolchain and cargo-fuzz. A crash fails the run; libFuzzer saves the input under
# fuzz/artifacts/TARGET/, and it belongs in fuzz/regressions/TARGET/ once fixed.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-30}
targets=(image_reference local_config pull_secret www_authenticate glob)

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo fuzz --version >/dev/null 2>&1 || cargo install --locked cargo-fuzz

cargo +nightly fuzz build -O
for target in "${targets[@]}"; do
  regressions=regressions/$target
  mkdir -p "$regressions" "corpus/$target"
  kept=$(find "$regressions" -type f | wc -l)
  if ((kept > 0)); then
    echo "fuzz: $target: replaying $kept kept input(s)"
    cargo +nightly fuzz run -O "$target" "$regressions" -- -runs=0
  fi
  echo "fuzz: $target: ${seconds}s"
  cargo +nightly fuzz run -O "$target" "corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=2048
done
