//! The malformed-input corpus: every kind of bad plugin file, manifest and
//! admin request gets a clear error that names the file or the request,
//! and the host goes on serving the good plugin beside them.
//!
//! The manifests are files in `tests/corpus/manifests/`, each with the text
//! its error must contain on its first line (`# expect: TEXT`); the plugin
//! files are made here from the example components (truncated, corrupted,
//! renamed, linked, grown), since they are build outputs.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use wasmvisor::dir::start_plugin_dir;
use wasmvisor::{Error, Host};

use crate::cli::{start_host, stop_host};
use crate::common::{Random, call_ok, guest, workspace_root};

/// Every failure of a directory's start, as (file name, reason).
fn failures(errors: &[Error]) -> Vec<(String, String)> {
    errors
        .iter()
        .map(|error| match error {
            Error::Load { path, reason } => (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                reason.clone(),
            ),
            other => panic!("expected an error naming a file, got {other}"),
        })
        .collect()
}

/// `bytes` with every occurrence of `from` replaced by `to` (same length).
fn replace_all(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let mut found = 0;
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            found += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(found > 0, "nothing to replace");
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_plugin_files_are_refused_one_by_one_and_the_good_plugin_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let counter = std::fs::read(guest("counter")).unwrap();
    std::fs::write(path("counter.wasm"), &counter).unwrap();

    // What each bad file must be refused with.
    let mut expected: Vec<(String, &str)> = Vec::new();
    let mut bad = |name: &str, bytes: &[u8], reason: &'static str| {
        std::fs::write(path(name), bytes).unwrap();
        expected.push((name.to_owned(), reason));
    };
    bad("empty.wasm", b"", "the file is empty");
    bad("text.wasm", b"plugin = true\n", "not a WebAssembly");
    bad(
        "core.wasm",
        b"\0asm\x01\0\0\0",
        "a core WebAssembly module, not a component",
    );
    // A binary format version nothing knows yet.
    bad("future-format.wasm", b"\0asm\x2a\0\x01\0", "WebAssembly");
    // Cut after the header: an empty component, which exports nothing.
    bad(
        "header-only.wasm",
        &counter[..8],
        "is not a component the host can run: it exports nothing",
    );
    for cut in [4, 100, counter.len() / 2, counter.len() - 1] {
        bad(
            &format!("truncated-at-{cut}.wasm"),
            &counter[..cut],
            "WebAssembly",
        );
    }
    // The handler of another version of the package.
    let other_version = replace_all(
        &counter,
        b"wasmvisor:plugin/handler@0.1.1",
        b"wasmvisor:plugin/handler@0.9.0",
    );
    bad(
        "other-version.wasm",
        &other_version,
        "does not export `wasmvisor:plugin/handler@0.1.1`",
    );
    // A component of another world: no handler at all.
    bad(
        "other-world.wasm",
        &std::fs::read(guest("no_handler")).unwrap(),
        "is not a component the host can run: its exports are",
    );
    // Larger than a plugin may be (sparse: no disk is used).
    let enormous = std::fs::File::create(path("enormous.wasm")).unwrap();
    enormous
        .set_len(wasmvisor::Plugin::MAX_FILE_BYTES + 1)
        .unwrap();
    expected.push((
        "enormous.wasm".into(),
        "a plugin file may be at most 256 MiB",
    ));
    // Not files: a directory, a link to nothing, a link to itself.
    std::fs::create_dir(path("directory.wasm")).unwrap();
    expected.push(("directory.wasm".into(), "is not a regular file"));
    std::os::unix::fs::symlink(path("gone.wasm"), path("dangling.wasm")).unwrap();
    expected.push(("dangling.wasm".into(), "is a symbolic link to"));
    std::os::unix::fs::symlink(path("loop.wasm"), path("loop.wasm")).unwrap();
    expected.push(("loop.wasm".into(), "is a symbolic link to"));
    // A name that cannot name an actor.
    let non_utf8 = std::ffi::OsStr::from_bytes(b"caf\xe9.wasm");
    std::fs::write(dir.path().join(non_utf8), &counter).unwrap();
    expected.push(("caf\u{fffd}.wasm".into(), "not valid UTF-8"));

    // A name in the host's own namespace: refused, naming the plugin (it
    // has no manifest to blame).
    std::fs::write(path("wasmvisor:reserved.wasm"), &counter).unwrap();
    expected.push((
        "wasmvisor:reserved.wasm".into(),
        "are reserved for the host",
    ));

    // Names that can: a link to a good plugin, and a very long name.
    std::os::unix::fs::symlink(path("counter.wasm"), path("linked.wasm")).unwrap();
    let long = "l".repeat(200);
    std::fs::write(path(&format!("{long}.wasm")), &counter).unwrap();

    let host = Host::new().unwrap();
    let report = start_plugin_dir(&host, dir.path()).await.unwrap();
    let mut started: Vec<String> = report.started.iter().map(|(n, _)| n.clone()).collect();
    started.sort();
    assert_eq!(
        started,
        ["counter".to_owned(), "linked".to_owned(), long.clone()]
    );
    let mut refused = failures(&report.failed);
    refused.sort();
    expected.sort();
    let names = |list: &[(String, String)]| list.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&refused),
        expected.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        "{refused:#?}"
    );
    for ((file, reason), (_, wanted)) in refused.iter().zip(&expected) {
        assert!(
            reason.contains(wanted),
            "{file}: {reason} (wanted: {wanted})"
        );
    }
    for error in &report.failed {
        assert!(
            error
                .to_string()
                .starts_with(&dir.path().display().to_string()),
            "{error}"
        );
    }
    assert_eq!(call_ok(&host, "counter", "inc").await, "1");
    assert_eq!(call_ok(&host, &long, "inc").await, "1");
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupted_components_are_refused_or_run_but_never_take_the_host_down() {
    let counter = std::fs::read(guest("counter")).unwrap();
    let host = Host::new().unwrap();
    let good = host
        .load_plugin("counter.wasm", counter.clone())
        .await
        .unwrap();
    let supervisor = crate::common::supervise(
        &host,
        wasmvisor::SupervisorSpec::new("good").child(wasmvisor::ChildSpec::new("good", good)),
    )
    .await;
    let mut random = Random(0x5eed_cafe);
    let (mut refused, mut loaded) = (0, 0);
    for case in 0..40 {
        let mut bytes = counter.clone();
        for _ in 0..1 + random.below(8) {
            let at = random.below(bytes.len());
            bytes[at] ^= 1 << random.below(8);
        }
        let label = format!("flipped-{case}.wasm");
        match host.load_plugin(label.as_str(), bytes).await {
            Err(error) => {
                refused += 1;
                assert!(error.to_string().starts_with(&label), "{error}");
            }
            Ok(plugin) => {
                // A flip the parser accepts (in data, say): it runs, or its
                // start fails with a reason; either way the host goes on.
                loaded += 1;
                let name = format!("flipped-{case}");
                let spec = wasmvisor::SupervisorSpec::new(name.clone())
                    .intensity(0, std::time::Duration::from_secs(1))
                    .child(wasmvisor::ChildSpec::new(name.clone(), plugin));
                if let Ok(flipped) = host.start_supervisor(spec).await {
                    if let Some(actor) = host.actor(&name) {
                        let _ = actor.call("inc").await;
                    }
                    flipped.stop().await;
                }
            }
        }
        assert_eq!(
            call_ok(&host, "good", "get").await,
            "0",
            "after corrupted case {case}"
        );
    }
    assert!(refused > 0, "the corruptions should include refused ones");
    eprintln!("corrupted components: {refused} refused, {loaded} loaded");
    supervisor.stop().await;
    host.shutdown().await;
}

