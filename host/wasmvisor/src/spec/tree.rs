//! The specs of a supervision tree: a supervisor ([`SupervisorSpec`]) and
//! its children ([`ChildSpec`]), each an actor (a plugin under a name) or a
//! supervisor in turn. OTP's child specifications, in Rust. They refer to
//! each other, so they live together.

use std::time::Duration;

use super::capabilities::Capabilities;
use super::health::HealthSpec;
use super::http::HttpSpec;
use super::limits::{Limits, check_duration};
use super::probation::Probation;
use super::restart::{AutoShutdown, Backoff, RestartType, Shutdown, SnapshotPolicy, Strategy};
use super::stdio::Stdio;
use crate::error::Error;
use crate::runtime::{Plugin, World};
use crate::util::millis;

/// Whether a child is an actor or a nested supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChildKind {
    /// An actor running a plugin.
    Worker,
    /// A supervisor with children of its own.
    Supervisor,
}

/// What a child runs: the payload of its [`ChildKind`].
#[derive(Debug, Clone)]
pub(crate) enum Runs {
    /// An actor running this plugin.
    Plugin(Plugin),
    /// A supervisor with children of its own.
    Supervisor(Box<SupervisorSpec>),
}

/// One supervised child: an actor (which plugin, under which name) or a
/// nested supervisor, and how it is restarted and stopped.
///
/// ```no_run
/// # fn example(plugin: wasmvisor::Plugin) {
/// use std::time::Duration;
/// use wasmvisor::{Capabilities, ChildSpec, HealthSpec, Limits, RestartType, Shutdown};
///
/// let child = ChildSpec::new("indexer", plugin)
///     .restart(RestartType::Transient) // restarted only after a crash
///     .shutdown(Shutdown::Timeout(Duration::from_secs(10)))
///     .limits(Limits::default().memory_bytes(128 << 20).call_timeout(Duration::from_secs(2)))
///     .health(HealthSpec::default().interval(Duration::from_secs(5)))
///     .capabilities(Capabilities::new().dir("data", "/data", true))
///     .redelivery(3) // a crashing message is tried 3 times, then dead-lettered
///     .config("mode", "fast"); // handed to `init`
/// # drop(child); }
/// ```
#[derive(Debug, Clone)]
pub struct ChildSpec {
    pub(crate) id: String,
    pub(crate) runs: Runs,
    pub(crate) significant: bool,
    pub(crate) snapshot: SnapshotPolicy,
    pub(crate) capabilities: Capabilities,
    pub(crate) stdio: Stdio,
    pub(crate) http: HttpSpec,
    pub(crate) redelivery: Option<u32>,
    pub(crate) restart: RestartType,
    pub(crate) shutdown: Shutdown,
    pub(crate) limits: Limits,
    pub(crate) health: HealthSpec,
    pub(crate) probation: Probation,
    pub(crate) config: Vec<(String, String)>,
}

impl ChildSpec {
    /// A permanent child named `id` running `plugin`, with default limits,
    /// health checks every 10 s (if the plugin exports `health`), and a 5 s
    /// graceful shutdown. The name is also the actor's registered name.
    ///
    /// A `wasi:cli` program gets no signal to stop (WASI 0.2 has none), so
    /// its default shutdown is [`Shutdown::BrutalKill`]: cut off at once.
    /// [`ChildSpec::shutdown`] with a timeout lets it run to its end, up to
    /// that long, instead.
    pub fn new(id: impl Into<String>, plugin: Plugin) -> Self {
        let shutdown = match plugin.world() {
            World::Command => Shutdown::BrutalKill,
            World::Plugin | World::HttpProxy => Shutdown::default(),
        };
        ChildSpec {
            id: id.into(),
            runs: Runs::Plugin(plugin),
            significant: false,
            snapshot: SnapshotPolicy::default(),
            capabilities: Capabilities::default(),
            stdio: Stdio::default(),
            http: HttpSpec::default(),
            redelivery: None,
            restart: RestartType::default(),
            shutdown,
            limits: Limits::default(),
            health: HealthSpec::default(),
            probation: Probation::default(),
            config: Vec::new(),
        }
    }

