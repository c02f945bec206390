//! A plugin with a health check that can be told how to feel. The host
//! probes `health.check` on a schedule: `degraded` is only reported, while
//! `unhealthy` several checks in a row gets the instance restarted (and a
//! new instance starts healthy).
//!
//! Messages (UTF-8 text):
//! - `healthy`, `degraded REASON`, `unhealthy REASON`: sets what the next
//!   checks answer;
//! - `busy MS`: keeps working for MS milliseconds before it answers (a
//!   health check due meanwhile waits, and is late);
//! - `ping`: replies `pong`.

wit_bindgen::generate!({ path: "../../wit", world: "plugin-with-health" });

use std::cell::RefCell;

use exports::wasmvisor::plugin::handler;
use exports::wasmvisor::plugin::health::{self, HealthStatus};

thread_local! {
    static MOOD: RefCell<HealthStatus> = const { RefCell::new(HealthStatus::Healthy) };
}

struct Vitals;

impl handler::Guest for Vitals {
    fn handle(message: Vec<u8>) -> Result<Vec<u8>, String> {
        let text = String::from_utf8(message).map_err(|_| "messages are UTF-8 text".to_string())?;
        let mood = if text == "healthy" {
            HealthStatus::Healthy
        } else if let Some(reason) = text.strip_prefix("degraded ") {
            HealthStatus::Degraded(reason.to_owned())
        } else if let Some(reason) = text.strip_prefix("unhealthy ") {
            HealthStatus::Unhealthy(reason.to_owned())
        } else if text == "ping" {
            return Ok(b"pong".to_vec());
        } else if let Some(ms) = text.strip_prefix("busy ") {
            let ms: u64 = ms.parse().map_err(|_| format!("`{ms}` is not a number"))?;
            let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
            return Ok(b"done".to_vec());
        } else {
            return Err(format!(
                "unknown message `{text}`; try `healthy`, `degraded REASON`, `unhealthy REASON` or `ping`"
            ));
        };
        MOOD.set(mood);
        Ok(b"ok".to_vec())
    }
}

impl health::Guest for Vitals {
    fn check() -> HealthStatus {
        MOOD.with_borrow(Clone::clone)
    }
}

export!(Vitals);
