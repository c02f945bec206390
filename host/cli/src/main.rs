//! The `wasmvisor` binary: a thin `main` over the command line's library.

fn main() -> std::process::ExitCode {
    wasmvisor_cli::main()
}
