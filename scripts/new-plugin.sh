#!/usr/bin/env bash
# `make plugin NAME=action_type`: creates plugins/NAME from plugins/template
# (unless it exists), adds it to the guest workspace, and builds every
# plugin; the component lands in target/plugins/NAME.wasm, where a server
# started by `make run` picks it up within a second.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=${1:-}
if ! [[ $name =~ ^[a-z][a-z0-9_]{0,63}$ ]]; then
    echo "usage: make plugin NAME=action_type   (1-64 of a-z, 0-9, _; starting with a letter)" >&2
    exit 2
fi
dir=$root/plugins/$name
if [ ! -d "$dir" ]; then
    type=$(echo "$name" | sed -E 's/(^|_)([a-z0-9])/\U\2/g')
    mkdir -p "$dir/src"
    sed "s/__NAME__/$name/g; s/__TYPE__/$type/g" "$root/plugins/template/Cargo.toml.tmpl" > "$dir/Cargo.toml"
    sed "s/__NAME__/$name/g; s/__TYPE__/$type/g" "$root/plugins/template/src/lib.rs.tmpl" > "$dir/src/lib.rs"
    sed -i "s|members = \[\"sdk\", |members = [\"sdk\", \"$name\", |" "$root/plugins/Cargo.toml"
    echo "new-plugin: created plugins/$name (edit src/lib.rs)" >&2
fi
bash "$root/scripts/build-plugins.sh"
echo "new-plugin: target/plugins/$name.wasm" >&2
