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
