#!/usr/bin/env bash
# Headless Chromium (Debian's package) for the web page's browser test.
#
#   scripts/browser.sh install   apt-get chromium (skipped when present)
#   scripts/browser.sh path      print the browser's path
#
# The test starts the browser itself, one short-lived process per page
# load (--dump-dom / --screenshot), so there is nothing to stop here.
set -euo pipefail

find_browser() {
    for b in chromium chromium-browser; do
        if command -v "$b" >/dev/null 2>&1; then
            command -v "$b"
            return 0
        fi
    done
    return 1
}

case "${1:-}" in
install)
    if find_browser >/dev/null; then
        exit 0
    fi
    echo "browser.sh: installing chromium from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    SUDO=
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq chromium >/dev/null
    find_browser >/dev/null
    ;;
path)
    find_browser
    ;;
*)
    echo "usage: $0 install|path" >&2
    exit 2
    ;;
esac
