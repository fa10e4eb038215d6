#!/usr/bin/env bash
# A real Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager) for the
# end-to-end tests, in two versions: the oldest we support (1.20, built from Debian's source
# package with Debian's Go 1.19) and the newest (built from k8s.io/kubernetes on the Go module
# proxy with the machine's Go). Also builds the Go test tools: krew and the kubelet oracle.
#
#   tests/e2e/cluster.sh deps               install the Debian packages it needs
#   tests/e2e/cluster.sh build [VERSION…]   build control planes (default: all supported) and tools (cached)
#   tests/e2e/cluster.sh check              fail, naming tests/setup.sh, unless everything is built;
#                                           rebuilds the kubelet oracle offline when its source changed
#   tests/e2e/cluster.sh up DIR [VERSION]   start one (default: newest; built already); writes DIR/kubeconfig and DIR/env
#   tests/e2e/cluster.sh down DIR           stop what `up DIR` started, by PID
#   tests/e2e/cluster.sh tool NAME          print the path of a built tool (krew, kubelet-oracle[-oldest])
#   tests/e2e/cluster.sh latest             the newest k8s.io/kubernetes release the proxy serves
#
# Builds are cached in ${REGCRED_CACHE:-~/.cache/kubectl-regcred}, keyed by version.
set -euo pipefail

OLDEST=1.20.2
NEWEST=1.37.2
# The etcd release Kubernetes NEWEST is built against (kubeadm's DefaultEtcdVersion).
NEWEST_ETCD=3.7.0
KREW_VERSION=0.4.3
# Debian's Go for 1.20: its Makefile and vendored code predate modules-by-default.
DEBIAN_GO=/usr/lib/go-1.19/bin

CACHE=${REGCRED_CACHE:-$HOME/.cache/kubectl-regcred}
HERE=$(cd "$(dirname "$0")" && pwd)

log() { printf 'cluster: %s\n' "$*" >&2; }

bin_dir() { echo "$CACHE/kube-$1/bin"; }

