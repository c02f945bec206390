//! `wasmvisor events`: the lifecycle events the host kept, then (with
//! `--follow`) each new one as it happens.

use wasmvisor_admin::AdminClient;

/// Prints the kept events, one JSON object per line, oldest first; then,
/// with `follow`, every new one.
pub(crate) async fn events(client: &AdminClient, follow: bool) -> anyhow::Result<()> {
    if follow {
        return Ok(client.follow_events(|event| println!("{event}")).await?);
    }
    for event in client.recent_events().await? {
        println!("{event}");
    }
    Ok(())
}
