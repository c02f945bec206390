#!/usr/bin/env bash
# Builds the C counter (counter.c) into a component:
#   guest-examples/target/wasm32-wasip2/release/ccounter.wasm
#
#   1. `wit-bindgen c` generates the bindings for world plugin-with-health from wit/, on every
#      build (milliseconds), into guest-examples/target/c-counter/bindings (git-ignored), so
#      they can never drift from wit/;
#   2. clang-19 compiles counter.c and the bindings for wasm32-wasi (WASI preview 1: Debian's
#      wasi-libc has no preview 2 build) as a reactor, a module without `main`;
#   3. wasm-ld links them with wasi-libc and compiler-rt's builtins, and with the object file
#      that wit-bindgen writes beside the bindings: it carries the world's type information
#      (a `component-type` custom section), which is what `wasm-tools component embed wit
#      --world plugin-with-health` would add. Linking it is wit-bindgen's own way, and the
#      generated .c refers to it, so it cannot be left out (`--no-object-file` + embed would
#      need `--allow-undefined`, which turns every typo into a silent import);
#   4. `wasm-tools component new` wraps the module into a component, with the preview 1 ->
#      preview 2 reactor adapter for the WASI calls wasi-libc makes.
#
# It installs nothing: a missing tool is an `error:` line with the command that installs it
# (guest-examples/c-counter/install-toolchain.sh installs them all), and exit status 1.
#
# Usage (from anywhere, e.g. the repository root): guest-examples/c-counter/build.sh
# Environment: WASI_ADAPTER=path/to/wasi_snapshot_preview1.reactor.wasm uses another adapter.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

WIT_BINDGEN_VERSION=0.61.1 # the wit-bindgen the Rust guests use (guest-examples/Cargo.lock)
WORLD=plugin-with-health
BINDINGS_NAME=plugin_with_health # the world's name in snake case: wit-bindgen's file names
APT_PACKAGES="clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc"
INSTALL_ALL="guest-examples/c-counter/install-toolchain.sh"

work="$root/guest-examples/target/c-counter"
out_dir="$root/guest-examples/target/wasm32-wasip2/release"
out="$out_dir/ccounter.wasm"

missing=0
need() { # need WHAT HOW: reports a missing tool, and goes on to check the others
    echo "error: $1 is missing; install it with: $2 (or run $INSTALL_ALL)" >&2
    missing=1
}

# --- the tools ---------------------------------------------------------------------------
CLANG=clang-19
TARGET=(--target=wasm32-wasi)
if ! command -v "$CLANG" >/dev/null; then
    need "clang-19 (Debian package clang-19)" "apt-get install $APT_PACKAGES"
