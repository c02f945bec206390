//! Property tests of the supervisor against a model of the OTP rules in
//! `docs/design/supervision.md` (S4 restart types, S5 intensity, S7 strategies
//! and group restarts, S12 the management calls): random supervisors and
//! random sequences of crashes, normal exits and management calls; after
//! every step the real supervisor's children, their instances, its restart
//! budget and its status must be what the model says.
//!
//! Each case runs on one shared host (the crasher plugin compiled once),
//! under a supervisor of its own. `PROPTEST_CASES` sets how many cases run
//! (32 by default).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proptest::prelude::*;
// The trait's methods, under another name than wasmvisor's `Strategy`.
use proptest::strategy::Strategy as _;
use wasmvisor::{
    ActorStatus, ChildError, ChildSpec, Host, Plugin, RestartType, Strategy, SupervisorRef,
    SupervisorSpec, SupervisorStatus,
};

use crate::common::{guest, within};

/// One child as generated: its restart type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    Permanent,
    Transient,
    Temporary,
}

/// One step, on the child with that index in the generated list.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// The guest panics (an abnormal exit), if the child runs.
    Crash(usize),
    /// The guest exits with code 0 (a normal exit), if the child runs.
    Exit(usize),
    Terminate(usize),
    Restart(usize),
    Delete(usize),
}

#[derive(Debug, Clone)]
struct Case {
    strategy: Strategy,
    max_restarts: u32,
    children: Vec<Restart>,
    steps: Vec<Step>,
}

fn case() -> impl proptest::strategy::Strategy<Value = Case> {
    let restart = prop_oneof![
        Just(Restart::Permanent),
        Just(Restart::Transient),
        Just(Restart::Temporary)
    ];
    let strategy = prop_oneof![
        Just(Strategy::OneForOne),
        Just(Strategy::OneForAll),
        Just(Strategy::RestForOne)
    ];
    (strategy, 0u32..5, proptest::collection::vec(restart, 1..5)).prop_flat_map(
        |(strategy, max_restarts, children)| {
            let n = children.len();
            let step = prop_oneof![
                3 => (0..n).prop_map(Step::Crash),
                2 => (0..n).prop_map(Step::Exit),
                1 => (0..n).prop_map(Step::Terminate),
                1 => (0..n).prop_map(Step::Restart),
                1 => (0..n).prop_map(Step::Delete),
            ];
            proptest::collection::vec(step, 1..16).prop_map(move |steps| Case {
                strategy,
                max_restarts,
                children: children.clone(),
                steps,
            })
        },
    )
}

/// What the model expects of one child's instance after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Not running (OTP's `undefined`).
    Down,
    /// Running the same instance as before.
    Same(u64),
    /// Running a new instance (not this one, if it had one).
    New(Option<u64>),
}

#[derive(Debug)]
struct ModelChild {
    /// Its index in the generated list (its name is derived from it).
    index: usize,
    restart: Restart,
    expect: Expect,
}

/// The OTP rules, on the children as the model sees them.
#[derive(Debug)]
struct Model {
    strategy: Strategy,
    max_restarts: u32,
    children: Vec<ModelChild>,
    /// Restarts counted toward the intensity (the window outlasts the case).
    restarts: u32,
    gave_up: bool,
}

/// How a management call ended, as the model can tell.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Ok,
    NotFound,
    Running,
    Other(String),
}

impl From<Result<(), ChildError>> for Answer {
    fn from(result: Result<(), ChildError>) -> Self {
        match result {
            Ok(()) => Answer::Ok,
            Err(ChildError::NotFound(_)) => Answer::NotFound,
            Err(ChildError::Running(_)) => Answer::Running,
            Err(other) => Answer::Other(other.to_string()),
        }
    }
}

impl Model {
    fn position(&self, index: usize) -> Option<usize> {
        self.children.iter().position(|c| c.index == index)
    }