/// The manifests of `tests/corpus/manifests/`, with what each error says.
fn manifest_corpus() -> Vec<(PathBuf, String)> {
    let dir = workspace_root().join("tests/corpus/manifests");
    let mut corpus: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let expect = text
                .lines()
                .next()
                .and_then(|line| line.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{}: no `# expect:` line", path.display()))
                .to_owned();
            (path, expect)
        })
        .collect();
    corpus.sort();
    assert!(corpus.len() >= 15, "{corpus:?}");
    corpus
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_manifests_name_their_file_and_cause_and_only_their_plugin_stays_out() {
    let dir = tempfile::tempdir().unwrap();
    let counter = std::fs::read(guest("counter")).unwrap();
    std::fs::write(dir.path().join("counter.wasm"), &counter).unwrap();
    let mut expected: Vec<(String, String)> = Vec::new();
    let mut plugin_with = |stem: &str, manifest: &[u8], expect: &str| {
        std::fs::write(dir.path().join(format!("{stem}.wasm")), &counter).unwrap();
        std::fs::write(dir.path().join(format!("{stem}.toml")), manifest).unwrap();
        expected.push((format!("{stem}.toml"), expect.to_owned()));
    };
    for (path, expect) in manifest_corpus() {
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        plugin_with(&stem, &std::fs::read(&path).unwrap(), &expect);
    }
    plugin_with("binary", b"\0\x01\x02\xff\xfe", "cannot read the file");
    let mut huge = b"[config]\nbig = \"".to_vec();
    huge.resize(
        huge.len() + (wasmvisor::dir::MAX_MANIFEST_BYTES as usize),
        b'x',
    );
    huge.extend_from_slice(b"\"\n");
    plugin_with("huge", &huge, "a manifest may be at most 1024 KiB");
    // An empty manifest is a valid one: every key is optional.
    std::fs::write(dir.path().join("plain.wasm"), &counter).unwrap();
    std::fs::write(dir.path().join("plain.toml"), b"").unwrap();

    let host = Host::new().unwrap();
    let report = start_plugin_dir(&host, dir.path()).await.unwrap();
    let mut started: Vec<&str> = report.started.iter().map(|(n, _)| n.as_str()).collect();
    started.sort();
    assert_eq!(started, ["counter", "plain"]);
    let mut refused = failures(&report.failed);
    refused.sort();
    expected.sort();
    assert_eq!(
        refused.iter().map(|(f, _)| f).collect::<Vec<_>>(),
        expected.iter().map(|(f, _)| f).collect::<Vec<_>>(),
        "{refused:#?}"
    );
    let unclear: Vec<String> = refused
        .iter()
        .zip(&expected)
        .filter(|((_, reason), (_, wanted))| !reason.contains(wanted.as_str()))
        .map(|((file, reason), (_, wanted))| format!("{file}: {reason}\n  (wanted: {wanted})"))
        .collect();
    assert!(unclear.is_empty(), "{}", unclear.join("\n"));
    assert_eq!(call_ok(&host, "counter", "inc").await, "1");
    host.shutdown().await;
}

