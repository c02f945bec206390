//! How messages and replies, which are bytes on the wire, become Rust
//! values and back.
//!
//! The host and the CLI see messages and replies as opaque bytes
//! (`wasmvisor call NAME TEXT` sends the text as UTF-8). A plugin chooses
//! its encoding through [`Plugin::Message`](crate::Plugin::Message) and
//! [`Plugin::Reply`](crate::Plugin::Reply): raw bytes, UTF-8 text, or JSON
//! through serde with [`Json`].

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// A message type a plugin can receive: decoded from the message's bytes.
///
/// A message that does not decode is an error reply to its caller (the
/// plugin's `handle` is not called), never a crash.
pub trait FromMessage: Sized {
    /// Decodes a message.
    fn from_message(bytes: Vec<u8>) -> Result<Self, Error>;
}

/// A reply type a plugin can answer with: encoded into the reply's bytes.
pub trait IntoReply {
    /// Encodes the reply.
    fn into_reply(self) -> Result<Vec<u8>, Error>;
}

/// A message or reply encoded as JSON (serde).
///
/// As a message, a bare word that is not JSON (letters, digits, `-`, `_`
/// or `.`, starting with a letter, such as `inc`) is read as the JSON
/// string holding it, so unit variants of an enum can be sent as plain
/// words from the command line: `wasmvisor call NAME inc` is the same as
/// `wasmvisor call NAME '"inc"'`. Anything else must be JSON:
/// `wasmvisor call NAME '{"add": 5}'`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromMessage for Json<T> {
    fn from_message(bytes: Vec<u8>) -> Result<Self, Error> {
        match serde_json::from_slice(&bytes) {
            Ok(value) => Ok(Json(value)),
            // Valid JSON of the wrong shape is reported as it is; only text
            // that is not JSON at all may be a bare word.
            Err(not_json) if is_json(&bytes) => Err(Error::msg(format!(
                "the message is not what this plugin expects: {not_json}"
            ))),
            Err(not_json) => match std::str::from_utf8(&bytes) {
                Ok(word) if is_bare_word(word) => {
                    serde_json::from_value(serde_json::Value::String(word.to_owned()))
                        .map(Json)
                        .map_err(|error| Error::msg(format!("cannot read `{word}`: {error}")))
                }
                _ => Err(Error::msg(format!(
                    "the message is not valid JSON: {not_json}"
                ))),
            },
        }
    }
}

impl<T: Serialize> IntoReply for Json<T> {
    fn into_reply(self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(&self.0)
            .map_err(|error| Error::msg(format!("cannot encode the reply: {error}")))
    }
}

/// Whether `bytes` are JSON, of any shape.
fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

/// Whether `text` is one word that JSON would not accept but a person would
/// type for a unit variant.
fn is_bare_word(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl FromMessage for Vec<u8> {
    fn from_message(bytes: Vec<u8>) -> Result<Self, Error> {
        Ok(bytes)
    }
}

impl FromMessage for String {
    fn from_message(bytes: Vec<u8>) -> Result<Self, Error> {
        String::from_utf8(bytes).map_err(|_| Error::msg("messages are UTF-8 text"))
    }
}

impl IntoReply for Vec<u8> {
    fn into_reply(self) -> Result<Vec<u8>, Error> {
        Ok(self)
    }
}

impl IntoReply for &[u8] {
    fn into_reply(self) -> Result<Vec<u8>, Error> {
        Ok(self.to_vec())
    }
}

impl IntoReply for String {
    fn into_reply(self) -> Result<Vec<u8>, Error> {
        Ok(self.into_bytes())
    }
}

impl IntoReply for &str {
    fn into_reply(self) -> Result<Vec<u8>, Error> {
        Ok(self.as_bytes().to_vec())
    }
}

/// An empty reply, for messages that only need an acknowledgement.
impl IntoReply for () {
    fn into_reply(self) -> Result<Vec<u8>, Error> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    enum Command {
        Inc,
        Add(u64),
        Say { text: String },
    }

    fn decode(message: &str) -> Result<Command, String> {
        Json::<Command>::from_message(message.as_bytes().to_vec())
            .map(|Json(command)| command)
            .map_err(String::from)
    }

    #[test]
    fn json_messages_decode_and_bare_words_read_as_strings() {
        assert_eq!(decode("\"inc\""), Ok(Command::Inc));
        assert_eq!(decode("inc"), Ok(Command::Inc));
        assert_eq!(decode(r#"{"add": 5}"#), Ok(Command::Add(5)));
        assert_eq!(
            decode(r#"{"say": {"text": "hi"}}"#),
            Ok(Command::Say { text: "hi".into() })
        );
    }

    #[test]
    fn a_message_that_does_not_decode_says_why() {
        let unknown = decode("dec").unwrap_err();
        assert!(
            unknown.starts_with("cannot read `dec`: unknown variant `dec`"),
            "{unknown}"
        );
        let broken = decode(r#"{"add": }"#).unwrap_err();
        assert!(
            broken.starts_with("the message is not valid JSON"),
            "{broken}"
        );
        // Two words are not a bare word: JSON's own error is the one that helps.
        let spaced = decode("add 5").unwrap_err();
        assert!(
            spaced.starts_with("the message is not valid JSON"),
            "{spaced}"
        );
        // A bare word that JSON accepts is JSON, not a string.
        let keyword = decode("true").unwrap_err();
        assert!(
            keyword.starts_with("the message is not what this plugin expects"),
            "{keyword}"
        );
    }

    #[test]
    fn text_messages_must_be_utf8() {
        assert_eq!(
            String::from_message(b"hi".to_vec()).map_err(String::from),
            Ok("hi".into())
        );
        let error = String::from_message(vec![0xff]).map_err(String::from);
        assert_eq!(error, Err("messages are UTF-8 text".into()));
    }

    #[test]
    fn replies_encode() {
        assert_eq!(
            Json(vec![1, 2]).into_reply().map_err(String::from),
            Ok(b"[1,2]".to_vec())
        );
        assert_eq!("ok".into_reply().map_err(String::from), Ok(b"ok".to_vec()));
        assert_eq!(().into_reply().map_err(String::from), Ok(Vec::new()));
    }
}
