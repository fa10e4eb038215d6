#!/usr/bin/env bash
# Runs everything that needs parts built by tests/e2e/cluster.sh:
#   1. the differential test of our kubelet rules against the kubelet's own code;
#   2. the whole e2e suite against the newest Kubernetes we support (two control planes, for
#      the many-contexts tests);
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

# Built by tests/setup.sh; this only checks (and rebuilds the oracle if its source changed).
tests/e2e/cluster.sh check

REGCRED_KUBELET_ORACLE=$(tests/e2e/cluster.sh tool kubelet-oracle) REGCRED_ORACLE_CASES=$ORACLE_CASES \
  cargo test --test kubelet_oracle -- --ignored --nocapture
REGCRED_KREW=$(tests/e2e/cluster.sh tool krew)
# shellcheck source=tests/env.sh
source tests/env.sh
# Where the packaging tests build what ships, shared with image.sh and platforms.sh.
REGCRED_SHIPPED_TARGET_DIR=$SHIPPED_TARGET_DIR
export REGCRED_KREW REGCRED_SHIPPED_TARGET_DIR

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

# suite VERSION CLUSTERS [ARGS…]: CLUSTERS control planes of VERSION; the second one (for the
# many-contexts tests, tests/e2e/contexts.rs) is exported as REGCRED_E2E_SECOND_KUBECONFIG.
suite() {
  local version=$1 clusters=$2 first second=
  shift 2
  first=$(mktemp -d "${TMPDIR:-/tmp}/regcred-e2e.XXXXXX")
  dirs+=("$first")
  tests/e2e/cluster.sh up "$first" "$version"
  if ((clusters > 1)); then
    second=$(mktemp -d "${TMPDIR:-/tmp}/regcred-e2e.XXXXXX")
    dirs+=("$second")
    tests/e2e/cluster.sh up "$second" "$version"
  fi
  (
    # shellcheck source=/dev/null
    source "$first/env"
    if [[ -n $second ]]; then export REGCRED_E2E_SECOND_KUBECONFIG=$second/kubeconfig; fi
    cargo test --test e2e -- --ignored --test-threads 4 "$@"
  )
  tests/e2e/cluster.sh down "$first"
  if [[ -n $second ]]; then tests/e2e/cluster.sh down "$second"; fi
}

suite "$NEWEST" 2 "$@"
suite "$OLDEST" 1 "${OLD_API_TESTS[@]}" "$@"
