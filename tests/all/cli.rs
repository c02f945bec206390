//! The command line, as an operator uses it: `wasmvisor run` in the
//! background, `wasmvisor call` and `wasmvisor ps` against it, a clean stop,
//! and state that is still there when the host runs again.

use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::common::{guest, within};

/// The CLI under test (the `wasmvisor` command line, built with the tests).
pub(crate) fn wasmvisor_bin() -> &'static str {
    env!("CARGO_BIN_EXE_wasmvisor-under-test")
}

/// A `wasmvisor run` process and the admin address it printed.
pub(crate) struct RunningHost {
    pub(crate) child: Child,
    pub(crate) admin: String,
    /// The host's directory, where it keeps its admin address and token.
    pub(crate) dir: std::path::PathBuf,
    pub(crate) token: String,
}

impl RunningHost {
    /// A client of its admin endpoint, with its token.
    pub(crate) fn client(&self) -> wasmvisor_admin::AdminClient {
        wasmvisor_admin::AdminClient::new(&self.admin, Some(self.token.clone()))
    }
}

pub(crate) async fn start_host(dir: &Path) -> RunningHost {
    start_host_from(dir, None).await
}

/// Starts `wasmvisor run` on `dir`; with `cwd`, from there, naming `dir`
/// relative to it (as an operator in a shell would).
pub(crate) async fn start_host_from(dir: &Path, cwd: Option<&Path>) -> RunningHost {
    start_host_with(dir, cwd, &[]).await
}

/// Starts `wasmvisor run` on `dir` (from `cwd`, as above) with `options`.
pub(crate) async fn start_host_with(
    dir: &Path,
    cwd: Option<&Path>,
    options: &[&str],
) -> RunningHost {
    start_host_under(&[], dir, cwd, options).await
}

/// Spawns `wasmvisor run` on `dir` (see [`start_host_under`]) with its
/// stdout piped, without waiting for it to be ready.
pub(crate) fn spawn_host(
    wrapper: &[&str],
    dir: &Path,
    cwd: Option<&Path>,
    options: &[&str],
) -> Child {
    let mut command = match wrapper.split_first() {
        Some((program, arguments)) => {
            let mut command = Command::new(program);
            command.args(arguments).arg(wasmvisor_bin());
            command
        }
        None => Command::new(wasmvisor_bin()),
    };
    command.arg("run");
    match cwd {
        Some(cwd) => command.current_dir(cwd).arg(dir.strip_prefix(cwd).unwrap()),
        None => command.arg(dir),
    };
    command
        .args(["--admin", "127.0.0.1:0"])
        .args(options)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// What follows `prefix` on the first of a host's stdout `lines` that starts
/// with it (waited for as `what`).
pub(crate) async fn rest_of_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    prefix: &str,
    what: &str,
) -> String {
    within(what, async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("wasmvisor run exited early");
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_owned();
            }
        }
    })
    .await
}

/// As [`start_host_with`], run by the program `wrapper` names (with its
/// arguments) when it is not empty.
pub(crate) async fn start_host_under(
    wrapper: &[&str],
    dir: &Path,
    cwd: Option<&Path>,
    options: &[&str],
) -> RunningHost {
    let mut child = spawn_host(wrapper, dir, cwd, options);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let admin = rest_of_line(&mut lines, "admin endpoint: http://", "the admin address").await;
    // Keep draining stdout so that the host never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let token = std::fs::read_to_string(dir.join("wasmvisor-admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    RunningHost {
        child,
        admin,
        dir: dir.to_path_buf(),
        token,
    }
}

