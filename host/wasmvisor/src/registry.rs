//! Names: every actor is reachable by its name from anywhere in the host.
//!
//! A name maps to the actor's [`ActorRef`], whose mailbox outlives every
//! instance, so a name stays valid across restarts: a call made while the
//! actor restarts waits for the next instance. Names are
//! released when the actor's supervisor stops (S15 of
//! `docs/design/supervision.md`).
//!
//! The registry is also how one guest reaches another (the `actors`
//! import): it is the runtime's [`Peers`].

use std::collections::BTreeMap;
use std::sync::RwLock;

use crate::actor::ActorRef;
use crate::error::{CallError, Error};
use crate::runtime::Peers;
use crate::runtime::imports::actors::PeerCall;

pub(crate) struct Registry {
    names: RwLock<BTreeMap<String, ActorRef>>,
    /// The most actors the host may have.
    max_actors: Option<usize>,
}

impl Registry {
    pub(crate) fn new(max_actors: Option<usize>) -> Self {
        Registry {
            names: RwLock::new(BTreeMap::new()),
            max_actors,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, ActorRef>> {
        // Every update is a single insert or remove: a poisoned lock is still consistent.
        self.names
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, ActorRef>> {
        self.names
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers every actor of `actors`, or none if any name is taken or
    /// the host would have more actors than it may.
    pub(crate) fn register_all(&self, actors: &[ActorRef]) -> Result<(), Error> {
        let mut names = self.write();
        if let Some(limit) = self.max_actors
            && names.len() + actors.len() > limit
        {
            return Err(Error::TooManyActors { limit });
        }
        if let Some(taken) = actors.iter().find(|a| names.contains_key(a.name())) {
            return Err(Error::DuplicateName(taken.name().to_owned()));
        }
        for actor in actors {
            names.insert(actor.name().to_owned(), actor.clone());
        }
        Ok(())
    }

    /// Releases `actor`'s name, unless the name now belongs to another actor.
    pub(crate) fn unregister(&self, actor: &ActorRef) {
        let mut names = self.write();
        if names
            .get(actor.name())
            .is_some_and(|current| current.same_actor(actor))
        {
            names.remove(actor.name());
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<ActorRef> {
        self.read().get(name).cloned()
    }
}

impl Peers for Registry {
    fn call(&self, name: &str, message: Vec<u8>) -> PeerCall {
        let target = self.get(name);
        let name = name.to_owned();
        Box::pin(async move {
            match target {
                // Through the mailbox, never handed off: the callee's guest
                // must not run inside the caller's guest call.
                Some(actor) => actor.call_queued(message).await,
                None => Err(CallError::NotFound(name)),
            }
        })
    }

    fn cast(&self, name: &str, message: Vec<u8>) -> Result<(), CallError> {
        match self.get(name) {
            Some(actor) => actor.try_cast(message),
            None => Err(CallError::NotFound(name.to_owned())),
        }
    }
}