/// Sends raw bytes to the endpoint; returns the answer's status, or `None`
/// if it closed the connection without one.
async fn raw_status(admin: &str, request: &[u8]) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(admin).await.unwrap();
    // The endpoint may answer and close before reading it all.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_admin_requests_get_clear_refusals_and_the_host_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["counter", "todo"] {
        std::fs::copy(guest(name), dir.path().join(format!("{name}.wasm"))).unwrap();
    }
    let host = start_host(dir.path()).await;
    let base = format!("http://{}", host.admin);
    let http = reqwest::Client::new();
    let token = host.token.clone();
    let serving = |expected: u64| {
        let client = host.client();
        async move {
            let reply = client.call("counter", b"inc".to_vec()).await.unwrap();
            assert_eq!(String::from_utf8(reply).unwrap(), expected.to_string());
        }
    };
    let mut count = 0;

    // Wrong tokens, in every shape.
    for authorization in [
        "".to_owned(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("bearer {token}"),
        format!("Bearer  {token}"),
        format!("Bearer {token}x"),
        format!("Bearer {}", &token[..token.len() - 1]),
        format!("Basic {token}"),
        format!("Bearer {token}\u{e9}"),
    ] {
        let mut request = http
            .post(format!("{base}/v1/actors/counter/call"))
            .body("inc");
        if let Ok(value) = reqwest::header::HeaderValue::from_bytes(authorization.as_bytes()) {
            request = request.header("authorization", value);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 401, "{authorization:?}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized", "{authorization:?}");
    }
    // Which paths exist is not for those without the token to find out.
    for path in [
        "/no/such/path",
        "/v1/nothing-here",
        "/v1/actors/counter/nonsense",
    ] {
        let answer = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(answer.status(), 401, "{path}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized", "{path}");
    }
    count += 1;
    serving(count).await;

    // Bodies over the limit, announced or streamed.
    let huge = vec![b'x'; wasmvisor_admin::MAX_BODY_BYTES + 1];
    let answer = http
        .post(format!("{base}/v1/actors/counter/call"))
        .bearer_auth(&token)
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 413);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "payload-too-large", "{body}");
    let chunked = format!(
        "POST /v1/actors/counter/call HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
        host.admin,
        wasmvisor_admin::MAX_BODY_BYTES + 1,
        "y".repeat(wasmvisor_admin::MAX_BODY_BYTES + 1)
    );
    assert_eq!(raw_status(&host.admin, chunked.as_bytes()).await, Some(413));
    count += 1;
    serving(count).await;

    // Requests that are not the API's: each gets its status, and a JSON
    // body with a stable code and a reason, the HTTP framework's own
    // refusals (an unknown route, a wrong method, a path that does not
    // parse) included.
    let long_path = format!("/v1/actors/{}", "n".repeat(10_000));
    for (method, path, status, code) in [
        ("GET", "/v1/nothing-here", 404, "not-found"),
        ("GET", "/no/such/path", 404, "not-found"),
        ("DELETE", "/v1/actors/counter", 405, "method-not-allowed"),
        (
            "POST",
            "/v1/dead-letters/not-a-number/replay",
            400,
            "bad-request",
        ),
        ("GET", "/v1/events?since=yesterday", 400, "bad-request"),
        ("POST", "/v1/actors/nobody/call", 404, "not-found"),
        ("GET", "/v1/actors/nobody/state", 404, "not-found"),
        ("POST", "/v1/dead-letters/424242/replay", 404, "not-found"),
        ("POST", "/v1/actors/%FF%FE/call", 400, "bad-request"),
        ("GET", long_path.as_str(), 404, "not-found"),
    ] {
        let answer = http
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{method} {path}");
        let body: serde_json::Value = answer.json().await.unwrap_or_else(|e| {
            panic!("{method} {path}: the refusal is not JSON: {e}");
        });
        assert_eq!(body["error"], code, "{method} {path}: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{method} {path}: {body}"
        );
    }
    // A missing dead letter is named as one, not as an actor.
    let missing = http
        .post(format!("{base}/v1/dead-letters/424242/replay"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = missing.json().await.unwrap();
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("no dead letter 424242"), "{body}");
    // Not HTTP at all (a TLS hello), and a request line that never ends:
    // refused, or the connection closed.
    for garbage in [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n".to_vec(),
        format!("GET /{} HTTP/1.1\r\n", "a".repeat(1 << 20)).into_bytes(),
    ] {
        let status = raw_status(&host.admin, &garbage).await;
        assert!(status.is_none_or(|code| code >= 400), "{status:?}");
    }
    count += 1;
    serving(count).await;

    // Bad JSON for a plugin that takes JSON messages: the plugin's clear
    // refusal (422), and the plugin goes on.
    for body in ["{", "{\"add\": 5}", "[1, 2", "\u{0}\u{1}", "null"] {
        let answer = http
            .post(format!("{base}/v1/actors/todo/call"))
            .bearer_auth(&token)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 422, "{body:?}");
        let error: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(error["error"], "rejected", "{body:?}");
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
    let listed = host.client().actors().await.unwrap();
    let todo = listed.iter().find(|a| a.name == "todo").unwrap();
    assert_eq!(todo.restarts, 0, "a refused message is not a crash");
    count += 1;
    serving(count).await;
    stop_host(host).await;
}

