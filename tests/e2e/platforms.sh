#!/usr/bin/env bash
# Every platform the krew manifest lists that can be built here, built and run here:
#   linux_amd64    static musl binary, run directly
#   linux_arm64    cross-built with gcc-aarch64-linux-gnu, run under qemu-user
#   windows_amd64  cross-built with mingw-w64, run under wine (wine64)
# For each: `version`; `create --dry-run=client -o json` from a docker config, byte for byte
# equal to the host build's output; a real `create` against a control plane this script
# starts; and on Windows the keyring's Credential Manager store under wine (login, logins,
# logout). Then the rendered manifest must hold each archive's sha256.
#
#   tests/e2e/platforms.sh [--profile PROFILE]   build with PROFILE (default ci; release ships)
#   tests/e2e/platforms.sh --dist DIR            test the archives already in DIR (what
#                                                scripts/release.sh built there), unchanged
set -euo pipefail
cd "$(dirname "$0")/../.."

profile=ci
dist=
while (($#)); do
  case $1 in
    --profile) profile=${2:?--profile needs a name}; shift 2 ;;
    --dist) dist=${2:?--dist needs a directory}; shift 2 ;;
    *) echo "error: unknown argument $1" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/regcred-platforms.XXXXXX")
cluster=$work/cluster
cleanup() {
  tests/e2e/cluster.sh down "$cluster" 2>/dev/null || true
  WINEPREFIX=$work/wine /usr/lib/wine/wineserver -k 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "platforms: FAIL: $*" >&2; exit 1; }
say() { echo "platforms: $*" >&2; }

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
platforms="linux_amd64 linux_arm64 windows_amd64"
if [[ -n $dist ]]; then
  mkdir -p "$work/dist"
  cp "$dist"/kubectl-regcred_v"${version}"_*.tar.gz "$work/dist/"
  scripts/release.sh --out "$work/dist" --platforms "$platforms" --render-only
  profile="archives from $dist"
else
  # Shared with the packaging tests and tests/e2e/image.sh (tests/env.sh).
  # shellcheck source=tests/env.sh
  source tests/env.sh
  CARGO_TARGET_DIR=$SHIPPED_TARGET_DIR scripts/release.sh --out "$work/dist" --platforms "$platforms" --profile "$profile"
fi

# The reference: this machine's own build of the same commit.
cargo build --locked --quiet
reference=target/debug/kubectl-regcred

export WINEPREFIX=$work/wine WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
wineboot --init >/dev/null 2>&1 || true
# Debian's wine wrapper warns about wine32 on every run; the 64-bit loader is what runs us.
wine=/usr/lib/wine/wine64
[[ -x $wine ]] || wine=wine

# run PLATFORM ARGS…: the unpacked binary of PLATFORM, in an explicit environment.
run() {
  local platform=$1
  shift
  local dir=$work/$platform
  case $platform in
    linux_amd64) env -i PATH=/usr/bin:/bin HOME="$work/home" "${ENV_EXTRA[@]}" "$dir/kubectl-regcred" "$@" ;;
    linux_arm64) env -i PATH=/usr/bin:/bin HOME="$work/home" "${ENV_EXTRA[@]}" qemu-aarch64 -L /usr/aarch64-linux-gnu "$dir/kubectl-regcred" "$@" ;;
    windows_amd64) env -i PATH=/usr/bin:/bin HOME="$work/home" WINEPREFIX="$WINEPREFIX" WINEDEBUG=-all "${WIN_ENV_EXTRA[@]}" "$wine" "$dir/kubectl-regcred.exe" "$@" ;;
  esac
}

mkdir -p "$work/home" "$work/docker"
printf '{"auths":{"quay.io":{"auth":"%s"},"ghcr.io":{"username":"me","password":"gh-token"}}}\n' \
  "$(printf 'robot:s3cret' | base64)" >"$work/docker/config.json"
ENV_EXTRA=(DOCKER_CONFIG="$work/docker")
WIN_ENV_EXTRA=(DOCKER_CONFIG="$(winepath -w "$work/docker" 2>/dev/null)")

