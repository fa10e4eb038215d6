#!/usr/bin/env bash
# A rehearsal of a newcomer's first day (docs/testing.md): a clean clone of this repository's
# HEAD, `./install.sh`, then `bash .ci/run`, in a HOME of their own with nothing cached, and
# the time of each step at the end. Not part of .ci/run: it takes as long as a fresh machine.
#
#   tests/fresh.sh               in a new HOME, removed afterwards
#   tests/fresh.sh --home DIR    in DIR as HOME, kept: run it again with the same DIR to time
#                                a warm run (Kubernetes, cargo's registry and the fuzz build
#                                cached there), as CI on a machine it has used before
#
# What it moves aside, and puts back afterwards, pass or fail: the Rust targets and the
# nightly toolchain that tests/setup.sh installs, so the rehearsal installs them as a fresh
# machine does. The Rust toolchain itself (rustup, stable) is the machine's. Everything else
# the project's scripts create lives under HOME: ~/.cache/kubectl-regcred (Kubernetes builds,
# krew, the kubelet oracle, the fuzz build), cargo's registry and cargo-fuzz (CARGO_HOME),
# Go's module and build caches, and the install in ~/.local. A run with --home and a DIR that
# is not empty is warm: it moves nothing aside.
#
# Only committed work is rehearsed (it clones HEAD). Debian packages are not removed: a fresh
# machine spends about a minute installing them (tests/e2e/cluster.sh deps).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

home=
keep=false
while (($#)); do
  case $1 in
    --home) home=${2:?--home needs a directory}; keep=true; shift 2 ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown argument $1 (see tests/fresh.sh --help)" >&2; exit 2 ;;
  esac
done

say() { printf 'fresh: %s\n' "$*" >&2; }
clock() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

work=$(mktemp -d "${TMPDIR:-/tmp}/regcred-fresh.XXXXXX")
warm=false
if [[ -z $home ]]; then
  home=$work/home
elif [[ -d $home && -n $(ls -A "$home") ]]; then
  warm=true
fi
mkdir -p "$home"
home=$(cd "$home" && pwd)

rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
real_cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin
host=$(rustc -vV | sed -n 's/^host: //p')
# shellcheck source=tests/env.sh
source "$repo/tests/env.sh"
nightly=$FUZZ_TOOLCHAIN-$host
aside=$work/aside
removed_targets=()

# shellcheck disable=SC2317 # run by the EXIT trap
restore() {
  local status=$? target
  if [[ -d $aside/$nightly ]]; then
    rustup toolchain uninstall "$nightly" >/dev/null 2>&1 || true
    mv "$aside/$nightly" "$rustup_home/toolchains/$nightly"
    [[ -f $aside/$nightly.hash ]] && mv "$aside/$nightly.hash" "$rustup_home/update-hashes/$nightly"
    say "put back $nightly"
  fi
  for target in "${removed_targets[@]}"; do
    rustup target list --installed | grep -qx "$target" || rustup target add "$target" >/dev/null
  done
  ((${#removed_targets[@]})) && say "put back the Rust targets: ${removed_targets[*]}"
  # The log stays for a run kept with --home; an `&&` list must not end this trap under
  # set -e, so the cleanup is plain `if`s.
  if $keep; then
    rm -rf "$work/clone" "$aside"
    say "the whole log: $work/log"
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap restore EXIT

if ! $warm; then
  mkdir -p "$aside"
  installed=$(rustup target list --installed)
  for target in "${RUST_TARGETS[@]}"; do
    if grep -qx "$target" <<<"$installed"; then
      rustup target remove "$target" >/dev/null
      removed_targets+=("$target")
    fi
  done
  if [[ -d $rustup_home/toolchains/$nightly ]]; then
    mv "$rustup_home/toolchains/$nightly" "$aside/$nightly"
    [[ -f $rustup_home/update-hashes/$nightly ]] && mv "$rustup_home/update-hashes/$nightly" "$aside/$nightly.hash"
  fi
  say "moved aside: $nightly, the Rust targets ${removed_targets[*]:-(none were installed)}"
fi

git clone --quiet "$repo" "$work/clone"
say "$($warm && echo warm || echo fresh) run of $(git -C "$work/clone" rev-parse --short HEAD) in $work/clone, HOME=$home"

# The newcomer's environment: the machine's, with their own HOME and CARGO_HOME, rustup's
# toolchains, and nothing of ours.
system_path=$(tr ':' '\n' <<<"$PATH" | grep -v -e "^$HOME" -e '^$' | paste -sd:)
newcomer=(env -u REGCRED_CACHE -u GOPATH -u GOCACHE -u GOMODCACHE -u KUBECONFIG -u DOCKER_CONFIG
  -u REGISTRY_AUTH_FILE -u XDG_RUNTIME_DIR -u XDG_CONFIG_HOME -u XDG_CACHE_HOME -u XDG_DATA_HOME
  -u DBUS_SESSION_BUS_ADDRESS -u CARGO_TARGET_DIR
  HOME="$home" CARGO_HOME="$home/.cargo" RUSTUP_HOME="$rustup_home" CI=true
  PATH="$home/.local/bin:$home/.cargo/bin:$real_cargo_bin:$system_path")

times=()
timed() {
  local name=$1 begin=$SECONDS rc=0
  shift
  (cd "$work/clone" && "${newcomer[@]}" "$@" </dev/null) 2>&1 | tee -a "$work/log" || rc=$?
  times+=("$(printf '%7s  %s%s' "$(clock $((SECONDS - begin)))" "$name" "$( ((rc)) && echo "  FAILED (exit $rc)")")")
  return "$rc"
}

rc=0
begin=$SECONDS
timed "./install.sh" ./install.sh || rc=$?
((rc)) || timed "bash .ci/run" bash .ci/run || rc=$?

printf '\nfresh: %s rehearsal of %s, HOME=%s\n' "$($warm && echo warm || echo fresh)" \
  "$(git -C "$work/clone" rev-parse --short HEAD)" "$home"
printf '  %s\n' "${times[@]}"
printf '  %7s  total\n' "$(clock $((SECONDS - begin)))"
# .ci/run's own table of its steps.
sed -n '/^CI step times/,$p' "$work/log" | sed 's/^/  /'
$keep && say "kept $home: run 'tests/fresh.sh --home $home' again for a warm run"
exit "$rc"
