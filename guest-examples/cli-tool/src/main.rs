//! A command-line program as people write them, for wasmvisor's tests of
//! `wasi:cli` programs. It prints `cli-tool: started`, then does what each
//! argument says, in order:
//!
//! - `args`: prints its arguments, one `arg: A` line each;
//! - `env KEY`: prints `KEY=VALUE`, or `KEY unset`;
//! - `stdin`: prints `stdin: ` and all of its standard input;
//! - `stderr TEXT`: writes TEXT to stderr;
//! - `read PATH` / `write PATH`: reads a file and prints it / writes `written` to it;
//! - `count PATH`: adds one to the number in PATH (made if missing) and prints it;
//! - `alloc MIB`: allocates and touches MIB MiB;
//! - `spin`: loops forever;
//! - `panic`: panics;
//! - `exit N`: `std::process::exit(N)`;
//! - `exit-code N`: WASI's `exit-with-code(N)`;
//! - `fail`: `main` returns an error.
//!
//! Then it prints `cli-tool: done`.

use std::io::Read;

fn main() -> Result<(), String> {
    println!("cli-tool: started");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut words = args.iter().map(String::as_str);
    while let Some(word) = words.next() {
        let mut operand = || words.next().ok_or(format!("`{word}` needs an operand"));
        match word {
            "args" => {
                for arg in &args {
                    println!("arg: {arg}");
                }
            }
            "env" => {
                let key = operand()?;
                match std::env::var(key) {
                    Ok(value) => println!("{key}={value}"),
                    Err(_) => println!("{key} unset"),
                }
            }
            "stdin" => {
                let mut input = String::new();
                std::io::stdin()
                    .read_to_string(&mut input)
                    .map_err(|e| e.to_string())?;
                println!("stdin: {input}");
            }
            "stderr" => eprintln!("{}", operand()?),
            "read" => {
                let path = operand()?;
                match std::fs::read_to_string(path) {
                    Ok(text) => println!("read: {text}"),
                    Err(error) => println!("cannot read {path}: {error}"),
                }
            }
            "write" => {
                let path = operand()?;
                match std::fs::write(path, "written") {
                    Ok(()) => println!("wrote {path}"),
                    Err(error) => println!("cannot write {path}: {error}"),
                }
            }
            "count" => {
                let path = operand()?;
                let count = std::fs::read_to_string(path)
                    .ok()
                    .and_then(|text| text.trim().parse::<u64>().ok())
                    .unwrap_or(0)
                    + 1;
                std::fs::write(path, count.to_string()).map_err(|e| format!("{path}: {e}"))?;
                println!("count: {count}");
            }
            "alloc" => {
                let mib: usize = operand()?.parse().map_err(|_| "`alloc` takes MiB")?;
                let block = vec![1u8; mib << 20];
                println!(
                    "allocated {} bytes",
                    block.iter().map(|&b| b as usize).sum::<usize>()
                );
            }
            "spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "panic" => panic!("cli-tool was told to panic"),
            "exit" => std::process::exit(operand()?.parse().map_err(|_| "`exit` takes a code")?),
            "exit-code" => {
                let code = operand()?
                    .parse()
                    .map_err(|_| "`exit-code` takes 0..=255")?;
                wasip2::cli::exit::exit_with_code(code)
            }
            "fail" => return Err("told to fail".into()),
            _ => {}
        }
    }
    println!("cli-tool: done");
    Ok(())
}