env -i PATH=/usr/bin:/bin HOME="$work/home" DOCKER_CONFIG="$work/docker" \
  "$reference" create regcred -n team-a --dry-run=client -o json >"$work/reference.json"

tests/e2e/cluster.sh up "$cluster" >/dev/null
kubeconfig=$cluster/kubeconfig
KUBECONFIG=$kubeconfig kubectl create namespace platforms >/dev/null

for platform in $platforms; do
  mkdir -p "$work/$platform"
  tar -xzf "$work/dist/kubectl-regcred_v${version}_${platform}.tar.gz" -C "$work/$platform"
  if [[ $platform == windows_* ]]; then
    # Wine 8 lacks bcryptprimitives.dll (see the shim's source); Windows 10+ has it.
    x86_64-w64-mingw32-gcc -shared -O2 -o "$work/$platform/bcryptprimitives.dll" \
      tests/e2e/wine/bcryptprimitives.c tests/e2e/wine/bcryptprimitives.def -ladvapi32
  fi
  [[ -f $work/$platform/man/kubectl-regcred.1 ]] || fail "$platform: no man pages in the archive"

  out=$(run "$platform" version | tr -d '\r') || fail "$platform: version did not run"
  [[ $out == "kubectl-regcred $version "* ]] || fail "$platform: version printed: $out"
  say "$platform: $out"

  run "$platform" create regcred -n team-a --dry-run=client -o json | tr -d '\r' >"$work/$platform.json" ||
    fail "$platform: create --dry-run=client failed"
  cmp -s "$work/reference.json" "$work/$platform.json" ||
    fail "$platform: --dry-run=client -o json differs from the host's: $(diff "$work/reference.json" "$work/$platform.json" | head -5)"
  say "$platform: create --dry-run=client -o json is byte for byte the host's"

  # A real create in the control plane.
  if [[ $platform == windows_* ]]; then
    WIN_ENV_EXTRA+=(KUBECONFIG="$(winepath -w "$kubeconfig")")
  else
    ENV_EXTRA+=(KUBECONFIG="$kubeconfig")
  fi
  name=regcred-${platform//_/-}
  printf 'pw-%s' "$platform" | run "$platform" create "$name" -n platforms --server quay.io \
    --username "$platform" --password-stdin | tr -d '\r' | grep -qx "secret/$name created" ||
    fail "$platform: create in the cluster"
  stored=$(KUBECONFIG=$kubeconfig kubectl get secret "$name" -n platforms -o 'jsonpath={.data.\.dockerconfigjson}' | base64 -d)
  [[ $stored == *"\"password\":\"pw-$platform\""* ]] || fail "$platform: the Secret holds $stored"
  say "$platform: created secret/$name in a Kubernetes $(KUBECONFIG=$kubeconfig kubectl version -o json 2>/dev/null | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -n1) control plane"
done

# The keyring's Windows store (Credential Manager) under wine.
printf 'win-secret' | run windows_amd64 login reg.example.com -u winuser --password-stdin --no-verify |
  tr -d '\r' | grep -q 'reg.example.com' || fail "windows_amd64: login"
run windows_amd64 logins | tr -d '\r' | grep -q '^reg.example.com *winuser$' || fail "windows_amd64: logins after login"
run windows_amd64 logout reg.example.com >/dev/null || fail "windows_amd64: logout"
if run windows_amd64 logins 2>/dev/null | tr -d '\r' | grep -q 'reg.example.com'; then fail "windows_amd64: still listed after logout"; fi
say "windows_amd64: login, logins and logout work on wine's Credential Manager"

# The manifest holds each archive's sha256.
for platform in $platforms; do
  sha=$(sha256sum "$work/dist/kubectl-regcred_v${version}_${platform}.tar.gz" | cut -d' ' -f1)
  grep -q "sha256: \"$sha\"" "$work/dist/regcred.yaml" || fail "$platform: manifest lacks its sha256"
done
say "all platforms passed: $platforms (profile $profile)"
