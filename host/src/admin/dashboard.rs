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
//! A browser cannot put the admin token in an `Authorization` header when
//! it opens a page, so the dashboard signs in once and keeps the token in a
//! cookie, the way Jupyter does:
//!
//! - `GET /ui/?token=TOKEN` (the address `wasmvisor dashboard` prints), or
//!   the sign-in form at `/ui/` (`POST /ui/login`), checks the token, sets
//!   the cookie and redirects to `/ui/`, which drops the token from the
//!   address bar.
//! - The cookie is `HttpOnly` (scripts cannot read it), `SameSite=Strict`
//!   (other sites' pages do not send it) and named after the endpoint's port
//!   (cookies do not tell ports apart, so two hosts on one machine keep
//!   theirs apart).
//! - A request signed in by cookie that changes something (any method but
//!   `GET` and `HEAD`) must also carry [`CSRF_HEADER`]: another page on the
//!   same machine (another port is the same *site* to a browser) cannot add
//!   a custom header to a cross-origin request without a CORS preflight,
//!   which the endpoint never grants.
//! - Every answer forbids framing and sets a strict content security policy,
//!   so the page's buttons cannot be overlaid by another page.
//!
//! Without a valid cookie, `/ui/` shows only the sign-in form: nothing of the
//! host is served before the token is checked.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::AppState;

/// The header a cookie-signed request must carry to change anything.
pub const CSRF_HEADER: &str = "x-wasmvisor-csrf";

const INDEX_HTML: &str = include_str!("dashboard/index.html");
const LOGIN_HTML: &str = include_str!("dashboard/login.html");
const APP_JS: &str = include_str!("dashboard/app.js");
const APP_CSS: &str = include_str!("dashboard/app.css");

/// Headers on every answer of the endpoint: no framing (clickjacking), no
/// scripts, styles or connections but the endpoint's own, no referrer (the
/// sign-in address carries the token), no content sniffing.
pub(super) async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
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

/// The session cookie's name for the endpoint on `port`.
fn cookie_name(port: u16) -> String {
    format!("wasmvisor-admin-{port}")
}

/// The token in the request's session cookie, if it has one.
pub(super) fn cookie_token(headers: &HeaderMap, port: u16) -> Option<String> {
    let name = cookie_name(port);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Whether a request signed in by cookie may do what it asks: reads always,
/// changes only with [`CSRF_HEADER`].
pub(super) fn cookie_may(method: &Method, headers: &HeaderMap) -> bool {
    matches!(*method, Method::GET | Method::HEAD) || headers.contains_key(CSRF_HEADER)
}

/// The query of `GET /ui/`.
#[derive(serde::Deserialize)]
pub(super) struct SignIn {
    token: Option<String>,
}

/// `GET /ui/`: the dashboard when signed in; with a good `?token=`, signs
/// in and redirects; otherwise the sign-in form.
pub(super) async fn index(
    State(state): State<AppState>,
    Query(query): Query<SignIn>,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = query.token {
        return sign_in(&state, &token);
    }
    match cookie_token(&headers, state.port) {
        Some(token) if state.token_matches(&token) => page(INDEX_HTML, StatusCode::OK),
        Some(_) => login_page("That session has ended (the host's token changed); sign in again."),
        None => login_page(""),
    }
}

/// `POST /ui/login`: the sign-in form's answer.
pub(super) async fn login(State(state): State<AppState>, Form(form): Form<SignIn>) -> Response {
    sign_in(&state, form.token.as_deref().unwrap_or(""))
}

/// `POST /ui/logout`: forgets the session cookie.
pub(super) async fn logout(State(state): State<AppState>) -> Response {
    let expired = format!(
        "{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
        cookie_name(state.port)
    );
    redirect_setting_cookie(&expired)
}

/// `GET /ui`: the page lives at `/ui/` (its assets are relative to it).
pub(super) async fn to_index() -> Redirect {
    Redirect::permanent("/ui/")
}

pub(super) async fn app_js() -> Response {
    asset(APP_JS, "text/javascript; charset=utf-8")
}

pub(super) async fn app_css() -> Response {
    asset(APP_CSS, "text/css; charset=utf-8")
}

fn sign_in(state: &AppState, token: &str) -> Response {
    let token = token.trim();
    if !state.token_matches(token) {
        let mut response = login_page("That is not this host's admin token.");
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        return response;
    }
    let cookie = format!(
        "{}={token}; HttpOnly; SameSite=Strict; Path=/",
        cookie_name(state.port)
    );
    redirect_setting_cookie(&cookie)
}

fn redirect_setting_cookie(cookie: &str) -> Response {
    let mut response = Redirect::to("/ui/").into_response();
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn login_page(problem: &str) -> Response {
    // The message is one of ours, never the request's.
    let html = LOGIN_HTML.replace("{{problem}}", problem);
    page(&html, StatusCode::OK)
}

fn page(html: &str, status: StatusCode) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html.to_owned(),
    )
        .into_response()
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_of_this_port_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("other=1; wasmvisor-admin-7476=theirs"),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("wasmvisor-admin-7475=ours"),
        );
        assert_eq!(cookie_token(&headers, 7475).as_deref(), Some("ours"));
        assert_eq!(cookie_token(&headers, 7476).as_deref(), Some("theirs"));
        assert_eq!(cookie_token(&headers, 7477), None);
    }

    #[test]
    fn a_cookie_changes_nothing_without_the_csrf_header() {
        let mut headers = HeaderMap::new();
        assert!(cookie_may(&Method::GET, &headers));
        assert!(!cookie_may(&Method::POST, &headers));
        headers.insert(CSRF_HEADER, HeaderValue::from_static("1"));
        assert!(cookie_may(&Method::POST, &headers));
    }
}
