#!/usr/bin/env bash
# Installs what guest-examples/c-counter/build.sh needs, and only what is missing, so that a
# second run takes well under a second:
#   - Debian packages: clang-19, lld-19 (wasm-ld), libclang-rt-19-dev-wasm32 (compiler-rt
#     builtins for wasm32) and wasi-libc (the C library, for wasm32-wasi preview 1);
#   - wit-bindgen-cli 0.61.1 (the C bindings generator; 0.61 is what the Rust guests use), with
#     cargo into .tools/cargo (git-ignored).
# The other two tools build.sh uses come from the justfile: wasm-tools from `just tools`
# (.tools/venv), and the WASI preview 1 -> preview 2 reactor adapter with jco, which `just guests`
# installs in guest-examples/js-counter/node_modules before it builds this plugin.
# build.sh itself never installs anything; it says what is missing and points here.
#
# Usage (from anywhere): guest-examples/c-counter/install-toolchain.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

WIT_BINDGEN_VERSION=0.61.1
APT_PACKAGES=(clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc)

die() {
    echo "error: $*" >&2
    exit 1
}

# --- Debian packages -------------------------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
    command -v apt-get >/dev/null || die "missing ${missing[*]}, and there is no apt-get here (this script knows Debian/Ubuntu only)"
    if [[ "$(id -u)" != 0 ]]; then
        die "missing Debian packages: ${missing[*]}; as root, run:
    apt-get update && apt-get install -y ${missing[*]}"
    fi
    echo "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # No recommends: they pull in llvm-19-dev and clang-tools-19 (hundreds of MB), not needed.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        die "apt-get install ${missing[*]} failed"
fi

# --- wit-bindgen-cli -------------------------------------------------------------------------
wit_bindgen="$root/.tools/cargo/bin/wit-bindgen"
if [[ -x "$wit_bindgen" && "$("$wit_bindgen" --version 2>/dev/null)" =~ \ $WIT_BINDGEN_VERSION($|\ ) ]]; then
    : # already there, right version
else
    command -v cargo >/dev/null || die "cargo is needed to install wit-bindgen-cli (see rust-toolchain.toml; https://rustup.rs)"
    echo "installing wit-bindgen-cli $WIT_BINDGEN_VERSION into .tools/cargo (cargo install, a few minutes)"
    # --force replaces another version if one is there.
    cargo install --quiet --locked --force --root "$root/.tools/cargo" \
        wit-bindgen-cli --version "$WIT_BINDGEN_VERSION" ||
        die "cargo install wit-bindgen-cli $WIT_BINDGEN_VERSION failed"
fi

echo "c-counter toolchain: ok"