    /// A supervisor as a child (a subtree), with the supervisor's name as
    /// its id: permanent, and stopped with [`Shutdown::Infinity`]. When it
    /// exceeds its own restart intensity it exits with `Shutdown`, and this
    /// child's restart type decides: a permanent child supervisor is
    /// restarted (with its initial children), a transient one is not.
    pub fn supervisor(spec: SupervisorSpec) -> Self {
        ChildSpec {
            id: spec.name.clone(),
            runs: Runs::Supervisor(Box::new(spec)),
            significant: false,
            snapshot: SnapshotPolicy::default(),
            capabilities: Capabilities::default(),
            stdio: Stdio::default(),
            http: HttpSpec::default(),
            redelivery: None,
            restart: RestartType::Permanent,
            shutdown: Shutdown::Infinity,
            limits: Limits::default(),
            health: HealthSpec::default(),
            probation: Probation::default(),
            config: Vec::new(),
        }
    }

    /// Whether this child is a nested supervisor.
    pub fn is_supervisor(&self) -> bool {
        self.kind() == ChildKind::Supervisor
    }

    /// Whether this child is an actor or a nested supervisor.
    pub fn kind(&self) -> ChildKind {
        match self.runs {
            Runs::Plugin(_) => ChildKind::Worker,
            Runs::Supervisor(_) => ChildKind::Supervisor,
        }
    }

    /// Marks the child *significant*: when it finishes (a transient child's
    /// normal exit, any exit of a temporary one), its supervisor may stop
    /// by itself, per [`SupervisorSpec::auto_shutdown`]. Not for permanent
    /// children.
    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }

    /// Sets when a plugin that exports `snapshot` is snapshotted (default:
    /// after every message).
    pub fn snapshot_policy(mut self, policy: SnapshotPolicy) -> Self {
        self.snapshot = policy;
        self
    }

    /// Redelivers a message that crashed the actor to the next instance,
    /// until it has been tried `max_attempts` times in all; then it goes to
    /// the dead letters and its caller gets
    /// [`CallError::DeadLettered`](crate::CallError::DeadLettered). Off by
    /// default: the crashing message is answered with the crash and dropped.
    pub fn redelivery(mut self, max_attempts: u32) -> Self {
        self.redelivery = Some(max_attempts);
        self
    }

    /// Grants the plugin access beyond its memory (default: nothing).
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Sets the arguments and standard streams of its instances (what a
    /// `wasi:cli` command runs with; see [`Stdio`]).
    pub fn stdio(mut self, stdio: Stdio) -> Self {
        self.stdio = stdio;
        self
    }

    /// Sets how a `wasi:http/proxy` component is served (see [`HttpSpec`]).
    pub fn http(mut self, http: HttpSpec) -> Self {
        self.http = http;
        self
    }

    /// Sets the restart type (default: permanent).
    pub fn restart(mut self, restart: RestartType) -> Self {
        self.restart = restart;
        self
    }

    /// Sets how the instance is stopped (default: 5 s graceful).
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Sets the resource limits (default: [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the health-check schedule (used only if the plugin exports
    /// `health`).
    pub fn health(mut self, health: HealthSpec) -> Self {
        self.health = health;
        self
    }

    /// Sets how long a hot upgrade of this child stays on probation (S21 of
    /// `docs/design/supervision.md`). Default: [`Probation::default`], 5 s
    /// or 100 messages.
    pub fn probation(mut self, probation: Probation) -> Self {
        self.probation = probation;
        self
    }

    /// Adds a configuration entry, passed to the plugin's `init`.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.push((key.into(), value.into()));
        self
    }

    /// The child's id, which is also its actor's name.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| Error::InvalidSpec {
            what: self.id.clone(),
            reason,
        };
        if self.id.is_empty() {
            return Err(invalid("the child id is empty".into()));
        }
        if self.id.starts_with(crate::state::RESERVED_PREFIX) {
            return Err(invalid(format!(
                "ids starting with `{}` are reserved for the host's own records",
                crate::state::RESERVED_PREFIX
            )));
        }
        self.limits.validate().map_err(invalid)?;
        self.capabilities.validate().map_err(invalid)?;
        self.stdio.validate().map_err(invalid)?;
        self.http.validate().map_err(invalid)?;
        if let Shutdown::Timeout(timeout) = self.shutdown {
            check_duration("the shutdown timeout", timeout).map_err(invalid)?;
        }
        if let SnapshotPolicy::Interval(interval) = self.snapshot {
            check_duration("the snapshot interval", interval).map_err(invalid)?;
        }
        if self.redelivery == Some(0) {
            return Err(invalid("redelivery needs at least 1 attempt".into()));
        }
        if self.snapshot == SnapshotPolicy::EveryMessages(0) {
            return Err(invalid("snapshot every 0 messages: use 1 or more".into()));
        }
        self.health.validate().map_err(invalid)?;
        self.probation.validate().map_err(invalid)?;
        if let Runs::Supervisor(spec) = &self.runs {
            spec.validate()?;
        }
        Ok(())
    }
}

