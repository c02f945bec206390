//! `wasmvisor:plugin/actors`: messages from one guest to other actors, by
//! name.
//!
//! The import reaches the other actors through [`Peers`], which the host
//! implements over its registry of names (`registry`); the runtime knows
//! nothing of actors. A call always goes through the other actor's
//! mailbox, so that no guest ever runs inside another's call, and it never
//! waits past the calling guest's own deadline. Another actor's crash or
//! refusal is an error value for the caller, never a trap.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{HasData, Linker};

use crate::error::CallError;
use crate::runtime::bindings::actors;
use crate::runtime::clock::Deadlines;

/// The future of a call to another actor.
pub(crate) type PeerCall = Pin<Box<dyn Future<Output = Result<Vec<u8>, CallError>> + Send>>;

/// The other actors of the host, as a guest reaches them.
pub(crate) trait Peers: Send + Sync {
    /// Sends `message` to the actor `name` through its mailbox and waits
    /// for the reply ([`CallError::NotFound`] when there is no such actor).
    fn call(&self, name: &str, message: Vec<u8>) -> PeerCall;

    /// Puts `message` in the mailbox of the actor `name` if there is room,
    /// without waiting.
    fn cast(&self, name: &str, message: Vec<u8>) -> Result<(), CallError>;
}

/// What the `actors` import works on.
pub(crate) struct ActorsCtxView<'a> {
    /// The other actors (`None` for an instance that is only a load check).
    pub(crate) peers: Option<&'a Arc<dyn Peers>>,
    /// The deadline of the guest call in progress.
    pub(crate) deadline: Option<Instant>,
    /// For waits in real time.
    pub(crate) deadlines: &'a Arc<Deadlines>,
}

/// A store's data that serves the `actors` import.
pub(crate) trait ActorsImportView: Send {
    /// The peers and the deadline the guest's calls are bounded by.
    fn actors(&mut self) -> ActorsCtxView<'_>;
}

struct HasActors;

impl HasData for HasActors {
    type Data<'a> = ActorsCtxView<'a>;
}

/// Adds the `actors` interface to `linker`.
pub(crate) fn add_to_linker<T: ActorsImportView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    actors::add_to_linker::<T, HasActors>(linker, T::actors)
}

impl ActorsCtxView<'_> {
    fn peers(&self, name: &str) -> Result<&Arc<dyn Peers>, actors::CallError> {
        self.peers
            .ok_or_else(|| actors::CallError::NotFound(format!("no actor named `{name}`")))
    }
}

impl actors::Host for ActorsCtxView<'_> {
    async fn call(
        &mut self,
        name: String,
        message: Vec<u8>,
        timeout_ms: u32,
    ) -> Result<Vec<u8>, actors::CallError> {
        let call = self.peers(&name)?.call(&name, message);
        // Never wait past this guest call's own deadline.
        let requested = Duration::from_millis(u64::from(timeout_ms));
        let left = self.deadline.map_or(requested, |deadline| {
            deadline.saturating_duration_since(Instant::now())
        });
        let wait = requested.min(left);
        // In real time, like every guest deadline (a paused test clock must
        // not fire it early).
        let expired = self.deadlines.wait_until(Instant::now() + wait);
        tokio::select! {
            biased;
            answer = call => answer.map_err(to_wit_error),
            () = expired => Err(actors::CallError::Timeout(
                u32::try_from(wait.as_millis()).unwrap_or(u32::MAX),
            )),
        }
    }

    async fn cast(&mut self, name: String, message: Vec<u8>) -> Result<(), actors::CallError> {
        self.peers(&name)?
            .cast(&name, message)
            .map_err(to_wit_error)
    }
}

/// The guest's view of why another actor did not answer.
fn to_wit_error(error: CallError) -> actors::CallError {
    let text = error.to_string();
    match error {
        CallError::NotFound(_) => actors::CallError::NotFound(text),
        CallError::Crashed { .. } | CallError::StateCommit { .. } => {
            actors::CallError::Crashed(text)
        }
        CallError::Rejected { reason, .. } => actors::CallError::Rejected(reason),
        CallError::MailboxFull { .. } => actors::CallError::MailboxFull(text),
        CallError::Stopped { .. } => actors::CallError::Stopped(text),
        CallError::DeadLettered { .. } => actors::CallError::Crashed(text),
        // Never an actor call's answer: only a dead letter's replay's.
        CallError::NoDeadLetter(_) => actors::CallError::NotFound(text),
        CallError::DeadLetterStore { .. } => actors::CallError::Stopped(text),
    }
}
