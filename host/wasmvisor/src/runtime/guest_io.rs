//! Guest stdout and stderr: into the host's log, a file, or kept.
//!
//! Every instance gets its own pair of [`GuestOutput`] streams, each with a
//! [`Sink`] (its [`Output`](crate::Output) setting). Into the log, output is
//! cut into lines, and each line becomes a `tracing` event with target
//! `wasmvisor::guest`, tagged with the actor's name and the stream (stdout at
//! `info`, stderr at `warn`). Into a file, it is appended as written. Kept,
//! it is held in memory up to a bound ([`Kept`]) as the run's output.
//! Wherever it goes, the last lines of stderr are also kept, so that when a
//! guest panics (a Rust guest prints its panic message to stderr, then
//! aborts with `unreachable`) the crash reason can carry the panic message.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// A line longer than this is logged in pieces, so a guest cannot make the
/// host buffer without bound.
const MAX_LINE_BYTES: usize = 4096;
/// How many recent stderr lines are kept for crash reports.
const RECENT_LINES: usize = 16;
/// The longest panic message a crash report quotes, in characters.
const MAX_PANIC_MESSAGE: usize = 1024;

/// `text` as one line of at most `max` characters: control characters
/// escaped (`\n`, `\u{1b}`, ...), the rest cut off with `...`.
fn one_line(text: &str, max: usize) -> String {
    let mut line = String::new();
    let mut escaped = text.chars().flat_map(|c| {
        let escape = c.is_control().then(|| c.escape_default());
        let plain = (!c.is_control()).then_some(c);
        escape.into_iter().flatten().chain(plain)
    });
    for c in escaped.by_ref().take(max) {
        line.push(c);
    }
    if escaped.next().is_some() {
        line.push_str("...");
    }
    line
}

/// A program's output, kept in memory as its [`Stdio`](crate::Stdio)
/// says ([`Output::Keep`](crate::Output::Keep)), as text (invalid UTF-8
/// replaced).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ProgramOutput {
    /// What it wrote to stdout, where stdout is kept; empty otherwise.
    pub stdout: String,
    /// What it wrote to stderr, where stderr is kept; empty otherwise.
    pub stderr: String,
    /// Whether it wrote more than the bound let in (the rest is cut off).
    pub truncated: bool,
}

impl ProgramOutput {
    /// The output kept in `kept` (stdout's, stderr's); `None` when neither
    /// stream is kept.
    pub(crate) fn of(kept: &(Option<Arc<Kept>>, Option<Arc<Kept>>)) -> Option<Self> {
        if kept.0.is_none() && kept.1.is_none() {
            return None;
        }
        let (stdout, out_cut) = kept.0.as_ref().map(|k| k.text()).unwrap_or_default();
        let (stderr, err_cut) = kept.1.as_ref().map(|k| k.text()).unwrap_or_default();
        Some(ProgramOutput {
            stdout,
            stderr,
            truncated: out_cut || err_cut,
        })
    }
}

/// Which of the guest's streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// One guest output stream, shared by every handle WASI makes of it.
#[derive(Clone)]
pub(crate) struct GuestOutput {
    inner: Arc<OutputInner>,
}

struct OutputInner {
    actor: Arc<str>,
    stream: Stream,
    sink: Sink,
    lines: Mutex<Lines>,
}

/// Where a guest stream's bytes go.
pub(crate) enum Sink {
    /// The host's log, a line per event.
    Log,
    /// Appended to this file.
    File(Mutex<std::fs::File>),
    /// Kept in memory, up to a bound.
    Keep(Arc<Kept>),
}

/// Output kept in memory, up to a bound; what is past it is dropped and
/// counted as cut off.
#[derive(Debug)]
pub(crate) struct Kept {
    bytes: Mutex<Vec<u8>>,
    limit: usize,
    truncated: std::sync::atomic::AtomicBool,
}

impl Kept {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Kept {
            bytes: Mutex::new(Vec::new()),
            limit,
            truncated: Default::default(),
        })
    }

    fn append(&self, bytes: &[u8]) {
        let mut kept = crate::util::lock(&self.bytes);
        let room = self.limit.saturating_sub(kept.len());
        if bytes.len() > room {
            self.truncated
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// What was kept (as text, invalid UTF-8 replaced), and whether more was
    /// written than the bound let in.
    pub(crate) fn text(&self) -> (String, bool) {
        let kept = crate::util::lock(&self.bytes);
        (
            String::from_utf8_lossy(&kept).into_owned(),
            self.truncated.load(std::sync::atomic::Ordering::Relaxed),
        )
    }
}

#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
    recent: VecDeque<String>,
}

impl GuestOutput {
    /// A stream of `actor` into the host's log.
    #[cfg(test)]
    pub(crate) fn new(actor: Arc<str>, stream: Stream) -> Self {
        Self::to(actor, stream, Sink::Log)
    }

    /// A stream of `actor` into `sink`.
    pub(crate) fn to(actor: Arc<str>, stream: Stream, sink: Sink) -> Self {
        GuestOutput {
            inner: Arc::new(OutputInner {
                actor,
                stream,
                sink,
                lines: Mutex::new(Lines::default()),
            }),
        }
    }

