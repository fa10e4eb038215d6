#!/usr/bin/env bash
# Installs everything the tests need, once and one thing at a time, before any test starts
# (docs/testing.md). The tests and the scripts they call never install anything: they check
# that a tool is there and name this script when it is not.
#
#   tests/setup.sh     Debian packages; the Rust targets of the platform test and the image;
#                      a pinned nightly toolchain and cargo-fuzz (tests/env.sh); the control planes, krew and the
#                      kubelet oracle (built and cached by tests/e2e/cluster.sh)
#
# Running it again installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=tests/env.sh
source tests/env.sh

log() { printf 'setup: %s\n' "$*" >&2; }

tests/e2e/cluster.sh deps

command -v rustup >/dev/null || { log "needs rustup (https://rustup.rs)"; exit 1; }
installed=$(rustup target list --installed)
for target in "${RUST_TARGETS[@]}"; do
  if ! grep -qx "$target" <<<"$installed"; then
    log "adding the Rust target $target"
    rustup target add "$target" >/dev/null
  fi
done

if ! rustup toolchain list | grep -q "^$FUZZ_TOOLCHAIN"; then
  log "installing the $FUZZ_TOOLCHAIN toolchain (cargo fuzz needs a nightly)"
  rustup toolchain install "$FUZZ_TOOLCHAIN" --profile minimal >/dev/null
fi
if [[ $(cargo fuzz --version 2>/dev/null) != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --quiet --locked --force cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

tests/e2e/cluster.sh build
log "ready"
