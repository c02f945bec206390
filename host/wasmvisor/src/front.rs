//! The host's HTTP front: the listeners it owns for `wasi:http/proxy`
//! actors, and the routes on them.
//!
//! ```text
//!  client ─> listener (one per address, loopback by default)
//!              └ route: the longest matching prefix ─> its actor's route
//!                   ├ in service: a fresh instance of its version serves the request
//!                   │    (runtime::http_request), the prefix taken off the path;
//!                   │    a crash answers 500 and is reported to the actor, which
//!                   │    ends its incarnation: the supervisor restarts it or gives up
//!                   └ not in service (starting, restarting, stopped): 503, saying why
//! ```
//!
//! A route belongs to one actor for the actor's life, and stays mounted
//! when the actor stops for good, answering 503 with the reason, until
//! another actor mounts the same prefix. A listener keeps at most
//! [`MAX_CONNECTIONS`] connections open, and closes one that sends no
//! request head within 10 s. An upgrade swaps the version a
//! route serves: requests in flight finish on the version they started
//! with, new ones go to the new one. At shutdown the listeners stop
//! accepting, keep-alive is turned off, and the requests in flight finish
//! within a bound.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::StatusCode;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, watch};

use crate::error::CrashReason;
use crate::metrics::Metrics;
use crate::runtime::Compiled;
use crate::runtime::http_request::{Answer, HttpResponse, RequestSetup, plain, serve};
use crate::util::lock;

/// The most connections one listener keeps open at once (as `wasmtime
/// serve`'s default); more wait in the kernel's accept queue.
const MAX_CONNECTIONS: usize = 1000;

/// A crash of a request, with the incarnation it happened in.
pub(crate) type CrashReport = (u64, CrashReason);

/// The version a route serves now, and where its crashes go.
pub(crate) struct Serving {
    pub(crate) compiled: Arc<Compiled>,
    pub(crate) setup: RequestSetup,
    pub(crate) max_body_bytes: u64,
    /// The incarnation (instance id) this version serves for.
    pub(crate) incarnation: u64,
    pub(crate) crashes: mpsc::UnboundedSender<CrashReport>,
}

/// One actor's route on a listener.
pub(crate) struct Route {
    pub(crate) actor: String,
    pub(crate) prefix: String,
    /// The address the listener is bound to (its port, when 0 was asked).
    pub(crate) addr: SocketAddr,
    state: Mutex<RouteState>,
}

enum RouteState {
    Serving(Arc<Serving>),
    Down(String),
    /// Its actor is gone: another may mount the prefix.
    Closed(String),
}

impl Route {
    /// Serves `serving` from now on (an instance started, or an upgrade).
    pub(crate) fn serve(&self, serving: Serving) {
        *lock(&self.state) = RouteState::Serving(Arc::new(serving));
    }

    /// Out of service for `why` (answered 503) until the next `serve`.
    pub(crate) fn down(&self, why: impl Into<String>) {
        *lock(&self.state) = RouteState::Down(why.into());
    }

    /// Its actor is gone for good; the route answers 503 with `why`.
    pub(crate) fn close(&self, why: impl Into<String>) {
        *lock(&self.state) = RouteState::Closed(why.into());
    }

    /// The URL the route answers on.
    pub(crate) fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.prefix)
    }

    fn current(&self) -> Result<Arc<Serving>, String> {
        match &*lock(&self.state) {
            RouteState::Serving(serving) => Ok(serving.clone()),
            RouteState::Down(why) | RouteState::Closed(why) => Err(why.clone()),
        }
    }
}

/// The host's listeners and their routes.
pub(crate) struct HttpFront {
    listeners: Mutex<HashMap<SocketAddr, Arc<Listener>>>,
    metrics: Arc<Metrics>,
    /// Set once the host shuts down: the listeners stop.
    stopping: watch::Sender<bool>,
    in_flight: Arc<InFlight>,
}

struct Listener {
    addr: SocketAddr,
    routes: Mutex<Vec<Arc<Route>>>,
}

