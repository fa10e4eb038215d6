#!/usr/bin/env bash
# Runs everything that needs parts built by tests/e2e/cluster.sh:
#   1. the differential test of our kubelet rules against the kubelet's own code;
#   2. the whole e2e suite against the newest Kubernetes we support;
#   3. the old-API fallback tests against the oldest (1.20).
# Each control plane is started for its suite and stopped by PID whatever happens.
# Extra arguments go to the e2e test binary (for example a test name filter).
set -euo pipefail
cd "$(dirname "$0")/../.."

OLDEST=1.20.2
NEWEST=1.37.2
# Tests of what 1.20 has and newer versions removed: batch/v1beta1 CronJobs, token Secrets.
OLD_API_TESTS=(all_kinds_labels_and_create_attach service_account_token_secrets_survive_attach_and_detach)
# How many random cases the kubelet oracle judges (tests/kubelet-oracle).
ORACLE_CASES=${REGCRED_ORACLE_CASES:-20000}

tests/e2e/cluster.sh build "$OLDEST" "$NEWEST"

REGCRED_KUBELET_ORACLE=$(tests/e2e/cluster.sh tool kubelet-oracle) REGCRED_ORACLE_CASES=$ORACLE_CASES \
  cargo test --lib kubelet_oracle -- --ignored --nocapture
REGCRED_KREW=$(tests/e2e/cluster.sh tool krew)
export REGCRED_KREW

dirs=()
# A newcomer who ran ./install.sh first has kubectl-regcred on PATH already; a decoy there
# proves no test runs whatever the caller's PATH happens to hold.
decoy=$(mktemp -d "${TMPDIR:-/tmp}/regcred-decoy.XXXXXX")
printf '#!/bin/sh\necho "decoy kubectl-regcred on PATH: a test ran the caller'"'"'s copy" >&2\nexit 3\n' >"$decoy/kubectl-regcred"
chmod +x "$decoy/kubectl-regcred"
export PATH="$decoy:$PATH"
cleanup() {
  local d
  for d in "${dirs[@]}"; do tests/e2e/cluster.sh down "$d"; done
  rm -rf "$decoy"
}
trap cleanup EXIT

suite() {
  local version=$1 dir
  shift
  dir=$(mktemp -d "${TMPDIR:-/tmp}/regcred-e2e.XXXXXX")
  dirs+=("$dir")
  tests/e2e/cluster.sh up "$dir" "$version"
  (
    # shellcheck source=/dev/null
    source "$dir/env"
    cargo test --test e2e -- --ignored --test-threads 4 "$@"
  )
  tests/e2e/cluster.sh down "$dir"
}

suite "$NEWEST" "$@"
suite "$OLDEST" "${OLD_API_TESTS[@]}" "$@"
