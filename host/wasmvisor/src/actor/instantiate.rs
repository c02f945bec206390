//! Starting an instance of an actor's plugin: its committed state loaded
//! from the store, the plugin compiled for the engine of its stack size,
//! `init` and `restore` called.

use std::sync::Arc;

use super::context::ActorContext;
use super::core::ActorCore;
use crate::runtime::{Compiled, Instance, Plugin, StartError, StartParams};
use crate::state::CommittedState;

/// `plugin` compiled for the engine with the actor's stack size.
pub(crate) async fn compiled(
    core: &ActorCore,
    context: &ActorContext,
    plugin: &Plugin,
) -> Result<Arc<Compiled>, String> {
    let stack = core.spec.limits.wasm_stack_bytes;
    let engine = context
        .engines
        .for_stack(stack)
        .map_err(|e| format!("cannot set up an engine with a {stack} byte stack: {e:#}"))?;
    plugin.compiled_for(&engine).await
}

/// Starts an instance of `plugin` on the committed state (`init` and
/// `restore` included); what `init` wrote is pending, not committed.
/// `Ok(None)`: `init` answered `exit.ignore`, and the instance is gone.
pub(crate) async fn instantiate(
    core: &ActorCore,
    context: &ActorContext,
    plugin: &Plugin,
) -> Result<Option<Instance>, String> {
    let committed = context
        .state_store
        .load(&core.shared.name)
        .await
        .map_err(|e| format!("cannot load its state: {e}"))?;
    instantiate_from(core, context, plugin, committed).await
}

/// As [`instantiate`], on `committed`, the actor's state already loaded.
pub(crate) async fn instantiate_from(
    core: &ActorCore,
    context: &ActorContext,
    plugin: &Plugin,
    committed: CommittedState,
) -> Result<Option<Instance>, String> {
    let compiled = compiled(core, context, plugin).await?;
    let spec = &core.spec;
    let started = Instance::start(StartParams {
        compiled: &compiled,
        kill: &core.shared.kill,
        memory_gauge: &core.shared.memory_bytes,
        state_gauge: &core.shared.state_bytes,
        instances: &context.instances,
        actor: &core.shared.name,
        limits: &spec.limits,
        config: &spec.config,
        capabilities: &spec.capabilities,
        stdio: &spec.stdio,
        peers: &context.peers,
        committed,
    })
    .await;
    match started {
        Ok(running) => Ok(Some(running)),
        Err(StartError::Ignored) => Ok(None),
        Err(error @ StartError::Restore(_)) => Err(format!(
            "{error} (the saved state is kept; fix or remove it before restarting)"
        )),
        Err(error) => Err(error.to_string()),
    }
}
