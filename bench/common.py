"""Shared pieces of the benchmarks: timing commands, the cluster, request counting."""

import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# $REGCRED_BENCH_BINARY runs another build (a debug one, say) and skips the release build.
BINARY = os.environ.get("REGCRED_BENCH_BINARY") or os.path.join(ROOT, "target", "release", "kubectl-regcred")


def run(cmd, env, stdin=None, check=True):
    """Runs a command; returns (seconds, peak RSS in KiB, stdout).

    Peak RSS comes from GNU time: a child forked from Python would inherit Python's
    high-water mark, which Linux keeps across exec."""
    with tempfile.NamedTemporaryFile("r") as rss:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd], env=env,
                              input=(stdin or "").encode(), capture_output=True)
        elapsed = time.perf_counter() - start
        if check and proc.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr.decode()}")
        peak = int(rss.read().strip().splitlines()[-1] or 0)
    return elapsed, peak, proc.stdout


def kubectl(env, *args, stdin=None):
    return run(["kubectl", *args], env, stdin=stdin)


@contextmanager
def cluster():
    """Builds the release binary and yields an environment pointing at a real cluster:
    $REGCRED_E2E_KUBECONFIG if set, else one started (and stopped) here."""
    if not os.path.exists("/usr/bin/time"):
        sys.exit("the benchmarks need GNU time: apt-get install time")
    if not os.environ.get("REGCRED_BENCH_BINARY"):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    env = dict(os.environ)
    cluster_dir = None
    if not env.get("REGCRED_E2E_KUBECONFIG"):
        cluster_dir = tempfile.mkdtemp(prefix="regcred-bench.")
        subprocess.run([os.path.join(ROOT, "tests/e2e/cluster.sh"), "up", cluster_dir], check=True)
        env["REGCRED_E2E_KUBECONFIG"] = os.path.join(cluster_dir, "kubeconfig")
    env["KUBECONFIG"] = env["REGCRED_E2E_KUBECONFIG"]
    try:
        yield env
    finally:
        if cluster_dir:
            subprocess.run([os.path.join(ROOT, "tests/e2e/cluster.sh"), "down", cluster_dir])


@contextmanager
def second_cluster():
    """The kubeconfig of a second control plane: $REGCRED_E2E_SECOND_KUBECONFIG if set, else
    one started (and stopped) here."""
    given = os.environ.get("REGCRED_E2E_SECOND_KUBECONFIG")
    if given:
        yield given
        return
    cluster_dir = tempfile.mkdtemp(prefix="regcred-bench2.")
    subprocess.run([os.path.join(ROOT, "tests/e2e/cluster.sh"), "up", cluster_dir], check=True)
    try:
        yield os.path.join(cluster_dir, "kubeconfig")
    finally:
        subprocess.run([os.path.join(ROOT, "tests/e2e/cluster.sh"), "down", cluster_dir])


def ensure_namespaces(env, names, *kubectl_args):
    """Creates the namespaces that are missing; `kubectl_args` pick the context, if any."""
    existing = set(kubectl(env, *kubectl_args, "get", "ns", "-o", "name")[2].decode().split())
    missing = [ns for ns in names if f"namespace/{ns}" not in existing]
    if missing:
        import json
        items = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in missing]
        kubectl(env, *kubectl_args, "create", "-f", "-",
                stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))


def secrets_list(env, secret, password, namespaces):
    """The List kubectl creates in the comparisons: the very Secret we would write (an explicit
    quay.io login), once per namespace, as JSON."""
    import json
    _, _, one = run([BINARY, "create", secret, "--server", "quay.io", "--username", "robot",
                     "--password-stdin", "--dry-run=client", "-o", "json", "-n", "x"], env, stdin=password)
    template = json.loads(one)
    items = []
    for ns in namespaces:
        item = json.loads(json.dumps(template))
        item["metadata"]["namespace"] = ns
        items.append(item)
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


_METRIC = re.compile(r'^apiserver_request_total\{([^}]*)\} (\S+)$')


def request_counts(env, resources):
    """apiserver_request_total by verb for these resources (main resource, not status)."""
    _, _, text = kubectl(env, "get", "--raw", "/metrics")
    counts = {}
    for line in text.decode().splitlines():
        match = _METRIC.match(line)
        if not match:
            continue
        labels = dict(kv.split("=", 1) for kv in re.findall(r'\w+="[^"]*"', match.group(1)))
        labels = {k: v.strip('"') for k, v in labels.items()}
        if labels.get("resource") in resources and not labels.get("subresource"):
            verb = labels["verb"]
            counts[verb] = counts.get(verb, 0) + float(match.group(2))
    return counts


def delta(before, after):
    return {verb: int(after.get(verb, 0) - before.get(verb, 0)) for verb in after
            if after.get(verb, 0) != before.get(verb, 0)}


def settle(env, resources=("secrets", "serviceaccounts", "deployments", "replicasets", "pods"), quiet=2.0, limit=120):
    """Waits until no client writes these resources for `quiet` seconds, so the controller-manager's
    own work (token Secrets, ReplicaSets for new namespaces and Deployments) neither slows the
    timed runs nor shows up in their request counts."""
    writes = {"POST", "PUT", "PATCH", "DELETE"}
    deadline = time.time() + limit
    last = None
    while time.time() < deadline:
        counts = request_counts(env, set(resources))
        current = sum(n for verb, n in counts.items() if verb in writes)
        if current == last:
            return
        last = current
        time.sleep(quiet)


def arguments(doc, loop_help, namespaces=200):
    """The benchmarks' shared flags."""
    import argparse
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loop-rounds", type=int, default=2, help=loop_help)
    parser.add_argument("--namespaces", type=int, default=namespaces)
    return parser.parse_args()


def wait_ready(proc, port, log_path, limit=60):
    """Waits until the watcher `proc` answers /readyz on 127.0.0.1:`port` with 200; exits
    with its log if it dies or takes over `limit` seconds."""
    import urllib.request
    deadline = time.time() + limit
    while True:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2).status == 200:
                return
        except OSError:
            pass
        if time.time() > deadline or proc.poll() is not None:
            sys.exit("the watcher never became ready:\n" + open(log_path).read())
        time.sleep(0.05)


def rss_mib(pid):
    """The resident memory of process `pid`, in MiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0
