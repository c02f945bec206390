#!/usr/bin/env bash
# Builds python-http.wasm, a component of the standard WASI 0.2 world in wit/ (no wasmvisor WIT),
# with the componentize-py of `just guests` (.tools/venv, componentize-py 0.25.1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
out=../target/wasm32-wasip2/release
mkdir -p "$out"
../../.tools/venv/bin/componentize-py -d wit -w python-http componentize app -o "$out/python-http.wasm"
# Leave no bytecode behind (also covered by .gitignore's __pycache__/).
rm -rf __pycache__
