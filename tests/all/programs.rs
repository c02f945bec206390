//! `wasi:cli` programs that no one wrote for wasmvisor, supervised as they
//! are: a plain Rust `fn main` built with `cargo build --target
//! wasm32-wasip2` (guest-examples/hello, guest-examples/cli-tool), with no
//! SDK and no wasmvisor WIT. Each start runs `main` once; how it ends is
//! the child's exit reason, and the restart type decides the rest.

use std::time::Duration;

use wasmvisor::{
    ActorStatus, Capabilities, ChildSpec, CrashReason, ExitReason, Host, Limits, Output,
    RestartType, RunSpec, Stdin, Stdio, SupervisorSpec, SupervisorStatus, World,
};

use crate::common::{plugin, single, supervise, wait_until, within};

/// The child's info once it is stopped for good.
async fn stopped(host: &Host, name: &str) -> wasmvisor::ActorInfo {
    let actor = host.actor(name).unwrap();
    wait_until("the program is stopped for good", || {
        matches!(actor.info().status, ActorStatus::Stopped(_))
    })
    .await;
    actor.info()
}

/// Runs cli-tool once as the temporary child `name` with `args` (both
/// outputs kept) and the spec changed by `tweak`; its info once it ended.
async fn run_tool(
    host: &Host,
    name: &str,
    args: &[&str],
    tweak: impl FnOnce(ChildSpec) -> ChildSpec,
) -> wasmvisor::ActorInfo {
    let stdio = kept(Stdio::new().args(args.iter().copied()));
    single(host, name, "cli-tool", |c| {
        tweak(c.restart(RestartType::Temporary).stdio(stdio))
    })
    .await;
    stopped(host, name).await
}

/// Keeps both streams, as a run whose output the test reads.
fn kept(stdio: Stdio) -> Stdio {
    stdio.stdout(Output::keep()).stderr(Output::keep())
}

#[tokio::test]
async fn a_plain_rust_program_is_detected_and_runs_to_a_normal_exit() {
    let host = Host::new().unwrap();
    let hello = plugin(&host, "hello").await;
    assert_eq!(hello.world(), World::Command);
    assert_eq!(plugin(&host, "counter").await.world(), World::Plugin);
    single(&host, "hello", "hello", |c| {
        c.restart(RestartType::Transient).stdio(kept(Stdio::new()))
    })
    .await;
    let info = stopped(&host, "hello").await;
    assert_eq!(info.world, Some(World::Command));
    assert_eq!(info.last_exit, Some(ExitReason::Normal));
    assert_eq!(
        info.restarts, 0,
        "a transient program that ends well stays down"
    );
    let output = info.output.unwrap();
    assert_eq!(output.stdout, "hi\n");
    assert!(!output.truncated);
    host.shutdown().await;
}

#[tokio::test]
async fn how_a_program_ends_is_its_exit_reason() {
    let host = Host::new().unwrap();
    let cases: [(&[&str], ExitReason); 5] = [
        (&["exit-code", "3"], ExitReason::Crash(CrashReason::Exit(3))),
        (&["exit", "0"], ExitReason::Normal),
        (&["exit", "7"], ExitReason::Crash(CrashReason::ExitFailure)),
        (&["fail"], ExitReason::Crash(CrashReason::RunFailed)),
        (&["count"], ExitReason::Crash(CrashReason::RunFailed)),
    ];
    for (args, expected) in cases {
        let name = format!("tool-{}", args.join("-"));
        single(&host, &name, "cli-tool", |c| {
            c.restart(RestartType::Temporary)
                .stdio(Stdio::new().args(args.iter().copied()))
        })
        .await;
        let info = stopped(&host, &name).await;
        assert_eq!(info.last_exit, Some(expected), "{args:?}");
    }
    // A panic is a crash with the program's own message.
    single(&host, "panics", "cli-tool", |c| {
        c.restart(RestartType::Temporary)
            .stdio(Stdio::new().arg("panic"))
    })
    .await;
    let info = stopped(&host, "panics").await;
    let Some(ExitReason::Crash(CrashReason::Panic(message))) = info.last_exit else {
        panic!("{:?}", info.last_exit);
    };
    assert!(message.contains("cli-tool was told to panic"), "{message}");
    host.shutdown().await;
}