/// A supervisor: its children, strategy, restart intensity and backoff.
///
/// ```no_run
/// # fn example(store: wasmvisor::Plugin, index: wasmvisor::Plugin) {
/// use std::time::Duration;
/// use wasmvisor::{Backoff, ChildSpec, Strategy, SupervisorSpec};
///
/// // The store and its index restart together; more than 3 restarts in
/// // 10 s and the supervisor gives up, which its parent sees as an exit.
/// let core = SupervisorSpec::new("core")
///     .strategy(Strategy::OneForAll)
///     .intensity(3, Duration::from_secs(10))
///     .backoff(Backoff::Fixed(Duration::from_millis(200)))
///     .child(ChildSpec::new("store", store))
///     .child(ChildSpec::new("index", index));
/// let app = SupervisorSpec::new("app").child(ChildSpec::supervisor(core));
/// # drop(app); }
/// ```
#[derive(Debug, Clone)]
pub struct SupervisorSpec {
    pub(crate) name: String,
    pub(crate) strategy: Strategy,
    pub(crate) max_restarts: u32,
    pub(crate) within: Duration,
    pub(crate) backoff: Backoff,
    pub(crate) jitter: f64,
    pub(crate) children: Vec<ChildSpec>,
    pub(crate) dynamic: bool,
    pub(crate) max_children: Option<usize>,
    pub(crate) auto_shutdown: AutoShutdown,
}

impl SupervisorSpec {
    /// A one-for-one supervisor named `name` with no children, allowing 3
    /// restarts within 5 s, restarting at once.
    pub fn new(name: impl Into<String>) -> Self {
        SupervisorSpec {
            name: name.into(),
            strategy: Strategy::default(),
            max_restarts: 3,
            within: Duration::from_secs(5),
            backoff: Backoff::default(),
            jitter: 0.0,
            children: Vec::new(),
            dynamic: false,
            max_children: None,
            auto_shutdown: AutoShutdown::Never,
        }
    }

    /// A *dynamic* supervisor named `name` (OTP's `simple_one_for_one`,
    /// Elixir's `DynamicSupervisor`): no static children; children are added
    /// with `start_child` (a worker pool, batch jobs) and removed entirely
    /// when they are terminated or finish. One-for-one only; on shutdown all
    /// children are stopped at once.
    pub fn dynamic(name: impl Into<String>) -> Self {
        SupervisorSpec {
            dynamic: true,
            ..SupervisorSpec::new(name)
        }
    }

    /// Caps the number of children of a dynamic supervisor (restarting ones
    /// count). Default: no cap.
    pub fn max_children(mut self, max: usize) -> Self {
        self.max_children = Some(max);
        self
    }

