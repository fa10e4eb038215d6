#!/usr/bin/env python3
"""Benchmark `list -A` and `check -A` on a cluster full of other people's Secrets, against
kubectl reading only the pull Secrets, in one run.

    python3 bench/large.py [--rounds 5] [--namespaces 300]

Each of N namespaces holds 10 Opaque Secrets of 8 KB, one Helm-release-sized Secret of
1 MB and one pull Secret (about 330 MB in etcd for 300 namespaces). Prints the median
time and peak RSS of
  kubectl get secrets -A --field-selector type=kubernetes.io/dockerconfigjson
  kubectl regcred list -A
  kubectl regcred check -A
and the ratios. Targets (issue 11): our peak RSS within 1.5x kubectl's, our time no worse.
It also counts the bytes of Secrets the API server sent each command
(apiserver_response_sizes), which must stay far below the data in the cluster.
Needs GNU time (Debian package `time`); starts its own cluster unless
$REGCRED_E2E_KUBECONFIG is set.
"""

import base64
import json
import os
import re
import statistics

from common import BINARY, arguments, cluster, ensure_namespaces, kubectl, run, settle

MARKER = "regcred-bench-large"
PULL_SECRET = "pull"


def secret(ns, name, size, kind="Opaque"):
    return {"apiVersion": "v1", "kind": "Secret", "type": kind,
            "metadata": {"name": name, "namespace": ns, "labels": {"bench": "large"}},
            "data": {"blob": base64.b64encode(os.urandom(size)).decode()}}


def pull_secret(ns):
    auth = base64.b64encode(b"robot:pw").decode()
    config = json.dumps({"auths": {"quay.io": {"auth": auth}}}).encode()
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": PULL_SECRET, "namespace": ns},
            "data": {".dockerconfigjson": base64.b64encode(config).decode()}}


def setup(env, namespaces):
    """Fills the namespaces once; a ConfigMap records how many are filled."""
    _, _, out = run(["kubectl", "get", "configmap", MARKER, "-n", "default", "-o",
                     "jsonpath={.data.namespaces}", "--ignore-not-found"], env)
    filled = int(out.decode() or 0)
    if filled >= len(namespaces):
        return
    ensure_namespaces(env, namespaces)
    batch = 10
    for start in range(filled, len(namespaces), batch):
        items = []
        for ns in namespaces[start:start + batch]:
            items += [secret(ns, f"opaque-{i}", 8 * 1024) for i in range(10)]
            items.append(secret(ns, "sh.helm.release.v1.app.v1", 1_000_000, "helm.sh/release.v1"))
            items.append(pull_secret(ns))
        kubectl(env, "apply", "--server-side", "-f", "-",
                stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    run(["kubectl", "apply", "-f", "-"], env, stdin=json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": MARKER, "namespace": "default"},
         "data": {"namespaces": str(len(namespaces))}}))


_SIZES = re.compile(r'^apiserver_response_sizes_sum\{([^}]*)\} (\S+)$')


def secret_bytes_sent(env):
    """The bytes of Secret responses the API server has sent so far, by its own metrics."""
    _, _, text = kubectl(env, "get", "--raw", "/metrics")
    total = 0.0
    for line in text.decode().splitlines():
        match = _SIZES.match(line)
        if match and 'resource="secrets"' in match.group(1) and 'subresource=""' in match.group(1):
            total += float(match.group(2))
    return total


def main():
    args = arguments(__doc__, "unused", namespaces=300)
    with cluster() as env:
        bench(env, args)


def bench(env, args):
    namespaces = [f"large-{i}" for i in range(args.namespaces)]
    setup(env, namespaces)
    settle(env)
    commands = {
        "kubectl get secrets -A --field-selector type=dockerconfigjson":
            ["kubectl", "get", "secrets", "-A", "--field-selector", "type=kubernetes.io/dockerconfigjson"],
        "kubectl regcred list -A": [BINARY, "list", "-A"],
        "kubectl regcred check -A": [BINARY, "check", "-A"],
    }
    results = {}
    for name, cmd in commands.items():
        times, peaks = [], []
        before = secret_bytes_sent(env)
        for _ in range(args.rounds):
            elapsed, peak, _ = run(cmd, env, check=False)
            times.append(elapsed)
            peaks.append(peak)
        sent = (secret_bytes_sent(env) - before) / args.rounds
        results[name] = (statistics.median(times), statistics.median(peaks), sent)

    in_cluster_mb = args.namespaces * (10 * 8 * 1024 + 1_000_000) * 4 / 3 / 1e6
    print(f"\n{args.namespaces} namespaces, {in_cluster_mb:.0f} MB of other Secrets (base64), "
          f"medians of {args.rounds} runs")
    base_time, base_rss, _ = next(iter(results.values()))
    for name, (elapsed, peak, sent) in results.items():
        print(f"  {name:62} {elapsed * 1000:7.0f} ms  {peak / 1024:6.1f} MiB peak  "
              f"{sent / 1e6:7.2f} MB of Secrets sent   time {elapsed / base_time:4.2f}x  "
              f"RSS {peak / base_rss:4.2f}x")
    failed = [name for name, (elapsed, peak, _) in list(results.items())[1:]
              if peak > 1.5 * base_rss or elapsed > base_time]
    print("targets (RSS <= 1.5x kubectl, time <= kubectl): " + ("met" if not failed else
                                                                 "missed by " + ", ".join(failed)))


if __name__ == "__main__":
    main()
