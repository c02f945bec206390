//! What `host/benches` needs to measure raw wasmtime against the host on
//! equal terms. Hidden from the documentation and not a stable API.

/// The wasmtime settings of a host built with
/// [`HostBuilder::instance_pool`](crate::HostBuilder::instance_pool)`(slots)`
/// and [`HostBuilder::memory_reservation`](crate::HostBuilder::memory_reservation)
/// (`None`: not called), for an actor with the default limits. The raw
/// wasmtime floors run on an engine made from these, so that a ratio
/// compares wasmvisor with wasmtime, not two configurations.
pub fn floor_config(
    instance_pool_slots: Option<u32>,
    memory_reservation: Option<u64>,
) -> wasmtime::Config {
    crate::runtime::wasmtime_config(
        instance_pool_slots,
        memory_reservation,
        false,
        crate::Limits::default().wasm_stack_bytes,
    )
}
