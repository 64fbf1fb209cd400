#!/usr/bin/env bash
# Makes sure a toolchain that builds wasm32-unknown-unknown components exists,
# and writes the settings to use it into $1 (a shell file to source).
#
# Route 1 (rustup): the wasm32-unknown-unknown target plus the toolchain's own
#   wasm-component-ld, linking with --wasi-adapter=none.
# Route 2 (Debian): rustc-web/cargo-web with rust-src, std rebuilt for the
#   target with -Zbuild-std, and Debian's wasm-component-ld and wasm-ld.
#
# Idempotent and quick when already set up: nothing is installed twice.
set -euo pipefail
out=${1:?usage: guest-toolchain.sh OUTPUT.env}
mkdir -p "$(dirname "$out")"
target=wasm32-unknown-unknown
log() { echo "guest-toolchain: $*" >&2; }

write_rustup() {
    local ld=$1
    cat >"$out" <<SH
# written by scripts/guest-toolchain.sh
GUEST_ROUTE=rustup
GUEST_CARGO=cargo
GUEST_ENV=()
GUEST_BUILD_STD=()
GUEST_LINK_ARGS='-C link-arg=--wasi-adapter=none'
GUEST_LINKER='$ld'
SH
}

rustup_route() {
    command -v rustup >/dev/null 2>&1 || return 1
    command -v rustc >/dev/null 2>&1 || return 1
    local sysroot ld
    sysroot=$(rustc --print sysroot) || return 1
    ld="$sysroot/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/wasm-component-ld"
    if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
        log "adding the $target target with rustup"
        timeout 300 rustup target add "$target" >&2 || return 1
    fi
    [ -x "$ld" ] || { log "no wasm-component-ld at $ld"; return 1; }
    write_rustup "$ld"
}

debian_route() {
    local pkgs="rustc-web cargo-web rust-web-src rust-web-llvm lld-22" missing=""
    for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        log "installing Debian packages:$missing"
        command -v apt-get >/dev/null 2>&1 || { log "no apt-get"; return 1; }
        apt-get update -qq >&2 || return 1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2 || return 1
    fi
    local ld wasmld
    ld=$(dpkg -L rust-web-llvm 2>/dev/null | grep '/wasm-component-ld$' | head -n1)
    wasmld=$(command -v wasm-ld-22 || echo /usr/bin/wasm-ld-22)
    [ -n "$ld" ] && [ -x "$ld" ] || { log "rust-web-llvm has no wasm-component-ld"; return 1; }
    [ -x "$wasmld" ] || { log "no $wasmld"; return 1; }
    cat >"$out" <<SH
# written by scripts/guest-toolchain.sh
GUEST_ROUTE=debian
GUEST_CARGO=/usr/bin/cargo
GUEST_ENV=(RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1)
GUEST_BUILD_STD=(-Zbuild-std=std,panic_abort)
GUEST_LINK_ARGS='-C link-arg=--wasi-adapter=none -C link-arg=--wasm-ld-path=$wasmld'
GUEST_LINKER='$ld'
SH
}

if [ "${GUEST_ROUTE:-}" != debian ] && rustup_route; then
    log "using rustup's $target target"
elif debian_route; then
    log "using Debian's rustc-web with -Zbuild-std"
else
    log "no route to a $target toolchain worked; see docs/writing-an-inverter.md, \"Building outside this repository\""
    exit 1
fi
