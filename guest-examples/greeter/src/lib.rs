//! A plugin with lifecycle hooks: `init` receives the plugin's configuration
//! at every start, and `shutdown` runs when the host stops it gracefully.
//!
//! Configuration: `greeting` (default `hello`); a `refuse` key makes `init`
//! fail with its value as the reason, to show a plugin that cannot start;
//! `stall-shutdown = "yes"` makes `shutdown` never return, to show the host
//! killing an instance whose graceful stop runs out of time.
//!
//! Messages (UTF-8 text):
//! - `NAME`: replies `GREETING, NAME`;
//! - `shutdowns`: how many graceful shutdowns it has been through (kept in
//!   `state` by `shutdown` itself).

wit_bindgen::generate!({
    path: "../../wit",
    inline: "
        package wasmvisor:examples;
        world greeter {
            include wasmvisor:plugin/plugin@0.1.0;
            export wasmvisor:plugin/lifecycle@0.1.0;
        }
    ",
    world: "wasmvisor:examples/greeter",
    generate_all,
});

use std::cell::RefCell;

use exports::wasmvisor::plugin::{handler, lifecycle};
use wasmvisor::plugin::{log, state};

const SHUTDOWNS: &str = "shutdowns";

thread_local! {
    static GREETING: RefCell<String> = RefCell::new("hello".to_owned());
    static STALL_SHUTDOWN: RefCell<bool> = const { RefCell::new(false) };
}

fn shutdowns() -> u64 {
    state::get(SHUTDOWNS)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

struct Greeter;

impl lifecycle::Guest for Greeter {
    fn init(config: Vec<(String, String)>) -> Result<(), String> {
        for (key, value) in config {
            match key.as_str() {
                "greeting" => GREETING.set(value),
                "refuse" => return Err(value),
                "stall-shutdown" => STALL_SHUTDOWN.set(value == "yes"),
                _ => log::log(log::Level::Warn, &format!("unknown config key `{key}`")),
            }
        }
        Ok(())
    }

    fn shutdown() {
        if STALL_SHUTDOWN.with_borrow(|stall| *stall) {
            loop {
                std::hint::spin_loop();
            }
        }
        let count = shutdowns() + 1;
        if let Err(error) = state::set(SHUTDOWNS, count.to_string().as_bytes()) {
            log::log(
                log::Level::Error,
                &format!("cannot count the shutdown: {error:?}"),
            );
        }
        log::log(
            log::Level::Info,
            &format!("shutting down (shutdown #{count})"),
        );
    }
}

impl handler::Guest for Greeter {
    fn handle(message: Vec<u8>) -> Result<Vec<u8>, String> {
        let name = String::from_utf8(message).map_err(|_| "messages are UTF-8 text".to_string())?;
        if name == "shutdowns" {
            return Ok(shutdowns().to_string().into_bytes());
        }
        Ok(GREETING
            .with_borrow(|greeting| format!("{greeting}, {name}"))
            .into_bytes())
    }
}

export!(Greeter);
