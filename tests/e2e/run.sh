#!/usr/bin/env bash
# Runs the end-to-end suite: starts a real control plane (tests/e2e/cluster.sh), runs the
# #[ignore]d tests with --ignored against it, and stops it by PID whatever happens.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(mktemp -d "${TMPDIR:-/tmp}/regcred-e2e.XXXXXX")
trap 'tests/e2e/cluster.sh down "$dir"' EXIT
tests/e2e/cluster.sh up "$dir"
# shellcheck source=/dev/null
source "$dir/env"
cargo test --test e2e -- --ignored --test-threads 4 "$@"
