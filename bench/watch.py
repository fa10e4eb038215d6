#!/usr/bin/env python3
"""Benchmark `kubectl regcred sync --watch` on a real cluster.

    python3 bench/watch.py [--namespaces 1000] [--rounds 50] [--idle 60]

One credential kept in N labelled namespaces (N copies) by `sync NAME --watch`. Prints
  1. namespace-to-copy latency, p50 and p99, over --rounds new namespaces: from just before
     `kubectl create namespace` starts (an upper bound: kubectl's own start-up is included)
     to the controller's JSON log line `secret/NAME created` for that namespace;
  2. steady state while idle for --idle seconds: RSS (VmRSS) and CPU (utime+stime from
     /proc) of the watching process;
  3. API requests per minute while idle: apiserver_request_total over the idle window,
     minus the same window measured before the watcher started (the controller-manager's
     own traffic), so what remains is ours.
A CronJob running `sync` every 5 minutes has, by construction, a p99 of about 300 s.
Starts its own cluster unless $REGCRED_E2E_KUBECONFIG is set.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import BINARY, cluster, ensure_namespaces, kubectl, wait_ready, run, rss_mib

SECRET = "watchbench"
LABEL = "bench-watch=yes"


def total_requests(env):
    _, _, text = kubectl(env, "get", "--raw", "/metrics")
    total = 0.0
    for line in text.decode().splitlines():
        if line.startswith("apiserver_request_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values, p):
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--idle", type=int, default=60)
    args = parser.parse_args()
    with cluster() as env:
        bench(env, args)


def bench(env, args):
    namespaces = [f"watch-{i}" for i in range(args.namespaces)]
    ensure_namespaces(env, namespaces)
    for start in range(0, len(namespaces), 200):
        kubectl(env, "label", "namespace", "--overwrite", *namespaces[start:start + 200], LABEL)
    home = tempfile.mkdtemp(prefix="regcred-bench-home.")
    ours = dict(env, HOME=home)
    run([BINARY, "create", SECRET, "--server", "bench.example.com", "--username", "robot",
         "--password-stdin", "--namespace-selector", LABEL, "-q"], ours, stdin="pw")

    window = args.idle
    print(f"measuring the cluster's own traffic for {window} s ...", file=sys.stderr)
    before = total_requests(env)
    time.sleep(window)
    baseline = total_requests(env) - before - 1  # our own /metrics read

    port = 18000 + os.getpid() % 1000
    log = tempfile.NamedTemporaryFile("w+", prefix="regcred-watch.", suffix=".log", delete=False)
    proc = subprocess.Popen([BINARY, "sync", SECRET, "--watch", "--listen", f"127.0.0.1:{port}",
                             "--log-format", "json"], env=ours, stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_ready(proc, port, log.name)
        time.sleep(2)

        # 1. Latency.
        stamp = int(time.time())
        started = {}
        for i in range(args.rounds):
            ns = f"watch-new-{stamp}-{i}"
            started[ns] = time.time()
            manifest = {"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": ns, "labels": {"bench-watch": "yes"}}}
            kubectl(env, "create", "-f", "-", stdin=json.dumps(manifest))
        created = {}
        deadline = time.time() + 30
        while len(created) < len(started) and time.time() < deadline:
            time.sleep(0.5)
            for line in open(log.name):
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("message") == f"secret/{SECRET} created" and event.get("namespace") in started:
                    at = event["timestamp"].rstrip("Z")
                    seconds = time.mktime(time.strptime(at[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
                    seconds += float("0." + at[20:]) if len(at) > 20 else 0.0
                    created[event["namespace"]] = seconds
        if len(created) < len(started):
            sys.exit(f"only {len(created)} of {len(started)} namespaces got their copy")
        latencies = [created[ns] - started[ns] for ns in started]

        # 2. and 3. Idle.
        time.sleep(5)
        before = total_requests(env)
        cpu_before, wall_before = cpu_seconds(proc.pid), time.time()
        time.sleep(window)
        cpu = cpu_seconds(proc.pid) - cpu_before
        wall = time.time() - wall_before
        ours_requests = total_requests(env) - before - 1 - baseline
        rss = rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    copies = args.namespaces + args.rounds
    print(f"sync {SECRET} --watch over {copies} namespaces ({copies} copies), Kubernetes cluster at {env['KUBECONFIG']}")
    print(f"namespace -> copy latency over {len(latencies)} new namespaces: "
          f"p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {percentile(latencies, 99) * 1000:.0f} ms "
          f"(max {max(latencies) * 1000:.0f} ms); a CronJob every 5 min: p99 ~300000 ms")
    print(f"idle {wall:.0f} s: RSS {rss:.1f} MiB, CPU {cpu:.2f} s = {100 * cpu / wall:.2f}% of a core")
    print(f"idle requests: {ours_requests * 60 / wall:.1f}/min beyond the cluster's own "
          f"({baseline * 60 / window:.1f}/min without the watcher)")


if __name__ == "__main__":
    main()