    fn running(&self, index: usize) -> Option<u64> {
        let child = &self.children[self.position(index)?];
        match child.expect {
            Expect::Same(instance) => Some(instance),
            _ => None,
        }
    }

    /// S4, S5, S7: child `index` ended, abnormally or not.
    fn exited(&mut self, index: usize, abnormal: bool) {
        let Some(at) = self.position(index) else {
            return;
        };
        match self.children[at].restart {
            // S4: never restarted; the spec is deleted.
            Restart::Temporary => {
                self.children.remove(at);
                return;
            }
            // S4: not after a normal exit; the spec stays, undefined.
            Restart::Transient if !abnormal => {
                self.children[at].expect = Expect::Down;
                return;
            }
            _ => {}
        }
        // S5: one restart, counted, for the whole group.
        self.restarts += 1;
        if self.restarts > self.max_restarts {
            self.gave_up = true;
            return;
        }
        let range = match self.strategy {
            Strategy::OneForOne => at..at + 1,
            Strategy::OneForAll => 0..self.children.len(),
            _ => at..self.children.len(),
        };
        // S7: temporary siblings in the range are removed; every other
        // child in it starts again, even one that was undefined.
        let mut kept = Vec::new();
        for (i, mut child) in std::mem::take(&mut self.children).into_iter().enumerate() {
            if range.contains(&i) {
                if child.restart == Restart::Temporary && i != at {
                    continue;
                }
                child.expect = Expect::New(match child.expect {
                    Expect::Same(instance) => Some(instance),
                    _ => None,
                });
            }
            kept.push(child);
        }
        self.children = kept;
    }

    /// S12 `terminate_child`: idempotent; a temporary child is removed.
    fn terminate(&mut self, index: usize) -> Answer {
        let Some(at) = self.position(index) else {
            return Answer::NotFound;
        };
        if self.children[at].restart == Restart::Temporary {
            self.children.remove(at);
        } else {
            self.children[at].expect = Expect::Down;
        }
        Answer::Ok
    }

    /// S12 `restart_child`: only an undefined child; never counted.
    fn restart(&mut self, index: usize) -> Answer {
        let Some(at) = self.position(index) else {
            return Answer::NotFound;
        };
        match self.children[at].expect {
            Expect::Down => {
                self.children[at].expect = Expect::New(None);
                Answer::Ok
            }
            _ => Answer::Running,
        }
    }

    /// S12 `delete_child`: only an undefined child.
    fn delete(&mut self, index: usize) -> Answer {
        let Some(at) = self.position(index) else {
            return Answer::NotFound;
        };
        match self.children[at].expect {
            Expect::Down => {
                self.children.remove(at);
                Answer::Ok
            }
            _ => Answer::Running,
        }
    }
}

/// The host and the crasher plugin every case shares, on a runtime that
/// outlives each case.
fn shared() -> &'static (tokio::runtime::Runtime, Host, Plugin) {
    static SHARED: OnceLock<(tokio::runtime::Runtime, Host, Plugin)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let (host, plugin) = runtime.block_on(async {
            let host = Host::new().unwrap();
            let plugin = host.load_plugin_file(guest("crasher")).await.unwrap();
            (host, plugin)
        });
        (runtime, host, plugin)
    })
}

