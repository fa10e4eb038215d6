#!/usr/bin/env bash
# Builds the release archive for each target this machine can build (at least the host),
# then renders the krew manifest from .krew.yaml (krew-release-bot's template) with the
# archives' real sha256 values.
#
#   scripts/release.sh [--out DIR]      default DIR: dist
#
# Writes DIR/kubectl-regcred_vX.Y.Z_OS_ARCH.tar.gz (binary, LICENSE, README.md and the
# kubectl_complete-regcred shim) and DIR/regcred.yaml; without --out it also copies the
# manifest to plugin-manifest/regcred.yaml. Targets not built here keep the sha256 already in
# plugin-manifest/regcred.yaml (or a zero placeholder, with a warning); build them in a CI
# matrix (see README) and rerun with their archives in DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

out=dist
update_manifest=true
while (($#)); do
  case $1 in
    --out) out=${2:?--out needs a directory}; update_manifest=false; shift 2 ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "error: unknown argument $1" >&2; exit 2 ;;
  esac
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
tag="v$version"
mkdir -p "$out"

# The host target, as krew names it.
host=$(rustc -vV | sed -n 's/^host: //p')
case $host in
  x86_64-unknown-linux-*) platform=linux_amd64 exe= ;;
  aarch64-unknown-linux-*) platform=linux_arm64 exe= ;;
  x86_64-apple-darwin) platform=darwin_amd64 exe= ;;
  aarch64-apple-darwin) platform=darwin_arm64 exe= ;;
  x86_64-pc-windows-*) platform=windows_amd64 exe=.exe ;;
  *) echo "error: no krew platform for host $host" >&2; exit 1 ;;
esac

cargo build --release --locked --quiet
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "target/release/kubectl-regcred$exe" LICENSE README.md "$stage/"
files=("kubectl-regcred$exe" LICENSE README.md)
if [[ -z $exe ]]; then
  cp contrib/kubectl_complete-regcred "$stage/"
  files+=(kubectl_complete-regcred)
fi
archive="$out/kubectl-regcred_${tag}_${platform}.tar.gz"
# Stable order, owners and times, so the same inputs give the same sha256.
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - "${files[@]}" |
  gzip -n >"$archive"
echo "built $archive"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# The sha256 a previous render recorded for a URL, if any.
previous_sha() {
  local url=$1
  [[ -f plugin-manifest/regcred.yaml ]] || return 0
  grep -A1 -F "uri: $url" plugin-manifest/regcred.yaml | sed -n 's/^ *sha256: *"\{0,1\}\([0-9a-f]*\)"\{0,1\}$/\1/p' | head -n1
}

rendered="$out/regcred.yaml"
: >"$rendered"
placeholder=$(printf '0%.0s' {1..64})
while IFS= read -r line; do
  line=${line//'{{ .TagName }}'/$tag}
  if [[ $line =~ ^([[:space:]]*)\{\{addURIAndSha\ \"([^\"]+)\"\ \.TagName\ \}\}$ ]]; then
    indent=${BASH_REMATCH[1]} url=${BASH_REMATCH[2]}
    file="$out/${url##*/}"
    if [[ -f $file ]]; then
      sha=$(sha256_of "$file")
    else
      sha=$(previous_sha "$url")
      if [[ -z $sha ]]; then
        sha=$placeholder
      fi
      echo "warning: ${url##*/} was not built here; its sha256 is not from a real archive" >&2
    fi
    # Quoted: krew reads YAML 1.1, where an all-digit sha256 would be a number.
    printf '%suri: %s\n%ssha256: "%s"\n' "$indent" "$url" "$indent" "$sha" >>"$rendered"
  else
    printf '%s\n' "$line" >>"$rendered"
  fi
done <.krew.yaml
if $update_manifest; then
  cp "$rendered" plugin-manifest/regcred.yaml
  echo "rendered $rendered and plugin-manifest/regcred.yaml"
else
  echo "rendered $rendered"
fi