/// Runs a `wasmvisor` subcommand against the host of `dir` (as an operator
/// would, with `--dir`); returns (success, stdout, stderr).
pub(crate) async fn wasmvisor(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = within(
        "a wasmvisor command",
        Command::new(wasmvisor_bin())
            .args(args)
            .env("WASMVISOR_DIR", dir)
            .env_remove("WASMVISOR_ADMIN")
            .env_remove("WASMVISOR_TOKEN")
            .output(),
    )
    .await
    .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Sends SIGTERM to `child`.
async fn terminate(child: &Child) {
    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
}

pub(crate) async fn stop_host(mut host: RunningHost) {
    terminate(&host.child).await;
    let status = within("the host to stop", host.child.wait()).await.unwrap();
    assert!(status.success(), "wasmvisor run ended with {status}");
}

#[tokio::test]
async fn run_call_ps_and_a_clean_stop_keep_state_across_host_processes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("counter"), dir.path().join("counter.wasm")).unwrap();
    std::fs::copy(guest("crasher"), dir.path().join("crasher.wasm")).unwrap();

    let host = start_host(dir.path()).await;
    for expected in ["1", "2", "3"] {
        let (ok, out, err) = wasmvisor(&host.dir, &["call", "counter", "inc"]).await;
        assert!(ok, "{err}");
        assert_eq!(out.trim(), expected);
    }
    let (ok, _, err) = wasmvisor(&host.dir, &["call", "crasher", "panic"]).await;
    assert!(!ok);
    assert!(
        err.contains("actor `crasher` crashed") && err.contains("boom"),
        "{err}"
    );
    let (ok, _, err) = wasmvisor(&host.dir, &["call", "nobody", "hello"]).await;
    assert!(!ok);
    assert!(err.contains("no actor named `nobody`"), "{err}");

    let (ok, out, err) = wasmvisor(&host.dir, &["ps"]).await;
    assert!(ok, "{err}");
    let row = |name: &str| {
        out.lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name} in:\n{out}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert!(out.starts_with("NAME"), "{out}");
    assert_eq!(row("counter")[1..4], ["plugin", "running", "0"]);
    assert_eq!(row("crasher")[1..4], ["plugin", "running", "1"]);

    // A plugin that keeps crashing exhausts its restart intensity (3 in 5 s):
    // it stays down, and both `ps` and `call` say why.
    for _ in 0..3 {
        let (ok, _, _) = wasmvisor(&host.dir, &["call", "crasher", "panic"]).await;
        assert!(!ok);
    }
    let (ok, out, err) = wasmvisor(&host.dir, &["ps"]).await;
    assert!(ok, "{err}");
    let crasher_row = out
        .lines()
        .find(|l| l.starts_with("crasher"))
        .unwrap_or_default();
    assert!(
        crasher_row.contains("stopped: restart intensity exceeded"),
        "{out}"
    );
    let (ok, _, err) = wasmvisor(&host.dir, &["call", "crasher", "echo hi"]).await;
    assert!(!ok);
    assert!(
        err.contains("actor `crasher` is stopped: restart intensity exceeded"),
        "{err}"
    );
    let (ok, out, _) = wasmvisor(&host.dir, &["call", "counter", "get"]).await;
    assert!(ok && out.trim() == "3", "the other plugin runs on: {out}");

    stop_host(host).await;

    // A new host process on the same directory finds the committed count.
    let host = start_host(dir.path()).await;
    let (ok, out, err) = wasmvisor(&host.dir, &["call", "counter", "get"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "3");
    stop_host(host).await;
}

/// A SIGTERM that arrives before the host prints that it is ready (here,
/// while the plugins compile) is not lost and does not kill the process by
/// the signal's default action: the host comes up, then stops cleanly.
#[tokio::test]
async fn a_stop_signal_sent_while_plugins_load_stops_the_host_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a", "b", "c", "d"] {
        std::fs::copy(guest("counter"), dir.path().join(format!("{name}.wasm"))).unwrap();
    }
    let child = spawn_host(&[], dir.path(), None, &["--no-compile-cache", "--no-watch"]);
    // The address file is written before the plugins start compiling.
    let addr_file = dir.path().join(wasmvisor_admin::credentials::ADDR_FILE);
    crate::common::wait_until("the admin address file", || addr_file.is_file()).await;
    terminate(&child).await;
    let output = within("the host to stop", child.wait_with_output())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "wasmvisor run ended with {}; it printed:\n{stdout}",
        output.status
    );
    assert!(stdout.contains("4 plugin(s) running"), "{stdout}");
    assert!(stdout.ends_with("wasmvisor: stopped\n"), "{stdout}");
    assert!(
        !addr_file.exists(),
        "the address file is removed at the stop"
    );
}

