#!/usr/bin/env bash
# Installs kubectl-regcred, the docker-credential-regcred link (credential-helper mode) and
# the kubectl_complete-regcred shim (kubectl plugin completion) into PREFIX/bin.
#
#   ./install.sh                          build from this checkout with cargo, into ~/.local
#   ./install.sh --prefix DIR             install into DIR/bin instead
#   ./install.sh --from-archive FILE      use a release archive (dist/*.tar.gz) instead of cargo
#   ./install.sh --uninstall [--prefix DIR]   remove exactly what an install put there
#
# Running it again reinstalls over the previous install.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
archive=
uninstall=false

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

while (($#)); do
  case $1 in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --from-archive) archive=${2:?--from-archive needs a file}; shift 2 ;;
    --from-archive=*) archive=${1#--from-archive=}; shift ;;
    --uninstall) uninstall=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; printf 'error: unknown argument %s\n' "$1" >&2; exit 2 ;;
  esac
done

prefix_existed=true
[[ -d $prefix ]] || prefix_existed=false
if ! $uninstall; then
  mkdir -p "$prefix" 2>/dev/null || die "cannot create $prefix"
fi
[[ -d $prefix ]] || die "no such directory: $prefix"
prefix=$(cd "$prefix" && pwd)
bin=$prefix/bin
state=$prefix/share/kubectl-regcred
record=$state/installed

# Removes what the record lists; with "files", only the files (a reinstall keeps the
# directories, and remembers that they are ours).
remove_recorded() {
  [[ -f $record ]] || return 0
  local entry
  # Files first, then the directories we created, deepest first.
  while IFS= read -r entry; do
    case $entry in
      file:*) rm -f "${entry#file:}" && printf 'removed %s\n' "${entry#file:}" ;;
    esac
  done <"$record"
  local dirs=()
  while IFS= read -r entry; do
    case $entry in dir:*) dirs+=("${entry#dir:}") ;; esac
  done <"$record"
  if [[ ${1:-} == files ]]; then
    return 0
  fi
  rm -f "$record"
  local i
  for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
    rmdir "${dirs[i]}" 2>/dev/null && printf 'removed %s/\n' "${dirs[i]}"
  done
  return 0
}

if $uninstall; then
  [[ -f $record ]] || die "nothing recorded in $record: kubectl-regcred was not installed into $prefix by install.sh"
  remove_recorded
  echo "kubectl-regcred is uninstalled from $prefix"
  exit 0
fi

# Prerequisites.
missing=()
if [[ -n $archive ]]; then
  [[ -f $archive ]] || die "no such archive: $archive"
  command -v tar >/dev/null || missing+=("tar")
else
  command -v cargo >/dev/null || missing+=("cargo (Rust 1.89 or newer: https://rustup.rs)")
  [[ -f $here/Cargo.toml ]] || die "$here has no Cargo.toml; run install.sh from a checkout, or pass --from-archive"
fi
if ((${#missing[@]})); then
  die "missing prerequisites: ${missing[*]}"
fi
command -v kubectl >/dev/null || echo "note: kubectl is not on PATH; kubectl-regcred works alone, and as 'kubectl regcred' once kubectl is installed" >&2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ -n $archive ]]; then
  tar -xzf "$archive" -C "$work"
  [[ -f $work/kubectl-regcred ]] || die "$archive has no kubectl-regcred binary"
  built=$work/kubectl-regcred
  shim=$work/kubectl_complete-regcred
  [[ -f $shim ]] || shim=$here/contrib/kubectl_complete-regcred
else
  echo "building with cargo install --locked (the first build takes a few minutes)..."
  # Built into a scratch root and copied, so PREFIX gets no cargo bookkeeping files.
  cargo install --quiet --locked --force --path "$here" --root "$work/root" --target-dir "$here/target"
  built=$work/root/bin/kubectl-regcred
  shim=$here/contrib/kubectl_complete-regcred
fi

# A reinstall first removes the files the previous install recorded, keeping its record of
# the directories it created.
created=()
if [[ -f $record ]]; then
  while IFS= read -r entry; do
    case $entry in dir:*) created+=("$entry") ;; esac
  done <"$record"
  remove_recorded files >/dev/null
fi
$prefix_existed || created+=("dir:$prefix")
for dir in "$bin" "$prefix/share" "$state"; do
  if [[ ! -d $dir ]]; then
    mkdir -p "$dir"
    created+=("dir:$dir")
  fi
done
install -m 0755 "$built" "$bin/kubectl-regcred"
ln -sf kubectl-regcred "$bin/docker-credential-regcred"
install -m 0755 "$shim" "$bin/kubectl_complete-regcred"
{
  printf '%s\n' "${created[@]}"
  printf 'file:%s\n' "$bin/kubectl-regcred" "$bin/docker-credential-regcred" "$bin/kubectl_complete-regcred"
} | grep -v '^$' >"$record"

cat <<DONE
installed into $bin:
  kubectl-regcred            the plugin (kubectl regcred ...)
  docker-credential-regcred  link: the OS-keychain credential helper (credsStore "regcred")
  kubectl_complete-regcred   shim: 'kubectl regcred <TAB>' completion through kubectl 1.26+
verify:
  kubectl plugin list | grep regcred
  kubectl regcred version
uninstall:
  $0 --uninstall --prefix $prefix
DONE
case ":$PATH:" in
  *":$bin:"*) ;;
  *) echo "note: $bin is not on your PATH; add it, e.g. export PATH=\"$bin:\$PATH\"" >&2 ;;
esac
