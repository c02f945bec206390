//! A plugin with lifecycle hooks: `init` receives the plugin's configuration
//! at every start, and `shutdown` runs when the host stops it gracefully.
//!
//! Configuration: `greeting` (default `hello`); a `refuse` key makes `init`
//! fail with its value as the reason, to show a plugin that cannot start;
//! `stall-shutdown = "yes"` makes `shutdown` never return, to show the host
//! killing an instance whose graceful stop runs out of time; `ignore =
//! "yes"` makes `init` answer its start with `exit::ignore` (nothing to do
//! here); `end-at-start = REASON` makes `init` ask to end with that reason.
//!
//! Messages (UTF-8 text):
//! - `NAME`: replies `GREETING, NAME`;
//! - `shutdowns`: how many graceful shutdowns it has been through (kept in
//!   `state` by `shutdown` itself);
//! - `leave`: replies `bye` and ends the instance with `exit::shutdown`;
//!   `leave REASON`, the same with `exit::shutdown_with(REASON)`;
//! - `ignore`: calls `exit::ignore` outside `init`, which traps;
//! - `ignore-from-now-on`: keeps a flag in `state` that makes every later
//!   `init` answer its start with `exit::ignore`.

use wasmvisor_guest::state::Key;
use wasmvisor_guest::{Config, Error, Plugin, exit};

const SHUTDOWNS: Key<u64> = Key::new("shutdowns");
const IGNORE_STARTS: Key<bool> = Key::new("ignore-starts");

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
        if name == "leave" {
            exit::shutdown();
            return Ok("bye".to_owned());
        }
        if let Some(reason) = name.strip_prefix("leave ") {
            exit::shutdown_with(reason);
            return Ok("bye".to_owned());
        }
        if name == "ignore" {
            exit::ignore();
        }
        if name == "ignore-from-now-on" {
            IGNORE_STARTS.set(&true)?;
            return Ok("ok".to_owned());
        }
        Ok(format!("{}, {name}", self.greeting))
    }

    fn init(&mut self, config: &Config) -> Result<(), Error> {
        if IGNORE_STARTS.get()?.unwrap_or(false) {
            exit::ignore();
        }
        for (key, value) in config.iter() {
            match key {
                "greeting" => self.greeting = value.to_owned(),
                "refuse" => return Err(Error::msg(value)),
                "stall-shutdown" => self.stall_shutdown = value == "yes",
                "ignore" if value == "yes" => exit::ignore(),
                "end-at-start" => exit::shutdown_with(value),
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
