//! The WIT imports every plugin has (`state`, `log`, `actors`, `exit`), generated
//! once here by wit-bindgen. The code that `#[export]` generates in a plugin
//! reuses these bindings (wit-bindgen's `with`) instead of generating its
//! own, so the SDK's modules and the plugin's exports share one set of types.

#![allow(unsafe_code, missing_docs, clippy::all)]

wit_bindgen::generate!({
    path: "../wit",
    world: "imports",
});

pub use wasmvisor::plugin::{actors, exit, log, state};
