//! The `wasmvisor` binary: a thin `main` over the library's command line.

fn main() -> std::process::ExitCode {
    wasmvisor::cli::main()
}
