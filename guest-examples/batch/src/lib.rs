//! A job-style plugin: it exports `job.run`, which the host calls once per
//! instance. `run` does its work (here: counts its runs in `state`) and
//! returns; a transient child that finishes like this is not restarted.
//!
//! Messages (UTF-8 text): `runs` replies with how many runs finished.

wit_bindgen::generate!({ path: "../../wit", world: "job-plugin" });

use exports::wasmvisor::plugin::{handler, job};
use wasmvisor::plugin::{log, state};

const RUNS: &str = "runs";

fn runs() -> u64 {
    state::get(RUNS)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

struct Batch;

impl job::Guest for Batch {
    fn run() -> Result<(), String> {
        let count = runs() + 1;
        state::set(RUNS, count.to_string().as_bytes()).map_err(|e| format!("{e:?}"))?;
        log::log(log::Level::Info, &format!("batch run #{count} done"));
        Ok(())
    }
}

impl handler::Guest for Batch {
    fn handle(message: Vec<u8>) -> Result<Vec<u8>, String> {
        match message.as_slice() {
            b"runs" => Ok(runs().to_string().into_bytes()),
            _ => Err("unknown message; try `runs`".to_string()),
        }
    }
}

export!(Batch);
