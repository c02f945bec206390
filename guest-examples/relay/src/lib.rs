//! A plugin that talks to other plugins through the `actors` import: plugins
//! are composed by name, and another actor's crash is an error the caller
//! handles, not a crash of its own.
//!
//! Messages (UTF-8 text):
//! - `to NAME MESSAGE`: calls the actor NAME with MESSAGE (waiting at most
//!   2 s) and replies `NAME said: REPLY`, or fails with why it could not;
//! - `tell NAME MESSAGE`: casts MESSAGE to NAME without waiting.

use std::time::Duration;

use wasmvisor_guest::{Error, Plugin, actors};

const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Relay;

#[wasmvisor_guest::export]
impl Plugin for Relay {
    type Message = String;
    type Reply = String;

    fn handle(&mut self, text: String) -> Result<String, Error> {
        let mut words = text.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("to"), Some(name), Some(message)) => {
                match actors::call(name, message.as_bytes(), TIMEOUT) {
                    Ok(reply) => Ok(format!("{name} said: {}", String::from_utf8_lossy(&reply))),
                    Err(error) => Err(Error::msg(format!("call to {name} failed: {error}"))),
                }
            }
            (Some("tell"), Some(name), Some(message)) => actors::cast(name, message.as_bytes())
                .map(|()| format!("told {name}"))
                .map_err(|error| Error::msg(format!("cast to {name} failed: {error}"))),
            _ => Err(Error::msg(format!(
                "unknown message `{text}`; try `to NAME MESSAGE` or `tell NAME MESSAGE`"
            ))),
        }
    }
}
