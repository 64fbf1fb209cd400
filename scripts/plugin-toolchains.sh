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
# componentize-js from npm in target/plugin-node (a project links its
# node_modules there instead of downloading ~400 MB again).
CJS=0.23.0
node_dir=$root/target/plugin-node
if ! grep -qs "\"version\": \"$CJS\"" "$node_dir/node_modules/@bytecodealliance/componentize-js/package.json"; then
    command -v npm >/dev/null || { echo "plugin-toolchains: npm is required (apt-get install nodejs npm)" >&2; exit 1; }
    mkdir -p "$node_dir"
    (cd "$node_dir" && [ -f package.json ] || echo '{"private": true}' > package.json)
    (cd "$node_dir" && npm install --silent --no-audit --no-fund "@bytecodealliance/componentize-js@$CJS")
    echo "plugin-toolchains: componentize-js $CJS in target/plugin-node" >&2
fi
# TypeScript, to check inverters against the SDK's declarations (`npm run typecheck`).
TS=5.9.3
if ! grep -qs "\"version\": \"$TS\"" "$node_dir/node_modules/typescript/package.json"; then
    (cd "$node_dir" && npm install --silent --no-audit --no-fund "typescript@$TS")
    echo "plugin-toolchains: typescript $TS in target/plugin-node" >&2
fi
