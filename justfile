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
    ./target/debug/wasmvisor call {{NAME}} "{{MESSAGE}}"

# List the actors of the host started by `just run`.
ps:
    ./target/debug/wasmvisor ps

# Build the guests, then run every test (the CLI tests build their own binary).
test: guests
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
