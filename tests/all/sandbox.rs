//! Nothing is granted by default: no environment, no arguments, no files, no
//! network; the clock works. A refused access is an error inside the guest,
//! not a crash.

use wasmvisor::{CallError, Host};

use crate::common::{call_ok, single};

async fn rejected(host: &Host, message: &str) -> String {
    match host.actor("sandboxed").unwrap().call(message).await {
        Err(CallError::Rejected { reason, .. }) => reason,
        other => panic!("`{message}` should be refused inside the guest, got {other:?}"),
    }
}

#[tokio::test]
async fn a_plugin_reaches_no_environment_files_or_network_unless_granted() {
    // The host has an environment, so an empty answer means none of it leaked.
    assert!(std::env::vars().next().is_some());
    let host = Host::new().unwrap();
    single(&host, "sandboxed", "sandboxed", |c| c).await;

    assert_eq!(call_ok(&host, "sandboxed", "env").await, "");
    // No arguments but its own name, as `argv[0]`.
    assert_eq!(call_ok(&host, "sandboxed", "args").await, "sandboxed");
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    assert!(std::path::Path::new(manifest).is_file());
    let read = rejected(&host, &format!("read {manifest}")).await;
    assert!(read.starts_with("cannot read"), "{read}");

    // A port that is really open on loopback, and still out of reach.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connect = rejected(&host, &format!("connect {addr}")).await;
    assert!(connect.starts_with("cannot connect"), "{connect}");

    assert!(
        call_ok(&host, "sandboxed", "clock")
            .await
            .starts_with("clock ok")
    );
    assert_eq!(host.actor("sandboxed").unwrap().info().restarts, 0);
    host.shutdown().await;
}

#[tokio::test]
async fn granted_capabilities_work_and_read_only_means_read_only() {
    let shared = tempfile::tempdir().unwrap();
    std::fs::write(shared.path().join("hello.txt"), "hi from the host").unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let allowed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let allowed_addr = allowed.local_addr().unwrap();

    let host = Host::new().unwrap();
    single(&host, "sandboxed", "sandboxed", |c| {
        c.capabilities(
            wasmvisor::Capabilities::new()
                .dir(shared.path(), "/shared", true)
                .dir(scratch.path(), "/scratch", false)
                .env("GREETING", "ahoy")
                .connect(allowed_addr),
        )
    })
    .await;

    assert_eq!(call_ok(&host, "sandboxed", "env").await, "GREETING=ahoy");
    assert_eq!(
        call_ok(&host, "sandboxed", "read /shared/hello.txt").await,
        "hi from the host"
    );
    assert_eq!(
        call_ok(&host, "sandboxed", "list /shared").await,
        "hello.txt"
    );
    let write = rejected(&host, "write /shared/new.txt nope").await;
    assert!(write.starts_with("cannot write"), "{write}");
    assert!(
        !shared.path().join("new.txt").exists(),
        "read-only means read-only"
    );
    assert_eq!(
        call_ok(&host, "sandboxed", "write /scratch/new.txt yes").await,
        "wrote /scratch/new.txt"
    );
    assert_eq!(
        std::fs::read_to_string(scratch.path().join("new.txt")).unwrap(),
        "yes"
    );
    // Outside the grants, nothing: not the parent directory, not the host's root.
    let escape = rejected(&host, "read /shared/../../etc/hostname").await;
    assert!(escape.starts_with("cannot read"), "{escape}");

    assert_eq!(
        call_ok(&host, "sandboxed", &format!("connect {allowed_addr}")).await,
        "connected"
    );
    let refused = rejected(&host, &format!("connect {}", other.local_addr().unwrap())).await;
    assert!(refused.starts_with("cannot connect"), "{refused}");
    assert_eq!(host.actor("sandboxed").unwrap().info().restarts, 0);
    host.shutdown().await;
}

#[tokio::test]
async fn a_plugin_without_grants_cannot_list_a_directory() {
    let host = Host::new().unwrap();
    single(&host, "sandboxed", "sandboxed", |c| c).await;
    let listed = rejected(&host, "list /").await;
    assert!(listed.starts_with("cannot list"), "{listed}");
    host.shutdown().await;
}

/// An HTTP server on loopback that answers `GET /hello` with 200 and counts
/// the requests that reach it.
async fn counting_server() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/hello",
        axum::routing::get({
            let hits = hits.clone();
            move || async move {
                hits.fetch_add(1, Ordering::SeqCst);
                "hi"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, hits)
}

#[tokio::test]
async fn outbound_http_reaches_only_the_granted_hosts() {
    use std::sync::atomic::Ordering;
    let (granted, granted_hits) = counting_server().await;
    let (other, other_hits) = counting_server().await;

    let host = Host::new().unwrap();
    single(&host, "sandboxed", "sandboxed", |c| {
        c.capabilities(wasmvisor::Capabilities::new().http(granted.to_string()))
    })
    .await;
    single(&host, "ungranted", "sandboxed", |c| c).await;

    assert_eq!(
        call_ok(&host, "sandboxed", &format!("http {granted}/hello")).await,
        "status 200"
    );
    assert_eq!(granted_hits.load(Ordering::SeqCst), 1);

    // Another port on the same host, and the same port for a plugin with no
    // grant: denied inside the guest, and nothing reaches the servers.
    let denied = rejected(&host, &format!("http {other}/hello")).await;
    assert!(denied.contains("HttpRequestDenied"), "{denied}");
    let denied = match host
        .actor("ungranted")
        .unwrap()
        .call(format!("http {granted}/hello"))
        .await
    {
        Err(CallError::Rejected { reason, .. }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(denied.contains("HttpRequestDenied"), "{denied}");
    assert_eq!(other_hits.load(Ordering::SeqCst), 0);
    assert_eq!(granted_hits.load(Ordering::SeqCst), 1);
    assert_eq!(host.actor("sandboxed").unwrap().info().restarts, 0);
    host.shutdown().await;
}

#[tokio::test]
async fn a_malformed_http_grant_is_refused_before_anything_starts() {
    let host = Host::new().unwrap();
    let plugin = crate::common::plugin(&host, "sandboxed").await;
    let spec = wasmvisor::SupervisorSpec::new("s").child(
        wasmvisor::ChildSpec::new("sandboxed", plugin)
            .capabilities(wasmvisor::Capabilities::new().http("http://example.com/path")),
    );
    let error = host.start_supervisor(spec).await.unwrap_err();
    assert!(error.to_string().contains("host:port"), "{error}");
}
