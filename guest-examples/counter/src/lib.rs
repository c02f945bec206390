//! A counter that keeps its count in the host's `state` store, so the count
//! survives crashes, restarts and (with the durable store) host restarts.
//!
//! Messages (UTF-8 text):
//! - `inc`: adds 1 and replies with the new count;
//! - `add N`: adds N and replies with the new count;
//! - `get`: replies with the count;
//! - `inc-then-crash`: writes count + 1, then panics: the write must vanish;
//! - `crash`: panics;
//! - `pair-add N`: adds N to two keys, `left` and `right`, in one message,
//!   and `pair` replies `LEFT RIGHT`: they are always equal, as a message's
//!   writes commit all together or not at all;
//! - `fill KEY N`: stores N bytes under KEY (to show the state limits: a
//!   refused write is an error reply, not a crash);
//! - `version`: which version of the counter this is (1; the `counter-v2`
//!   build of this same source answers 2).

wit_bindgen::generate!({ path: "../../wit", world: "plugin" });

use exports::wasmvisor::plugin::handler::Guest;
use wasmvisor::plugin::{log, state};

const KEY: &str = "count";

/// The version this build answers `version` with.
const VERSION: &str = if cfg!(feature = "v2") { "2" } else { "1" };

struct Counter;

/// Reads a number kept under `key` (0 when absent).
fn read(key: &str) -> u64 {
    state::get(key)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

/// Writes a number under `key`.
fn write(key: &str, value: u64) -> Result<(), String> {
    state::set(key, value.to_string().as_bytes()).map_err(|e| format!("cannot save `{key}`: {e:?}"))
}

fn count() -> u64 {
    read(KEY)
}

fn store(count: u64) -> Result<(), String> {
    write(KEY, count)
}

fn add(n: u64) -> Result<Vec<u8>, String> {
    let next = count().checked_add(n).ok_or("the count would overflow")?;
    store(next)?;
    Ok(next.to_string().into_bytes())
}

impl Guest for Counter {
    fn handle(message: Vec<u8>) -> Result<Vec<u8>, String> {
        let text = String::from_utf8(message).map_err(|_| "messages are UTF-8 text".to_string())?;
        let mut words = text.split_whitespace();
        match (words.next(), words.next()) {
            (Some("inc"), None) => add(1),
            (Some("add"), Some(n)) => {
                add(n.parse().map_err(|_| format!("`{n}` is not a number"))?)
            }
            (Some("get"), None) => Ok(count().to_string().into_bytes()),
            (Some("version"), None) => Ok(VERSION.as_bytes().to_vec()),
            (Some("inc-then-crash"), None) => {
                store(count() + 1)?;
                log::log(log::Level::Warn, "about to crash with an uncommitted write");
                panic!("asked to crash after writing");
            }
            (Some("crash"), None) => panic!("asked to crash"),
            (Some("pair-add"), Some(n)) => {
                let n: u64 = n.parse().map_err(|_| format!("`{n}` is not a number"))?;
                let (left, right) = (read("left") + n, read("right") + n);
                write("left", left)?;
                write("right", right)?;
                Ok(format!("{left} {right}").into_bytes())
            }
            (Some("pair"), None) => Ok(format!("{} {}", read("left"), read("right")).into_bytes()),
            (Some("fill"), Some(key)) => {
                let size: usize = words
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("usage: fill KEY N")?;
                state::set(key, &vec![0u8; size]).map_err(|e| format!("refused: {e:?}"))?;
                Ok(format!("stored {size} bytes under {key}").into_bytes())
            }
            _ => Err(format!(
                "unknown message `{text}`; try `inc`, `add N`, `get`, `version`, `inc-then-crash` or `crash`"
            )),
        }
    }
}

export!(Counter);
