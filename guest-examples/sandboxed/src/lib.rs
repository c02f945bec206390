//! A plugin that reports what it can reach, to show (and test) that nothing
//! is granted by default: no environment variables, no arguments, no files,
//! no network. Clocks (and random numbers) always work.
//!
//! Messages (UTF-8 text):
//! - `env`: the environment variables it sees, one `KEY=VALUE` per line;
//! - `args`: its command-line arguments, one per line;
//! - `read PATH`: the file's contents, or the error;
//! - `write PATH TEXT`: writes TEXT to the file, or the error;
//! - `list PATH`: the directory's entries, one per line, or the error;
//! - `connect HOST:PORT`: whether a TCP connection could be opened;
//! - `http AUTHORITY/PATH`: sends `GET http://AUTHORITY/PATH` over `wasi:http`
//!   and replies with the response's status code, or the error;
//! - `clock`: the wall clock's reading, in seconds since 1970.

use wasmvisor_guest::{Error, Plugin};

#[derive(Default)]
struct Sandboxed;

#[wasmvisor_guest::export]
impl Plugin for Sandboxed {
    type Message = String;
    type Reply = String;

    fn handle(&mut self, text: String) -> Result<String, Error> {
        answer(&text).map_err(Error::msg)
    }
}

/// The reply to `text`, or why there is none.
fn answer(text: &str) -> Result<String, String> {
    let reply = if text == "env" {
        std::env::vars()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n")
    } else if text == "args" {
        std::env::args().collect::<Vec<_>>().join("\n")
    } else if let Some(path) = text.strip_prefix("read ") {
        match std::fs::read_to_string(path) {
            Ok(contents) => contents,
            Err(error) => return Err(format!("cannot read {path}: {error}")),
        }
    } else if let Some(rest) = text.strip_prefix("write ") {
        let (path, contents) = rest.split_once(' ').unwrap_or((rest, ""));
        match std::fs::write(path, contents) {
            Ok(()) => format!("wrote {path}"),
            Err(error) => return Err(format!("cannot write {path}: {error}")),
        }
    } else if let Some(path) = text.strip_prefix("list ") {
        match std::fs::read_dir(path) {
            Ok(entries) => {
                let mut names: Vec<String> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names.join("\n")
            }
            Err(error) => return Err(format!("cannot list {path}: {error}")),
        }
    } else if let Some(addr) = text.strip_prefix("connect ") {
        match std::net::TcpStream::connect(addr) {
            Ok(_) => "connected".to_string(),
            Err(error) => return Err(format!("cannot connect to {addr}: {error}")),
        }
    } else if let Some(target) = text.strip_prefix("http ") {
        let (authority, path) = match target.find('/') {
            Some(slash) => target.split_at(slash),
            None => (target, "/"),
        };
        http_get(authority, path)
            .map(|status| format!("status {status}"))
            .map_err(|error| format!("GET http://{target} failed: {error}"))?
    } else if text == "clock" {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?;
        format!("clock ok: {}s since 1970", since_epoch.as_secs())
    } else {
        return Err(format!(
            "unknown message `{text}`; try `env`, `args`, `read PATH`, `write PATH TEXT`, `list PATH`, `connect HOST:PORT`, `http AUTHORITY/PATH` or `clock`"
        ));
    };
    Ok(reply)
}

/// Sends `GET http://{authority}{path}` and returns the response's status.
fn http_get(authority: &str, path: &str) -> Result<u16, String> {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, Method, OutgoingRequest, Scheme};

    let request = OutgoingRequest::new(Fields::new());
    request
        .set_method(&Method::Get)
        .map_err(|()| "bad method")?;
    // Without a scheme the request would default to https.
    request
        .set_scheme(Some(&Scheme::Http))
        .map_err(|()| "bad scheme")?;
    request
        .set_authority(Some(authority))
        .map_err(|()| format!("bad authority `{authority}`"))?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| format!("bad path `{path}`"))?;
    let response = outgoing_handler::handle(request, None).map_err(|e| e.to_string())?;
    response.subscribe().block();
    let response = response
        .get()
        .ok_or("no response after waiting for it")?
        .map_err(|()| "the response was taken already")?
        .map_err(|e| e.to_string())?;
    Ok(response.status())
}