#[tokio::test]
async fn restart_types_make_a_service_a_job_and_a_one_shot_run() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new().unwrap();
    let tool = plugin(&host, "cli-tool").await;
    let counting = |file: &str, more: &[&str]| {
        Stdio::new()
            .args(["count", &format!("/work/{file}")])
            .args(more.iter().copied())
    };
    let grant = Capabilities::new().dir(dir.path(), "/work", false);
    let child = |name: &str, restart, stdio| {
        ChildSpec::new(name, tool.clone())
            .restart(restart)
            .stdio(stdio)
            .capabilities(grant.clone())
    };
    let count = |file: &str| {
        std::fs::read_to_string(dir.path().join(file))
            .map(|text| text.trim().parse::<u32>().unwrap())
            .unwrap_or(0)
    };
    // A service: restarted after every end, normal ones too, until the
    // intensity runs out (1 run + 3 restarts).
    let service = supervise(
        &host,
        SupervisorSpec::new("service")
            .intensity(3, Duration::from_secs(60))
            .child(child(
                "service",
                RestartType::Permanent,
                counting("service", &[]),
            )),
    )
    .await;
    let status = within("the service's supervisor to give up", service.stopped()).await;
    assert!(matches!(status, SupervisorStatus::GaveUp(_)), "{status:?}");
    assert_eq!(count("service"), 4);
    // A job: restarted after a failure, until the intensity runs out...
    let job = supervise(
        &host,
        SupervisorSpec::new("job")
            .intensity(5, Duration::from_secs(60))
            .child(child(
                "job",
                RestartType::Transient,
                counting("job", &["exit-code", "2"]),
            )),
    )
    .await;
    let status = within("the failing job's supervisor to give up", job.stopped()).await;
    assert!(matches!(status, SupervisorStatus::GaveUp(_)), "{status:?}");
    assert_eq!(
        count("job"),
        6,
        "a failing job is restarted: 1 run + 5 restarts"
    );
    // ...and not after it ends well.
    single(&host, "done-job", "cli-tool", |c| {
        c.restart(RestartType::Transient)
            .stdio(counting("done-job", &[]))
            .capabilities(grant.clone())
    })
    .await;
    let info = stopped(&host, "done-job").await;
    assert_eq!(info.last_exit, Some(ExitReason::Normal));
    assert_eq!(count("done-job"), 1, "a job that ends well runs once");
    // A one-shot run: never restarted, even after a failure.
    single(&host, "once", "cli-tool", |c| {
        c.restart(RestartType::Temporary)
            .stdio(counting("once", &["exit-code", "9"]))
            .capabilities(grant.clone())
    })
    .await;
    let info = stopped(&host, "once").await;
    assert_eq!(
        info.last_exit,
        Some(ExitReason::Crash(CrashReason::Exit(9)))
    );
    assert_eq!(count("once"), 1);
    host.shutdown().await;
}

