//! The dashboard: a live page of the supervision tree, served by the admin
//! endpoint at `/ui/`, in the spirit of Erlang's observer.
//!
//! The page is three files embedded in the binary (`dashboard/`: HTML, CSS
//! and plain JavaScript, no build step, no request leaves the endpoint). It
//! reads the same JSON API as the CLI (`/v1/tree`, `/v1/events`, ...) and
//! acts through it (restart, stop, start, call, state).
//!
//! ## Signing in
//!
//! The files themselves hold nothing of the host, so they are served to
//! anyone who can reach the endpoint; everything the page shows or does is a
//! `/v1/` request that carries the token as `Authorization: Bearer TOKEN`,
//! like the CLI's. The page gets the token from the sign-in address that
//! `wasmvisor dashboard` prints (`/ui/#token=TOKEN`: after the `#`, so the
//! browser never sends it anywhere, and the page removes it from the address
//! bar at once) or from its sign-in form, and keeps it in the tab's
//! `sessionStorage`: that storage belongs to the page's origin, port
//! included, and ends with the tab.
//!
//! There is no cookie on purpose: a browser sends a cookie for `127.0.0.1`
//! to every port of that address, so it would leak the token to any local
//! server the user visits, and it would let other pages send requests that
//! carry it (cross-site request forgery). A header is sent only by the
//! page's own script.
//!
//! Every answer of the endpoint forbids framing and sets a strict content
//! security policy (the page's own scripts, styles and connections only),
//! so another page can neither overlay the page's buttons nor run scripts
//! in it.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};

const INDEX_HTML: &str = include_str!("dashboard/index.html");
const APP_JS: &str = include_str!("dashboard/app.js");
const APP_CSS: &str = include_str!("dashboard/app.css");

/// Headers on every answer of the endpoint: no framing (clickjacking), no
/// scripts, styles or connections but the endpoint's own, no referrer, no
/// content sniffing.
pub(crate) async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `GET /ui/`: the page.
pub(crate) async fn index() -> Response {
    asset(INDEX_HTML, "text/html; charset=utf-8")
}

/// `GET /ui`: the page lives at `/ui/`.
pub(crate) async fn to_index() -> Redirect {
    Redirect::permanent("/ui/")
}

pub(crate) async fn app_js() -> Response {
    asset(APP_JS, "text/javascript; charset=utf-8")
}

pub(crate) async fn app_css() -> Response {
    asset(APP_CSS, "text/css; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // A new host version serves new files: never run stale ones.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The sign-in address of the dashboard of the endpoint at `addr`.
pub fn sign_in_url(addr: &str, token: &str) -> String {
    format!("http://{addr}/ui/#token={}", percent_encode(token))
}

/// `text` with every byte but unreserved URL characters percent-encoded
/// (the page decodes it with `decodeURIComponent`).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_in_address_carries_any_token_intact() {
        assert_eq!(
            sign_in_url("127.0.0.1:7475", "ab12"),
            "http://127.0.0.1:7475/ui/#token=ab12"
        );
        assert_eq!(
            sign_in_url("127.0.0.1:7475", "a b;c&d#é"),
            "http://127.0.0.1:7475/ui/#token=a%20b%3Bc%26d%23%C3%A9"
        );
    }
}
