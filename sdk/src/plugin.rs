//! The [`Plugin`] trait: what a plugin does with each call the host makes.

use crate::{Error, FromMessage, IntoReply};

/// A wasmvisor plugin: one value per instance, answering one message at a
/// time.
///
/// Only [`handle`](Plugin::handle) is required. Every other method has a
/// default, and [`#[export]`](crate::export) exports the WIT interface
/// behind a method only when the `impl` defines that method, so a plugin
/// that does not define `health` has no health check, one that does not
/// define `run` is not a job, and so on.
///
/// The value is made with [`Default`] on the first call into a new instance
/// (`init` when the plugin defines it, otherwise the first message or health
/// check, within that call's deadline), so it is new after every crash:
/// state that must survive lives in [`state`](crate::state) or in a
/// [`snapshot`](Plugin::snapshot).
pub trait Plugin: Default + 'static {
    /// What `handle` receives: `Vec<u8>`, `String` or [`Json<T>`](crate::Json).
    type Message: FromMessage;
    /// What `handle` answers with: bytes, a string, [`Json<T>`](crate::Json)
    /// or `()`.
    type Reply: IntoReply;

    /// Handles one message. `Err` is an error reply (the message's state
    /// writes are dropped, the instance keeps running); a panic is a crash.
    fn handle(&mut self, message: Self::Message) -> Result<Self::Reply, Error>;

    /// The plugin's own view of its health, asked on a schedule between
    /// messages. `Unhealthy` several times in a row gets the instance
    /// restarted; `Degraded` is only reported. State writes made here are
    /// discarded. Should be quick.
    fn health(&self) -> Health {
        Health::Healthy
    }

    /// Called at every start of an instance, before any message, with the
    /// plugin's configuration (the `[config]` table of its manifest).
    /// Committed state is readable; writes made here are committed before
    /// the first message. `Err` fails the start.
    fn init(&mut self, config: &Config) -> Result<(), Error> {
        let _ = config;
        Ok(())
    }

    /// Called when the host stops the instance gracefully. State writes
    /// made here are committed.
    fn shutdown(&mut self) {}

    /// Serialises state kept in linear memory (fields of `self`). The host
    /// takes a snapshot after successful messages and hands the last one to
    /// [`restore`](Plugin::restore) after a restart. Define both or neither.
    fn snapshot(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Restores what [`snapshot`](Plugin::snapshot) saved, possibly in an
    /// older instance or an older version of the plugin. `Err` means the
    /// data cannot be used: the start fails and the data is kept.
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), Error> {
        let _ = snapshot;
        Ok(())
    }

    /// Makes the plugin a job: the host calls `run` once per instance,
    /// after `init` and `restore`. `Ok` is a normal exit (a transient child
    /// is then not restarted); `Err` is a crash with that reason.
    fn run(&mut self) -> Result<(), Error> {
        Ok(())
    }
}

/// The answer to a health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Working as intended.
    Healthy,
    /// Working, with a problem an operator should know about. Never
    /// restarts anything.
    Degraded(String),
    /// Not working. Counts as a failed check.
    Unhealthy(String),
}

/// A plugin's configuration: the key/value pairs of its manifest's
/// `[config]` table, handed to [`Plugin::init`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    entries: Vec<(String, String)>,
}

impl Config {
    /// A configuration with these entries (as the host hands them over).
    pub fn new(entries: Vec<(String, String)>) -> Self {
        Self { entries }
    }

    /// The value of `key`, if it is set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.as_str())
    }

    /// Every entry, in the order the host gave them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}
