//! The error a plugin returns: an error reply, not a crash.

use std::fmt;

/// Why a message (or `init`, `restore` or `run`) failed, as a reason the
/// caller reads.
///
/// Returning it is an ordinary failure: the caller gets the reason, the
/// message's state writes are dropped and the instance keeps running. Any
/// [`std::error::Error`] converts into it with `?`, keeping the chain of
/// causes in the text; [`Error::msg`] makes one from any text, and
/// [`bail!`](crate::bail) returns one.
pub struct Error {
    reason: String,
}

impl Error {
    /// An error with `reason` as its text.
    pub fn msg(reason: impl fmt::Display) -> Self {
        Self {
            reason: reason.to_string(),
        }
    }

    /// The reason, as the caller will read it.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(error: E) -> Self {
        let mut reason = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            reason.push_str(": ");
            reason.push_str(&cause.to_string());
            source = cause.source();
        }
        Self { reason }
    }
}

impl From<Error> for String {
    fn from(error: Error) -> Self {
        error.reason
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({:?})", self.reason)
    }
}

/// Returns an [`Error`] from the enclosing function, with `format!`
/// arguments: `bail!("there is no item {id}")`.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)+) => {
        return ::std::result::Result::Err($crate::Error::msg(::std::format!($($arg)+)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::num::ParseIntError);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("bad count")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    fn refuse(id: u64) -> Result<(), Error> {
        crate::bail!("there is no item {id}");
    }

    #[test]
    fn bail_returns_the_formatted_error() {
        assert_eq!(
            refuse(9).map_err(String::from),
            Err("there is no item 9".to_owned())
        );
    }

    #[test]
    fn a_converted_error_keeps_its_causes_in_the_reason() {
        let Err(parse) = "x".parse::<u64>() else {
            panic!("`x` parsed as a number");
        };
        let error = Error::from(Outer(parse));
        assert_eq!(error.reason(), "bad count: invalid digit found in string");
        assert_eq!(
            String::from(error),
            "bad count: invalid digit found in string"
        );
    }
}
