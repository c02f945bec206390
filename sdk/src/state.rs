//! The actor's key/value state, kept by the host and restored after a crash.
//!
//! Values are typed: [`get`] and [`set`] (or a typed [`Key`]) encode them as
//! JSON through serde, so they read as text in `wasmvisor state get` and in
//! plugins written in other languages (a number is stored as its decimal
//! text, the same bytes the Python and JavaScript counters write).
//! [`get_bytes`] and [`set_bytes`] store bytes as they are.
//!
//! Writes made while handling a message are visible at once to that
//! message, and are committed together only when `handle` returns `Ok`;
//! they vanish when it returns `Err` or panics. So a restarted instance sees
//! exactly the state of the last successful message.

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::state as wit;

/// Why a state operation failed. The plugin keeps running; with `?` in
/// `handle` it becomes an error reply and the message's writes are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// The value is larger than the actor's limit.
    ValueTooLarge {
        /// The limit, in bytes.
        limit_bytes: u64,
    },
    /// The write would take the actor's state over its quota.
    QuotaExceeded {
        /// The quota, in bytes.
        limit_bytes: u64,
    },
    /// The key is empty or longer than the limit.
    InvalidKey {
        /// The limit, in bytes.
        limit_bytes: u64,
    },
    /// The value under `key` is not what the plugin expected (not JSON, or
    /// not of the type asked for), or a value cannot be encoded.
    Encoding {
        /// The key.
        key: String,
        /// What serde said.
        reason: String,
    },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ValueTooLarge { limit_bytes } => {
                write!(
                    f,
                    "the value is larger than the limit of {limit_bytes} bytes"
                )
            }
            Self::QuotaExceeded { limit_bytes } => {
                write!(
                    f,
                    "the actor's state would exceed its quota of {limit_bytes} bytes"
                )
            }
            Self::InvalidKey { limit_bytes } => {
                write!(f, "state keys must be 1 to {limit_bytes} bytes long")
            }
            Self::Encoding { key, reason } => write!(f, "state key `{key}`: {reason}"),
        }
    }
}

impl std::error::Error for StateError {}

impl From<wit::StateError> for StateError {
    fn from(error: wit::StateError) -> Self {
        match error {
            wit::StateError::ValueTooLarge(limit_bytes) => Self::ValueTooLarge { limit_bytes },
            wit::StateError::QuotaExceeded(limit_bytes) => Self::QuotaExceeded { limit_bytes },
            wit::StateError::InvalidKey(limit_bytes) => Self::InvalidKey { limit_bytes },
        }
    }
}

/// Reads the value of `key` as a `T`; `None` when the key is absent.
pub fn get<T: DeserializeOwned>(key: &str) -> Result<Option<T>, StateError> {
    get_bytes(key)
        .map(|bytes| {
            serde_json::from_slice(&bytes).map_err(|error| StateError::Encoding {
                key: key.to_owned(),
                reason: error.to_string(),
            })
        })
        .transpose()
}

/// Writes `value` under `key`, as JSON.
pub fn set<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), StateError> {
    let bytes = serde_json::to_vec(value).map_err(|error| StateError::Encoding {
        key: key.to_owned(),
        reason: error.to_string(),
    })?;
    set_bytes(key, &bytes)
}

/// Reads the bytes stored under `key`, as they are.
pub fn get_bytes(key: &str) -> Option<Vec<u8>> {
    wit::get(key)
}

/// Stores `value` under `key`, as it is.
pub fn set_bytes(key: &str, value: &[u8]) -> Result<(), StateError> {
    wit::set(key, value).map_err(StateError::from)
}

/// Deletes `key`; deleting an absent key is not an error.
pub fn delete(key: &str) {
    wit::delete(key);
}

/// The keys that start with `prefix`, in ascending byte order (every key
/// for an empty prefix).
pub fn keys(prefix: &str) -> Vec<String> {
    wit::list_keys(prefix)
}

/// A state key with the type of its value, declared once as a constant:
///
/// ```no_run
/// use wasmvisor_guest::state::Key;
///
/// const VISITS: Key<u64> = Key::new("visits");
///
/// # fn visit() -> Result<u64, wasmvisor_guest::state::StateError> {
/// let visits = VISITS.update(|n| *n += 1)?; // 0 when absent, then 1, 2, ...
/// # Ok(visits)
/// # }
/// ```
pub struct Key<T> {
    name: &'static str,
    value: PhantomData<fn() -> T>,
}

impl<T> Key<T> {
    /// The key `name` holding a `T`.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            value: PhantomData,
        }
    }

    /// The key's name in the store.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Deletes the key.
    pub fn delete(&self) {
        delete(self.name);
    }
}

impl<T: Serialize + DeserializeOwned> Key<T> {
    /// Reads the value; `None` when absent.
    pub fn get(&self) -> Result<Option<T>, StateError> {
        get(self.name)
    }

    /// Writes the value.
    pub fn set(&self, value: &T) -> Result<(), StateError> {
        set(self.name, value)
    }

    /// Reads the value (the default when absent), changes it with `change`,
    /// writes it back and returns it.
    pub fn update(&self, change: impl FnOnce(&mut T)) -> Result<T, StateError>
    where
        T: Default,
    {
        let mut value = self.get()?.unwrap_or_default();
        change(&mut value);
        self.set(&value)?;
        Ok(value)
    }
}

// Not derived: a derive would require `T: Clone` and `T: Copy`.
impl<T> Clone for Key<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Key<T> {}

impl<T> fmt::Debug for Key<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Key").field(&self.name).finish()
    }
}
