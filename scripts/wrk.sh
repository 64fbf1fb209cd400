#!/usr/bin/env bash
# wrk (Debian's package) for scripts/bench-load.py.
#   scripts/wrk.sh install   apt-get wrk (skipped when present)
set -euo pipefail
case "${1:-}" in
install)
    command -v wrk >/dev/null 2>&1 && exit 0
    echo "wrk.sh: installing wrk from Debian's packages" >&2
    SUDO=
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
    ;;
*)
    echo "usage: $0 install" >&2
    exit 2
    ;;
esac
