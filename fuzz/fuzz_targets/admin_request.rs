//! The admin endpoint's request handling: any method, path, headers and
//! body, with the right token, a wrong one or none. Never a panic; never
//! host data without the token; the security headers on every answer.
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use axum::body::Body;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

#[path = "plugin.rs"]
mod plugin;

const TOKEN: &str = "fuzz-token";

/// A host with the counter example running as `counter`, its router, and
/// the runtime they run on.
static ENDPOINT: LazyLock<(tokio::runtime::Runtime, axum::Router)> = LazyLock::new(|| {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let router = runtime.block_on(async {
        let host = wasmvisor::Host::new().unwrap();
        let plugin = plugin::load(&host).await;
        host.start_supervisor(
            wasmvisor::SupervisorSpec::new("counter")
                .child(wasmvisor::ChildSpec::new("counter", plugin)),
        )
        .await
        .unwrap();
        wasmvisor_admin::router_without_socket(host, TOKEN)
    });
    (runtime, router)
});

#[derive(Debug, Arbitrary)]
enum Authorization {
    None,
    Right,
    Wrong(String),
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
struct Request {
    method: u8,
    /// Appended to one of the endpoint's paths (or used alone).
    known_path: u8,
    path: String,
    authorization: Authorization,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"];
const PATHS: [&str; 9] = [
    "",
    "/v1/tree",
    "/v1/actors",
    "/v1/actors/counter",
    "/v1/actors/counter/call",
    "/v1/actors/counter/state",
    "/v1/dead-letters/",
    "/v1/events?since=",
    "/ui/",
];

fuzz_target!(|input: Request| {
    let (runtime, router) = &*ENDPOINT;
    let method = METHODS[input.method as usize % METHODS.len()];
    let path = format!(
        "{}{}",
        PATHS[input.known_path as usize % PATHS.len()],
        input.path
    );
    let Ok(uri) = path.parse::<axum::http::Uri>() else {
        return;
    };
    let authorization: Option<Vec<u8>> = match input.authorization {
        Authorization::None => None,
        Authorization::Right => Some(format!("Bearer {TOKEN}").into_bytes()),
        Authorization::Wrong(token) => Some(format!("Bearer {token}").into_bytes()),
        Authorization::Raw(bytes) => Some(bytes),
    };
    let authorized = authorization.as_deref() == Some(format!("Bearer {TOKEN}").as_bytes());
    let mut request = axum::http::Request::builder().method(method).uri(uri);
    if let Some(value) = &authorization {
        request = request.header("authorization", value.as_slice());
    }
    for (name, value) in &input.headers {
        if !name.eq_ignore_ascii_case("authorization") {
            request = request.header(name.as_str(), value.as_slice());
        }
    }
    let Ok(request) = request.body(Body::from(input.body)) else {
        return; // not a request hyper would have parsed
    };
    let answer = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), router.clone().oneshot(request)).await
    });
    let Ok(Ok(response)) = answer else {
        panic!("no answer within 10 s to {method} {path}");
    };
    let status = response.status();
    let headers = response.headers();
    assert_eq!(headers["x-frame-options"], "DENY", "{method} {path}");
    assert!(
        headers.contains_key("content-security-policy"),
        "{method} {path}"
    );
    let data = path.starts_with("/v1") || path.starts_with("/metrics");
    if data && !authorized {
        assert!(
            status == 401 || status == 404 || status == 405 || status == 400 || status == 413,
            "{method} {path} answered {status} without the token"
        );
    }
});
