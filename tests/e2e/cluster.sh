#!/usr/bin/env bash
# A real Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager)
# built from Debian's packages, for the end-to-end tests.
#
#   tests/e2e/cluster.sh deps        install the Debian packages it needs
#   tests/e2e/cluster.sh build       build kube-apiserver/controller-manager (cached)
#   tests/e2e/cluster.sh up DIR      start everything; writes DIR/kubeconfig and DIR/env
#   tests/e2e/cluster.sh down DIR    stop what `up DIR` started, by PID
#
# The build is cached in ${REGCRED_CACHE:-~/.cache/kubectl-regcred}, keyed by version.
set -euo pipefail

KUBE_VERSION=1.20.2
CACHE=${REGCRED_CACHE:-$HOME/.cache/kubectl-regcred}
BIN=$CACHE/kube-$KUBE_VERSION/bin

log() { printf 'cluster: %s\n' "$*" >&2; }

deps() {
  local need=()
  for pkg in etcd-server golang-go make rsync golang-github-modern-go-reflect2-dev openssl curl \
    golang-docker-credential-helpers gnome-keyring dbus libsecret-tools dbus-user-session \
    docker-registry apache2-utils skopeo time shellcheck; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
  done
  if ((${#need[@]})); then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

build() {
  if [[ -x $BIN/kube-apiserver && -x $BIN/kube-controller-manager ]]; then
    return
  fi
  deps
  local work=$CACHE/build-$KUBE_VERSION
  rm -rf "$work" && mkdir -p "$work/lists/partial"
  # A private deb-src list so the machine's own apt configuration is untouched.
  echo 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main' >"$work/sources.list"
  local apt_opts=(-oDir::Etc::SourceList="$work/sources.list" -oDir::Etc::SourceParts=/dev/null -oDir::State::Lists="$work/lists")
  log "fetching the kubernetes source package"
  apt-get "${apt_opts[@]}" update -qq >/dev/null
  (cd "$work" && apt-get "${apt_opts[@]}" source --download-only kubernetes >/dev/null)
  local origs=("$work"/kubernetes_*.orig.tar.*)
  local orig=${origs[0]}
  mkdir -p "$work/src" && tar -xf "$orig" -C "$work/src" --strip-components=1
  # reflect2 v1.0.1 (vendored) crashes the apiserver under Go >= 1.18: use Debian's 1.0.2.
  rm -rf "$work/src/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$work/src/vendor/github.com/modern-go/reflect2"
  find "$work/src/vendor/github.com/modern-go/reflect2" -name '*_test.go' -delete
  log "building kube-apiserver and kube-controller-manager (takes several minutes once)"
  (cd "$work/src" && make WHAT=cmd/kube-apiserver >/dev/null && make WHAT=cmd/kube-controller-manager >/dev/null)
  mkdir -p "$BIN"
  cp "$work/src/_output/bin/kube-apiserver" "$work/src/_output/bin/kube-controller-manager" "$BIN/"
  rm -rf "$work"
  log "cached in $BIN"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

up() {
  local dir=$1
  build
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
  etcd --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls "http://127.0.0.1:$peer_port" \
    >"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/etcd.pid"
  "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$etcd_port" --secure-port="$api_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --cert-dir="$dir/certs" \
    --service-cluster-ip-range=10.0.0.0/24 --token-auth-file="$dir/tokens.csv" --authorization-mode=RBAC \
    --service-account-key-file="$dir/sa.key" --service-account-signing-key-file="$dir/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc --endpoint-reconciler-type=none \
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
  for i in $(seq 1 120); do
    if curl -ks -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $admin_token" "$server/readyz" | grep -q 200; then
      break
    fi
    ((i == 120)) && { log "apiserver not ready; see $dir/apiserver.log"; tail -20 "$dir/apiserver.log" >&2; exit 1; }
    sleep 0.5
  done
  "$BIN/kube-controller-manager" --kubeconfig="$dir/kubeconfig" --service-account-private-key-file="$dir/sa.key" \
    --root-ca-file="$dir/certs/apiserver.crt" --leader-elect=false --port=0 --secure-port=0 \
    >"$dir/controller-manager.log" 2>&1 &
  echo $! >"$dir/controller-manager.pid"
  cat >"$dir/env" <<ENV
export REGCRED_E2E_KUBECONFIG=$dir/kubeconfig
export REGCRED_E2E_SERVER=$server
ENV
  log "up: $server (kubeconfig $dir/kubeconfig)"
}

down() {
  local dir=$1 p
  for p in controller-manager apiserver etcd; do
    if [[ -f $dir/$p.pid ]]; then
      kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
      rm -f "$dir/$p.pid"
    fi
  done
}

case ${1:-} in
  deps) deps ;;
  build) build ;;
  up) up "${2:?usage: cluster.sh up DIR}" ;;
  down) down "${2:?usage: cluster.sh down DIR}" ;;
  *) echo "usage: $0 deps|build|up DIR|down DIR" >&2; exit 2 ;;
esac