    fn lines(&self) -> std::sync::MutexGuard<'_, Lines> {
        // Lines are only appended under the lock; a poisoned lock is still consistent.
        self.inner
            .lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self, bytes: &[u8]) {
        match &self.inner.sink {
            Sink::Log => {}
            Sink::File(file) => {
                use std::io::Write;
                if let Err(error) = crate::util::lock(file).write_all(bytes) {
                    tracing::warn!(
                        actor = &*self.inner.actor,
                        "cannot write the guest's {:?} to its file: {error}",
                        self.inner.stream
                    );
                }
            }
            Sink::Keep(kept) => kept.append(bytes),
        }
        // Lines are still cut, for the recent ones a crash report quotes.
        let mut lines = self.lines();
        for &byte in bytes {
            if byte == b'\n' || lines.partial.len() >= MAX_LINE_BYTES {
                let line = std::mem::take(&mut lines.partial);
                self.emit(&mut lines, &line);
                if byte == b'\n' {
                    continue;
                }
            }
            lines.partial.push(byte);
        }
    }

    fn flush_partial(&self) {
        let mut lines = self.lines();
        if !lines.partial.is_empty() {
            let line = std::mem::take(&mut lines.partial);
            self.emit(&mut lines, &line);
        }
    }

    fn emit(&self, lines: &mut Lines, line: &[u8]) {
        let text = String::from_utf8_lossy(line).into_owned();
        let actor = &*self.inner.actor;
        match self.inner.stream {
            _ if !matches!(self.inner.sink, Sink::Log) => {}
            Stream::Stdout => {
                tracing::info!(target: "wasmvisor::guest", actor, stream = "stdout", "{text}")
            }
            Stream::Stderr => {
                tracing::warn!(target: "wasmvisor::guest", actor, stream = "stderr", "{text}")
            }
        }
        if lines.recent.len() == RECENT_LINES {
            lines.recent.pop_front();
        }
        lines.recent.push_back(text);
    }

    /// Forgets the recent lines (called when a new guest call starts, so that
    /// a crash report only quotes output of the call that crashed).
    pub(crate) fn clear_recent(&self) {
        self.lines().recent.clear();
    }

    /// The panic message the guest printed during the current call, if any:
    /// `"<message> (at <file:line:col>)"`. It is the guest's own report,
    /// which a guest can write as it likes: it is made one line (control
    /// characters, newlines among them, escaped) and at most
    /// [`MAX_PANIC_MESSAGE`] characters, so that it cannot pass for lines of
    /// the host's own.
    pub(crate) fn panic_message(&self) -> Option<String> {
        self.flush_partial();
        let lines = self.lines();
        let start = lines
            .recent
            .iter()
            .rposition(|line| line.contains(" panicked at "))?;
        let header = &lines.recent[start];
        let location = header
            .split(" panicked at ")
            .nth(1)
            .unwrap_or_default()
            .trim_end_matches(':')
            .to_owned();
        let message: Vec<&str> = lines
            .recent
            .iter()
            .skip(start + 1)
            .take_while(|line| !line.starts_with("note: "))
            .map(String::as_str)
            .collect();
        let message = message.join("\n");
        let report = if location.is_empty() {
            message
        } else {
            format!("{message} (at {location})")
        };
        Some(one_line(&report, MAX_PANIC_MESSAGE))
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        GuestOutput::write(self, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        // Lines are logged as they complete; a partial line waits for its end.
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(MAX_LINE_BYTES * 16)
    }
}

#[async_trait::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        GuestOutput::write(&self, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.flush_partial();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_rust_panic_message_with_its_location() {
        let output = GuestOutput::new("t".into(), Stream::Stderr);
        output.write(b"some earlier line\n");
        output.write(b"\nthread '<unnamed>' panicked at src/lib.rs:20:17:\nboom: 42\n");
        output.write(b"note: run with `RUST_BACKTRACE=1` environment variable\n");
        assert_eq!(
            output.panic_message().as_deref(),
            Some("boom: 42 (at src/lib.rs:20:17)")
        );
        output.clear_recent();
        output.write(b"thread 'x' panicked at a.rs:1:1:\nkilled\n\x1b[31mERROR host\n");
        assert_eq!(
            output.panic_message().as_deref(),
            Some("killed\\n\\u{1b}[31mERROR host (at a.rs:1:1)"),
            "one line, control characters escaped"
        );
        assert_eq!(one_line(&"x".repeat(5000), 10), "xxxxxxxxxx...");
        output.clear_recent();
        assert_eq!(output.panic_message(), None);
    }

    #[test]
    fn long_lines_are_cut_not_buffered_without_bound() {
        let output = GuestOutput::new("t".into(), Stream::Stdout);
        output.write(&vec![b'x'; MAX_LINE_BYTES * 3 + 5]);
        let lines = output.lines();
        assert_eq!(lines.recent.len(), 3);
        assert_eq!(lines.partial.len(), 5);
    }
}
