//! Spawning an actor: its mailbox, its control channel, its core and its
//! task. No instance runs until the supervisor sends `Control::Start`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::mpsc;

use super::context::ActorContext;
use super::control::{Control, Exit};
use super::core::ActorCore;
use super::desk::{Desk, SnapshotClock};
use super::handle::ActorRef;
use super::shared::ActorShared;
use super::task::ActorTask;
use crate::runtime::Plugin;
use crate::spec::ChildSpec;

/// The channels a supervisor keeps for one child.
pub(crate) struct ActorChannels {
    pub(crate) actor: ActorRef,
    pub(crate) control: mpsc::UnboundedSender<Control>,
}

/// Creates the actor's mailbox and control channel and spawns its task. No
/// instance runs until the supervisor sends [`Control::Start`].
pub(crate) fn spawn(
    context: ActorContext,
    spec: Arc<ChildSpec>,
    plugin: Plugin,
    exits: mpsc::UnboundedSender<Exit>,
) -> ActorChannels {
    let (mailbox_tx, mailbox) = mpsc::channel(spec.limits.mailbox_capacity);
    let (control_tx, control) = mpsc::unbounded_channel();
    let (kills_tx, kills) = mpsc::unbounded_channel();
    let shared = Arc::new(ActorShared::new(&spec.id));
    {
        let mut status = shared.lock();
        status.version = Some(plugin.version().to_owned());
        status.world = Some(plugin.world());
        status.plugin = Some(plugin.clone());
    }
    let core = Arc::new(ActorCore {
        world: plugin.world(),
        call_latency: context.metrics.call_latency(&spec.id),
        abandoned: context.metrics.abandoned(&spec.id),
        runtime: tokio::runtime::Handle::current(),
        state_store: Arc::clone(&context.state_store),
        events: context.events.clone(),
        metrics: Arc::clone(&context.metrics),
        dead_letters: Arc::clone(&context.dead_letters),
        spec,
        shared: Arc::clone(&shared),
        exits,
        desk: Arc::new(tokio::sync::Mutex::new(Desk {
            instance: None,
            serving_id: 0,
            snapshots: SnapshotClock::default(),
            first: VecDeque::new(),
            ended: None,
            on_probation: false,
        })),
        waiting: Arc::default(),
        taken: AtomicBool::new(false),
        kills: kills_tx,
    });
    let (http_crash_sender, http_crashes) = mpsc::unbounded_channel();
    let task = ActorTask {
        route: None,
        http_crashes,
        http_crash_sender,
        core: Arc::clone(&core),
        plugin,
        context,
        mailbox,
        control,
        kills,
        deferred: None,
        probation: None,
    };
    tokio::spawn(task.run());
    ActorChannels {
        actor: ActorRef {
            core,
            mailbox: mailbox_tx,
        },
        control: control_tx,
    }
}
