//! A plugin that can be told to loop forever: the host's per-call deadline
//! interrupts it, and its supervisor restarts it.
//!
//! Messages (UTF-8 text): `spin` loops forever; `sleep` waits an hour in a
//! WASI sleep (blocked in the host, not running wasm); `ping` replies `pong`.

use wasmvisor_guest::{Error, Plugin};

#[derive(Default)]
struct Spinner;

#[wasmvisor_guest::export]
impl Plugin for Spinner {
    type Message = Vec<u8>;
    type Reply = Vec<u8>;

    fn handle(&mut self, message: Vec<u8>) -> Result<Vec<u8>, Error> {
        match message.as_slice() {
            b"spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            b"sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Ok(b"rested".to_vec())
            }
            b"ping" => Ok(b"pong".to_vec()),
            _ => Err(Error::msg("unknown message; try `spin`, `sleep` or `ping`")),
        }
    }
}
