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

use wasmvisor_guest::state::Key;
use wasmvisor_guest::{Config, Error, Plugin};

const SHUTDOWNS: Key<u64> = Key::new("shutdowns");

struct Greeter {
    greeting: String,
    stall_shutdown: bool,
}

impl Default for Greeter {
    fn default() -> Self {
        Self {
            greeting: "hello".to_owned(),
            stall_shutdown: false,
        }
    }
}

#[wasmvisor_guest::export]
impl Plugin for Greeter {
    type Message = String;
    type Reply = String;

    fn handle(&mut self, name: String) -> Result<String, Error> {
        if name == "shutdowns" {
            return Ok(SHUTDOWNS.get()?.unwrap_or(0).to_string());
        }
        Ok(format!("{}, {name}", self.greeting))
    }

    fn init(&mut self, config: &Config) -> Result<(), Error> {
        for (key, value) in config.iter() {
            match key {
                "greeting" => self.greeting = value.to_owned(),
                "refuse" => return Err(Error::msg(value)),
                "stall-shutdown" => self.stall_shutdown = value == "yes",
                _ => wasmvisor_guest::warn!("unknown config key `{key}`"),
            }
        }
        Ok(())
    }

    fn shutdown(&mut self) {
        if self.stall_shutdown {
            loop {
                std::hint::spin_loop();
            }
        }
        match SHUTDOWNS.update(|count| *count += 1) {
            Ok(count) => wasmvisor_guest::info!("shutting down (shutdown #{count})"),
            Err(error) => wasmvisor_guest::error!("cannot count the shutdown: {error}"),
        }
    }
}
