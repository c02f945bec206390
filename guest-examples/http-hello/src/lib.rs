//! A `wasi:http/proxy` handler written as people write them, for
//! wasmvisor's tests of HTTP components. Its routes (the path after any
//! prefix the host mounts it under):
//!
//! - `/hello`: 200, `hello from rust`;
//! - `/healthz`: 200, `ok`; `/sick`: 500, `sick`;
//! - `/echo`: 200, the request's body;
//! - `/slow?ms=N`: waits N ms, then 200 `slow done`;
//! - `/crash`: panics; `/spin`: loops forever;
//! - anything else: 404, with the path it got.

use std::io::{Read, Write};

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Hello;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path_with_query = request.path_with_query().unwrap_or_else(|| "/".into());
        let (path, query) = path_with_query
            .split_once('?')
            .unwrap_or((&path_with_query, ""));
        let (status, body) = match path {
            "/hello" => (200, b"hello from rust".to_vec()),
            "/healthz" => (200, b"ok".to_vec()),
            "/sick" => (500, b"sick".to_vec()),
            "/echo" => (200, read_body(request)),
            "/slow" => {
                let ms = query
                    .strip_prefix("ms=")
                    .and_then(|ms| ms.parse().ok())
                    .unwrap_or(100);
                std::thread::sleep(std::time::Duration::from_millis(ms));
                (200, b"slow done".to_vec())
            }
            "/crash" => panic!("http-hello was asked to crash"),
            "/spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            other => (404, format!("no route {other}").into_bytes()),
        };
        respond(response_out, status, &body);
    }
}

fn read_body(request: IncomingRequest) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Ok(body) = request.consume()
        && let Ok(mut stream) = body.stream()
    {
        let _ = stream.read_to_end(&mut bytes);
    }
    bytes
}

fn respond(out: ResponseOutparam, status: u16, body: &[u8]) {
    let headers = Fields::from_list(&[(
        "content-type".to_owned(),
        b"text/plain; charset=utf-8".to_vec(),
    )])
    .expect("valid headers");
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).expect("a valid status");
    let outgoing = response.body().expect("the body, taken once");
    ResponseOutparam::set(out, Ok(response));
    {
        let mut stream = outgoing.write().expect("the stream, taken once");
        stream.write_all(body).expect("writing the body");
        stream.flush().expect("flushing the body");
    }
    OutgoingBody::finish(outgoing, None).expect("finishing the body");
}

wasip2::http::proxy::export!(Hello);