#[tokio::test]
async fn arguments_environment_and_stdin_reach_the_program() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.txt");
    std::fs::write(&input, "from a file").unwrap();
    let host = Host::new().unwrap();
    let run = |name: &str, stdin: Stdin| {
        let name = name.to_owned();
        let host = host.clone();
        async move {
            single(&host, &name, "cli-tool", |c| {
                c.restart(RestartType::Temporary)
                    .stdio(kept(
                        Stdio::new()
                            .args(["args", "env", "GREETING", "stdin", "two words"])
                            .stdin(stdin),
                    ))
                    .capabilities(Capabilities::new().env("GREETING", "ahoy"))
            })
            .await;
            stopped(&host, &name).await.output.unwrap().stdout
        }
    };
    let stdout = run("with-text", Stdin::Bytes(b"piped in".to_vec().into())).await;
    assert_eq!(
        stdout,
        "cli-tool: started\narg: args\narg: env\narg: GREETING\narg: stdin\narg: two words\n\
         GREETING=ahoy\nstdin: piped in\ncli-tool: done\n"
    );
    let stdout = run("with-file", Stdin::File(input)).await;
    assert!(stdout.contains("stdin: from a file\n"), "{stdout}");
    let stdout = run("with-nothing", Stdin::Empty).await;
    assert!(stdout.contains("stdin: \n"), "{stdout}");
    host.shutdown().await;
}

#[tokio::test]
async fn output_goes_to_a_file_and_kept_output_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("job.err");
    let host = Host::new().unwrap();
    single(&host, "to-file", "cli-tool", |c| {
        c.restart(RestartType::Temporary).stdio(
            Stdio::new()
                .args(["stderr", "to the file"])
                .stdout(Output::Keep { max_bytes: 20 })
                .stderr(Output::File(log.clone())),
        )
    })
    .await;
    let output = stopped(&host, "to-file").await.output.unwrap();
    assert_eq!(output.stdout, "cli-tool: started\ncl", "cut at 20 bytes");
    assert!(output.truncated);
    assert_eq!(output.stderr, "", "stderr went to its file");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "to the file\n");
    // An output file that cannot be opened fails the start, named.
    let missing = dir.path().join("no/such/dir/out.log");
    let child = ChildSpec::new("bad-file", plugin(&host, "cli-tool").await)
        .restart(RestartType::Temporary)
        .stdio(Stdio::new().stdout(Output::File(missing.clone())));
    let error = host
        .start_supervisor(SupervisorSpec::new("bad").child(child))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains(&missing.display().to_string()), "{error}");
    host.shutdown().await;
}

#[tokio::test]
async fn a_program_is_denied_what_it_was_not_granted_and_held_to_its_limits() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), "s3cret").unwrap();
    let host = Host::new().unwrap();
    let host_path = dir.path().join("secret").display().to_string();
    let args = [
        "read", &host_path, "read", "/secret", "write", "/x", "env", "HOME",
    ];
    let denied = run_tool(&host, "denied", &args, |c| c).await;
    let stdout = denied.output.unwrap().stdout;
    assert!(!stdout.contains("s3cret"), "{stdout}");
    assert!(stdout.contains("cannot read /secret"), "{stdout}");
    assert!(stdout.contains("cannot write /x"), "{stdout}");
    assert!(stdout.contains("HOME unset"), "{stdout}");
    assert_eq!(denied.last_exit, Some(ExitReason::Normal));

    let spun = run_tool(&host, "spins", &["spin"], |c| {
        c.limits(Limits::default().run_timeout(Duration::from_millis(300)))
    })
    .await;
    assert_eq!(
        spun.last_exit,
        Some(ExitReason::Crash(CrashReason::DeadlineExceeded {
            limit_ms: 300
        }))
    );
    let hog = run_tool(&host, "hog", &["alloc", "64"], |c| {
        c.limits(Limits::default().memory_bytes(16 << 20))
    })
    .await;
    assert_eq!(
        hog.last_exit,
        Some(ExitReason::Crash(CrashReason::MemoryLimit {
            limit_bytes: 16 << 20
        }))
    );
    // The call timeout bounds a plugin's calls, not a program's run.
    let slow = run_tool(&host, "long-run", &["alloc", "8"], |c| {
        c.limits(Limits::default().call_timeout(Duration::from_millis(1)))
    })
    .await;
    assert_eq!(slow.last_exit, Some(ExitReason::Normal));
    host.shutdown().await;
}