#[tokio::test]
async fn a_host_started_on_a_relative_directory_keeps_its_files_there() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("plugins");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(guest("counter"), dir.join("counter.wasm")).unwrap();
    let host = start_host_from(&dir, Some(parent.path())).await;
    let (ok, out, err) = wasmvisor(&host.dir, &["call", "counter", "inc"]).await;
    assert!(ok && out.trim() == "1", "{out} {err}");
    for file in [
        "wasmvisor-state.redb",
        "wasmvisor-admin.token",
        "wasmvisor-cache",
    ] {
        assert!(
            dir.join(file).exists(),
            "{file} is kept in the plugin directory"
        );
    }
    stop_host(host).await;
}

/// `--memory-reservation-mib` reaches the host: with 64 MiB per pooled
/// memory, a plugin whose manifest asks for 128 MiB is refused while the one
/// within it (the default limit, 64 MiB) runs.
#[tokio::test]
async fn a_small_memory_reservation_refuses_a_plugin_that_asks_for_more() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("counter"), dir.path().join("counter.wasm")).unwrap();
    std::fs::copy(guest("counter"), dir.path().join("greedy.wasm")).unwrap();
    std::fs::write(
        dir.path().join("greedy.toml"),
        "[limits]\nmemory_mib = 128\n",
    )
    .unwrap();
    let host = start_host_with(
        dir.path(),
        None,
        &["--instance-pool", "8", "--memory-reservation-mib", "64"],
    )
    .await;
    let (ok, out, err) = wasmvisor(&host.dir, &["call", "counter", "inc"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "1");
    let (ok, _, err) = wasmvisor(&host.dir, &["call", "greedy", "inc"]).await;
    assert!(
        !ok,
        "a plugin asking for more memory than a slot holds should not run"
    );
    assert!(err.contains("greedy"), "{err}");
    stop_host(host).await;
}

#[tokio::test]
async fn call_without_a_running_host_says_how_to_fix_it() {
    // Port 9 (discard) on loopback: nothing of ours listens there.
    let nowhere = tempfile::tempdir().unwrap();
    let (ok, _, err) = wasmvisor(
        nowhere.path(),
        &["call", "--admin", "127.0.0.1:9", "counter", "inc"],
    )
    .await;
    assert!(!ok);
    assert!(err.contains("cannot reach a wasmvisor host"), "{err}");
}

