# shellcheck shell=bash
# What the test scripts share, in one place: the tools they pin (tests/setup.sh installs them)
# and where builds are cached. Sourced by tests/setup.sh, tests/fuzz.sh, tests/fresh.sh and
# the e2e scripts.

# The Rust targets scripts/release.sh builds on x86_64 Linux: the static linux/amd64 archive
# (and the controller image), linux/arm64 and windows/amd64.
# shellcheck disable=SC2034
RUST_TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-gnu x86_64-pc-windows-gnu)
# cargo fuzz needs a nightly; a dated one, so a new nightly never breaks or rebuilds CI.
FUZZ_TOOLCHAIN=nightly-2026-05-20
# cargo-fuzz itself, so every machine fuzzes with the same driver.
# shellcheck disable=SC2034
CARGO_FUZZ_VERSION=0.13.2

# Builds the tests cache across runs and clones, like tests/e2e/cluster.sh's Kubernetes builds:
# cargo rebuilds only this crate there when a new clone's sources differ.
REGCRED_CACHE=${REGCRED_CACHE:-$HOME/.cache/kubectl-regcred}
# The shipped binaries (release archives, the image, install.sh from source), every target.
# shellcheck disable=SC2034
SHIPPED_TARGET_DIR=$REGCRED_CACHE/target
# The fuzz targets, built with the fuzzer's instrumentation.
# shellcheck disable=SC2034
FUZZ_TARGET_DIR=$REGCRED_CACHE/fuzz-target
