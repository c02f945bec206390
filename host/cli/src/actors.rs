//! The commands that talk to one actor of a running host, or list them:
//! `call`, `cast`, `restart`, `stop`, `start`, `kill`, `upgrade`, `inspect`,
//! `ps`.

use wasmvisor::ActorInfo;
use wasmvisor_admin::{Action, ActorStarted, AdminClient};

/// `call`: sends `message` and prints the reply.
pub(crate) async fn call(client: &AdminClient, name: &str, message: String) -> anyhow::Result<()> {
    let reply = client.call(name, message.into_bytes()).await?;
    println!("{}", String::from_utf8_lossy(&reply));
    Ok(())
}

/// `cast`: sends `message` without waiting for a reply.
pub(crate) async fn cast(client: &AdminClient, name: &str, message: String) -> anyhow::Result<()> {
    Ok(client.cast(name, message.into_bytes()).await?)
}

/// `restart`, `stop`, `start`, `kill`; a start says what it came to.
pub(crate) async fn act(client: &AdminClient, name: &str, action: Action) -> anyhow::Result<()> {
    match client.act(name, action).await? {
        Some(ActorStarted {
            instance: Some(instance),
            ..
        }) => println!("`{name}` runs instance {instance}"),
        Some(ActorStarted { instance: None, .. }) => println!(
            "`{name}` ignored its start (`exit.ignore` in its `init`): it stays stopped, \
             with no instance"
        ),
        None => {}
    }
    Ok(())
}

/// `upgrade`: sends the component in `file` to the host, which upgrades
/// `name` to it.
pub(crate) async fn upgrade(
    client: &AdminClient,
    name: &str,
    file: &std::path::Path,
) -> anyhow::Result<()> {
    let component = std::fs::read(file)
        .map_err(|error| anyhow::anyhow!("cannot read {}: {error}", file.display()))?;
    let upgraded = client.upgrade(name, component).await?;
    match &upgraded.probation {
        Some(probation) => println!(
            "`{}` runs version {} now, on probation for {} ms or {} messages \
             (a crash or a failed health check until then rolls back to version {})",
            upgraded.actor,
            upgraded.version,
            probation.remaining_ms,
            probation.messages_left,
            probation.previous_version
        ),
        None => println!("`{}` runs version {} now", upgraded.actor, upgraded.version),
    }
    Ok(())
}

/// `ps`: the actors, as a table or JSON.
pub(crate) async fn ps(client: &AdminClient, json: bool) -> anyhow::Result<()> {
    let actors = client.actors().await?;
    if json {
        let text = serde_json::to_string_pretty(&actors)?;
        println!("{text}");
    } else {
        print!("{}", format_table(&actors));
    }
    Ok(())
}

/// `inspect`: one actor in full, its supervisor, its state's version and
/// keys.
pub(crate) async fn inspect(client: &AdminClient, name: &str) -> anyhow::Result<()> {
    let detail = client.actor(name).await?;
    let state = client.state(name).await?;
    let keys = state
        .get("entries")
        .and_then(|entries| entries.as_object())
        .map(|entries| entries.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    let text = serde_json::to_string_pretty(&serde_json::json!({
        "actor": detail.info,
        "supervisor": detail.supervisor,
        "state": {
            "version": state.get("version"),
            "keys": keys,
        },
    }))?;
    println!("{text}");
    Ok(())
}

fn format_table(actors: &[ActorInfo]) -> String {
    let mut rows = vec![[
        "NAME".to_owned(),
        "WORLD".to_owned(),
        "STATUS".to_owned(),
        "RESTARTS".to_owned(),
        "HEALTH".to_owned(),
        "UPTIME".to_owned(),
        "VERSION".to_owned(),
        "MEMORY".to_owned(),
        "LAST EXIT".to_owned(),
    ]];
    for actor in actors {
        rows.push([
            actor.name.clone(),
            actor
                .world
                .map_or_else(|| "supervisor".to_owned(), |world| world.to_string()),
            actor.status.to_string(),
            actor.restarts.to_string(),
            if actor.health_failures > 0 {
                format!(
                    "{} ({} failed in a row)",
                    actor.health, actor.health_failures
                )
            } else {
                actor.health.to_string()
            },
            actor.uptime_ms.map_or_else(
                || "-".to_owned(),
                |ms| format!("{:.1}s", ms as f64 / 1000.0),
            ),
            match (&actor.version, &actor.probation) {
                (Some(version), Some(_)) => format!("{version} (probation)"),
                (Some(version), None) => version.clone(),
                (None, _) => "-".to_owned(),
            },
            if actor.memory_bytes == 0 {
                "-".to_owned()
            } else {
                format!("{:.1}MiB", actor.memory_bytes as f64 / f64::from(1 << 20))
            },
            actor
                .last_exit
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string),
        ]);
    }
    let widths: Vec<usize> = (0..9)
        .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0))
        .collect();
    let mut table = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        table.push_str(cells.join("  ").trim_end());
        table.push('\n');
    }
    table
}