#[tokio::test]
async fn the_admin_endpoint_refuses_to_listen_beyond_loopback() {
    let host = wasmvisor::Host::new().unwrap();
    let result =
        wasmvisor_admin::AdminServer::start(host, "0.0.0.0:0".parse().unwrap(), "token").await;
    let Err(error) = result else {
        panic!("the admin endpoint must not listen on 0.0.0.0");
    };
    assert!(
        error.to_string().contains("not a loopback address"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_state_store_stops_the_host_and_the_tools_until_reset_or_restored() {
    let healthy = tempfile::tempdir().unwrap();
    let healthy_store = healthy.path().join("wasmvisor-state.redb");
    crate::common::store_with_marker(&healthy_store).await;
    let healthy_arg = healthy.path().to_str().unwrap();
    let (ok, out, err) = wasmvisor(Path::new("."), &["state", "check", healthy_arg]).await;
    assert!(ok, "{err}");
    assert!(out.ends_with(": ok, 1 actors, 1 entries\n"), "{out}");
    let backup = healthy.path().join("backup.json");
    let backup_arg = backup.to_str().unwrap();
    let (ok, _, err) = wasmvisor(
        Path::new("."),
        &["state", "backup", healthy_arg, "-o", backup_arg],
    )
    .await;
    assert!(ok, "{err}");
    #[cfg(unix)]
    assert_eq!(crate::common::mode(&backup), 0o600);
    // A sound store is not replaced unless asked.
    let (ok, _, err) = wasmvisor(
        Path::new("."),
        &["state", "restore", healthy_arg, "-i", backup_arg],
    )
    .await;
    assert!(!ok && err.contains("--force"), "{err}");

    for (damage, bytes) in crate::common::damaged_copies(&healthy_store) {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("wasmvisor-state.redb");
        std::fs::write(&store, &bytes).unwrap();
        let dir_arg = dir.path().to_str().unwrap();
        let said = |what: &str, ok: bool, err: &str| {
            assert!(!ok, "{damage}: {what} went on");
            assert!(
                err.contains(&format!("{} is damaged: ", store.display())),
                "{damage}: {what}: {err}"
            );
            assert!(!err.contains("panicked"), "{damage}: {what}: {err}");
        };
        let (ok, _, err) = wasmvisor(
            Path::new("."),
            &["run", dir_arg, "--admin", "127.0.0.1:0", "--no-watch"],
        )
        .await;
        said("run", ok, &err);
        assert!(err.contains("--reset-state"), "{damage}: {err}");
        for tool in ["check", "list"] {
            let (ok, _, err) = wasmvisor(Path::new("."), &["state", tool, dir_arg]).await;
            said(tool, ok, &err);
        }
        assert_eq!(std::fs::read(&store).unwrap(), bytes, "{damage}: untouched");
        if damage == "truncated" {
            // A restore sets the damaged file aside and puts the backup in
            // its place.
            let (ok, _, err) = wasmvisor(
                Path::new("."),
                &["state", "restore", dir_arg, "-i", backup_arg],
            )
            .await;
            assert!(ok, "{err}");
            let (ok, out, err) =
                wasmvisor(Path::new("."), &["state", "get", dir_arg, "keeper", "kept"]).await;
            assert!(ok, "{err}");
            assert_eq!(out.as_bytes(), crate::common::MARKER);
            let aside = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .find(|path| path.to_string_lossy().contains(".redb.damaged-"))
                .expect("the damaged file is kept");
            assert_eq!(std::fs::read(aside).unwrap(), bytes);
        }
        if damage == "bit-flipped" {
            // Told to, the host sets the file aside, whole, and starts afresh.
            let host = start_host_with(dir.path(), None, &["--reset-state"]).await;
            let aside: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .filter(|path| path.to_string_lossy().contains(".redb.damaged-"))
                .collect();
            assert_eq!(aside.len(), 1, "{aside:?}");
            assert_eq!(std::fs::read(&aside[0]).unwrap(), bytes);
            stop_host(host).await;
            let (ok, out, err) = wasmvisor(Path::new("."), &["state", "check", dir_arg]).await;
            assert!(ok, "{err}");
            assert!(out.ends_with(": ok, 0 actors, 0 entries\n"), "{out}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn state_tools_list_get_export_and_import_a_stopped_hosts_store() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("wasmvisor-state.redb");
    {
        let host = wasmvisor::Host::builder()
            .state_store(wasmvisor::RedbStateStore::open(&store_path).unwrap())
            .build()
            .unwrap();
        crate::common::single(&host, "counter", "counter", |c| c).await;
        for _ in 0..3 {
            crate::common::call_ok(&host, "counter", "inc").await;
        }
        crate::common::call_ok(&host, "counter", "fill blob 3").await;
        host.shutdown().await;
    }
    #[cfg(unix)]
    assert_eq!(
        crate::common::mode(&store_path),
        0o600,
        "every actor's state: owner only"
    );
    // Closed here, the file may still be locked for a moment: a process that
    // another test forks copies every open file, ours too, until it execs.
    // (Opening it is what the tools do; it fails while anyone holds it.)
    crate::common::wait_until("the store file to be free", || {
        wasmvisor::RedbStateStore::open(&store_path).is_ok()
    })
    .await;
    let dir_arg = dir.path().to_str().unwrap();
    let state = |args: &[&str]| {
        let mut all = vec!["state"];
        all.extend_from_slice(args);
        all.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        wasmvisor(Path::new("."), &args).await
    };

    let (ok, out, err) = run(state(&["list", dir_arg])).await;
    assert!(ok, "{err}");
    assert_eq!(out, "counter\tversion 4\n");
    let (ok, out, _) = run(state(&["list", dir_arg, "counter"])).await;
    assert!(ok);
    assert_eq!(out, "blob\t3 bytes\ncount\t1 bytes\n");
    let (ok, out, _) = run(state(&["get", dir_arg, "counter", "count"])).await;
    assert!(ok);
    assert_eq!(out, "3");

    let backup = dir.path().join("counter.json");
    let backup_arg = backup.to_str().unwrap();
    // Even over a file others could read, the export is its owner's only.
    std::fs::write(&backup, "").unwrap();
    let (ok, _, err) = run(state(&["export", dir_arg, "counter", "-o", backup_arg])).await;
    assert!(ok, "{err}");
    #[cfg(unix)]
    assert_eq!(crate::common::mode(&backup), 0o600);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&backup).unwrap()).unwrap();
    assert_eq!(json["entries"]["count"]["text"], "3");
    assert_eq!(json["entries"]["blob"]["text"], "\u{0}\u{0}\u{0}");

    let (ok, _, err) = run(state(&["import", dir_arg, "copy", "-i", backup_arg])).await;
    assert!(ok, "{err}");
    let (_, out, _) = run(state(&["get", dir_arg, "copy", "count"])).await;
    assert_eq!(out, "3");

    std::fs::write(dir.path().join("bad.json"), "{\"nope\": 1}").unwrap();
    let bad = dir.path().join("bad.json");
    let (ok, _, err) = run(state(&[
        "import",
        dir_arg,
        "copy",
        "-i",
        bad.to_str().unwrap(),
    ]))
    .await;
    assert!(!ok);
    assert!(err.contains("not a wasmvisor state export"), "{err}");

    // While a host holds the store, the tools refuse and say why.
    let _running = wasmvisor::RedbStateStore::open(&store_path).unwrap();
    let (ok, _, err) = run(state(&["list", dir_arg])).await;
    assert!(!ok);
    assert!(
        err.contains("in use by another process") && err.contains("stop the host first"),
        "{err}"
    );
}

#[tokio::test]
async fn dead_letters_are_listed_and_replayed_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("crasher"), dir.path().join("crasher.wasm")).unwrap();
    std::fs::write(
        dir.path().join("crasher.toml"),
        "redelivery = 2\n[supervisor]\nmax_restarts = 10\nwithin = \"60s\"\n",
    )
    .unwrap();
    let host = start_host(dir.path()).await;
    let (ok, _, err) = wasmvisor(&host.dir, &["call", "crasher", "panic"]).await;
    assert!(!ok);
    assert!(
        err.contains("crashed on this message 2 times; it is dead letter 1"),
        "{err}"
    );
    let (ok, out, err) = wasmvisor(&host.dir, &["dead-letters"]).await;
    assert!(ok, "{err}");
    let row = out.lines().nth(1).unwrap_or_default();
    assert!(row.starts_with("1\tcrasher\t2\tguest panicked"), "{out}");
    assert!(row.ends_with("\tpanic"), "{out}");
    let (ok, _, err) = wasmvisor(&host.dir, &["replay", "1"]).await;
    assert!(!ok);
    assert!(err.contains("it is dead letter 2"), "{err}");
    let (ok, out, _) = wasmvisor(&host.dir, &["call", "crasher", "echo still up"]).await;
    assert!(ok && out.trim() == "still up", "{out}");
    stop_host(host).await;
}

#[tokio::test]
async fn the_admin_endpoint_refuses_requests_without_the_token_and_oversized_bodies() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("counter"), dir.path().join("counter.wasm")).unwrap();
    let host = start_host(dir.path()).await;
    let raw = |request: String| {
        let admin = host.admin.clone();
        async move {
            let mut stream = tokio::net::TcpStream::connect(&admin).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).await.unwrap();
            response
        }
    };
    // What a web page's form can send: a plain POST with no token.
    let no_token = raw("POST /v1/actors/counter/call HTTP/1.1\r\nHost: localhost\r\n\
                        Content-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\ninc"
        .into())
    .await;
    assert!(no_token.starts_with("HTTP/1.1 401"), "{no_token}");
    assert!(no_token.contains("wasmvisor-admin.token"), "{no_token}");
    let wrong = raw(format!(
        "GET /v1/actors HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}x\r\n\
         Connection: close\r\n\r\n",
        host.token
    ))
    .await;
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    let metrics =
        raw("GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".into()).await;
    assert!(metrics.starts_with("HTTP/1.1 401"), "{metrics}");

    // With the token, a body past the limit is refused before it reaches the actor.
    let huge = vec![b'x'; wasmvisor_admin::MAX_BODY_BYTES + 1];
    let oversized = host.client().call("counter", huge).await;
    assert!(
        matches!(
            &oversized,
            Err(wasmvisor_admin::ClientError::Refused {
                status: 413,
                code: wasmvisor_admin::ErrorCode::PayloadTooLarge,
                ..
            })
        ),
        "{oversized:?}"
    );
    let (ok, out, _) = wasmvisor(&host.dir, &["call", "counter", "get"]).await;
    assert!(
        ok && out.trim() == "0",
        "the refused requests did nothing: {out}"
    );
    stop_host(host).await;
}
