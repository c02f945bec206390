//! A job-style plugin: it defines `run`, which the host calls once per
//! instance. `run` does its work (here: counts its runs in `state`) and
//! returns; a transient child that finishes like this is not restarted.
//!
//! Messages (UTF-8 text): `runs` replies with how many runs finished.

use wasmvisor_guest::state::Key;
use wasmvisor_guest::{Error, Plugin};

const RUNS: Key<u64> = Key::new("runs");

#[derive(Default)]
struct Batch;

#[wasmvisor_guest::export]
impl Plugin for Batch {
    type Message = String;
    type Reply = String;

    fn handle(&mut self, message: String) -> Result<String, Error> {
        match message.as_str() {
            "runs" => Ok(RUNS.get()?.unwrap_or(0).to_string()),
            _ => Err(Error::msg("unknown message; try `runs`")),
        }
    }

    fn run(&mut self) -> Result<(), Error> {
        let count = RUNS.update(|runs| *runs += 1)?;
        wasmvisor_guest::info!("batch run #{count} done");
        Ok(())
    }
}
