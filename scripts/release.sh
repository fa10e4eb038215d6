#!/usr/bin/env bash
# Builds the release archives and renders the krew manifest from .krew.yaml (krew-release-bot's
# template) with each archive's real sha256. The manifest lists exactly the platforms given,
# and the script fails when one of them has no archive: it never writes a placeholder.
#
#   scripts/release.sh [--out DIR] [--platforms "P …"] [--profile PROFILE] [--render-only]
#
#   --platforms    krew platforms (linux_amd64 linux_arm64 windows_amd64 darwin_amd64
#                  darwin_arm64); default: those this machine builds (on x86_64 Linux:
#                  linux_amd64 as a static musl binary, linux_arm64 and windows_amd64 cross-built
#                  with Debian's gcc-aarch64-linux-gnu and mingw-w64; elsewhere the host's)
#   --profile      cargo profile (default release; tests use ci, which builds faster)
#   --render-only  build nothing: every platform's archive must already be in DIR (the release
#                  workflow's last job, after its matrix built each one)
#
# Writes DIR/kubectl-regcred_vX.Y.Z_OS_ARCH.tar.gz (binary, LICENSE, README.md, man pages, and
# on Unix the kubectl_complete-regcred shim) and DIR/regcred.yaml; without --out (DIR=dist)
# it also copies the manifest to plugin-manifest/regcred.yaml. Needs GNU tar and sha256sum.
# Builds go to CARGO_TARGET_DIR when it is set (the tests share one: tests/env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

out=dist
update_manifest=true
platforms=
profile=release
render_only=false
while (($#)); do
  case $1 in
    --out) out=${2:?--out needs a directory}; update_manifest=false; shift 2 ;;
    --platforms) platforms=${2:?--platforms needs a list}; shift 2 ;;
    --profile) profile=${2:?--profile needs a name}; shift 2 ;;
    --render-only) render_only=true; shift ;;
    -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "error: unknown argument $1" >&2; exit 2 ;;
  esac
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
tag="v$version"
mkdir -p "$out"

host=$(rustc -vV | sed -n 's/^host: //p')
if [[ -z $platforms ]]; then
  case $host in
    x86_64-unknown-linux-*) platforms="linux_amd64 linux_arm64 windows_amd64" ;;
    aarch64-unknown-linux-*) platforms=linux_arm64 ;;
    x86_64-apple-darwin) platforms=darwin_amd64 ;;
    aarch64-apple-darwin) platforms=darwin_arm64 ;;
    *) echo "error: no krew platform for host $host; pass --platforms" >&2; exit 2 ;;
  esac
fi

# The Rust target each krew platform is built for.
target_of() {
  case $1 in
    # Static, so one archive runs on any distribution (and in the scratch image).
    linux_amd64) echo x86_64-unknown-linux-musl ;;
    linux_arm64) echo aarch64-unknown-linux-gnu ;;
    windows_amd64) echo x86_64-pc-windows-gnu ;;
    darwin_amd64) echo x86_64-apple-darwin ;;
    darwin_arm64) echo aarch64-apple-darwin ;;
    *) echo "error: unknown platform $1 (known: linux_amd64 linux_arm64 windows_amd64 darwin_amd64 darwin_arm64)" >&2; return 2 ;;
  esac
}

archive_of() { echo "$out/kubectl-regcred_${tag}_$1.tar.gz"; }

build() {
  local platform=$1 target exe='' profile_dir stage
  target=$(target_of "$platform")
  [[ $platform == windows_* ]] && exe=.exe
  # Installs nothing (tests/setup.sh adds every target the tests build): it only checks.
  if command -v rustup >/dev/null && ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    echo "error: the Rust target $target ($platform) is not installed: rustup target add $target (tests/setup.sh adds every target the tests use)" >&2
    exit 1
  fi
  cargo build --profile "$profile" --locked --quiet --target "$target"
  profile_dir=$profile
  [[ $profile == dev ]] && profile_dir=debug
  stage=$(mktemp -d)
  cp "${CARGO_TARGET_DIR:-target}/$target/$profile_dir/kubectl-regcred$exe" LICENSE README.md "$stage/"
  cp -r man "$stage/man"
  local files=("kubectl-regcred$exe" LICENSE README.md man)
  if [[ -z $exe ]]; then
    cp contrib/kubectl_complete-regcred "$stage/"
    files+=(kubectl_complete-regcred)
  fi
  # Stable order, owners and times, so the same inputs give the same sha256.
  tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - "${files[@]}" |
    gzip -n >"$(archive_of "$platform")"
  rm -rf "$stage"
  echo "built $(archive_of "$platform") ($target, profile $profile)"
}

for platform in $platforms; do
  target_of "$platform" >/dev/null
  if ! $render_only; then
    build "$platform"
  fi
  [[ -f $(archive_of "$platform") ]] || { echo "error: no archive for $platform: $(archive_of "$platform")" >&2; exit 1; }
done

# Renders the template, keeping only the platform entries listed in $platforms.
rendered="$out/regcred.yaml"
: >"$rendered"
entry=() keep=true
flush_entry() {
  if $keep && ((${#entry[@]})); then printf '%s\n' "${entry[@]}" >>"$rendered"; fi
  entry=() keep=true
}
in_platforms=false
while IFS= read -r line; do
  line=${line//'{{ .TagName }}'/$tag}
  if [[ $line =~ ^\ \ platforms: ]]; then
    printf '%s\n' "$line" >>"$rendered"
    in_platforms=true
    continue
  fi
  if ! $in_platforms; then
    printf '%s\n' "$line" >>"$rendered"
    continue
  fi
  [[ $line =~ ^\ \ -\ selector: ]] && flush_entry
  if [[ $line =~ ^([[:space:]]*)\{\{addURIAndSha\ \"([^\"]+)\"\ \.TagName\ \}\}$ ]]; then
    indent=${BASH_REMATCH[1]} url=${BASH_REMATCH[2]}
    platform=${url##*_"$tag"_}
    platform=${platform%.tar.gz}
    if [[ " $platforms " == *" $platform "* ]]; then
      sha=$(sha256sum "$(archive_of "$platform")" | cut -d' ' -f1)
      # Quoted: krew reads YAML 1.1, where an all-digit sha256 would be a number.
      entry+=("${indent}uri: $url" "${indent}sha256: \"$sha\"")
    else
      keep=false
    fi
  else
    entry+=("$line")
  fi
done <.krew.yaml
flush_entry
for platform in $platforms; do
  grep -q "_${platform}.tar.gz\$" "$rendered" || { echo "error: .krew.yaml has no entry for $platform" >&2; exit 1; }
done
if $update_manifest; then
  cp "$rendered" plugin-manifest/regcred.yaml
  echo "rendered $rendered and plugin-manifest/regcred.yaml ($platforms)"
else
  echo "rendered $rendered ($platforms)"
fi
