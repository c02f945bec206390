//! A plugin that can be told to allocate without end: the host's memory limit
//! stops it with a clear error, and its supervisor restarts it.
//!
//! Messages (UTF-8 text): `hog` allocates 1 MiB blocks until the limit;
//! `ping` replies `pong`.

use wasmvisor_guest::{Error, Plugin};

#[derive(Default)]
struct Hog;

#[wasmvisor_guest::export]
impl Plugin for Hog {
    type Message = Vec<u8>;
    type Reply = Vec<u8>;

    fn handle(&mut self, message: Vec<u8>) -> Result<Vec<u8>, Error> {
        match message.as_slice() {
            b"hog" => {
                let mut blocks: Vec<Vec<u8>> = Vec::new();
                loop {
                    // Filled with ones, so the pages are really used.
                    blocks.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&blocks);
                }
            }
            b"ping" => Ok(b"pong".to_vec()),
            _ => Err(Error::msg("unknown message; try `hog` or `ping`")),
        }
    }
}
