//! `wasmvisor dashboard`: the address that opens the running host's
//! dashboard signed in.

use crate::target::Target;

/// Prints the dashboard's sign-in address (the token after its `#`: never
/// sent to the host, and dropped from the address bar by the page).
pub(crate) fn dashboard(target: &Target) -> anyhow::Result<()> {
    let (addr, token) = target.address_and_token();
    let Some(token) = token else {
        anyhow::bail!(
            "no admin token: none in {} (is the host running from there?) and none given with --token",
            target.dir.display()
        );
    };
    println!("{}", wasmvisor_admin::sign_in_url(&addr, &token));
    Ok(())
}