/// Waits until the real children are what the model expects; then records
/// their instances in the model (every expectation becomes `Same`/`Down`).
async fn settle(model: &mut Model, supervisor: &SupervisorRef, prefix: &str, step: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let real = supervisor.which_children();
        let names: Vec<String> = real.iter().map(|c| c.name.clone()).collect();
        let expected_names: Vec<String> = model
            .children
            .iter()
            .map(|c| format!("{prefix}-{}", c.index))
            .collect();
        let matches = names == expected_names
            && real.iter().zip(&model.children).all(|(info, child)| {
                let running = info.status == ActorStatus::Running;
                match child.expect {
                    Expect::Down => matches!(info.status, ActorStatus::Stopped(_)),
                    Expect::Same(instance) => running && info.instance == Some(instance),
                    Expect::New(old) => running && info.instance.is_some() && info.instance != old,
                }
            });
        if matches {
            for (info, child) in real.iter().zip(&mut model.children) {
                child.expect = match info.instance {
                    Some(instance) if info.status == ActorStatus::Running => Expect::Same(instance),
                    _ => Expect::Down,
                };
            }
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let real: Vec<_> = real
                .iter()
                .map(|c| (c.name.clone(), c.status.to_string(), c.instance))
                .collect();
            panic!("after {step}: the supervisor has {real:?}, the model expects {model:#?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn run(case: Case) {
    static CASES: AtomicU64 = AtomicU64::new(0);
    let (_, host, plugin) = shared();
    let prefix = format!("model{}", CASES.fetch_add(1, Ordering::Relaxed));
    let mut spec = SupervisorSpec::new(prefix.clone())
        .strategy(case.strategy)
        .intensity(case.max_restarts, Duration::from_secs(3600));
    for (index, restart) in case.children.iter().enumerate() {
        let restart = match restart {
            Restart::Permanent => RestartType::Permanent,
            Restart::Transient => RestartType::Transient,
            Restart::Temporary => RestartType::Temporary,
        };
        spec = spec
            .child(ChildSpec::new(format!("{prefix}-{index}"), plugin.clone()).restart(restart));
    }
    let supervisor = within("the supervisor to start", host.start_supervisor(spec))
        .await
        .unwrap();
    let mut model = Model {
        strategy: case.strategy,
        max_restarts: case.max_restarts,
        children: case
            .children
            .iter()
            .enumerate()
            .map(|(index, &restart)| ModelChild {
                index,
                restart,
                expect: Expect::New(None),
            })
            .collect(),
        restarts: 0,
        gave_up: false,
    };
    settle(&mut model, &supervisor, &prefix, "the start").await;

    for (number, step) in case.steps.iter().enumerate() {
        let what = format!("step {number} ({step:?})");
        let name = |index: usize| format!("{prefix}-{index}");
        match *step {
            Step::Crash(index) | Step::Exit(index) => {
                if model.running(index).is_none() {
                    continue;
                }
                let abnormal = matches!(step, Step::Crash(_));
                let message = if abnormal { "panic" } else { "exit 0" };
                let actor = host.actor(&name(index)).unwrap();
                // The call fails either way: the instance ends under it.
                assert!(within(&what, actor.call(message)).await.is_err(), "{what}");
                model.exited(index, abnormal);
            }
            Step::Terminate(index) => {
                let real = within(&what, supervisor.terminate_child(&name(index))).await;
                assert_eq!(Answer::from(real), model.terminate(index), "{what}");
            }
            Step::Restart(index) => {
                let real = within(&what, supervisor.restart_child(&name(index)))
                    .await
                    .map(|_| ());
                assert_eq!(Answer::from(real), model.restart(index), "{what}");
            }
            Step::Delete(index) => {
                let real = within(&what, supervisor.delete_child(&name(index))).await;
                assert_eq!(Answer::from(real), model.delete(index), "{what}");
            }
        }
        if model.gave_up {
            let status = within(&what, supervisor.stopped()).await;
            assert!(
                matches!(status, SupervisorStatus::GaveUp(_)),
                "{what}: {status:?}"
            );
            return;
        }
        settle(&mut model, &supervisor, &prefix, &what).await;
        assert_eq!(supervisor.status(), SupervisorStatus::Running, "{what}");
        let budget = supervisor.restart_budget();
        assert_eq!(budget.used, model.restarts, "{what}: {budget:?}");
    }
    within("the supervisor to stop", supervisor.stop()).await;
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(32),
        // A failure prints its smallest case; no files are written.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_supervisor_follows_the_otp_model(case in case()) {
        shared().0.block_on(run(case));
    }
}
