//! A plugin that talks to other plugins through the `actors` import: plugins
//! are composed by name, and another actor's crash is an error the caller
//! handles, not a crash of its own.
//!
//! Messages (UTF-8 text):
//! - `to NAME MESSAGE`: calls the actor NAME with MESSAGE (waiting at most
//!   2 s) and replies `NAME said: REPLY`, or fails with why it could not;
//! - `tell NAME MESSAGE`: casts MESSAGE to NAME without waiting.

wit_bindgen::generate!({ path: "../../wit", world: "plugin" });

use exports::wasmvisor::plugin::handler::Guest;
use wasmvisor::plugin::actors::{self, CallError};

const TIMEOUT_MS: u32 = 2_000;

struct Relay;

fn explain(error: CallError) -> String {
    match error {
        CallError::NotFound(why) => format!("not found: {why}"),
        CallError::Crashed(why) => format!("crashed: {why}"),
        CallError::Rejected(why) => format!("rejected: {why}"),
        CallError::Stopped(why) => format!("stopped: {why}"),
        CallError::Timeout(ms) => format!("no answer within {ms} ms"),
        CallError::MailboxFull(why) => format!("mailbox full: {why}"),
    }
}

impl Guest for Relay {
    fn handle(message: Vec<u8>) -> Result<Vec<u8>, String> {
        let text = String::from_utf8(message).map_err(|_| "messages are UTF-8 text".to_string())?;
        let mut words = text.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("to"), Some(name), Some(message)) => {
                match actors::call(name, message.as_bytes(), TIMEOUT_MS) {
                    Ok(reply) => Ok(
                        format!("{name} said: {}", String::from_utf8_lossy(&reply)).into_bytes()
                    ),
                    Err(error) => Err(format!("call to {name} failed: {}", explain(error))),
                }
            }
            (Some("tell"), Some(name), Some(message)) => actors::cast(name, message.as_bytes())
                .map(|()| format!("told {name}").into_bytes())
                .map_err(|error| format!("cast to {name} failed: {}", explain(error))),
            _ => Err(format!(
                "unknown message `{text}`; try `to NAME MESSAGE` or `tell NAME MESSAGE`"
            )),
        }
    }
}

export!(Relay);
