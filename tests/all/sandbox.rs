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
    assert_eq!(call_ok(&host, "sandboxed", "args").await, "");
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
