//! A program's command line and standard streams: the arguments, standard
//! input and where standard output and error go.
//!
//! They matter most to a `wasi:cli` command (a `fn main` program), but every
//! instance gets them: a plugin sees the same arguments and stdin. The
//! environment and the files a program may open are
//! [`Capabilities`](super::Capabilities), granted one by one, nothing by
//! default.
//!
//! By default a program gets no arguments (only its name, the actor's, as
//! `argv[0]`), an empty stdin, and its stdout and stderr go to the host's
//! log, a line per event tagged with the actor's name.

use std::path::PathBuf;
use std::sync::Arc;

/// A program's arguments and standard streams (see the module docs).
///
/// ```
/// use wasmvisor::{Output, Stdin, Stdio};
///
/// let stdio = Stdio::new()
///     .args(["--verbose", "report.txt"])
///     .stdin(Stdin::Bytes(b"hello".to_vec().into()))
///     .stdout(Output::Keep { max_bytes: 4096 })
///     .stderr(Output::File("job.err".into()));
/// # drop(stdio);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stdio {
    pub(crate) args: Vec<String>,
    pub(crate) stdin: Stdin,
    pub(crate) stdout: Output,
    pub(crate) stderr: Output,
}

/// Where a program's standard input comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Stdin {
    /// Nothing: the first read is the end of the input.
    #[default]
    Empty,
    /// A file, read whole at every start (at most [`Stdio::MAX_STDIN_BYTES`]).
    File(PathBuf),
    /// These bytes.
    Bytes(Arc<[u8]>),
}

/// Where a program's standard output or error goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Output {
    /// The host's log, a line per event, tagged with the actor's name and
    /// the stream (stdout at `info`, stderr at `warn`).
    #[default]
    Log,
    /// Appended to a file (made when missing), opened at every start.
    File(PathBuf),
    /// Kept in memory as the run's output, up to `max_bytes` (more is cut
    /// off, and the output says it was): an actor's latest run shows in
    /// its info, and a one-off run returns it.
    Keep {
        /// The bound, at most [`Stdio::MAX_KEPT_BYTES`].
        max_bytes: usize,
    },
}

impl Output {
    /// The default bound of kept output, per stream (64 KiB).
    pub const DEFAULT_KEPT_BYTES: usize = 64 << 10;

    /// Kept in memory, up to [`Output::DEFAULT_KEPT_BYTES`].
    pub fn keep() -> Self {
        Output::Keep {
            max_bytes: Self::DEFAULT_KEPT_BYTES,
        }
    }
}

impl Stdio {
    /// The largest standard input read from a file, in bytes (16 MiB): more
    /// is refused at start, naming the file, rather than held in memory.
    pub const MAX_STDIN_BYTES: u64 = 16 << 20;

    /// The largest bound of kept output, per stream (16 MiB).
    pub const MAX_KEPT_BYTES: usize = 16 << 20;

    /// No arguments, no input, output to the host's log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets where standard input comes from.
    pub fn stdin(mut self, stdin: Stdin) -> Self {
        self.stdin = stdin;
        self
    }

    /// Sets where standard output goes.
    pub fn stdout(mut self, stdout: Output) -> Self {
        self.stdout = stdout;
        self
    }

    /// Sets where standard error goes.
    pub fn stderr(mut self, stderr: Output) -> Self {
        self.stderr = stderr;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        for (name, output) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            if let Output::Keep { max_bytes } = output
                && (*max_bytes == 0 || *max_bytes > Self::MAX_KEPT_BYTES)
            {
                return Err(format!(
                    "{name} is kept up to {max_bytes} bytes; the bound must be 1 to {}",
                    Self::MAX_KEPT_BYTES
                ));
            }
        }
        Ok(())
    }
}
