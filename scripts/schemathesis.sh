#!/usr/bin/env bash
# Fuzzes the live server against its own OpenAPI document with schemathesis
# (PyPI, pinned; installed once into target/st-venv). The server runs with
# --auth tokens: every operation is tried with an admin token and without
# one. Fails on any server error or any answer that contradicts the
# document. Usage: scripts/schemathesis.sh [HOST_BINARY]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/target/debug/rollback-host}
venv=$root/target/st-venv
version=4.32.5
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat >"$work/tokens.yaml" <<YAML
tokens:
  - name: schemathesis
    sha256: $(printf '%s\n' "$token" | "$bin" token-hash)
    roles: [admin]
YAML
"$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" --plugins-dir "$root/target/plugins" \
    --sleep-scale 0.001 --auth tokens --tokens-file "$work/tokens.yaml" 2>"$work/log" &
pid=$!
for _ in $(seq 1 100); do
    addr=$(grep -o 'address=[0-9.:]*' "$work/log" | head -1 | cut -d= -f2 || true)
    [ -n "$addr" ] && break
    sleep 0.1
done
[ -n "$addr" ] || { cat "$work/log" >&2; exit 1; }
url="http://$addr/openapi.json"
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance
# schemathesis keeps a cache in ./.schemathesis: run it in the scratch
# directory, so a test run leaves the work tree as it found it.
run() {
    (cd "$work" && "$venv/bin/schemathesis" run "$url" --checks "$checks" --max-examples "${ST_EXAMPLES:-30}" \
        --seed "${ST_SEED:-20261126}" --generation-database none "$@")
}
echo "== schemathesis: with an admin token"
run --header "X-Auth-Token: $token" --checks "$checks,ignored_auth" | tee "$work/with.txt" | tail -45
echo "== schemathesis: without a token"
run | tee "$work/without.txt" | tail -25
if grep -q "Internal error" "$work/log"; then
    echo "schemathesis.sh: the server logged an internal error" >&2
    grep -n "internal error" "$work/log" >&2
    exit 1
fi
