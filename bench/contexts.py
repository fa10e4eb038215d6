#!/usr/bin/env python3
"""Benchmark `kubectl regcred create` across two clusters at once, on two real control planes.

    python3 bench/contexts.py [--rounds 5] [--namespaces 100]

Needs GNU time. Uses $REGCRED_E2E_KUBECONFIG and $REGCRED_E2E_SECOND_KUBECONFIG when set, else
starts the control planes with tests/e2e/cluster.sh; builds the release binary. It merges both
admin logins into one kubeconfig (contexts c1 and c2), then prints medians and ratios of
creating one Secret in N namespaces of each cluster:
  1. ours, once: `create --context c1,c2 --yes`
  2. a shell loop running our single-context command once per context
  3. `kubectl create -f` of a List of N Secrets, once per context
"""

import os
import statistics
import subprocess
import tempfile
import time

from common import BINARY, arguments, cluster, ensure_namespaces, kubectl, run, second_cluster, secrets_list, settle

SECRET = "benchctx"
PASSWORD = "bench-password"
CONTEXTS = ["c1", "c2"]


def merged_kubeconfig(first, second):
    """c1 and c2: each cluster's server with its admin token (tests/e2e/cluster.sh up)."""
    path = os.path.join(tempfile.mkdtemp(prefix="regcred-bench-fleet."), "kubeconfig")
    env = {"PATH": os.environ["PATH"], "HOME": os.path.dirname(path)}

    def view(kubeconfig, jsonpath):
        return subprocess.run(["kubectl", "config", "view", "--raw", "--kubeconfig", kubeconfig, "-o",
                               f"jsonpath={jsonpath}"], env=env, capture_output=True, check=True).stdout.decode()

    for context, kubeconfig in zip(CONTEXTS, [first, second]):
        server = view(kubeconfig, "{.clusters[0].cluster.server}")
        token = view(kubeconfig, '{.users[?(@.name=="admin")].user.token}')
        for args in (["set-cluster", context, "--server", server, "--insecure-skip-tls-verify=true"],
                     ["set-credentials", context, f"--token={token}"],
                     ["set-context", context, "--cluster", context, "--user", context]):
            subprocess.run(["kubectl", "config", *args, "--kubeconfig", path], env=env, check=True,
                           capture_output=True)
    # settle() watches the current context's cluster.
    subprocess.run(["kubectl", "config", "use-context", "c1", "--kubeconfig", path], env=env, check=True,
                   capture_output=True)
    return path


def main():
    args = arguments(__doc__, "(unused)", namespaces=100)
    with cluster() as env, second_cluster() as second:
        env["KUBECONFIG"] = merged_kubeconfig(env["KUBECONFIG"], second)
        bench(env, args)


def delete_secrets(env):
    for context in CONTEXTS:
        kubectl(env, "--context", context, "delete", "secret", "-A", "--field-selector",
                f"metadata.name={SECRET}", "--wait=false")


def bench(env, args):
    namespaces = [f"bench-ctx-{i}" for i in range(args.namespaces)]
    for context in CONTEXTS:
        ensure_namespaces(env, namespaces, "--context", context)
    settle(env)

    secret_list = secrets_list(env, SECRET, PASSWORD, namespaces)
    single = [BINARY, "create", SECRET, "--server", "quay.io", "--username", "robot", "--password-stdin",
              "--namespaces", ",".join(namespaces)]
    fleet = single + ["--context", ",".join(CONTEXTS), "--yes"]

    ours, loop, kubectl_files = [], [], []
    for _ in range(args.rounds):
        delete_secrets(env)
        settle(env)
        ours.append(run(fleet, env, stdin=PASSWORD)[0])
        delete_secrets(env)
        settle(env)
        start = time.perf_counter()
        for context in CONTEXTS:
            run(single + ["--context", context], env, stdin=PASSWORD)
        loop.append(time.perf_counter() - start)
        delete_secrets(env)
        settle(env)
        start = time.perf_counter()
        for context in CONTEXTS:
            kubectl(env, "--context", context, "create", "-f", "-", stdin=secret_list)
        kubectl_files.append(time.perf_counter() - start)

    med = statistics.median
    n = args.namespaces
    print(f"\n{n} namespaces in each of {len(CONTEXTS)} clusters, medians of {args.rounds} rounds")
    print(f"  kubectl-regcred create --context c1,c2      {med(ours):8.3f} s")
    print(f"  shell loop of kubectl-regcred per context   {med(loop):8.3f} s   ratio {med(loop) / med(ours):5.2f}x")
    print(f"  kubectl create -f List, once per context    {med(kubectl_files):8.3f} s   "
          f"ratio {med(kubectl_files) / med(ours):5.2f}x")


if __name__ == "__main__":
    main()
