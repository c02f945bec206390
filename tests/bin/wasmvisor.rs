//! The `wasmvisor` command line, built inside the test package so that
//! `cargo test` always runs the CLI tests against fresh code (cargo sets
//! `CARGO_BIN_EXE_wasmvisor-under-test` for them).

fn main() -> std::process::ExitCode {
    wasmvisor_cli::main()
}
