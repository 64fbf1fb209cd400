#!/usr/bin/env bash
# Installs the Debian packages named that are not installed yet, without
# letting them start their own services (no init system here, and the tests
# run their own): a policy-rc.d for the install only, unless the machine has
# one. Used by keystone.sh and openstack.sh.
#
#   scripts/apt-install.sh [--no-install-recommends] PACKAGE...
set -euo pipefail
opts=()
if [ "${1:-}" = --no-install-recommends ]; then
    opts+=("$1")
    shift
fi
missing=()
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "apt-install.sh: installing ${#missing[@]} package(s) from Debian: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
own_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    own_policy=1
fi
status=0
{ apt-get update -qq && apt-get install -y -qq "${opts[@]}" "${missing[@]}" >/dev/null; } || status=$?
[ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
exit $status