else
    # Ask clang itself where it looks, so that this stays right if Debian moves things.
    # -print-prog-name/-print-file-name echo the bare name back when they find nothing.
    wasm_ld="$("$CLANG" "${TARGET[@]}" -print-prog-name=wasm-ld)"
    [[ "$wasm_ld" == /* && -x "$wasm_ld" ]] ||
        need "wasm-ld (Debian package lld-19)" "apt-get install lld-19"
    libc_a="$("$CLANG" "${TARGET[@]}" -print-file-name=libc.a)"
    crt_reactor="$("$CLANG" "${TARGET[@]}" -print-file-name=crt1-reactor.o)"
    # Debian's wasi-libc is not one sysroot folder but multiarch paths: the libraries in
    # /usr/lib/wasm32-wasi, the headers in /usr/include/wasm32-wasi (its clang knows both).
    wasi_include="/usr/include/wasm32-wasi"
    if [[ "$libc_a" != /* || ! -f "$libc_a" || ! -f "$crt_reactor" || ! -f "$wasi_include/stdlib.h" ]]; then
        need "the wasi-libc sysroot (Debian package wasi-libc: /usr/lib/wasm32-wasi, /usr/include/wasm32-wasi)" \
            "apt-get install wasi-libc"
    fi
    builtins="$("$CLANG" "${TARGET[@]}" -print-libgcc-file-name)"
    [[ -f "$builtins" ]] ||
        need "compiler-rt's builtins for wasm32 ($builtins, Debian package libclang-rt-19-dev-wasm32)" \
            "apt-get install libclang-rt-19-dev-wasm32"
fi

wasm_tools="$root/.tools/venv/bin/wasm-tools"
[[ -x "$wasm_tools" ]] ||
    need "wasm-tools (.tools/venv/bin/wasm-tools)" "just tools"

wit_bindgen="$root/.tools/cargo/bin/wit-bindgen"
if [[ ! -x "$wit_bindgen" ]]; then
    need "wit-bindgen $WIT_BINDGEN_VERSION (.tools/cargo/bin/wit-bindgen)" \
        "cargo install --locked --root .tools/cargo wit-bindgen-cli --version $WIT_BINDGEN_VERSION"
elif ! [[ "$("$wit_bindgen" --version)" =~ \ $WIT_BINDGEN_VERSION($|\ ) ]]; then
    need "wit-bindgen $WIT_BINDGEN_VERSION (.tools/cargo/bin/wit-bindgen is $("$wit_bindgen" --version))" \
        "cargo install --locked --force --root .tools/cargo wit-bindgen-cli --version $WIT_BINDGEN_VERSION"
fi

# The WASI preview 1 reactor adapter: the copy that ships in jco's npm package. It is the most
# robust source here: `just guests` already installs jco (pinned by js-counter's
# package-lock.json) for the JavaScript guest, so it costs no extra download or tool, and it
# is a plain file. The other source, the crate wasi-preview1-component-adapter-provider,
# only exposes the adapter as a byte constant: getting a file out of it means compiling and
# running a small Rust program, and its place in ~/.cargo/registry is not stable. The
# adapter's WASI 0.2.x imports are matched by the host's wasmtime whatever their patch version.
adapter="${WASI_ADAPTER:-$root/guest-examples/js-counter/node_modules/@bytecodealliance/jco/lib/wasi_snapshot_preview1.reactor.wasm}"
if [[ -n "${WASI_ADAPTER:-}" && ! -f "$adapter" ]]; then
    echo "error: WASI_ADAPTER=$WASI_ADAPTER: no such file" >&2
    missing=1
elif [[ ! -f "$adapter" ]]; then
    need "the WASI preview 1 reactor adapter ($adapter, shipped with jco)" \
        "(cd guest-examples/js-counter && npm install --no-audit --no-fund)"
fi

((missing == 0)) || exit 1

# --- 1. bindings -------------------------------------------------------------------------
rm -rf "$work"
mkdir -p "$work/bindings" "$work/obj" "$out_dir"
# (It tells every file it writes on stderr: shown only if it fails.)
"$wit_bindgen" c "$root/wit" --world "$WORLD" --out-dir "$work/bindings" >"$work/wit-bindgen.log" 2>&1 ||
    { cat "$work/wit-bindgen.log" >&2; echo "error: wit-bindgen c failed on wit/" >&2; exit 1; }

# --- 2. compile --------------------------------------------------------------------------
# -nostdlibinc -isystem: wasi-libc's headers only. Debian's clang would otherwise fall back to
# /usr/include, the *host's* glibc headers, for anything wasi-libc lacks.
cflags=("${TARGET[@]}" -O2 -std=c11 -nostdlibinc -isystem "$wasi_include"
    -I "$work/bindings")
"$CLANG" "${cflags[@]}" -Wall -Wextra -Wpedantic -Werror -c "$here/counter.c" -o "$work/obj/counter.o"
# The generated code is not ours to fix: no -Werror on it.
"$CLANG" "${cflags[@]}" -Wno-unused-parameter -c "$work/bindings/$BINDINGS_NAME.c" -o "$work/obj/bindings.o"

# --- 3. link -----------------------------------------------------------------------------
# -mexec-model=reactor (a link option: clang refuses it with -c): no `main`; crt1-reactor.o's
# `_initialize` runs the C constructors, and wasm-tools makes the component call it first.
# The exports are marked in the bindings (__export_name__), so no --export flags are needed.
# -s: no debug names, to keep the component small.
"$CLANG" "${TARGET[@]}" -mexec-model=reactor -O2 -s \
    "$work/obj/counter.o" "$work/obj/bindings.o" "$work/bindings/${BINDINGS_NAME}_component_type.o" \
    -o "$work/ccounter.core.wasm"

# --- 4. component ------------------------------------------------------------------------
# The adapter is only woven in as far as the module calls WASI: counter.c uses no stdio, files
# or clocks, so its module imports nothing from WASI and the component has no WASI imports at
# all (about 20 KB). Any stdio (even snprintf) brings in the adapter's shims: about 55 KB.
# Written aside and renamed, so that a host watching the folder never reads half a file.
"$wasm_tools" component new "$work/ccounter.core.wasm" \
    --adapt "wasi_snapshot_preview1=$adapter" -o "$out.tmp"
"$wasm_tools" validate "$out.tmp"
mv -f "$out.tmp" "$out"
echo "built ${out#"$root/"} ($(wc -c <"$out") bytes)"