/// Requests being served, to wait for at shutdown.
#[derive(Default)]
struct InFlight {
    count: AtomicUsize,
    done: Notify,
}

/// One request in flight, until dropped.
struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.done.notify_waiters();
        }
    }
}

impl HttpFront {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        HttpFront {
            listeners: Mutex::default(),
            metrics,
            stopping: watch::channel(false).0,
            in_flight: Arc::default(),
        }
    }

    /// Mounts `actor` at `prefix` on `addr`, binding a listener there if the
    /// host has none yet.
    ///
    /// # Errors
    ///
    /// The address cannot be bound, or another live actor has the prefix.
    pub(crate) fn mount(
        self: &Arc<Self>,
        addr: SocketAddr,
        prefix: &str,
        actor: &str,
    ) -> Result<Arc<Route>, String> {
        let mut listeners = lock(&self.listeners);
        let listener = match listeners.get(&addr) {
            Some(listener) => listener.clone(),
            None => {
                // Port 0 asks for a listener of its own, on a free port.
                let listener = self.listen(addr)?;
                listeners.insert(listener.addr, listener.clone());
                listener
            }
        };
        let mut routes = lock(&listener.routes);
        let prefix = prefix.trim_end_matches('/').to_owned();
        if let Some(at) = routes.iter().position(|route| route.prefix == prefix) {
            let taken = &routes[at];
            if !matches!(&*lock(&taken.state), RouteState::Closed(_)) && taken.actor != actor {
                return Err(format!(
                    "the route `{}` on {} is served by actor `{}` already",
                    shown(&prefix),
                    listener.addr,
                    taken.actor
                ));
            }
            routes.remove(at);
        }
        let route = Arc::new(Route {
            actor: actor.to_owned(),
            prefix,
            addr: listener.addr,
            state: Mutex::new(RouteState::Down("it is starting".into())),
        });
        routes.push(route.clone());
        // The longest prefix is tried first.
        routes.sort_by_key(|route| std::cmp::Reverse(route.prefix.len()));
        Ok(route)
    }

    fn listen(self: &Arc<Self>, addr: SocketAddr) -> Result<Arc<Listener>, String> {
        let std_listener = std::net::TcpListener::bind(addr)
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .map_err(|e| format!("cannot listen on {addr} for HTTP: {e}"))?;
        let bound = std_listener.local_addr().map_err(|e| e.to_string())?;
        let tcp = TcpListener::from_std(std_listener).map_err(|e| e.to_string())?;
        let listener = Arc::new(Listener {
            addr: bound,
            routes: Mutex::default(),
        });
        tokio::spawn(accept(
            tcp,
            listener.clone(),
            self.clone(),
            self.stopping.subscribe(),
        ));
        Ok(listener)
    }

    /// Stops every listener and waits, up to `grace`, for the requests in
    /// flight to finish.
    pub(crate) async fn shutdown(&self, grace: Duration) {
        self.stopping.send_replace(true);
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let done = self.in_flight.done.notified();
            if self.in_flight.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, done).await.is_err() {
                return;
            }
        }
    }

    async fn dispatch(
        &self,
        listener: &Listener,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> HttpResponse {
        let path = request.uri().path().to_owned();
        let route = lock(&listener.routes)
            .iter()
            .find(|route| under(&path, &route.prefix))
            .cloned();
        let Some(route) = route else {
            return plain(
                StatusCode::NOT_FOUND,
                format!("no component is mounted at {path}\n"),
            );
        };
        let started = Instant::now();
        let response = self.serve_on(&route, request).await;
        self.metrics.observe_http(
            &route.actor,
            &route.prefix,
            response.status(),
            started.elapsed(),
        );
        response
    }

    async fn serve_on(
        &self,
        route: &Route,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> HttpResponse {
        let serving = match route.current() {
            Ok(serving) => serving,
            Err(why) => {
                return plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("`{}` is not in service: {why}\n", route.actor),
                );
            }
        };
        let declared = request
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|length| length > serving.max_body_bytes) {
            return too_large(serving.max_body_bytes);
        }
        let (mut parts, body) = request.into_parts();
        parts.uri = match below(&parts.uri, &route.prefix) {
            Some(uri) => uri,
            None => return plain(StatusCode::BAD_REQUEST, "the path does not parse\n".into()),
        };
        let max = serving.max_body_bytes;
        let body = http_body_util::Limited::new(body, max as usize)
            .map_err(move |_| wasmtime_wasi_http::Error::HttpRequestBodySize(Some(max)));
        let request = hyper::Request::from_parts(parts, body);
        self.in_flight.count.fetch_add(1, Ordering::SeqCst);
        let _guard = InFlightGuard(self.in_flight.clone());
        let (crashes, incarnation) = (serving.crashes.clone(), serving.incarnation);
        let answer = serve(
            serving.compiled.clone(),
            &serving.setup,
            request,
            move |crash| {
                let _ = crashes.send((incarnation, crash));
            },
        )
        .await;
        match answer {
            Answer::Response(response) => response,
            Answer::Crashed(crash) => plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("`{}` crashed on this request: {crash}\n", route.actor),
            ),
            Answer::GuestError(code) => plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("`{}` answered with an error: {code:?}\n", route.actor),
            ),
            Answer::NoResponse => plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("`{}` returned without a response\n", route.actor),
            ),
            Answer::NotHandled(why) => plain(
                StatusCode::BAD_REQUEST,
                format!("`{}` cannot take this request: {why}\n", route.actor),
            ),
        }
    }
}

