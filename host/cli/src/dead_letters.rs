//! `wasmvisor dead-letters` and `wasmvisor replay ID`: the messages that
//! crashed their actor on every delivery, and sending one again.

use wasmvisor_admin::AdminClient;

/// Lists the dead letters, one per line.
pub(crate) async fn dead_letters(client: &AdminClient) -> anyhow::Result<()> {
    let letters = client.dead_letters().await?;
    println!("ID\tACTOR\tATTEMPTS\tLAST CRASH\tMESSAGE");
    for letter in letters {
        let last = letter
            .crashes
            .last()
            .map_or_else(|| "-".to_owned(), ToString::to_string);
        println!(
            "{}\t{}\t{}\t{last}\t{}",
            letter.id,
            letter.actor,
            letter.crashes.len(),
            String::from_utf8_lossy(&letter.message)
        );
    }
    Ok(())
}

/// `replay`: sends dead letter `id` again and prints the reply.
pub(crate) async fn replay(client: &AdminClient, id: u64) -> anyhow::Result<()> {
    let reply = client.replay(id).await?;
    println!("{}", String::from_utf8_lossy(&reply));
    Ok(())
}
