#!/usr/bin/env bash
# Builds the controller image (Containerfile): a static musl binary in `scratch`, with
# Debian's buildah (chroot isolation, vfs storage: no daemon, works inside containers).
#   scripts/image.sh IMAGE [--push] [--profile PROFILE]
#   scripts/image.sh localhost:5000/kubectl-regcred:dev --push
# --push sends it to IMAGE's registry (plain http allowed, for a local docker-registry).
# --profile picks the cargo profile (default release; CI's image test uses `ci`, see Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { echo "usage: scripts/image.sh IMAGE [--push] [--profile PROFILE]" >&2; exit 2; }
image=${1:-}
[[ -n $image && $image != -* ]] || usage
shift
push=false
profile=release
while (($#)); do
  case $1 in
    --push) push=true ;;
    --profile) profile=${2:-}; [[ -n $profile ]] || usage; shift ;;
    *) usage ;;
  esac
  shift
done
target=x86_64-unknown-linux-musl
command -v buildah >/dev/null || { echo "image: needs buildah (apt-get install buildah)" >&2; exit 1; }
command -v musl-gcc >/dev/null || { echo "image: needs musl-gcc (apt-get install musl-tools)" >&2; exit 1; }
rustup target list --installed | grep -qx "$target" ||
  { echo "image: needs the Rust target $target: rustup target add $target (tests/setup.sh adds it)" >&2; exit 1; }
cargo build --profile "$profile" --locked --quiet --target "$target"
# cargo puts the dev profile in debug/, every other profile in a directory of its name.
[[ $profile == dev ]] && out=debug || out=$profile
context=$(mktemp -d "${TMPDIR:-/tmp}/regcred-image.XXXXXX")
trap 'rm -rf "$context"' EXIT
cp "${CARGO_TARGET_DIR:-target}/$target/$out/kubectl-regcred" Containerfile "$context/"
buildah() { command buildah --storage-driver vfs "$@"; }
buildah bud --quiet --isolation chroot -f "$context/Containerfile" -t "$image" "$context" >/dev/null
echo "image: built $image ($profile profile)" >&2
if $push; then
  buildah push --quiet --tls-verify=false "$image" "docker://$image"
  echo "image: pushed $image" >&2
fi
