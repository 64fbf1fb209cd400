#!/usr/bin/env bash
# Builds every guest crate under plugins/ into a WebAssembly component with
# no WASI imports, then copies them where the host and the tests look:
#   target/plugins/<action_type>.wasm       the built-in inverters
#   target/example-plugins/<action_type>.wasm  example custom kinds, to upload at run time
#   target/test-plugins/<name>.wasm         hostile guests for tests only
# Extra arguments go to cargo (e.g. -p nop).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
env_file=$root/target/guest-toolchain.env
bash "$root/scripts/guest-toolchain.sh" "$env_file"
# shellcheck source=/dev/null
source "$env_file"

target=wasm32-unknown-unknown
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=$GUEST_LINKER
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS=$GUEST_LINK_ARGS
# A RUSTFLAGS from the caller would replace the target flags above.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS

cd "$root/plugins"
env "${GUEST_ENV[@]}" "$GUEST_CARGO" build --quiet --release --target "$target" \
    "${GUEST_BUILD_STD[@]}" --workspace "$@"

built=$root/plugins/target/$target/release
mkdir -p "$root/target/plugins" "$root/target/example-plugins" "$root/target/test-plugins"
crate_name() { sed -n 's/^name *= *"\(.*\)"/\1/p' "$1" | head -n1; }
copy() { # crate manifest, output dir, output name
    local wasm="$built/$(crate_name "$1" | tr - _).wasm"
    [ -f "$wasm" ] || { echo "build-plugins: $wasm was not built" >&2; exit 1; }
    cp -f "$wasm" "$2/$3.wasm"
}
for manifest in "$root"/plugins/*/Cargo.toml; do
    dir=$(basename "$(dirname "$manifest")")
    case $dir in sdk|template|testing|examples) continue ;; esac
    name=$(crate_name "$manifest")
    copy "$manifest" "$root/target/plugins" "${name//-/_}"
done
for manifest in "$root"/plugins/examples/*/Cargo.toml; do
    name=$(crate_name "$manifest")
    copy "$manifest" "$root/target/example-plugins" "${name//-/_}"
done
for manifest in "$root"/plugins/testing/*/Cargo.toml; do
    name=$(crate_name "$manifest")
    copy "$manifest" "$root/target/test-plugins" "${name//-/_}"
done
echo "build-plugins: $(ls "$root/target/plugins" | wc -l) plugins in target/plugins, $(ls "$root/target/test-plugins" | wc -l) test guests in target/test-plugins (route: $GUEST_ROUTE)" >&2
