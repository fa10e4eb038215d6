#!/usr/bin/env python3
"""Benchmark `kubectl regcred attach` against a shell loop of `kubectl patch`, in one run.

    python3 bench/attach.py [--rounds 5] [--namespaces 200]

One Deployment and one pull Secret in each of N namespaces. Each round removes the
reference, then times attaching it to all N Deployments, both ways, and then a second,
no-op `attach` run. The API server's own request counters (apiserver_request_total) show
how many requests each run made; the no-op run must make zero writes.
Needs GNU time (Debian package `time`); starts its own cluster unless
$REGCRED_E2E_KUBECONFIG is set.
"""

import json
import statistics
import sys

from common import BINARY, arguments, cluster, delta, ensure_namespaces, kubectl, request_counts, run, settle

SECRET = "benchcred"
WRITES = {"POST", "PUT", "PATCH", "DELETE", "APPLY"}


def setup(env, namespaces):
    ensure_namespaces(env, namespaces)
    run([BINARY, "create", SECRET, "--server", "quay.io", "--username", "robot", "--password-stdin",
         "--namespaces", ",".join(namespaces), "--force"], env, stdin="pw")
    _, _, out = kubectl(env, "get", "deployments", "-A", "--field-selector", "metadata.name=web", "-o", "name")
    if len(out.split()) < len(namespaces):
        items = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
                  "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "web", "image": "quay.io/team/web:1"}]}}}}
                 for ns in namespaces]
        kubectl(env, "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))


def main():
    args = arguments(__doc__, "rounds of the slow kubectl patch loop")
    with cluster() as env:
        bench(env, args)


def bench(env, args):
    namespaces = [f"bench-{i}" for i in range(args.namespaces)]
    setup(env, namespaces)
    settle(env)
    scope = ["--namespaces", ",".join(namespaces)]
    ours = [BINARY, "attach", SECRET, "deployment/web", *scope]
    detach = [BINARY, "detach", SECRET, "deployment/web", *scope]
    patch = json.dumps({"spec": {"template": {"spec": {"imagePullSecrets": [{"name": SECRET}]}}}})

    regcred, noop, loop = [], [], []
    noop_requests = attach_requests = None
    for round_ in range(args.rounds):
        run(detach, env)
        before = request_counts(env, {"deployments", "secrets"})
        regcred.append(run(ours, env)[0])
        attach_requests = delta(before, request_counts(env, {"deployments", "secrets"}))
        settle(env)
        before = request_counts(env, {"deployments", "secrets"})
        noop.append(run(ours, env)[0])
        noop_requests = delta(before, request_counts(env, {"deployments", "secrets"}))
        writes = sum(n for verb, n in noop_requests.items() if verb in WRITES)
        if writes:
            sys.exit(f"the no-op attach made {writes} writes: {noop_requests}")
        if round_ < args.loop_rounds:
            run(detach, env)
            total = 0.0
            for ns in namespaces:
                total += kubectl(env, "patch", "deployment", "web", "-n", ns, "-p", patch)[0]
            loop.append(total)

    med = statistics.median
    n = args.namespaces
    print(f"\nattach one Secret to {n} Deployments in {n} namespaces "
          f"(medians of {args.rounds} rounds, {args.loop_rounds} for the kubectl loop)")
    print(f"  shell loop of kubectl patch     {med(loop):8.3f} s")
    print(f"  kubectl-regcred attach          {med(regcred):8.3f} s   ratio {med(loop) / med(regcred):5.1f}x")
    print(f"    requests (apiserver_request_total): {attach_requests}")
    print(f"  kubectl-regcred attach (no-op)  {med(noop):8.3f} s   requests: {noop_requests}, writes: 0")


if __name__ == "__main__":
    main()
