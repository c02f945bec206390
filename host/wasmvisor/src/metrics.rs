//! Prometheus metrics of a host, served by the admin endpoint at `/metrics`.
//!
//! Counters are recorded from the host's lifecycle events (the metrics
//! listen to the event bus, see [`EventListener`]); histograms where things
//! happen (call and commit latencies, by the actor); gauges (mailbox depth, health, memory, whether an actor
//! runs) are read from the actors when the metrics are scraped. Every
//! series is labelled with the actor. Each host has its own registry: no
//! global state, so that several hosts can live in one process.
//!
//! | metric                                      | kind      | labels            |
//! |---------------------------------------------|-----------|-------------------|
//! | `wasmvisor_crashes_total`                   | counter   | actor, reason     |
//! | `wasmvisor_restarts_total`                  | counter   | actor             |
//! | `wasmvisor_dead_letters_total`              | counter   | actor             |
//! | `wasmvisor_upgrades_total`                  | counter   | actor, outcome    |
//! | `wasmvisor_call_duration_seconds`           | histogram | actor             |
//! | `wasmvisor_state_commit_duration_seconds`   | histogram | actor             |
//! | `wasmvisor_actor_up`                        | gauge     | actor             |
//! | `wasmvisor_mailbox_depth`                   | gauge     | actor             |
//! | `wasmvisor_instance_memory_bytes`           | gauge     | actor             |
//! | `wasmvisor_health`                          | gauge     | actor, status     |
//! | `wasmvisor_http_requests_total`             | counter   | actor, route, status (`2xx`, ...) |
//! | `wasmvisor_http_request_duration_seconds`   | histogram | actor, route      |

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::actor::{ActorInfo, ActorStatus};
use crate::error::ExitReason;
use crate::events::{Event, EventListener};
use crate::health::HealthStatus;
use crate::util::lock;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActorLabel {
    actor: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CrashLabels {
    actor: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    actor: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    actor: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatusLabels {
    actor: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HealthLabels {
    actor: String,
    status: String,
}

type Latencies = Family<ActorLabel, Histogram, fn() -> Histogram>;

/// From 10 µs to about 10 s, four buckets per decade or so.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_01, 2.5, 16))
}

/// A host's metrics.
pub(crate) struct Metrics {
    registry: Registry,
    /// One scrape at a time: a render clears and refills the gauges.
    rendering: std::sync::Mutex<()>,
    crashes: Family<CrashLabels, Counter>,
    restarts: Family<ActorLabel, Counter>,
    dead_letters: Family<ActorLabel, Counter>,
    abandoned: Family<ActorLabel, Counter>,
    upgrades: Family<OutcomeLabels, Counter>,
    calls: Latencies,
    commits: Latencies,
    up: Family<ActorLabel, Gauge>,
    mailbox: Family<ActorLabel, Gauge>,
    memory: Family<ActorLabel, Gauge>,
    health: Family<HealthLabels, Gauge>,
    http_requests: Family<RouteStatusLabels, Counter>,
    http_latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("wasmvisor");
        let metrics = Metrics {
            crashes: Family::default(),
            restarts: Family::default(),
            dead_letters: Family::default(),
            abandoned: Family::default(),
            upgrades: Family::default(),
            calls: Family::new_with_constructor(latency_histogram),
            commits: Family::new_with_constructor(latency_histogram),
            up: Family::default(),
            mailbox: Family::default(),
            memory: Family::default(),
            health: Family::default(),
            http_requests: Family::default(),
            http_latency: Family::new_with_constructor(latency_histogram),
            registry: Registry::default(),
            rendering: std::sync::Mutex::new(()),
        };
        registry.register(
            "http_requests",
            "HTTP requests served by wasi:http components, by route and status class",
            metrics.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "How long HTTP requests took to be answered (their head), by route",
            metrics.http_latency.clone(),
        );
        registry.register(
            "crashes",
            "Instances discarded after a crash, by kind of crash",
            metrics.crashes.clone(),
        );
        registry.register(
            "restarts",
            "Restarts by supervisors that happened (the new instance runs)",
            metrics.restarts.clone(),
        );
        registry.register(
            "dead_letters",
            "Messages moved to the dead letters",
            metrics.dead_letters.clone(),
        );
        registry.register(
            "messages_abandoned",
            "Calls dropped unhandled because their caller gave up waiting before the actor took them",
            metrics.abandoned.clone(),
        );
        registry.register(
            "upgrades",
            "Hot upgrades, by outcome: committed, refused (before the new version took over) or rolled-back (during its probation)",
            metrics.upgrades.clone(),
        );
        registry.register(
            "call_duration_seconds",
            "Time to handle one message, from the guest call to the committed reply",
            metrics.calls.clone(),
        );
        registry.register(
            "state_commit_duration_seconds",
            "Time to commit one message's state changes to the store",
            metrics.commits.clone(),
        );
        registry.register(
            "actor_up",
            "1 while an instance of the actor runs",
            metrics.up.clone(),
        );
        registry.register(
            "mailbox_depth",
            "Messages waiting in the actor's mailbox",
            metrics.mailbox.clone(),
        );
        registry.register(
            "instance_memory_bytes",
            "Linear memory of the actor's running instance",
            metrics.memory.clone(),
        );
        registry.register(
            "health",
            "1 for the actor's current health status",
            metrics.health.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// Counts what an event says happened.
    fn record(&self, event: &Event) {
        let actor_label = |actor: &str| ActorLabel {
            actor: actor.to_owned(),
        };
        match event {
            Event::ActorExited {
                actor,
                reason: ExitReason::Crash(crash),
                ..
            } => {
                self.crashes
                    .get_or_create(&CrashLabels {
                        actor: actor.clone(),
                        reason: crash.kind().to_owned(),
                    })
                    .inc();
            }
            // A restart that happened, not one scheduled: a restart that is
            // waiting for its backoff, or fails to start, is not counted.
            Event::ActorStarted {
                actor,
                restart: true,
                ..
            } => {
                self.restarts.get_or_create(&actor_label(actor)).inc();
            }
            Event::DeadLettered { actor, .. } => {
                self.dead_letters.get_or_create(&actor_label(actor)).inc();
            }
            Event::UpgradeCommitted { actor, .. } | Event::UpgradeRolledBack { actor, .. } => {
                let outcome = match event {
                    Event::UpgradeRolledBack {
                        in_probation: true, ..
                    } => "rolled-back",
                    Event::UpgradeRolledBack { .. } => "refused",
                    _ => "committed",
                };
                self.upgrades
                    .get_or_create(&OutcomeLabels {
                        actor: actor.clone(),
                        outcome: outcome.to_owned(),
                    })
                    .inc();
            }
            _ => {}
        }
    }

    /// The histogram of `actor`'s message handling times, for the actor
    /// task to keep: recording into it then costs no label lookup.
    pub(crate) fn call_latency(&self, actor: &str) -> Histogram {
        self.calls
            .get_or_create(&ActorLabel {
                actor: actor.to_owned(),
            })
            .clone()
    }

    /// The counter of `actor`'s calls dropped because their caller gave up.
    pub(crate) fn abandoned(&self, actor: &str) -> Counter {
        self.abandoned
            .get_or_create(&ActorLabel {
                actor: actor.to_owned(),
            })
            .clone()
    }

    /// Records one HTTP request `actor` answered on `route` with `status`
    /// (its head) after `took`.
    pub(crate) fn observe_http(
        &self,
        actor: &str,
        route: &str,
        status: hyper::StatusCode,
        took: Duration,
    ) {
        let route = if route.is_empty() { "/" } else { route };
        self.http_requests
            .get_or_create(&RouteStatusLabels {
                actor: actor.to_owned(),
                route: route.to_owned(),
                status: format!("{}xx", status.as_u16() / 100),
            })
            .inc();
        self.http_latency
            .get_or_create(&RouteLabels {
                actor: actor.to_owned(),
                route: route.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// Records how long one state commit took.
    pub(crate) fn observe_commit(&self, actor: &str, took: Duration) {
        self.commits
            .get_or_create(&ActorLabel {
                actor: actor.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// The metrics in the Prometheus (OpenMetrics) text format, with the
    /// gauges read from `actors` now.
    pub(crate) fn render(&self, actors: &[ActorInfo]) -> String {
        // Held only while this render runs; a poisoned lock still serializes.
        let _rendering = lock(&self.rendering);
        self.up.clear();
        self.mailbox.clear();
        self.memory.clear();
        self.health.clear();
        for info in actors {
            let label = ActorLabel {
                actor: info.name.clone(),
            };
            let running = info.status == ActorStatus::Running;
            self.up.get_or_create(&label).set(i64::from(running));
            self.mailbox
                .get_or_create(&label)
                .set(i64::try_from(info.mailbox_depth).unwrap_or(i64::MAX));
            self.memory
                .get_or_create(&label)
                .set(i64::try_from(info.memory_bytes).unwrap_or(i64::MAX));
            let status = match &info.health {
                HealthStatus::Unknown => "unknown",
                HealthStatus::Healthy => "healthy",
                HealthStatus::Degraded(_) => "degraded",
                HealthStatus::Unhealthy(_) => "unhealthy",
            };
            self.health
                .get_or_create(&HealthLabels {
                    actor: info.name.clone(),
                    status: status.to_owned(),
                })
                .set(1);
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl EventListener for Metrics {
    fn on_event(&self, event: &Event) {
        self.record(event);
    }
}
