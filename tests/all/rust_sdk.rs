//! The Rust guest SDK (`sdk/`, crate `wasmvisor-guest`): its export attribute
//! exports exactly the interfaces a plugin implements, and its typed side
//! (JSON messages and replies, typed state) works through the host.

use std::time::Duration;

use wasmvisor::{
    CallError, ChildSpec, HealthSpec, HealthStatus, Host, PluginExports, SupervisorSpec,
};

use crate::common::{call_ok, plugin, supervise, wait_until};

#[tokio::test(flavor = "multi_thread")]
async fn the_export_attribute_exports_only_what_the_plugin_defines() {
    let host = Host::new().unwrap();
    let none = PluginExports::default();
    for (guest, expected) in [
        ("counter", none),
        ("crasher", none),
        (
            "vitals",
            PluginExports {
                health: true,
                ..none
            },
        ),
        (
            "todo",
            PluginExports {
                health: true,
                ..none
            },
        ),
        (
            "greeter",
            PluginExports {
                lifecycle: true,
                ..none
            },
        ),
        (
            "memo",
            PluginExports {
                snapshot: true,
                ..none
            },
        ),
        ("batch", PluginExports { job: true, ..none }),
    ] {
        assert_eq!(plugin(&host, guest).await.exports(), expected, "{guest}");
    }
}

/// Calls the to-do list and parses its JSON reply.
async fn todo(host: &Host, message: &str) -> serde_json::Value {
    let reply = call_ok(host, "todo", message).await;
    serde_json::from_str(&reply).unwrap_or_else(|e| panic!("`{reply}` is not JSON: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_json_messages_and_typed_state_survive_a_crash() {
    let host = Host::new().unwrap();
    let child = ChildSpec::new("todo", plugin(&host, "todo").await).health(
        HealthSpec::default()
            .interval(Duration::from_millis(50))
            .initial_delay(Duration::ZERO),
    );
    supervise(&host, SupervisorSpec::new("todo").child(child)).await;

    assert_eq!(
        todo(&host, r#"{"add": "write the guide"}"#).await,
        serde_json::json!({"added": 1})
    );
    assert_eq!(
        todo(&host, r#"{"add": "ship it"}"#).await,
        serde_json::json!({"added": 2})
    );
    assert_eq!(
        todo(&host, r#"{"done": 1}"#).await,
        serde_json::json!({"item": {"id": 1, "text": "write the guide", "done": true}})
    );

    // Bad messages are error replies that say why, not crashes.
    let actor = host.actor("todo").unwrap();
    for (message, why) in [
        ("tidy", "unknown variant `tidy`"),
        (
            r#"{"add": 3}"#,
            "invalid type: integer `3`, expected a string",
        ),
        (r#"{"add": "#, "the message is not valid JSON"),
        (r#"{"done": 9}"#, "there is no item 9"),
    ] {
        match actor.call(message).await {
            Err(CallError::Rejected { reason, .. }) => {
                assert!(reason.contains(why), "`{message}`: {reason}")
            }
            other => panic!("`{message}`: expected an error reply, got {other:?}"),
        }
    }

    let crashed = actor.call("crash").await;
    assert!(
        matches!(crashed, Err(CallError::Crashed { .. })),
        "{crashed:?}"
    );
    // The bare word `list` reads as the JSON string "list"; the next instance
    // reads the items back from the state store.
    assert_eq!(
        todo(&host, "list").await,
        serde_json::json!({"items": [
            {"id": 1, "text": "write the guide", "done": true},
            {"id": 2, "text": "ship it", "done": false},
        ]})
    );
    assert_eq!(actor.info().restarts, 1);
    assert_eq!(
        todo(&host, "clear-done").await,
        serde_json::json!({"cleared": 1})
    );
    assert_eq!(
        todo(&host, r#"{"add": "again"}"#).await,
        serde_json::json!({"added": 3})
    );

    // Its health export reads the typed state: degraded past 100 open items.
    wait_until("a health check answers healthy", || {
        let info = actor.info();
        info.health == HealthStatus::Healthy && info.health_checks > 0
    })
    .await;
    for i in 0..100 {
        todo(&host, &format!(r#"{{"add": "chore {i}"}}"#)).await;
    }
    wait_until("the list reports itself degraded", || {
        actor.info().health == HealthStatus::Degraded("102 open items".into())
    })
    .await;
    assert_eq!(actor.info().restarts, 1, "degraded never restarts");
    host.shutdown().await;
}
