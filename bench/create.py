#!/usr/bin/env python3
"""Benchmark `kubectl regcred create` against kubectl on the same real cluster, in one run.

    python3 bench/create.py [--rounds 5] [--namespaces 200]

Needs GNU time (/usr/bin/time, Debian package `time`). Starts the control plane with tests/e2e/cluster.sh (or uses $REGCRED_E2E_KUBECONFIG), builds
the release binary, and prints medians and ratios:
  1. create-or-update one Secret in N namespaces vs `kubectl create -f` of a List of N Secrets
  2. the same vs a shell loop of `kubectl create secret docker-registry`
  3. `--dry-run=client -o json` for one Secret: wall time and peak RSS, vs kubectl's
It also times our second (no-op) run, which must leave every resourceVersion unchanged.
"""

import json
import statistics
import sys
import time

from common import (BINARY, arguments, cluster, delta, ensure_namespaces, kubectl, request_counts, run,
                    secrets_list, settle)

SECRET = "benchcred"
PASSWORD = "bench-password"


def delete_secrets(env):
    kubectl(env, "delete", "secret", "-A", "--field-selector", f"metadata.name={SECRET}", "--wait=false")


def resource_versions(env):
    _, _, out = kubectl(env, "get", "secret", "-A", "--field-selector", f"metadata.name={SECRET}", "-o", "json")
    return {(i["metadata"]["namespace"], i["metadata"]["resourceVersion"]) for i in json.loads(out)["items"]}


def main():
    args = arguments(__doc__, "rounds of the slow kubectl shell loop")
    with cluster() as env:
        bench(env, args)


def bench(env, args):
    namespaces = [f"bench-{i}" for i in range(args.namespaces)]
    ensure_namespaces(env, namespaces)
    settle(env)

    secret_list = secrets_list(env, SECRET, PASSWORD, namespaces)
    ours = [BINARY, "create", SECRET, "--server", "quay.io", "--username", "robot", "--password-stdin",
            "--namespaces", ",".join(namespaces)]

    kubectl_list, regcred_fresh, regcred_noop = [], [], []
    for _ in range(args.rounds):
        delete_secrets(env)
        kubectl_list.append(kubectl(env, "create", "-f", "-", stdin=secret_list)[0])
        delete_secrets(env)
        regcred_fresh.append(run(ours, env, stdin=PASSWORD)[0])
        settle(env)
        before = resource_versions(env)
        counts = request_counts(env, {"secrets"})
        regcred_noop.append(run(ours, env, stdin=PASSWORD)[0])
        noop_requests = delta(counts, request_counts(env, {"secrets"}))
        if resource_versions(env) != before or len(before) != len(namespaces):
            sys.exit("a no-op run changed a Secret: it must make zero writes")

    kubectl_loop = []
    for _ in range(args.loop_rounds):
        delete_secrets(env)
        start = time.perf_counter()
        for ns in namespaces:
            kubectl(env, "create", "secret", "docker-registry", SECRET, "-n", ns, "--docker-server=quay.io",
                    "--docker-username=robot", f"--docker-password={PASSWORD}")
        kubectl_loop.append(time.perf_counter() - start)

    dry_kubectl = ["kubectl", "create", "secret", "docker-registry", SECRET, "--docker-server=quay.io",
                   "--docker-username=robot", f"--docker-password={PASSWORD}", "--dry-run=client", "-o", "json"]
    dry_ours = [BINARY, "create", SECRET, "--server", "quay.io", "--username", "robot", "--password-stdin",
                "--dry-run=client", "-o", "json"]
    dry_k = [run(dry_kubectl, env) for _ in range(20)]
    dry_r = [run(dry_ours, env, stdin=PASSWORD) for _ in range(20)]

    med = statistics.median
    n = args.namespaces
    print(f"\n{n} namespaces, medians of {args.rounds} rounds ({args.loop_rounds} for the shell loop)")
    print(f"  kubectl create -f List of {n} Secrets   {med(kubectl_list):8.3f} s")
    print(f"  kubectl-regcred create (fresh)          {med(regcred_fresh):8.3f} s   "
          f"ratio {med(kubectl_list) / med(regcred_fresh):5.2f}x")
    print(f"  kubectl-regcred create (no-op, 0 writes){med(regcred_noop):8.3f} s   requests: {noop_requests}")
    print(f"  shell loop of kubectl create secret     {med(kubectl_loop):8.3f} s   "
          f"ratio {med(kubectl_loop) / med(regcred_fresh):5.1f}x")
    print("--dry-run=client -o json, one Secret, medians of 20 runs")
    tk, tr = med(t for t, _, _ in dry_k), med(t for t, _, _ in dry_r)
    mk, mr = med(m for _, m, _ in dry_k), med(m for _, m, _ in dry_r)
    print(f"  kubectl          {tk * 1000:7.1f} ms  {mk / 1024:6.1f} MiB peak")
    print(f"  kubectl-regcred  {tr * 1000:7.1f} ms  {mr / 1024:6.1f} MiB peak   ratio {tk / tr:5.1f}x")


if __name__ == "__main__":
    main()