deps() {
  local need=()
  for pkg in etcd-server golang-go make rsync golang-github-modern-go-reflect2-dev openssl curl \
    golang-docker-credential-helpers gnome-keyring dbus libsecret-tools dbus-user-session \
    docker-registry apache2-utils skopeo time shellcheck tinyproxy \
    python3-prometheus-client python3-jwt python3-cryptography buildah musl-tools tmux \
    man-db gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user gcc-mingw-w64-x86-64 wine64 wine; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
  done
  if ((${#need[@]})); then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  command -v go >/dev/null || { log "no Go toolchain on PATH for Kubernetes $NEWEST"; exit 1; }
}

# `make` in a Kubernetes 1.20 tree with Debian's Go, never the machine's newer one.
debian_make() {
  local tree=$1
  shift
  (cd "$tree" && PATH="$DEBIAN_GO:$PATH" GOTOOLCHAIN=local GOFLAGS='' make "$@" >/dev/null)
}

# Kubernetes 1.20 from Debian's source package, built in GOPATH mode by its own Makefile.
build_debian_source() {
  local version=$1 bin
  bin=$(bin_dir "$version")
  local oracle=$CACHE/oracle-$version/bin
  [[ -x $bin/kube-apiserver && -x $bin/kube-controller-manager && -x $oracle/kubelet-oracle ]] && return
  local work=$CACHE/build-$version
  rm -rf "$work" && mkdir -p "$work/lists/partial"
  # A private deb-src list so the machine's own apt configuration is untouched.
  echo 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main' >"$work/sources.list"
  local apt_opts=(-oDir::Etc::SourceList="$work/sources.list" -oDir::Etc::SourceParts=/dev/null -oDir::State::Lists="$work/lists")
  log "fetching the kubernetes source package"
  apt-get "${apt_opts[@]}" update -qq >/dev/null
  (cd "$work" && apt-get "${apt_opts[@]}" source --download-only kubernetes >/dev/null 2>&1)
  local origs=("$work"/kubernetes_*.orig.tar.*)
  mkdir -p "$work/src" && tar -xf "${origs[0]}" -C "$work/src" --strip-components=1
  # reflect2 v1.0.1 (vendored) crashes the apiserver under Go >= 1.18: use Debian's 1.0.2.
  rm -rf "$work/src/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$work/src/vendor/github.com/modern-go/reflect2"
  find "$work/src/vendor/github.com/modern-go/reflect2" -name '*_test.go' -delete
  # With it, the same kubelet oracle against 1.20's code, to find where the versions differ.
  mkdir -p "$work/src/cmd/kubelet-oracle"
  cp "$HERE/../kubelet-oracle/main.go" "$work/src/cmd/kubelet-oracle/"
  log "building Kubernetes $version with Debian's $("$DEBIAN_GO/go" version | cut -d' ' -f3) (several minutes, once)"
  # One make for all three: each make run first builds the tree's code generators.
  debian_make "$work/src" WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kubelet-oracle"
  mkdir -p "$bin" "$oracle"
  cp "$work/src/_output/bin/kube-apiserver" "$work/src/_output/bin/kube-controller-manager" "$bin/"
  cp "$work/src/_output/bin/kubelet-oracle" "$oracle/"
  rm -rf "$work"
  log "cached in $bin"
}

# A wrapper module that requires k8s.io/kubernetes vVERSION. `go install` refuses that module
# because its go.mod replaces every k8s.io staging module with a local directory; the wrapper
# repeats that replace block, pinning each staging module to its published v0.MINOR.PATCH.
kube_module() {
  local version=$1 dir=$2
  mkdir -p "$dir"
  local upstream
  upstream=$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v$version" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  {
    printf 'module regcred.test/kube\n\ngo %s\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' \
      "$(sed -n 's/^go //p' "$upstream")" "$version"
    sed -n '/^replace (/,/^)/p' "$upstream" | awk -v v="v0.${version#1.}" '$2 == "=>" && $3 ~ /^\.\/staging\// { printf "\t%s => %s %s\n", $1, $1, v }'
    printf ')\n'
  } >"$dir/go.mod"
}

# Kubernetes NEWEST and its etcd from the Go module proxy, with the machine's Go.
build_go_modules() {
  local version=$1 bin
  bin=$(bin_dir "$version")
  if [[ -x $bin/kube-controller-manager && -x $bin/etcd ]] &&
    [[ $("$bin/kube-apiserver" --version 2>/dev/null) == "Kubernetes v$version" ]]; then
    return
  fi
  local work=$CACHE/build-$version
  rm -rf "$work"
  kube_module "$version" "$work/kube"
  log "building Kubernetes $version from the Go module proxy with $(go version | cut -d' ' -f3) (several minutes, once)"
  mkdir -p "$bin"
  # The version stamp hack/lib/version.sh would set: clients and discovery read it.
  # -s -w: no symbol table or DWARF; nothing here debugs the control plane, and it links faster.
  local minor pkg ldflags="-s -w"
  minor=${version#1.}; minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=v$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  (cd "$work/kube" && GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager)
  # etcd's own main package lives in a module with replace directives too; etcdmain.Main is
  # what that main calls.
  mkdir -p "$work/etcd"
  printf 'module regcred.test/etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$NEWEST_ETCD" >"$work/etcd/go.mod"
  printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' >"$work/etcd/main.go"
  log "building etcd $NEWEST_ETCD"
  (cd "$work/etcd" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$bin/etcd" .)
  rm -rf "$work"
  log "cached in $bin"
}

# krew, the plugin manager, for the real `kubectl krew install` test.
build_krew() {
  local out=$CACHE/krew-$KREW_VERSION/bin/kubectl-krew
  [[ -x $out ]] && return
  log "building krew $KREW_VERSION"
  mkdir -p "$(dirname "$out")"
  GOFLAGS=-mod=mod GOBIN="$(dirname "$out")" go install -ldflags "-s -w" "sigs.k8s.io/krew/cmd/krew@v$KREW_VERSION"
  mv "$(dirname "$out")/krew" "$out"
}

# The kubelet oracle (tests/kubelet-oracle) against Kubernetes NEWEST. Go's build cache makes
# a rebuild after a source change cheap.
build_oracle() {
  local work=$CACHE/oracle-$NEWEST
  [[ -f $work/go.mod ]] || kube_module "$NEWEST" "$work"
  sed -i 's|^module .*|module regcred.test/kubelet-oracle|' "$work/go.mod"
  cp "$HERE"/../kubelet-oracle/*.go "$work/"
  (cd "$work" && GOFLAGS=-mod=mod go build -trimpath -o "$work/bin/kubelet-oracle" .)
}

# What the tests need, built: they install nothing, so a missing part fails here, naming the
# command that builds it. A changed oracle source is rebuilt from the module cache alone.
check() {
  local missing=() v
  for v in "$OLDEST" "$NEWEST"; do
    [[ -x $(bin_dir "$v")/kube-apiserver && -x $(bin_dir "$v")/kube-controller-manager ]] || missing+=("Kubernetes $v")
  done
  [[ -x $(bin_dir "$NEWEST")/etcd ]] || missing+=("etcd $NEWEST_ETCD")
  [[ -x $(tool krew) ]] || missing+=("krew $KREW_VERSION")
  [[ -x $(tool kubelet-oracle) && -x $(tool kubelet-oracle-oldest) ]] || missing+=("the kubelet oracle")
  if ((${#missing[@]})); then
    log "not built: ${missing[*]}; run tests/setup.sh (or tests/e2e/cluster.sh build)"
    exit 1
  fi
  local source changed=""
  for source in "$HERE"/../kubelet-oracle/*.go; do
    cmp -s "$source" "$CACHE/oracle-$NEWEST/$(basename "$source")" || changed=yes
  done
  if [[ -n $changed ]]; then
    log "tests/kubelet-oracle changed: rebuilding the oracle (offline)"
    GOPROXY=off build_oracle || {
      log "the changed oracle needs Go modules that are not in the module cache: run tests/e2e/cluster.sh build (it uses the Go module proxy)"
      exit 1
    }
  fi
}

# `up` starts only what is built: tests never build Kubernetes.
require_built() {
  local version=$1 bin
  case $version in
    "$OLDEST" | "$NEWEST") ;;
    *) log "unsupported version $version (supported: $OLDEST, $NEWEST)"; exit 2 ;;
  esac
  bin=$(bin_dir "$version")
  [[ -x $bin/kube-apiserver && -x $bin/kube-controller-manager ]] ||
    { log "Kubernetes $version is not built: run tests/setup.sh (or tests/e2e/cluster.sh build $version)"; exit 1; }
}

build() {
  deps
  local versions=("$@")
  ((${#versions[@]})) || versions=("$OLDEST" "$NEWEST")
  local v
  for v in "${versions[@]}"; do
    case $v in "$OLDEST" | "$NEWEST") ;; *) log "unsupported version $v (supported: $OLDEST, $NEWEST)"; exit 2 ;; esac
  done
  # The two versions build side by side, each with its own Go and work directory: while one
  # downloads or links on one core, the other compiles. Each logs to a file, shown if it fails.
  mkdir -p "$CACHE"
  local pids=() names=() failed=() i
  for v in "${versions[@]}"; do
    if [[ $v == "$OLDEST" ]]; then build_debian_source "$v" >"$CACHE/build-$v.log" 2>&1 &
    else build_go_modules "$v" >"$CACHE/build-$v.log" 2>&1 &
    fi
    pids+=($!) names+=("$v")
  done
  for i in "${!pids[@]}"; do
    wait "${pids[i]}" || failed+=("${names[i]}")
  done
  for v in "${versions[@]}"; do
    if [[ " ${failed[*]} " == *" $v "* ]]; then
      log "building Kubernetes $v failed; the end of $CACHE/build-$v.log:"
      tail -30 "$CACHE/build-$v.log" >&2
    else
      sed 's/^/  /' "$CACHE/build-$v.log" >&2
    fi
  done
  ((${#failed[@]} == 0)) || exit 1
  build_krew
  build_oracle
}

tool() {
  case $1 in
    krew) echo "$CACHE/krew-$KREW_VERSION/bin/kubectl-krew" ;;
    kubelet-oracle) echo "$CACHE/oracle-$NEWEST/bin/kubelet-oracle" ;;
    kubelet-oracle-oldest) echo "$CACHE/oracle-$OLDEST/bin/kubelet-oracle" ;;
    *) log "unknown tool $1"; exit 2 ;;
  esac
}

latest() {
  (cd "$(mktemp -d)" && go list -m -versions k8s.io/kubernetes) | tr ' ' '\n' | grep -E '^v1\.[0-9]+\.[0-9]+$' | sort -V | tail -1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

up() {
  local dir=$1 version=${2:-$NEWEST}
  require_built "$version"
  local bin etcd=/usr/bin/etcd
  bin=$(bin_dir "$version")
  [[ -x $bin/etcd ]] && etcd=$bin/etcd
  mkdir -p "$dir/etcd" "$dir/certs"
  dir=$(cd "$dir" && pwd)
  local etcd_port peer_port api_port admin_token dev_token
  etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port)
  admin_token=$(openssl rand -hex 16); dev_token=$(openssl rand -hex 16)
  openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
  cat >"$dir/tokens.csv" <<CSV
$admin_token,admin,admin-uid,"system:masters"
$dev_token,dev,dev-uid
CSV
  "$etcd" --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls "http://127.0.0.1:$peer_port" \
    >"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/etcd.pid"
  # An audit log of Secret lists and of writes to what we touch, so tests can see which
  # Secrets a command asked for, count its writes, and prove a dry run wrote nothing.
  cat >"$dir/audit-policy.yaml" <<POLICY
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [list, create, update, patch, delete]
  resources: [{group: "", resources: [secrets]}]
- level: Metadata
  verbs: [create, update, patch, delete]
  resources:
  - {group: "", resources: [serviceaccounts, pods]}
  - {group: apps, resources: [deployments, daemonsets, statefulsets, replicasets]}
  - {group: batch, resources: [jobs, cronjobs]}
- level: None
POLICY
  "$bin/kube-apiserver" --etcd-servers="http://127.0.0.1:$etcd_port" --secure-port="$api_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --cert-dir="$dir/certs" \
    --service-cluster-ip-range=10.0.0.0/24 --token-auth-file="$dir/tokens.csv" --authorization-mode=RBAC \
    --service-account-key-file="$dir/sa.key" --service-account-signing-key-file="$dir/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc --endpoint-reconciler-type=none \
    --audit-policy-file="$dir/audit-policy.yaml" --audit-log-path="$dir/audit.log" --audit-log-mode=blocking \
    >"$dir/apiserver.log" 2>&1 &
  echo $! >"$dir/apiserver.pid"
  local server=https://127.0.0.1:$api_port
  cat >"$dir/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "$server", insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: "$admin_token"}
- name: dev
  user: {token: "$dev_token"}
contexts:
- name: admin
  context: {cluster: e2e, user: admin}
- name: dev
  context: {cluster: e2e, user: dev}
current-context: admin
KC
  local i
  for i in $(seq 1 240); do
    if curl -ks -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $admin_token" "$server/readyz" | grep -q 200; then
      break
    fi
    ((i == 240)) && { log "apiserver not ready; see $dir/apiserver.log"; tail -20 "$dir/apiserver.log" >&2; exit 1; }
    sleep 0.5
  done
  local cm_flags=(--kubeconfig="$dir/kubeconfig" --service-account-private-key-file="$dir/sa.key"
    --root-ca-file="$dir/certs/apiserver.crt" --leader-elect=false --secure-port=0)
  # The insecure port (and its --port flag) was removed in 1.24.
  [[ $version == "$OLDEST" ]] && cm_flags+=(--port=0)
  "$bin/kube-controller-manager" "${cm_flags[@]}" >"$dir/controller-manager.log" 2>&1 &
  echo $! >"$dir/controller-manager.pid"
  cat >"$dir/env" <<ENV
export REGCRED_E2E_KUBECONFIG=$dir/kubeconfig
export REGCRED_E2E_SERVER=$server
export REGCRED_E2E_KUBE_VERSION=$version
export REGCRED_E2E_AUDIT_LOG=$dir/audit.log
ENV
  log "up: Kubernetes $version at $server (kubeconfig $dir/kubeconfig)"
}

down() {
  local dir=$1 p pid
  for p in controller-manager apiserver etcd; do
    if [[ -f $dir/$p.pid ]]; then
      pid=$(cat "$dir/$p.pid")
      kill "$pid" 2>/dev/null || true
      # A bounded wait for a graceful exit (etcd stays up meanwhile), then SIGKILL: an API
      # server left draining would outlive the run.
      for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/$p.pid"
    fi
  done
}

case ${1:-} in
  deps) deps ;;
  build) shift; build "$@" ;;
  check) check ;;
  up) up "${2:?usage: cluster.sh up DIR [VERSION]}" "${3:-}" ;;
  down) down "${2:?usage: cluster.sh down DIR}" ;;
  tool) tool "${2:?usage: cluster.sh tool krew|kubelet-oracle|kubelet-oracle-oldest}" ;;
  latest) latest ;;
  *) echo "usage: $0 deps|build [VERSION…]|check|up DIR [VERSION]|down DIR|tool NAME|latest" >&2; exit 2 ;;
esac
