//! A plugin with a health check that can be told how to feel. The host
//! probes its `health` on a schedule: `degraded` is only reported, while
//! `unhealthy` several checks in a row gets the instance restarted (and a
//! new instance starts healthy).
//!
//! Messages (UTF-8 text):
//! - `healthy`, `degraded REASON`, `unhealthy REASON`: sets what the next
//!   checks answer;
//! - `busy MS`: keeps working for MS milliseconds before it answers (a
//!   health check due meanwhile waits, and is late);
//! - `hang`: every later check never answers (it spins until the host cuts
//!   it off at the check's timeout);
//! - `ping`: replies `pong`.

use std::time::{Duration, Instant};

use wasmvisor_guest::{Error, Health, Plugin};

struct Vitals {
    mood: Health,
    hang: bool,
}

impl Default for Vitals {
    fn default() -> Self {
        Self {
            mood: Health::Healthy,
            hang: false,
        }
    }
}

#[wasmvisor_guest::export]
impl Plugin for Vitals {
    type Message = String;
    type Reply = &'static str;

    fn handle(&mut self, text: String) -> Result<&'static str, Error> {
        self.mood = if text == "healthy" {
            Health::Healthy
        } else if let Some(reason) = text.strip_prefix("degraded ") {
            Health::Degraded(reason.to_owned())
        } else if let Some(reason) = text.strip_prefix("unhealthy ") {
            Health::Unhealthy(reason.to_owned())
        } else if text == "ping" {
            return Ok("pong");
        } else if text == "hang" {
            self.hang = true;
            return Ok("ok");
        } else if let Some(ms) = text.strip_prefix("busy ") {
            let ms: u64 = ms
                .parse()
                .map_err(|_| Error::msg(format!("`{ms}` is not a number")))?;
            let until = Instant::now() + Duration::from_millis(ms);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            return Ok("done");
        } else {
            return Err(Error::msg(format!(
                "unknown message `{text}`; try `healthy`, `degraded REASON`, `unhealthy REASON`, `busy MS`, `hang` or `ping`"
            )));
        };
        Ok("ok")
    }

    fn health(&self) -> Health {
        if self.hang {
            // Never answers: the host cuts the check off at its timeout.
            loop {
                std::hint::spin_loop();
            }
        }
        self.mood.clone()
    }
}
