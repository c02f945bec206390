//! Messages to other actors of the same host, by name.
//!
//! A name stays valid across the other actor's restarts, and a call made
//! while it restarts waits for it (within the timeout). Another actor's crash
//! is a [`CallError`] for the caller, not a crash of its own.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::bindings::actors as wit;

/// Why a call or cast to another actor produced no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// No actor has this name.
    NotFound(String),
    /// The other actor crashed while handling the message (why).
    Crashed(String),
    /// The other actor answered with an error (its reason).
    Rejected(String),
    /// The other actor is stopped for good (why).
    Stopped(String),
    /// No answer within the timeout, or within what was left of the
    /// caller's own deadline.
    Timeout(Duration),
    /// The other actor's mailbox is full (casts only).
    MailboxFull(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(why) => write!(f, "not found: {why}"),
            Self::Crashed(why) => write!(f, "crashed: {why}"),
            Self::Rejected(why) => write!(f, "rejected: {why}"),
            Self::Stopped(why) => write!(f, "stopped: {why}"),
            Self::Timeout(after) => write!(f, "no answer within {} ms", after.as_millis()),
            Self::MailboxFull(why) => write!(f, "mailbox full: {why}"),
        }
    }
}

impl std::error::Error for CallError {}

impl From<wit::CallError> for CallError {
    fn from(error: wit::CallError) -> Self {
        match error {
            wit::CallError::NotFound(why) => Self::NotFound(why),
            wit::CallError::Crashed(why) => Self::Crashed(why),
            wit::CallError::Rejected(why) => Self::Rejected(why),
            wit::CallError::Stopped(why) => Self::Stopped(why),
            wit::CallError::Timeout(ms) => Self::Timeout(Duration::from_millis(ms.into())),
            wit::CallError::MailboxFull(why) => Self::MailboxFull(why),
        }
    }
}

/// Sends `message` to the actor `name` and waits at most `timeout` (and never
/// past this call's own deadline) for its reply. Calling yourself can only
/// time out: an actor handles one message at a time.
pub fn call(name: &str, message: &[u8], timeout: Duration) -> Result<Vec<u8>, CallError> {
    let timeout_ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
    wit::call(name, message, timeout_ms).map_err(CallError::from)
}

/// Like [`call`], with the message and the reply in JSON.
pub fn call_json<M, R>(name: &str, message: &M, timeout: Duration) -> Result<R, Error>
where
    M: Serialize + ?Sized,
    R: DeserializeOwned,
{
    let message = serde_json::to_vec(message)?;
    let reply = call(name, &message, timeout)?;
    serde_json::from_slice(&reply).map_err(|error| {
        Error::msg(format!(
            "the reply of `{name}` is not the JSON expected: {error}"
        ))
    })
}

/// Sends `message` to the actor `name` without waiting for it to be
/// handled; fails at once if its mailbox is full.
pub fn cast(name: &str, message: &[u8]) -> Result<(), CallError> {
    wit::cast(name, message).map_err(CallError::from)
}

/// Like [`cast`], with the message in JSON.
pub fn cast_json<M: Serialize + ?Sized>(name: &str, message: &M) -> Result<(), Error> {
    let message = serde_json::to_vec(message)?;
    Ok(cast(name, &message)?)
}
