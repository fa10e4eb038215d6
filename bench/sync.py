#!/usr/bin/env python3
"""Benchmark `kubectl regcred sync` against `kubectl apply -f` of the same List, in one run.

    python3 bench/sync.py [--rounds 5] [--namespaces 200]

One credential (from a docker config.json in a private HOME) copied into N namespaces. Prints
the medians of
  1. `sync NAME` with nothing changed: time, and the requests it made (0 writes, at most 2
     LISTs), against `kubectl apply -f` of the List of the same Secrets;
  2. `sync NAME` after a rotation (N updates) against `kubectl apply -f` of the rotated List.
Requests are counted from the API server's own apiserver_request_total.
Needs GNU time (Debian package `time`); starts its own cluster unless
$REGCRED_E2E_KUBECONFIG is set.
"""

import base64
import json
import os
import statistics
import sys
import tempfile

from common import BINARY, arguments, cluster, delta, ensure_namespaces, kubectl, request_counts, run, settle

SECRET = "synccred"


def login(home, password):
    """`~/.docker/config.json` with one quay.io login."""
    os.makedirs(os.path.join(home, ".docker"), exist_ok=True)
    auth = base64.b64encode(f"robot:{password}".encode()).decode()
    with open(os.path.join(home, ".docker", "config.json"), "w") as f:
        json.dump({"auths": {"quay.io": {"auth": auth}}}, f)


def secret_list(env, namespaces):
    """The Secrets as they are now, as a List kubectl can apply."""
    _, _, out = kubectl(env, "get", "secret", "-A", "--field-selector", f"metadata.name={SECRET}", "-o", "json")
    items = []
    for item in json.loads(out)["items"]:
        meta = item["metadata"]
        item["metadata"] = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta}
        items.append(item)
    if len(items) != len(namespaces):
        sys.exit(f"expected {len(namespaces)} copies, found {len(items)}")
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def main():
    args = arguments(__doc__, "unused")
    with cluster() as env:
        bench(env, args)


def bench(env, args):
    namespaces = [f"sync-{i}" for i in range(args.namespaces)]
    ensure_namespaces(env, namespaces)
    home = tempfile.mkdtemp(prefix="regcred-bench-home.")
    ours_env = dict(env, HOME=home)
    ours_env.pop("DOCKER_CONFIG", None)
    login(home, "first")
    run([BINARY, "create", SECRET, "--server", "quay.io", "--namespaces", ",".join(namespaces)], ours_env)
    # kubectl apply needs its last-applied annotation once before it can compare.
    kubectl(env, "apply", "-f", "-", stdin=secret_list(env, namespaces))
    settle(env)
    sync = [BINARY, "sync", SECRET]

    noop, noop_apply, rotate, rotate_apply = [], [], [], []
    noop_requests = rotate_requests = None
    for round_ in range(args.rounds):
        same = secret_list(env, namespaces)
        noop_apply.append(kubectl(env, "apply", "-f", "-", stdin=same)[0])
        before = request_counts(env, {"secrets", "namespaces"})
        noop.append(run(sync, ours_env)[0])
        noop_requests = delta(before, request_counts(env, {"secrets", "namespaces"}))
        if any(verb in noop_requests for verb in ("POST", "PUT", "PATCH", "DELETE")):
            sys.exit(f"a no-op sync wrote: {noop_requests}")

        login(home, f"rotated-{round_}")
        before = request_counts(env, {"secrets", "namespaces"})
        rotate.append(run(sync, ours_env)[0])
        rotate_requests = delta(before, request_counts(env, {"secrets", "namespaces"}))
        # The same rotation, done by kubectl: apply the List with a new password.
        rotated = json.loads(secret_list(env, namespaces))
        auth = base64.b64encode(f"robot:kubectl-{round_}".encode()).decode()
        payload = base64.b64encode(json.dumps({"auths": {"quay.io": {"auth": auth}}}).encode()).decode()
        for item in rotated["items"]:
            item["data"] = {".dockerconfigjson": payload}
        rotate_apply.append(kubectl(env, "apply", "-f", "-", stdin=json.dumps(rotated))[0])
        # Back to what the source holds, untimed, so the next no-op round starts in sync.
        run(sync, ours_env)
        settle(env)

    med = statistics.median
    n = args.namespaces
    print(f"\n{n} namespaces, medians of {args.rounds} rounds")
    print(f"  kubectl apply -f List, nothing changed     {med(noop_apply):7.3f} s")
    print(f"  kubectl regcred sync, nothing changed      {med(noop):7.3f} s   ratio {med(noop_apply) / med(noop):5.1f}x"
          f"   requests {noop_requests}")
    print(f"  kubectl apply -f List, {n} rotated         {med(rotate_apply):7.3f} s")
    print(f"  kubectl regcred sync, after a rotation     {med(rotate):7.3f} s   ratio {med(rotate_apply) / med(rotate):5.1f}x"
          f"   requests {rotate_requests}")
    lists = noop_requests.get("LIST", 0)
    met = med(noop_apply) / med(noop) >= 5 and lists <= 2 and med(rotate_apply) / med(rotate) >= 3
    print("targets (no-op >= 5x and <= 2 LISTs, rotation >= 3x): " + ("met" if met else "missed"))


if __name__ == "__main__":
    main()