fn too_large(max: u64) -> HttpResponse {
    plain(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is over {max} bytes\n"),
    )
}

/// `/` for the root prefix (kept as the empty string).
fn shown(prefix: &str) -> &str {
    if prefix.is_empty() { "/" } else { prefix }
}

/// Whether `path` is `prefix` or below it (`/api` holds `/api` and
/// `/api/x`, not `/apix`).
fn under(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.is_empty() || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// `uri` with `prefix` taken off its path (`/` at least), query kept.
fn below(uri: &hyper::Uri, prefix: &str) -> Option<hyper::Uri> {
    let path = uri.path().strip_prefix(prefix).unwrap_or(uri.path());
    let path = if path.is_empty() { "/" } else { path };
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    hyper::Uri::from_parts(parts).ok()
}

/// Accepts connections on `tcp` until the host stops, then lets the open
/// ones finish their requests.
async fn accept(
    tcp: TcpListener,
    listener: Arc<Listener>,
    front: Arc<HttpFront>,
    mut stopping: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    let places = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let place = tokio::select! {
            place = places.clone().acquire_owned() => match place {
                Ok(place) => place,
                Err(_) => break,
            },
            () = async { drop(stopping.wait_for(|stop| *stop).await) } => break,
        };
        let stream = tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!("accepting an HTTP connection on {}: {error}", listener.addr);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = async { drop(stopping.wait_for(|stop| *stop).await) } => break,
        };
        let _ = stream.set_nodelay(true);
        let (listener, front) = (listener.clone(), front.clone());
        let service = hyper::service::service_fn(move |request| {
            let (listener, front) = (listener.clone(), front.clone());
            async move { Ok::<_, Infallible>(front.dispatch(&listener, request).await) }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(place);
        });
    }
    drop(tcp);
    graceful.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::{below, under};

    #[test]
    fn a_prefix_holds_its_own_path_and_those_below_only() {
        assert!(under("/api", "/api") && under("/api/x", "/api") && !under("/apix", "/api"));
        assert!(under("/anything", ""));
        let uri = "/api/users?x=1".parse().unwrap();
        assert_eq!(below(&uri, "/api").unwrap().to_string(), "/users?x=1");
        assert_eq!(
            below(&"/api".parse().unwrap(), "/api").unwrap().to_string(),
            "/"
        );
        assert_eq!(
            below(&"/a/b".parse().unwrap(), "").unwrap().to_string(),
            "/a/b"
        );
    }
}
