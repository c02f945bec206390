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

use wasmvisor_guest::{Error, Plugin};

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
        self.notes.join("\n").into_bytes()
    }

    fn restore(&mut self, data: &[u8]) -> Result<(), Error> {
        let text =
            std::str::from_utf8(data).map_err(|_| Error::msg("the snapshot is not UTF-8"))?;
        self.notes = text.lines().map(str::to_owned).collect();
        Ok(())
    }
}
