//! Operating a running `wasmvisor run DIR` process: plugins dropped in,
//! replaced and removed while it runs, the admin API's actions, events and
//! metrics.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::cli::{RunningHost, start_host, stop_host, wasmvisor};
use crate::common::{guest, wait_until, within};

/// Puts `contents` in `dir/file` the way deployment tools do: written to a
/// temporary name, then renamed over the target (atomic).
fn deploy(dir: &Path, file: &str, contents: &[u8]) {
    let temporary = dir.join(format!(".{file}.part"));
    std::fs::write(&temporary, contents).unwrap();
    std::fs::rename(&temporary, dir.join(file)).unwrap();
}

/// Waits until the actor `name` is listed as running, and returns its version.
async fn running_version(host: &RunningHost, name: &str) -> String {
    let client = host.client();
    let mut version = None;
    within(&format!("`{name}` to run"), async {
        loop {
            if let Ok(actors) = client.actors().await
                && let Some(actor) = actors.iter().find(|a| a.name == name)
                && actor.status == wasmvisor::ActorStatus::Running
            {
                version = actor.version.clone();
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    version.unwrap()
}

/// The host's events, as JSON, from now on (subscribed before it returns).
async fn follow_events(
    host: &RunningHost,
) -> tokio::sync::mpsc::UnboundedReceiver<serde_json::Value> {
    let (sender, events) = tokio::sync::mpsc::unbounded_channel();
    let mut stream = host.client().events().await.unwrap();
    tokio::spawn(async move {
        while let Ok(Some(event)) = stream.next().await {
            let _ = sender.send(serde_json::from_str(&event).unwrap());
        }
    });
    events
}

/// Waits for the next event of `kind`.
async fn next_event(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
    kind: &str,
) -> serde_json::Value {
    within(&format!("a `{kind}` event"), async {
        loop {
            let event = events.recv().await.expect("the event stream ended");
            if event["event"] == kind {
                return event;
            }
        }
    })
    .await
}

/// Waits until `name` answers `message` with `expected` (`what` names the
/// wait if it times out).
async fn replies(host: &RunningHost, name: &str, message: &str, expected: &str, what: &str) {
    within(what, async {
        while call(host, name, message).await.as_deref() != Ok(expected) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
}

async fn call(host: &RunningHost, name: &str, message: &str) -> Result<String, String> {
    host.client()
        .call(name, message.as_bytes().to_vec())
        .await
        .map(|reply| String::from_utf8(reply).unwrap())
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn plugins_are_added_upgraded_under_load_and_removed_while_the_host_runs() {
    let dir = tempfile::tempdir().unwrap();
    let host = start_host(dir.path()).await;

    // Dropped in: picked up and served.
    deploy(
        dir.path(),
        "counter.wasm",
        &std::fs::read(guest("counter")).unwrap(),
    );
    let v1 = running_version(&host, "counter").await;
    assert_eq!(call(&host, "counter", "version").await.unwrap(), "1");

    // Replaced while callers send a steady stream: every message gets one
    // reply, and the count carries over to the new version.
    let done = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let callers: Vec<_> = (0..3)
        .map(|_| {
            let client = host.client();
            let (done, answered) = (done.clone(), answered.clone());
            tokio::spawn(async move {
                let mut counts = Vec::new();
                while !done.load(Ordering::SeqCst) {
                    let reply = client.call("counter", b"inc".to_vec()).await;
                    let reply = reply.expect("every message is answered");
                    counts.push(String::from_utf8(reply).unwrap().parse::<u64>().unwrap());
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                counts
            })
        })
        .collect();
    wait_until("the stream flows", || answered.load(Ordering::SeqCst) >= 30).await;
    deploy(
        dir.path(),
        "counter.wasm",
        &std::fs::read(guest("counter_v2")).unwrap(),
    );
    let client = host.client();
    replies(&host, "counter", "version", "2", "the upgrade").await;
    let at_upgrade = answered.load(Ordering::SeqCst);
    wait_until("the stream flows on", || {
        answered.load(Ordering::SeqCst) >= at_upgrade + 30
    })
    .await;
    done.store(true, Ordering::SeqCst);
    let mut counts = Vec::new();
    for caller in callers {
        counts.extend(within("a caller", caller).await.unwrap());
    }
    counts.sort_unstable();
    let expected: Vec<u64> = (1..=counts.len() as u64).collect();
    assert_eq!(counts, expected, "each message handled exactly once");
    let v2 = running_version(&host, "counter").await;
    assert_ne!(v1, v2);
    let info = client.actor("counter").await.unwrap().info;
    assert_eq!(info.restarts, 0, "an upgrade is not a restart");

    // A broken new version is refused, and says so; the running one serves on.
    let mut events = follow_events(&host).await;
    deploy(dir.path(), "counter.wasm", b"\0asm\x0d\0\x01\0 not really");
    let rejected = next_event(&mut events, "plugin-rejected").await;
    assert_eq!(rejected["plugin"], "counter");
    assert!(
        rejected["reason"]
            .as_str()
            .unwrap()
            .contains("counter.wasm"),
        "{rejected}"
    );
    assert_eq!(call(&host, "counter", "version").await.unwrap(), "2");

    // Removed: the actor stops; its state stays for when it comes back.
    let total = counts.len().to_string();
    std::fs::remove_file(dir.path().join("counter.wasm")).unwrap();
    within("the removal", async {
        while client
            .actors()
            .await
            .unwrap()
            .iter()
            .any(|a| a.name == "counter")
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(call(&host, "counter", "get").await.is_err());
    deploy(
        dir.path(),
        "counter.wasm",
        &std::fs::read(guest("counter")).unwrap(),
    );
    running_version(&host, "counter").await;
    assert_eq!(call(&host, "counter", "get").await.unwrap(), total);
    stop_host(host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_half_written_plugin_is_never_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let host = start_host(dir.path()).await;
    let mut events = follow_events(&host).await;
    let bytes = std::fs::read(guest("counter")).unwrap();
    // A copy that stalls half-way, in place: once it has been quiet for the
    // settle time it is tried, refused as truncated, and not run.
    std::fs::write(dir.path().join("late.wasm"), &bytes[..bytes.len() / 2]).unwrap();
    let rejected = next_event(&mut events, "plugin-rejected").await;
    assert_eq!(rejected["plugin"], "late");
    let actors = host.client().actors().await.unwrap();
    assert!(actors.iter().all(|a| a.name != "late"), "{actors:?}");
    // The copy completes: now it runs.
    std::fs::write(dir.path().join("late.wasm"), &bytes).unwrap();
    running_version(&host, "late").await;
    assert_eq!(call(&host, "late", "inc").await.unwrap(), "1");
    stop_host(host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_restarts_stops_starts_and_inspects_actors_and_follows_events() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("counter"), dir.path().join("counter.wasm")).unwrap();
    let host = start_host(dir.path()).await;
    let mut events = follow_events(&host).await;
    let cli = |args: &'static [&'static str]| wasmvisor(&host.dir, args);

    let (ok, _, err) = cli(&["cast", "counter", "inc"]).await;
    assert!(ok, "{err}");
    replies(&host, "counter", "get", "1", "the cast").await;

    let (ok, _, err) = cli(&["restart", "counter"]).await;
    assert!(ok, "{err}");
    let exited = next_event(&mut events, "actor-exited").await;
    assert_eq!(exited["actor"], "counter");
    next_event(&mut events, "actor-started").await;
    assert_eq!(call(&host, "counter", "get").await.unwrap(), "1");

    let (ok, _, err) = cli(&["stop", "counter"]).await;
    assert!(ok, "{err}");
    let (ok, _, err) = cli(&["call", "counter", "get"]).await;
    assert!(!ok && err.contains("stopped"), "{err}");
    let (ok, _, err) = cli(&["stop", "nobody"]).await;
    assert!(!ok && err.contains("no actor named `nobody`"), "{err}");
    let (ok, _, err) = cli(&["start", "counter"]).await;
    assert!(ok, "{err}");
    assert_eq!(call(&host, "counter", "inc").await.unwrap(), "2");

    let (ok, out, err) = cli(&["inspect", "counter"]).await;
    assert!(ok, "{err}");
    let inspected: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(inspected["actor"]["name"], "counter");
    assert_eq!(inspected["supervisor"], "counter");
    assert_eq!(inspected["state"]["keys"], serde_json::json!(["count"]));
    assert!(inspected["actor"]["version"].is_string(), "{out}");

    let (ok, out, err) = cli(&["ps"]).await;
    assert!(ok, "{err}");
    assert!(out.lines().next().unwrap().contains("VERSION"), "{out}");

    // `events` prints the events the host kept, numbered and timestamped:
    // the restart above among them.
    let (ok, out, err) = cli(&["events"]).await;
    assert!(ok, "{err}");
    let kept: Vec<serde_json::Value> = out
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(
        kept.iter()
            .any(|e| e["event"] == "actor-exited" && e["actor"] == "counter"),
        "{out}"
    );
    assert!(
        kept.iter().all(|e| e["at_ms"].as_u64().unwrap() > 0),
        "{out}"
    );
    let last_kept = kept.last().unwrap()["seq"].as_u64().unwrap();

    // `events --follow` prints them again, then each new event as a JSON line.
    let mut follower = tokio::process::Command::new(env!("CARGO_BIN_EXE_wasmvisor-under-test"))
        .args(["events", "--follow"])
        .env("WASMVISOR_DIR", &host.dir)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(
        follower.stdout.take().unwrap(),
    ));
    let first: serde_json::Value = serde_json::from_str(
        &within("the kept events", lines.next_line())
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first, kept[0]);
    // Restart until the follower prints an event newer than the kept ones.
    let seen = within("`events --follow` to print a restart", async {
        loop {
            let (ok, _, err) = cli(&["restart", "counter"]).await;
            assert!(ok, "{err}");
            while let Ok(Ok(Some(line))) =
                tokio::time::timeout(std::time::Duration::from_secs(1), lines.next_line()).await
            {
                let event: serde_json::Value = serde_json::from_str(&line).unwrap();
                if event["seq"].as_u64().unwrap() > last_kept {
                    return line;
                }
            }
        }
    })
    .await;
    let event: serde_json::Value = serde_json::from_str(&seen).unwrap();
    assert_eq!(event["actor"], "counter");
    stop_host(host).await;
}

/// Runs the reference OpenMetrics parser (Python's `prometheus_client`,
/// installed by `just tools`) on `text`; returns every sample as
/// (name, labels, value).
fn parse_metrics(text: &str) -> Vec<(String, serde_json::Value, f64)> {
    use std::io::Write;
    let python = crate::common::workspace_root().join(".tools/venv/bin/python");
    assert!(
        python.is_file(),
        "the metrics parser is not installed ({} is missing): run `just tools`",
        python.display()
    );
    let script = "import json, sys\n\
        from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
        for family in text_string_to_metric_families(sys.stdin.read()):\n\
        \x20   for s in family.samples:\n\
        \x20       print(json.dumps([s.name, s.labels, s.value]))\n";
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the metrics are not valid OpenMetrics text: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn sample(
    samples: &[(String, serde_json::Value, f64)],
    name: &str,
    labels: serde_json::Value,
) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| n == name && *l == labels)
        .map(|(_, _, value)| *value)
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_parse_as_openmetrics_and_move_when_a_plugin_crashes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("counter"), dir.path().join("counter.wasm")).unwrap();
    std::fs::copy(guest("crasher"), dir.path().join("crasher.wasm")).unwrap();
    let host = start_host(dir.path()).await;
    let client = host.client();
    call(&host, "counter", "inc").await.unwrap();

    let before = parse_metrics(&client.metrics().await.unwrap());
    let crashes = |samples: &[_]| {
        sample(
            samples,
            "wasmvisor_crashes_total",
            serde_json::json!({"actor": "crasher", "reason": "panic"}),
        )
    };
    assert_eq!(crashes(&before), None);
    assert_eq!(
        sample(
            &before,
            "wasmvisor_actor_up",
            serde_json::json!({"actor": "counter"})
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &before,
            "wasmvisor_call_duration_seconds_count",
            serde_json::json!({"actor": "counter"})
        ),
        Some(1.0)
    );
    assert!(
        sample(
            &before,
            "wasmvisor_instance_memory_bytes",
            serde_json::json!({"actor": "counter"})
        )
        .is_some_and(|bytes| bytes > 0.0)
    );

    assert!(call(&host, "crasher", "panic").await.is_err());
    // The reply comes before the supervisor has counted the crash and
    // scheduled the restart: scrape until both show.
    let after = within("the crash to be counted", async {
        loop {
            let samples = parse_metrics(&client.metrics().await.unwrap());
            let restarts = sample(
                &samples,
                "wasmvisor_restarts_total",
                serde_json::json!({"actor": "crasher"}),
            );
            if crashes(&samples).is_some() && restarts.is_some() {
                return samples;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(crashes(&after), Some(1.0));
    assert_eq!(
        sample(
            &after,
            "wasmvisor_restarts_total",
            serde_json::json!({"actor": "crasher"})
        ),
        Some(1.0)
    );
    stop_host(host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_manifest_applies_and_a_broken_one_keeps_the_plugin_running() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("counter"), dir.path().join("counter.wasm")).unwrap();
    std::fs::write(dir.path().join("counter.toml"), "restart = \"permanent\"\n").unwrap();
    let host = start_host(dir.path()).await;
    let mut events = follow_events(&host).await;
    assert_eq!(call(&host, "counter", "inc").await.unwrap(), "1");

    // A broken manifest: refused with its line, and the plugin runs on.
    deploy(
        dir.path(),
        "counter.toml",
        b"restart = \"permanent\"\nrestrat = 1\n",
    );
    let rejected = next_event(&mut events, "plugin-rejected").await;
    let reason = rejected["reason"].as_str().unwrap();
    assert!(
        reason.contains("counter.toml") && reason.contains("line 2") && reason.contains("restrat"),
        "{reason}"
    );
    assert_eq!(call(&host, "counter", "inc").await.unwrap(), "2");

    // Settings that fail to start (a directory that does not exist): the
    // previous ones come back.
    deploy(
        dir.path(),
        "counter.toml",
        b"restart = \"permanent\"\n[capabilities]\ndirs = [{ host = \"missing\", guest = \"/m\" }]\n",
    );
    let rejected = next_event(&mut events, "plugin-rejected").await;
    assert!(
        rejected["reason"]
            .as_str()
            .unwrap()
            .contains("previous settings"),
        "{rejected}"
    );
    let restored = next_event(&mut events, "actor-started").await;
    assert_eq!(restored["actor"], "counter");
    assert_eq!(call(&host, "counter", "inc").await.unwrap(), "3");

    // A valid change applies: as a temporary child, a crash is not restarted.
    deploy(dir.path(), "counter.toml", b"restart = \"temporary\"\n");
    let started = next_event(&mut events, "actor-started").await;
    assert_eq!(started["actor"], "counter");
    assert_eq!(
        call(&host, "counter", "inc").await.unwrap(),
        "4",
        "state kept"
    );
    assert!(call(&host, "counter", "crash").await.is_err());
    next_event(&mut events, "actor-stopped").await;
    assert!(
        call(&host, "counter", "get").await.is_err(),
        "not restarted"
    );
    stop_host(host).await;
}

/// A manifest number the host cannot honour (a mailbox of 2^63 messages
/// once panicked the host at start, and its directory watcher when dropped
/// in) is refused with its file, line and range; the host runs on, and so
/// does its watcher.
#[tokio::test(flavor = "multi_thread")]
async fn an_out_of_range_manifest_number_is_refused_and_the_host_runs_on() {
    let dir = tempfile::tempdir().unwrap();
    let counter = std::fs::read(guest("counter")).unwrap();
    std::fs::write(dir.path().join("counter.wasm"), &counter).unwrap();
    std::fs::write(dir.path().join("wild.wasm"), &counter).unwrap();
    std::fs::write(
        dir.path().join("wild.toml"),
        "[limits]\nmailbox_capacity = 9223372036854775807\n",
    )
    .unwrap();
    let host = start_host(dir.path()).await;
    assert_eq!(call(&host, "counter", "inc").await.unwrap(), "1");
    assert!(
        call(&host, "wild", "inc").await.is_err(),
        "only it stays out"
    );
    let mut events = follow_events(&host).await;

    deploy(
        dir.path(),
        "late.toml",
        b"[limits]\nmemory_mib = 99999999\n",
    );
    deploy(dir.path(), "late.wasm", &counter);
    let rejected = next_event(&mut events, "plugin-rejected").await;
    let reason = rejected["reason"].as_str().unwrap();
    assert!(
        reason.contains("late.toml")
            && reason.contains("line 2")
            && reason.contains("allowed 1 to 4096"),
        "{reason}"
    );
    // The watcher is alive: a plugin dropped in after that starts.
    deploy(dir.path(), "after.wasm", &counter);
    running_version(&host, "after").await;
    assert_eq!(call(&host, "counter", "inc").await.unwrap(), "2");
    stop_host(host).await;
}

/// A bad plugin dropped into a running host's directory is reported once
/// per change of its contents: the watcher's own reading of the file once
/// made it look again, and report again, twice a second, pushing real
/// history out of the kept events.
#[tokio::test(flavor = "multi_thread")]
async fn a_bad_plugin_is_reported_once_per_change_of_its_contents() {
    let dir = tempfile::tempdir().unwrap();
    let host = start_host(dir.path()).await;
    let mut events = follow_events(&host).await;
    let counter = std::fs::read(guest("counter")).unwrap();
    let reports = || async {
        let recent = host.client().recent_events().await.unwrap();
        recent
            .iter()
            .filter(|e| e["event"] == "plugin-rejected" && e["plugin"] == "bad")
            .count()
    };

    deploy(dir.path(), "bad.wasm", b"not a component");
    next_event(&mut events, "plugin-rejected").await;
    // Two more plugins, each started a settle time later: time enough for
    // the bad one to be looked at again, were it to be.
    for good in ["one.wasm", "two.wasm"] {
        deploy(dir.path(), good, &counter);
        running_version(&host, good.trim_end_matches(".wasm")).await;
    }
    assert_eq!(reports().await, 1);

    deploy(dir.path(), "bad.wasm", b"still not a component");
    next_event(&mut events, "plugin-rejected").await;
    deploy(dir.path(), "three.wasm", &counter);
    running_version(&host, "three").await;
    assert_eq!(reports().await, 2, "a change of its contents is reported");
    stop_host(host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_version_starts_a_plugin_whose_supervisor_gave_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("counter"), dir.path().join("counter.wasm")).unwrap();
    let host = start_host(dir.path()).await;
    let mut events = follow_events(&host).await;
    call(&host, "counter", "inc").await.unwrap();
    // Four crashes within the default intensity window (3 in 5 s): it gives up.
    for _ in 0..4 {
        assert!(call(&host, "counter", "crash").await.is_err());
    }
    next_event(&mut events, "supervisor-gave-up").await;
    assert!(call(&host, "counter", "get").await.is_err());

    // The fixed version is dropped in: it starts afresh, from the kept state.
    deploy(
        dir.path(),
        "counter.wasm",
        &std::fs::read(guest("counter_v2")).unwrap(),
    );
    replies(&host, "counter", "version", "2", "the new version").await;
    assert_eq!(call(&host, "counter", "get").await.unwrap(), "1");
    stop_host(host).await;
}

/// The first `count` events of a server-sent event stream, as JSON.
async fn first_events(mut response: reqwest::Response, count: usize) -> Vec<serde_json::Value> {
    let mut text = String::new();
    within("the replayed events", async {
        loop {
            let data: Vec<serde_json::Value> = text
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(|data| serde_json::from_str(data.trim()).unwrap())
                .collect();
            if data.len() >= count {
                return data[..count].to_vec();
            }
            let chunk = response.chunk().await.unwrap().unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_event_stream_replays_kept_events_after_a_number_or_a_browsers_last_event_id() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["counter", "memo"] {
        std::fs::copy(guest(name), dir.path().join(format!("{name}.wasm"))).unwrap();
    }
    let host = start_host(dir.path()).await;
    let client = host.client();
    let kept = client.recent_events().await.unwrap();
    let started: Vec<_> = kept
        .iter()
        .filter(|e| e["event"] == "actor-started")
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert!(
        started.contains(&"counter") && started.contains(&"memo"),
        "{kept:?}"
    );
    let seqs: Vec<u64> = kept.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");

    // `?since=0`: every kept event, then live ones.
    let mut stream = client.events_since(0).await.unwrap();
    for expected in &kept {
        let event: serde_json::Value = serde_json::from_str(
            &within("a kept event", stream.next())
                .await
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(&event, expected);
    }
    client
        .act("counter", wasmvisor_admin::Action::Restart)
        .await
        .unwrap();
    let live: serde_json::Value = serde_json::from_str(
        &within("a live event", stream.next())
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(live["seq"].as_u64().unwrap(), seqs.last().unwrap() + 1);

    // A reconnecting browser sends the last id it saw, and gets what followed
    // (the header wins over the query it first connected with).
    let http = reqwest::Client::new();
    let resumed = http
        .get(format!("http://{}/v1/events?since=0", host.admin))
        .bearer_auth(&host.token)
        .header("last-event-id", seqs[0].to_string())
        .send()
        .await
        .unwrap();
    let replayed = first_events(resumed, kept.len()).await;
    let mut expected = kept[1..].to_vec();
    expected.push(live);
    assert_eq!(replayed, expected);

    // A position that is not one is refused, saying what one looks like.
    let refused = http
        .get(format!("http://{}/v1/events?since=soon", host.admin))
        .bearer_auth(&host.token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("BOOT-SEQ"));
    stop_host(host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_idle_connections_neither_exhausts_the_hosts_files_nor_locks_out_its_operator() {
    use tokio::io::AsyncReadExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("counter"), dir.path().join("counter.wasm")).unwrap();
    // 512 open files: room for 256 connections beside the 256 kept back
    // for the host's own files. (Before the cap, the flood took them all.)
    let host = crate::cli::start_host_under(
        &["prlimit", "--nofile=512:512"],
        dir.path(),
        None,
        &["--admin-header-timeout-ms", "1500"],
    )
    .await;
    let admin: std::net::SocketAddr = host.admin.parse().unwrap();
    let mut idle = Vec::new();
    for _ in 0..700 {
        idle.push(tokio::net::TcpStream::connect(admin).await.unwrap());
    }
    // While they are open, a plugin dropped in must still be read.
    deploy(
        dir.path(),
        "second.wasm",
        &std::fs::read(guest("counter")).unwrap(),
    );
    // Each idle connection is closed by the host once its time for a
    // request head is out, so the operator's requests get through.
    within("every idle connection to be closed by the host", async {
        for mut connection in idle {
            let mut byte = [0u8; 1];
            let read = connection.read(&mut byte).await;
            assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        }
    })
    .await;
    within("the plugin dropped in during the flood to answer", async {
        loop {
            if call(&host, "second", "inc").await.as_deref() == Ok("1") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    replies(
        &host,
        "counter",
        "inc",
        "1",
        "the first plugin, after the flood",
    )
    .await;
    stop_host(host).await;
}