/// The fuzz targets' entry points (see `fuzz/`), on the corpus they are
/// seeded with: each manifest is refused for the reason its file names,
/// and the admin router refuses data without the token.
#[tokio::test(flavor = "multi_thread")]
async fn the_fuzz_entry_points_agree_with_the_corpus() {
    use tower::ServiceExt;

    let host = Host::new().unwrap();
    let counter = host.load_plugin_file(guest("counter")).await.unwrap();
    for (path, expect) in manifest_corpus() {
        let text = std::fs::read_to_string(&path).unwrap();
        let refused = wasmvisor::fuzzing::manifest(&text, &counter).unwrap_err();
        assert!(refused.contains(&expect), "{}: {refused}", path.display());
    }
    assert_eq!(wasmvisor::fuzzing::manifest("", &counter), Ok(()));
    assert!(
        wasmvisor::fuzzing::host_config("[[group]]\nname = \"g\"\nplugins = [\"a\"]\n").is_ok()
    );
    assert!(
        wasmvisor::fuzzing::host_config(
            "[[group]]\nname = \"g\"\nplugins = [\"a\"]\njitter = 3.0\n"
        )
        .unwrap_err()
        .contains("jitter")
    );
    assert_eq!(wasmvisor::fuzzing::event_position("7"), Some((None, 7)));

    let router = wasmvisor_admin::router_without_socket(host.clone(), "secret");
    for (authorization, status) in [
        (None, 401),
        (Some("Bearer nope"), 401),
        (Some("Bearer secret"), 200),
    ] {
        let mut request = axum::http::Request::get("/v1/tree");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let answer = router
            .clone()
            .oneshot(request.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{authorization:?}");
    }
    host.shutdown().await;
}
