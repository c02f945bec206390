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
//!   build of this same source answers 2);
//! - `mark` (version 2 only): writes the key `v2-mark`, which version 1
//!   never writes, and replies `marked`.

use wasmvisor_guest::state::{self, Key};
use wasmvisor_guest::{Error, Plugin};

/// The count. Stored as JSON, that is as its decimal text.
const COUNT: Key<u64> = Key::new("count");
/// Two counts that one message always changes together.
const LEFT: Key<u64> = Key::new("left");
const RIGHT: Key<u64> = Key::new("right");

/// The version this build answers `version` with.
const VERSION: &str = if cfg!(feature = "v2") { "2" } else { "1" };

#[derive(Default)]
struct Counter;

fn number(text: &str) -> Result<u64, Error> {
    text.parse()
        .map_err(|_| Error::msg(format!("`{text}` is not a number")))
}

fn add(n: u64) -> Result<String, Error> {
    let count = COUNT.get()?.unwrap_or(0);
    let next = count
        .checked_add(n)
        .ok_or(Error::msg("the count would overflow"))?;
    COUNT
        .set(&next)
        .map_err(|e| Error::msg(format!("cannot save `{}`: {e}", COUNT.name())))?;
    Ok(next.to_string())
}

#[wasmvisor_guest::export]
impl Plugin for Counter {
    type Message = String;
    type Reply = String;

    fn handle(&mut self, text: String) -> Result<String, Error> {
        let mut words = text.split_whitespace();
        match (words.next(), words.next()) {
            (Some("inc"), None) => add(1),
            (Some("add"), Some(n)) => add(number(n)?),
            (Some("get"), None) => Ok(COUNT.get()?.unwrap_or(0).to_string()),
            (Some("version"), None) => Ok(VERSION.to_owned()),
            (Some("mark"), None) if cfg!(feature = "v2") => {
                state::set_bytes("v2-mark", b"true")
                    .map_err(|e| Error::msg(format!("refused: {e}")))?;
                Ok("marked".to_owned())
            }
            (Some("inc-then-crash"), None) => {
                COUNT.update(|count| *count += 1)?;
                wasmvisor_guest::warn!("about to crash with an uncommitted write");
                panic!("asked to crash after writing");
            }
            (Some("crash"), None) => panic!("asked to crash"),
            (Some("pair-add"), Some(n)) => {
                let n = number(n)?;
                let left = LEFT.update(|left| *left += n)?;
                let right = RIGHT.update(|right| *right += n)?;
                Ok(format!("{left} {right}"))
            }
            (Some("pair"), None) => Ok(format!(
                "{} {}",
                LEFT.get()?.unwrap_or(0),
                RIGHT.get()?.unwrap_or(0)
            )),
            (Some("fill"), Some(key)) => {
                let size: usize = words
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or(Error::msg("usage: fill KEY N"))?;
                state::set_bytes(key, &vec![0u8; size])
                    .map_err(|e| Error::msg(format!("refused: {e}")))?;
                Ok(format!("stored {size} bytes under {key}"))
            }
            _ => Err(Error::msg(format!(
                "unknown message `{text}`; try `inc`, `add N`, `get`, `version`, `inc-then-crash` or `crash`"
            ))),
        }
    }
}
