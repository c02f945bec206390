# wasmvisor's tasks. `just run` and `just test` are the two that matter.

set shell := ["bash", "-euo", "pipefail", "-c"]

guest_dir := "guest-examples/target/wasm32-wasip2/release"
examples := "counter memo crasher spinner hog vitals sandboxed greeter relay"

# List the recipes.
default:
    @just --list

# Build the guest examples as wasm32-wasip2 components, with plain cargo.
guests:
    @rustup target list --installed | grep -qx wasm32-wasip2 || { \
        echo "error: the wasm32-wasip2 target is not installed; run: rustup target add wasm32-wasip2" >&2; exit 1; }
    cd guest-examples && cargo build --release --target wasm32-wasip2

# Tools the tests use that are not crates: the reference Prometheus (OpenMetrics) text parser.
tools:
    @python3 -m venv --help >/dev/null 2>&1 || { \
        echo "error: python3 with venv is needed (Debian: apt-get install python3-venv)" >&2; exit 1; }
    @test -x .tools/venv/bin/python || python3 -m venv .tools/venv
    @.tools/venv/bin/python -c "import prometheus_client" 2>/dev/null || \
        .tools/venv/bin/pip install --quiet "prometheus-client>=0.20,<1" || { \
        echo "error: could not install prometheus-client from PyPI into .tools/venv" >&2; exit 1; }

# Build the host library and the `wasmvisor` binary.
build:
    cargo build -p wasmvisor

# Run the host on the example plugins, keeping state in target/plugins/wasmvisor-state.redb.
run: guests build
    mkdir -p target/plugins
    for name in {{examples}}; do cp {{guest_dir}}/$name.wasm target/plugins/; done
    @echo "In another terminal: just call counter inc   |   just ps   (Ctrl-C here stops the host)"
    ./target/debug/wasmvisor run target/plugins

# Send MESSAGE to the actor NAME of the host started by `just run`.
call NAME MESSAGE:
    ./target/debug/wasmvisor call --dir target/plugins {{NAME}} "{{MESSAGE}}"

# List the actors of the host started by `just run`.
ps:
    ./target/debug/wasmvisor ps --dir target/plugins

# Build the guests, then run every test (the CLI tests build their own binary).
test: guests tools
    cargo test --workspace

# Measure wasmvisor against raw wasmtime (release build); writes docs/benchmarks.md.
bench: guests
    cargo bench -p wasmvisor --bench overhead

# Formatting, lints and docs, host and guests.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets --workspace -- -D warnings
    RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps -p wasmvisor
    cd guest-examples && cargo fmt --all -- --check
    cd guest-examples && cargo clippy --release --target wasm32-wasip2 -- -D warnings

# What CI runs.
ci: lint test
