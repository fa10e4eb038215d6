#!/usr/bin/env bash
# The controller image, for real: scripts/image.sh builds it with buildah and pushes it to a
# local Docker Distribution registry (docker-registry); skopeo then reads it back and the
# binary inside runs on its own (static, musl).
set -euo pipefail
cd "$(dirname "$0")/../.."

dir=$(mktemp -d "${TMPDIR:-/tmp}/regcred-image-test.XXXXXX")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$dir/config.yml" <<CONFIG
version: 0.1
storage: {filesystem: {rootdirectory: $dir/data}}
http: {addr: 127.0.0.1:$port}
CONFIG
docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
registry=$!
trap 'kill $registry 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

image=127.0.0.1:$port/kubectl-regcred:e2e
# The `ci` profile builds faster than release (Cargo.toml); the build is shared with the
# packaging tests and tests/e2e/platforms.sh (tests/env.sh).
# shellcheck source=tests/env.sh
source tests/env.sh
CARGO_TARGET_DIR=$SHIPPED_TARGET_DIR scripts/image.sh "$image" --push --profile ci

fail() { echo "image: FAILED: $*" >&2; exit 1; }
config=$(skopeo inspect --config --tls-verify=false "docker://$image")
python3 - "$config" <<'PY' || fail "image config: $config"
import json, sys
config = json.loads(sys.argv[1])
assert config["architecture"] == "amd64", config["architecture"]
assert config["os"] == "linux", config["os"]
c = config["config"]
assert c["User"] == "65532:65532", c["User"]
assert c["Entrypoint"] == ["/kubectl-regcred"], c["Entrypoint"]
assert c["Cmd"][:2] == ["sync", "--watch"], c["Cmd"]
PY
skopeo copy --quiet --src-tls-verify=false "docker://$image" "dir:$dir/copy"
layers=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["layers"]))' "$dir/copy/manifest.json")
[[ $layers == 1 ]] || fail "expected one layer (the binary), found $layers"
mkdir "$dir/root"
for blob in "$dir"/copy/*; do
  tar -xf "$blob" -C "$dir/root" 2>/dev/null || true
done
[[ -x $dir/root/kubectl-regcred ]] || fail "no /kubectl-regcred in the image"
file "$dir/root/kubectl-regcred" | grep -Eq 'statically linked|static-pie linked' || fail "not static: $(file "$dir/root/kubectl-regcred")"
env -i "$dir/root/kubectl-regcred" version | grep -q x86_64-unknown-linux-musl || fail "the binary does not run"
size=$(du -k "$dir/root/kubectl-regcred" | cut -f1)
echo "image: ok: $image, one layer, static musl binary of ${size} KiB, user 65532, skopeo inspect reads it" >&2
