//! Starting a supervisor (S1, S2 of `docs/design/supervision.md`): its
//! spec checked, every child's name registered, the children started one at
//! a time in order, and its task spawned.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

use super::context::SupervisorContext;
use super::handle::{SupervisorRef, SupervisorShared};
use super::intensity::RestartIntensity;
use super::status::SupervisorStatus;
use super::task::SupervisorTask;
use crate::actor::Control;
use crate::error::Error;
use crate::spec::{ChildSpec, Runs, SupervisorSpec};

/// Starts a supervisor and its children, in order.
///
/// # Errors
///
/// An invalid spec, a name already taken, or a child that fails to start (in
/// which case the children already started are stopped again).
pub(crate) async fn start(
    context: SupervisorContext,
    spec: SupervisorSpec,
) -> Result<SupervisorRef, Error> {
    spec.validate()?;
    check_plugins(&context, &spec)?;
    let (exits_tx, exits) = mpsc::unbounded_channel();
    let (start_reports_tx, start_reports) = mpsc::unbounded_channel();
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let (status, _) = watch::channel(SupervisorStatus::Running);
    let shared = Arc::new(SupervisorShared {
        name: spec.name.clone(),
        kill: Arc::default(),
        children: Mutex::new(Vec::new()),
        status,
        strategy: spec.strategy,
        intensity: Mutex::new(RestartIntensity::new(spec.max_restarts, spec.within)),
    });
    let mut task = SupervisorTask {
        name: spec.name.clone(),
        strategy: spec.strategy,
        max_restarts: spec.max_restarts,
        within: spec.within,
        policy: SupervisorSpec {
            children: Vec::new(),
            ..spec.clone()
        },
        children: Vec::new(),
        commands: commands.clone(),
        commands_rx,
        exits_tx,
        exits,
        start_reports_tx,
        start_reports,
        context,
        shared: shared.clone(),
        due_now: VecDeque::new(),
    };
    task.children = spec
        .children
        .into_iter()
        .map(|child_spec| task.new_child(child_spec))
        .collect();
    let actors: Vec<_> = task
        .children
        .iter()
        .filter_map(|c| c.handle.actor.clone())
        .collect();
    if let Err(error) = task.context.registry.register_all(&actors) {
        for child in &task.children {
            let _ = child.handle.control.send(Control::Close {
                reason: error.to_string(),
                done: None,
            });
        }
        return Err(error);
    }
    task.publish_children();

    // By id: a temporary child whose start is ignored is removed (S3).
    let ids: Vec<String> = task.children.iter().map(|c| c.spec.id.clone()).collect();
    for actor in ids {
        let Some(index) = task.index_of(&actor) else {
            continue;
        };
        if let Err(reason) = task.start_one(index, false).await {
            task.stop_children(&format!("supervisor `{}` failed to start", task.name))
                .await;
            return Err(Error::StartFailed { actor, reason });
        }
    }
    tokio::spawn(task.run());
    Ok(SupervisorRef { shared, commands })
}

/// Checks that every plugin in the tree was compiled by this host.
pub(crate) fn check_plugins(
    context: &SupervisorContext,
    spec: &SupervisorSpec,
) -> Result<(), Error> {
    for child in &spec.children {
        check_plugin(context, child).map_err(|reason| Error::InvalidSpec {
            what: child.id.clone(),
            reason,
        })?;
        if let Runs::Supervisor(sub) = &child.runs {
            check_plugins(context, sub)?;
        }
    }
    Ok(())
}

pub(crate) fn check_plugin(context: &SupervisorContext, child: &ChildSpec) -> Result<(), String> {
    if child.limits.fuel_per_call.is_some() && !context.actor.engines.settings().fuel_metering {
        return Err(
            "a fuel limit needs fuel metering on the host: enable it with \
             `HostBuilder::fuel_metering(true)` (or `wasmvisor run --fuel`)"
                .into(),
        );
    }
    match &child.runs {
        Runs::Plugin(plugin) if !context.actor.engines.owns(plugin.engine()) => Err(format!(
            "its plugin ({}) was loaded by another host; load it with this host's \
                 `load_plugin_file`",
            plugin.source().display()
        )),
        Runs::Plugin(_) => match context.actor.engines.settings().memory_ceiling() {
            Some(ceiling) if child.limits.memory_bytes > ceiling => Err(format!(
                "its memory limit ({} bytes) is more than a pooled instance of this host can \
                 have: the host reserves {ceiling} bytes per memory \
                 (`HostBuilder::memory_reservation`, `wasmvisor run --memory-reservation-mib`); \
                 lower the limit or raise the reservation",
                child.limits.memory_bytes
            )),
            _ => Ok(()),
        },
        Runs::Supervisor(_) => Ok(()),
    }
}

/// Starting a supervisor may start nested ones: the future boxed, to give
/// the recursion a size.
pub(crate) fn start_boxed(
    context: SupervisorContext,
    spec: SupervisorSpec,
) -> Pin<Box<dyn Future<Output = Result<SupervisorRef, Error>> + Send>> {
    Box::pin(start(context, spec))
}
