#!/usr/bin/env bash
# Installs the real Watcher clients (python-watcherclient 4.11 and
# python-openstackclient) into target/venv for the compatibility tests.
# Idempotent: a second run installs nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/target/venv
if [ -x "$venv/bin/watcher" ] && [ -x "$venv/bin/openstack" ]; then
    exit 0
fi
python=$(command -v python3 || true)
[ -n "$python" ] || { echo "client-venv: python3 is required" >&2; exit 1; }
"$python" -m venv "$venv" || {
    echo "client-venv: python3 -m venv failed; installing python3-venv" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
    "$python" -m venv "$venv"
}
"$venv/bin/pip" install --quiet --disable-pip-version-check python-watcherclient==4.11.0 python-openstackclient
echo "client-venv: installed watcher and openstack into target/venv" >&2
