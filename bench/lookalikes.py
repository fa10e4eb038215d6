#!/usr/bin/env python3
"""What look-alikes cost `sync --watch` (the controller), and whether it gets it back.

    python3 bench/lookalikes.py [--count 200] [--size-kib 900]

A tenant who may write Secrets in one namespace can write Secrets that look like ours: our
label, a scope of their own (here each its own namespace selector), and a large payload.
This starts `sync --watch` for every credential (as the in-cluster controller runs), then
prints, for the watching process: API connections (established TCP connections to the API
server, from /proc), metric series (sample lines of /metrics) and RSS (VmRSS), measured
  1. at rest, before any look-alike;
  2. with --count look-alikes of --size-kib each, once /metrics stops growing;
  3. after they are deleted, once /metrics stops shrinking.
What docs/controller.md promises: 3 returns to 1. Starts its own cluster unless
$REGCRED_E2E_KUBECONFIG is set; $REGCRED_BENCH_BINARY picks the build to run.
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import BINARY, cluster, ensure_namespaces, kubectl, wait_ready, rss_mib

LABEL = "bench-lookalike=yes"


def metrics(port):
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return [line for line in body.splitlines() if line and not line.startswith("#")]


def connections(pid, server_port):
    """Established TCP connections of `pid` to the API server's port."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if fields[3] == "01" and fields[9] in inodes and remote_port == server_port:
                    count += 1
    return count


def settle(port, growing, limit=120):
    """Waits until the number of series stops moving (3 s without change)."""
    last, since, deadline = None, time.time(), time.time() + limit
    while time.time() < deadline:
        now = len(metrics(port))
        if now != last:
            last, since = now, time.time()
        elif time.time() - since > 3:
            return
        time.sleep(0.5)
    print(f"warning: /metrics still {'growing' if growing else 'shrinking'} after {limit} s", file=sys.stderr)


def lookalike(i, size):
    payload = {"auths": {"corp.example": {"username": "x", "password": "y"}}, "pad": "x" * size}
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "metadata": {
            "name": f"lookalike-{i}", "namespace": f"lookalike-{i}",
            "labels": {"app.kubernetes.io/managed-by": "kubectl-regcred", "bench-lookalike": "yes"},
            "annotations": {
                "kubectl-regcred/registries": "corp.example",
                "kubectl-regcred/sources": json.dumps({"corp.example": "explicit"}),
                "kubectl-regcred/scope": json.dumps({"selector": f"lookalike-{i}=yes"}),
            },
        },
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(payload).encode()).decode()},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--size-kib", type=int, default=900)
    args = parser.parse_args()
    with cluster() as env:
        bench(env, args)


def bench(env, args):
    server = subprocess.run(["kubectl", "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"],
                            env=env, capture_output=True, text=True, check=True).stdout
    server_port = int(server.rsplit(":", 1)[1])
    namespaces = [f"lookalike-{i}" for i in range(args.count)]
    ensure_namespaces(env, namespaces)
    home = tempfile.mkdtemp(prefix="regcred-bench-home.")
    port = 19000 + os.getpid() % 1000
    log = tempfile.NamedTemporaryFile("w+", prefix="regcred-lookalikes.", suffix=".log", delete=False)
    proc = subprocess.Popen([BINARY, "sync", "--watch", "--listen", f"127.0.0.1:{port}", "--log-format", "json"],
                            env=dict(env, HOME=home), stdout=subprocess.DEVNULL, stderr=log)
    rows = []
    try:
        wait_ready(proc, port, log.name)
        time.sleep(3)

        def measure(what):
            rows.append((what, connections(proc.pid, server_port), len(metrics(port)), rss_mib(proc.pid)))

        measure("at rest")
        for start in range(0, args.count, 20):
            items = [lookalike(i, args.size_kib * 1024) for i in range(start, min(start + 20, args.count))]
            # create, not apply: apply would copy the payload into an annotation (256 KiB at most).
            kubectl(env, "create", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        settle(port, growing=True)
        measure(f"{args.count} look-alikes of {args.size_kib} KiB")
        kubectl(env, "delete", "secret", "-A", "-l", LABEL, "--wait=false")
        settle(port, growing=False)
        time.sleep(3)
        measure("after deleting them")
    finally:
        proc.terminate()
        proc.wait()
    print(f"{'':<36} {'connections':>11} {'series':>7} {'RSS MiB':>8}")
    for what, conns, series, rss in rows:
        print(f"{what:<36} {conns:>11} {series:>7} {rss:>8.1f}")


if __name__ == "__main__":
    main()
