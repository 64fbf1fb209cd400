#!/usr/bin/env bash
# The toolchains that build inverters in other languages, for the tests
# (tests/system/foreign-plugins.py) and the benchmarks: componentize-py from
# PyPI in target/plugin-venv, componentize-js and typescript from npm in target/plugin-node.
# Idempotent: a second run installs nothing.
# The versions are the ones the SDKs are tested with (host/src/cli/plugin_new.rs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
CPY=0.25.1
venv=$root/target/plugin-venv
if ! { [ -x "$venv/bin/componentize-py" ] && [ "$("$venv/bin/componentize-py" --version 2>/dev/null)" = "componentize-py $CPY" ]; }; then
    python=$(command -v python3 || true)
    [ -n "$python" ] || { echo "plugin-toolchains: python3 is required" >&2; exit 1; }
    "$python" -m venv "$venv" || {
        echo "plugin-toolchains: python3 -m venv failed; installing python3-venv" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
        "$python" -m venv "$venv"
    }
    "$venv/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$CPY"
    echo "plugin-toolchains: componentize-py $CPY in target/plugin-venv" >&2
fi
# componentize-js and typescript from npm in target/plugin-node, exactly as
# scripts/plugin-node/package-lock.json pins them (`npm ci`: two separate
# `npm install`s once lost a dependency of componentize-js). A project links
# its node_modules there instead of downloading ~400 MB again.
node_dir=$root/target/plugin-node
lock=$root/scripts/plugin-node/package-lock.json
if ! cmp -s "$lock" "$node_dir/node_modules/.rollback-installed-lock"; then
    command -v npm >/dev/null || { echo "plugin-toolchains: npm is required (apt-get install nodejs npm)" >&2; exit 1; }
    mkdir -p "$node_dir"
    cp "$root/scripts/plugin-node/package.json" "$lock" "$node_dir/"
    (cd "$node_dir" && npm ci --silent --no-audit --no-fund)
    cp "$lock" "$node_dir/node_modules/.rollback-installed-lock"
    echo "plugin-toolchains: componentize-js and typescript (scripts/plugin-node/package-lock.json) in target/plugin-node" >&2
fi
