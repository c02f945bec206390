//! Outbound HTTP (`wasi:http/outgoing-handler`) limited to an allow-list.
//!
//! Every request a guest sends goes through [`HttpEgress::send_request`],
//! which compares the request's host and port with the grants before
//! anything touches the network. A grant is an authority: `host:port`
//! allows exactly that port; a bare `host` allows the default ports, 80 for
//! `http` and 443 for `https`. Hosts compare case-insensitively; names are
//! resolved by the host only for requests that were allowed.
//!
//! A request that is not granted fails inside the guest with the WASI
//! error `HTTP-request-denied`, and the first refusal of an instance is
//! logged.

use std::future::Future;
use std::sync::Arc;

use http::uri::Scheme;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::spec::HttpGrant;

/// The `wasi:http` hooks of one instance: the allow-list, and whether a
/// refusal was logged yet.
pub(crate) struct HttpEgress {
    actor: Arc<str>,
    grants: Arc<[HttpGrant]>,
    warned: bool,
}

type Receiving = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type Sent =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, Receiving), HttpError>> + Send>;

impl HttpEgress {
    pub(crate) fn new(actor: Arc<str>, grants: Arc<[HttpGrant]>) -> Self {
        HttpEgress {
            actor,
            grants,
            warned: false,
        }
    }

    fn allows<B>(&self, request: &http::Request<B>) -> bool {
        let uri = request.uri();
        let default_port = if uri.scheme() == Some(&Scheme::HTTPS) {
            443
        } else {
            80
        };
        let (Some(host), port) = (uri.host(), uri.port_u16().unwrap_or(default_port)) else {
            return false;
        };
        self.grants
            .iter()
            .any(|grant| grant.allows(host, port, default_port))
    }
}

impl WasiHttpHooks for HttpEgress {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: Receiving,
    ) -> Sent {
        if !self.allows(&request) {
            if !std::mem::replace(&mut self.warned, true) {
                tracing::warn!(
                    actor = &*self.actor,
                    "refused an HTTP request to {}: not granted (logged once)",
                    request.uri()
                );
            }
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Receiving,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::HttpGrant;

    fn egress(grants: &[&str]) -> HttpEgress {
        let grants: Vec<HttpGrant> = grants
            .iter()
            .map(|g| HttpGrant::parse(g).unwrap())
            .collect();
        HttpEgress::new(Arc::from("t"), grants.into())
    }

    fn allowed(egress: &HttpEgress, uri: &str) -> bool {
        egress.allows(&http::Request::get(uri).body(()).unwrap())
    }

    #[test]
    fn grants_match_host_and_port_and_nothing_else() {
        let egress = egress(&["API.example.com", "127.0.0.1:8080", "[::1]:9000"]);
        assert!(allowed(&egress, "https://api.example.com/v1"));
        assert!(allowed(&egress, "http://api.EXAMPLE.com:80/"));
        assert!(!allowed(&egress, "https://api.example.com:8443/"));
        assert!(!allowed(&egress, "https://example.com/"));
        assert!(!allowed(&egress, "https://api.example.com.evil.test/"));
        assert!(allowed(&egress, "http://127.0.0.1:8080/x"));
        assert!(!allowed(&egress, "http://127.0.0.1/x"));
        assert!(!allowed(&egress, "http://127.0.0.1:8081/x"));
        assert!(allowed(&egress, "http://[::1]:9000/"));
        assert!(!allowed(&self::egress(&[]), "http://127.0.0.1:8080/"));
    }
}
