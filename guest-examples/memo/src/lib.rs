//! A memo that keeps its notes in linear memory, not in the `state` store.
//! It exports `snapshot`/`restore`: the host snapshots it after every
//! successful message and restores the last snapshot after a restart, so
//! the notes survive crashes all the same.
//!
//! Messages (UTF-8 text):
//! - `remember TEXT`: keeps TEXT and replies with the number of notes;
//! - `recall`: replies with every note, one per line;
//! - `crash`: panics.

wit_bindgen::generate!({ path: "../../wit", world: "plugin-with-snapshot" });

use std::cell::RefCell;

use exports::wasmvisor::plugin::{handler, snapshot};

thread_local! {
    static NOTES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

struct Memo;

impl handler::Guest for Memo {
    fn handle(message: Vec<u8>) -> Result<Vec<u8>, String> {
        let text = String::from_utf8(message).map_err(|_| "messages are UTF-8 text".to_string())?;
        if let Some(note) = text.strip_prefix("remember ") {
            let count = NOTES.with_borrow_mut(|notes| {
                notes.push(note.to_owned());
                notes.len()
            });
            return Ok(count.to_string().into_bytes());
        }
        match text.trim() {
            "recall" => Ok(NOTES.with_borrow(|notes| notes.join("\n")).into_bytes()),
            "crash" => panic!("asked to crash"),
            _ => Err(format!(
                "unknown message `{text}`; try `remember TEXT`, `recall` or `crash`"
            )),
        }
    }
}

impl snapshot::Guest for Memo {
    fn snapshot() -> Vec<u8> {
        // One note per line; notes never contain a newline (see `handle`).
        NOTES.with_borrow(|notes| notes.join("\n")).into_bytes()
    }

    fn restore(data: Vec<u8>) -> Result<(), String> {
        let text = String::from_utf8(data).map_err(|_| "the snapshot is not UTF-8".to_string())?;
        let notes = if text.is_empty() {
            Vec::new()
        } else {
            text.lines().map(str::to_owned).collect()
        };
        NOTES.set(notes);
        Ok(())
    }
}

export!(Memo);
