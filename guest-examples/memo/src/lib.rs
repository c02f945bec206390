//! A memo that keeps its notes in linear memory (a field of the plugin),
//! not in the `state` store. It defines `snapshot`/`restore`: the host
//! snapshots it after every successful message and restores the last
//! snapshot after a restart, so the notes survive crashes all the same.
//!
//! Messages (UTF-8 text):
//! - `remember TEXT`: keeps TEXT (its first line: the snapshot keeps one
//!   note per line) and replies with the number of notes;
//! - `recall`: replies with every note, one per line;
//! - `crash`: panics.
//!
//! The `memo-v2` build of this same source writes its snapshots with a
//! `memo/2` header line and refuses to restore one without it (version
//! 1's): a new version that cannot read the old one's state, for the tests
//! of hot upgrades.

use wasmvisor_guest::{Error, Plugin};

/// The first line of a version 2 snapshot.
const V2_HEADER: &str = "memo/2";

#[derive(Default)]
struct Memo {
    notes: Vec<String>,
}

#[wasmvisor_guest::export]
impl Plugin for Memo {
    type Message = String;
    type Reply = String;

    fn handle(&mut self, text: String) -> Result<String, Error> {
        if let Some(note) = text.strip_prefix("remember ") {
            // One note per line in the snapshot: a note is one line.
            let note = note.lines().next().unwrap_or_default();
            self.notes.push(note.to_owned());
            return Ok(self.notes.len().to_string());
        }
        match text.trim() {
            "recall" => Ok(self.notes.join("\n")),
            "crash" => panic!("asked to crash"),
            _ => Err(Error::msg(format!(
                "unknown message `{text}`; try `remember TEXT`, `recall` or `crash`"
            ))),
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        let notes = self.notes.join("\n");
        if cfg!(feature = "v2") {
            format!("{V2_HEADER}\n{notes}").into_bytes()
        } else {
            notes.into_bytes()
        }
    }

    fn restore(&mut self, data: &[u8]) -> Result<(), Error> {
        let text =
            std::str::from_utf8(data).map_err(|_| Error::msg("the snapshot is not UTF-8"))?;
        let text = if cfg!(feature = "v2") {
            text.strip_prefix(V2_HEADER)
                .map(|rest| rest.strip_prefix('\n').unwrap_or(rest))
                .ok_or(Error::msg(
                    "not a version 2 snapshot (no `memo/2` header): cannot read it",
                ))?
        } else {
            text
        };
        self.notes = text.lines().map(str::to_owned).collect();
        Ok(())
    }
}
