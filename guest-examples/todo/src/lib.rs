//! A to-do list written with the Rust guest SDK's typed side: messages and
//! replies are JSON (serde), and each item is a typed value in the `state`
//! store under `item/ID`, so the list survives crashes and host restarts.
//!
//! Messages (JSON; a bare word such as `list` is read as the string
//! `"list"`):
//! - `{"add": "TEXT"}`: adds an item, replies `{"added": ID}`;
//! - `{"done": ID}`: marks it done, replies `{"item": {...}}`;
//! - `list`: replies `{"items": [{"id", "text", "done"}, ...]}`;
//! - `clear-done`: deletes the items that are done, replies `{"cleared": N}`;
//! - `crash`: panics (the list is kept: only committed writes count).
//!
//! Health: degraded once more than 100 items are open.

use serde::{Deserialize, Serialize};
use wasmvisor_guest::state::{self, Key};
use wasmvisor_guest::{Error, Health, Json, Plugin};

/// The id the next item gets.
const NEXT_ID: Key<u64> = Key::new("next-id");
/// Where items live: `item/` and the id, zero-padded to the 20 digits of any
/// u64, so that keys sort by id.
const ITEM_PREFIX: &str = "item/";
/// More open items than this, and the list reports itself degraded.
const OPEN_ITEMS_LIMIT: usize = 100;

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Command {
    Add(String),
    Done(u64),
    List,
    ClearDone,
    Crash,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
enum Reply {
    Added(u64),
    Item(Item),
    Items(Vec<Item>),
    Cleared(usize),
}

#[derive(Serialize, Deserialize)]
struct Item {
    id: u64,
    text: String,
    done: bool,
}

fn key(id: u64) -> String {
    format!("{ITEM_PREFIX}{id:020}")
}

fn items() -> Result<Vec<Item>, Error> {
    let mut items = Vec::new();
    for key in state::keys(ITEM_PREFIX) {
        items.extend(state::get::<Item>(&key)?);
    }
    Ok(items)
}

#[derive(Default)]
struct Todo;

#[wasmvisor_guest::export]
impl Plugin for Todo {
    type Message = Json<Command>;
    type Reply = Json<Reply>;

    fn handle(&mut self, Json(command): Json<Command>) -> Result<Json<Reply>, Error> {
        let reply = match command {
            Command::Add(text) => {
                let id = NEXT_ID.update(|next| *next += 1)?;
                state::set(
                    &key(id),
                    &Item {
                        id,
                        text,
                        done: false,
                    },
                )?;
                Reply::Added(id)
            }
            Command::Done(id) => {
                let Some(mut item) = state::get::<Item>(&key(id))? else {
                    wasmvisor_guest::bail!("there is no item {id}");
                };
                item.done = true;
                state::set(&key(id), &item)?;
                Reply::Item(item)
            }
            Command::List => Reply::Items(items()?),
            Command::ClearDone => {
                let done: Vec<Item> = items()?.into_iter().filter(|item| item.done).collect();
                for item in &done {
                    state::delete(&key(item.id));
                }
                Reply::Cleared(done.len())
            }
            Command::Crash => panic!("asked to crash"),
        };
        Ok(Json(reply))
    }

    fn health(&self) -> Health {
        match items() {
            Ok(items) => {
                let open = items.iter().filter(|item| !item.done).count();
                if open > OPEN_ITEMS_LIMIT {
                    Health::Degraded(format!("{open} open items"))
                } else {
                    Health::Healthy
                }
            }
            Err(error) => Health::Unhealthy(format!("cannot read the list: {error}")),
        }
    }
}