    /// Stops the supervisor when its significant children finish (see
    /// [`ChildSpec::significant`]).
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.auto_shutdown = auto_shutdown;
        self
    }

    /// Spreads restart delays: each delay is multiplied by a random factor
    /// between `1 - fraction` and `1 + fraction` (0 to 1; default 0), so
    /// that many actors crashing together do not restart in lockstep.
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// Sets the strategy.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Sets the restart intensity: more than `max_restarts` restarts within
    /// `within` and the supervisor stops its children and gives up.
    pub fn intensity(mut self, max_restarts: u32, within: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.within = within;
        self
    }

    /// Sets the wait before each restart.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Adds a child; children start in the order they are added.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// The supervisor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| Error::InvalidSpec {
            what: self.name.clone(),
            reason,
        };
        if self.within.is_zero() {
            return Err(invalid(
                "the intensity window must be more than zero".into(),
            ));
        }
        check_duration("the intensity window", self.within).map_err(invalid)?;
        check_duration("the restart delay", self.backoff.longest()).map_err(invalid)?;
        if self.backoff.shortest() > self.within {
            return Err(invalid(format!(
                "the shortest restart delay ({} ms) is longer than the intensity window ({} ms), \
                 so the restart intensity could never be exceeded; shorten the delay or widen \
                 the window",
                millis(self.backoff.shortest()),
                millis(self.within)
            )));
        }
        if let Backoff::Exponential {
            initial,
            max,
            multiplier,
        } = self.backoff
            && (multiplier == 0 || max < initial)
        {
            return Err(invalid(
                "exponential backoff needs multiplier >= 1 and max >= initial".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(invalid(format!(
                "jitter must be a fraction from 0 to 1, not {}",
                self.jitter
            )));
        }
        if self.dynamic {
            if !self.children.is_empty() {
                return Err(invalid(
                    "a dynamic supervisor has no static children; add them with start_child".into(),
                ));
            }
            if self.strategy != Strategy::OneForOne {
                return Err(invalid("a dynamic supervisor is one-for-one only".into()));
            }
            if self.auto_shutdown != AutoShutdown::Never {
                return Err(invalid("a dynamic supervisor cannot auto-shutdown".into()));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for child in &self.children {
            self.check_significance(child)?;
            child.validate()?;
            if !seen.insert(child.id.as_str()) {
                return Err(Error::DuplicateName(child.id.clone()));
            }
        }
        Ok(())
    }
}

impl SupervisorSpec {
    /// OTP's rules for significant children: never permanent, and only under
    /// a supervisor that auto-shuts down.
    pub(crate) fn check_significance(&self, child: &ChildSpec) -> Result<(), Error> {
        if !child.significant {
            return Ok(());
        }
        let invalid = |reason: &str| Error::InvalidSpec {
            what: child.id.clone(),
            reason: reason.to_owned(),
        };
        if child.restart == RestartType::Permanent {
            return Err(invalid("a significant child cannot be permanent"));
        }
        if self.auto_shutdown == AutoShutdown::Never {
            return Err(invalid(
                "a significant child needs a supervisor with auto_shutdown",
            ));
        }
        Ok(())
    }

    /// The wait before the `n`-th restart in a row, with jitter applied.
    pub(crate) fn restart_delay(&self, n: u32) -> Duration {
        let delay = self.backoff.delay(n);
        if self.jitter == 0.0 || delay.is_zero() {
            return delay;
        }
        // A random factor in [1 - jitter, 1 + jitter]; std's hasher keys are random.
        use std::hash::{BuildHasher, Hasher};
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let unit = (random >> 11) as f64 / (1u64 << 53) as f64;
        delay.mul_f64(1.0 + self.jitter * (2.0 * unit - 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::HealthSpec;

    #[test]
    fn jitter_stays_within_its_fraction() {
        let spec = SupervisorSpec::new("s")
            .backoff(Backoff::Fixed(Duration::from_millis(1000)))
            .jitter(0.2);
        for _ in 0..200 {
            let delay = millis(spec.restart_delay(1));
            assert!((800..=1200).contains(&delay), "{delay}");
        }
        let delays: std::collections::HashSet<u64> =
            (0..50).map(|_| millis(spec.restart_delay(1))).collect();
        assert!(delays.len() > 1, "jitter varies the delay");
    }

    #[test]
    fn significance_rules_are_enforced() {
        let plugin_free = |restart| {
            let spec = SupervisorSpec::new("s").auto_shutdown(AutoShutdown::AnySignificant);
            let child = ChildSpec::supervisor(SupervisorSpec::new("c"))
                .restart(restart)
                .significant(true);
            spec.check_significance(&child).map_err(|e| e.to_string())
        };
        assert!(plugin_free(RestartType::Permanent).is_err());
        assert!(plugin_free(RestartType::Transient).is_ok());
        let never = SupervisorSpec::new("s");
        let child = ChildSpec::supervisor(SupervisorSpec::new("c"))
            .restart(RestartType::Temporary)
            .significant(true);
        assert!(never.check_significance(&child).is_err());
    }

    #[test]
    fn absurd_durations_are_rejected_rather_than_overflowing() {
        let huge = Duration::from_secs(u64::MAX / 4);
        let spec = SupervisorSpec::new("s")
            .intensity(3, huge)
            .backoff(Backoff::Fixed(huge))
            .jitter(0.5);
        let error = spec
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("longer than a year"), "{error}");
        let health = HealthSpec::default().initial_delay(huge);
        assert!(health.validate().is_err());
    }

    #[test]
    fn a_delay_longer_than_the_window_is_rejected() {
        let spec = SupervisorSpec::new("s")
            .intensity(3, Duration::from_secs(1))
            .backoff(Backoff::Fixed(Duration::from_secs(2)));
        let error = spec
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("could never be exceeded"), "{error}");
    }
}