#[tokio::test]
async fn a_program_takes_no_messages_and_keeps_its_world_across_upgrades() {
    let host = Host::new().unwrap();
    let supervisor = single(&host, "tool", "cli-tool", |c| {
        c.restart(RestartType::Temporary)
            .stdio(Stdio::new().arg("spin"))
    })
    .await;
    let tool = host.actor("tool").unwrap();
    let error = within("the refusal", tool.call("hello")).await.unwrap_err();
    assert!(error.to_string().contains("takes no messages"), "{error}");
    assert!(tool.cast("hello").await.is_err());
    let counter = plugin(&host, "counter").await;
    let error = supervisor
        .upgrade_child("tool", counter)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("a plugin component and the running one a command"),
        "{error}"
    );
    // Stopping a program that never ends cuts it off at once.
    within("the stop", supervisor.stop()).await;
    assert_eq!(tool.info().last_exit, Some(ExitReason::Killed));
    host.shutdown().await;
}

#[tokio::test]
async fn a_one_off_run_answers_the_exit_code_and_the_output() {
    let host = Host::new().unwrap();
    let tool = plugin(&host, "cli-tool").await;
    let outcome = host
        .run_once(
            &tool,
            RunSpec::new("tool").stdio(kept(
                Stdio::new()
                    .args(["stdin", "stderr", "oops", "exit-code", "4"])
                    .stdin(Stdin::Bytes(b"abc".to_vec().into())),
            )),
        )
        .await
        .unwrap();
    assert_eq!(outcome.exit_code, 4);
    assert_eq!(outcome.exit, ExitReason::Crash(CrashReason::Exit(4)));
    assert_eq!(outcome.output.stdout, "cli-tool: started\nstdin: abc\n");
    assert_eq!(outcome.output.stderr, "oops\n");
    let codes = [
        (&[][..], 0),
        (&["fail"][..], 1),
        (&["panic"][..], 134),
        (&["exit", "5"][..], 1),
    ];
    for (args, code) in codes {
        let outcome = host
            .run_once(
                &tool,
                RunSpec::new("tool").stdio(Stdio::new().args(args.iter().copied())),
            )
            .await
            .unwrap();
        assert_eq!(outcome.exit_code, code, "{args:?}: {:?}", outcome.exit);
    }
    let counter = plugin(&host, "counter").await;
    let error = host
        .run_once(&counter, RunSpec::new("counter"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("a one-off run is for a `wasi:cli` program"),
        "{error}"
    );
    assert_eq!(host.live_instances(), 0, "a run leaves no instance behind");
    host.shutdown().await;
}

/// `wasmvisor run-once ARGS` in `dir`: (exit code, stdout, stderr).
async fn run_once(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let output = within(
        "wasmvisor run-once",
        tokio::process::Command::new(crate::cli::wasmvisor_bin())
            .arg("run-once")
            .args(args)
            .current_dir(dir)
            .env("WASMVISOR_DIR", dir)
            .env("RUST_LOG", "error")
            .output(),
    )
    .await
    .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The newcomer's path: `fn main() { println!("hi") }`, built for
/// wasm32-wasip2 and dropped into the plugin directory, runs, exits, and is
/// restarted or not as its manifest says.
#[tokio::test]
async fn a_dropped_hello_runs_exits_and_restarts_as_its_manifest_says() {
    use crate::cli::{start_host, stop_host, wasmvisor};
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(crate::common::guest("hello"), dir.path().join("hello.wasm")).unwrap();
    std::fs::write(
        dir.path().join("hello.toml"),
        "[program]\nstdout = \"keep\"\n",
    )
    .unwrap();
    let host = start_host(dir.path()).await;
    let client = host.client();
    let info = within("hello to end", async {
        loop {
            let info = client.actor("hello").await.unwrap().info;
            if matches!(info.status, ActorStatus::Stopped(_)) {
                return info;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(info.world, Some(World::Command));
    assert_eq!(info.last_exit, Some(ExitReason::Normal));
    assert_eq!(
        info.restarts, 0,
        "no manifest restart: done once it ends well"
    );
    assert_eq!(info.output.unwrap().stdout, "hi\n");
    let (ok, ps, _) = wasmvisor(dir.path(), &["ps"]).await;
    assert!(ok);
    let row = ps.lines().find(|line| line.starts_with("hello")).unwrap();
    assert!(
        row.contains("command") && row.contains("exited normally"),
        "{ps}"
    );
    let (ok, inspect, _) = wasmvisor(dir.path(), &["inspect", "hello"]).await;
    assert!(
        ok && inspect.contains("\"world\": \"command\""),
        "{inspect}"
    );
    assert!(inspect.contains("\"stdout\": \"hi\\n\""), "{inspect}");

    // Told to be permanent, the same program is restarted after every end,
    // until its supervisor gives up.
    std::fs::copy(crate::common::guest("hello"), dir.path().join("again.wasm")).unwrap();
    std::fs::write(
        dir.path().join("again.toml"),
        "restart = \"permanent\"\n[supervisor]\nmax_restarts = 2\nwithin = \"1m\"\n",
    )
    .unwrap();
    let info = within("again to be given up on", async {
        loop {
            if let Ok(detail) = client.actor("again").await
                && matches!(detail.info.status, ActorStatus::Stopped(_))
            {
                return detail.info;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(info.restarts, 2, "{info:?}");
    stop_host(host).await;
}

#[tokio::test]
async fn run_once_exits_with_the_programs_code_and_prints_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("tool.wasm");
    std::fs::copy(crate::common::guest("cli-tool"), &tool).unwrap();
    let (code, stdout, stderr) = run_once(
        dir.path(),
        &[
            "tool.wasm",
            "--",
            "env",
            "GREETING",
            "stderr",
            "oops",
            "exit-code",
            "3",
        ],
    )
    .await;
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(stdout, "cli-tool: started\nGREETING unset\n");
    assert!(stderr.starts_with("oops\n"), "{stderr}");
    assert!(stderr.contains("exit code 3"), "{stderr}");
    // The manifest beside it grants and sets what it runs with; the command
    // line's arguments replace its `args`.
    std::fs::write(
        dir.path().join("tool.toml"),
        "[capabilities]\nenv = { GREETING = \"ahoy\" }\n[program]\nargs = [\"env\", \"GREETING\"]\n",
    )
    .unwrap();
    let (code, stdout, _) = run_once(dir.path(), &["tool.wasm"]).await;
    assert_eq!(
        (code, stdout.as_str()),
        (0, "cli-tool: started\nGREETING=ahoy\ncli-tool: done\n")
    );
    std::fs::write(dir.path().join("input"), "from the file").unwrap();
    let (code, stdout, _) = run_once(
        dir.path(),
        &[
            "tool.wasm",
            "--stdin",
            "input",
            "--json",
            "--",
            "stdin",
            "panic",
        ],
    )
    .await;
    assert_eq!(code, 134);
    let outcome: wasmvisor::RunOutcome = serde_json::from_str(&stdout).unwrap();
    assert_eq!(outcome.exit_code, 134);
    assert!(
        outcome.output.stdout.contains("stdin: from the file"),
        "{stdout}"
    );
    assert!(
        matches!(outcome.exit, ExitReason::Crash(CrashReason::Panic(_))),
        "{outcome:?}"
    );
    // A plugin is not a program; a file that is not there is named.
    std::fs::copy(
        crate::common::guest("counter"),
        dir.path().join("counter.wasm"),
    )
    .unwrap();
    let (code, _, stderr) = run_once(dir.path(), &["counter.wasm"]).await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains("a one-off run is for a `wasi:cli` program"),
        "{stderr}"
    );
    let (code, _, stderr) = run_once(dir.path(), &["nothing.wasm"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("nothing.wasm"), "{stderr}");
}

#[tokio::test]
async fn a_running_hosts_program_runs_once_through_the_admin_api() {
    use crate::cli::{start_host, stop_host};
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate::common::guest("cli-tool"),
        dir.path().join("tool.wasm"),
    )
    .unwrap();
    std::fs::copy(
        crate::common::guest("counter"),
        dir.path().join("counter.wasm"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tool.toml"),
        "[capabilities]\nenv = { GREETING = \"ahoy\" }\n[program]\nargs = [\"spin\"]\n",
    )
    .unwrap();
    let host = start_host(dir.path()).await;
    // The supervised instance spins; one-off runs go beside it.
    let (code, stdout, stderr) = run_once(
        dir.path(),
        &["--actor", "tool", "--", "env", "GREETING", "exit-code", "5"],
    )
    .await;
    assert_eq!(code, 5, "{stderr}");
    assert_eq!(stdout, "cli-tool: started\nGREETING=ahoy\n");
    let client = host.client();
    let request = wasmvisor_admin::RunRequest {
        args: vec!["stdin".into()],
        stdin: Some("typed".into()),
    };
    let outcome = client.run("tool", &request).await.unwrap();
    assert_eq!(outcome.exit_code, 0);
    assert!(outcome.output.stdout.contains("stdin: typed\n"));
    let refused = client.run("counter", &request).await.unwrap_err();
    assert_eq!(
        refused.code(),
        Some(wasmvisor_admin::ErrorCode::WrongWorld),
        "{refused}"
    );
    let missing = client.run("nobody", &request).await.unwrap_err();
    assert_eq!(
        missing.code(),
        Some(wasmvisor_admin::ErrorCode::NotFound),
        "{missing}"
    );
    // A message to a program is refused at once, naming why.
    let (ok, _, stderr) = crate::cli::wasmvisor(dir.path(), &["call", "tool", "hi"]).await;
    assert!(!ok && stderr.contains("takes no messages"), "{stderr}");
    stop_host(host).await;
}

/// A program in another language, no SDK either: a Python script made a
/// `wasi:cli/command` component by componentize-py
/// (guest-examples/python-cli).
#[tokio::test]
async fn a_python_program_is_supervised_the_same_way() {
    let host = Host::new().unwrap();
    let python = plugin(&host, "python-cli").await;
    assert_eq!(python.world(), World::Command);
    let run = |args: &'static [&'static str]| {
        let host = host.clone();
        let python = python.clone();
        async move {
            host.run_once(
                &python,
                RunSpec::new("py")
                    .stdio(kept(Stdio::new().args(args.iter().copied())))
                    .stdin(Stdin::Bytes(b"piped".to_vec().into()))
                    .capabilities(Capabilities::new().env("GREETING", "ahoy")),
            )
            .await
            .unwrap()
        }
    };
    let outcome = run(&["x y", "stdin"]).await;
    assert_eq!(outcome.exit, ExitReason::Normal);
    assert_eq!(
        outcome.output.stdout,
        "hello from python\narg: x y\narg: stdin\nGREETING=ahoy\nstdin: piped\n"
    );
    assert_eq!(outcome.output.stderr, "python-cli done\n");
    let outcome = run(&["exit", "42"]).await;
    assert_eq!(outcome.exit, ExitReason::Crash(CrashReason::Exit(42)));
    assert_eq!(outcome.exit_code, 42);
    assert_eq!(
        run(&["fail"]).await.exit,
        ExitReason::Crash(CrashReason::RunFailed)
    );
    // As a supervised job: restarted after its failure until the intensity runs out.
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("py-job")
            .intensity(2, Duration::from_secs(60))
            .child(
                ChildSpec::new("py-job", python.clone())
                    .restart(RestartType::Transient)
                    .stdio(Stdio::new().args(["exit", "3"])),
            ),
    )
    .await;
    let status = within(
        "the Python job's supervisor to give up",
        supervisor.stopped(),
    )
    .await;
    assert!(matches!(status, SupervisorStatus::GaveUp(_)), "{status:?}");
    host.shutdown().await;
}
