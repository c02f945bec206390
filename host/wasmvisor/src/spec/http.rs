//! How a `wasi:http/proxy` component is served: the address of the
//! listener the host owns, the route prefix it is mounted under, the
//! request limits, and the health request when it exports no health check.

use std::net::SocketAddr;
use std::time::Duration;

/// How a `wasi:http/proxy` actor is served (ignored for other worlds).
///
/// Several actors may share one address with different routes; the
/// longest matching prefix wins, and the prefix is taken off the path the
/// component sees (`/api` mounted, `/api/users` arrives as `/users`).
///
/// ```
/// use std::time::Duration;
/// use wasmvisor::HttpSpec;
///
/// let http = HttpSpec::default()
///     .listen("127.0.0.1:8080".parse().unwrap())
///     .route("/api")
///     .request_timeout(Duration::from_secs(10))
///     .health_path("/healthz");
/// # drop(http);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSpec {
    pub(crate) listen: SocketAddr,
    pub(crate) route: String,
    pub(crate) max_body_bytes: u64,
    pub(crate) request_timeout: Duration,
    pub(crate) health_path: Option<String>,
}

impl Default for HttpSpec {
    /// `127.0.0.1:8080`, route `/`, bodies up to 16 MiB, 30 s per request,
    /// no health request.
    fn default() -> Self {
        HttpSpec {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            route: "/".into(),
            max_body_bytes: 16 << 20,
            request_timeout: Duration::from_secs(30),
            health_path: None,
        }
    }
}

impl HttpSpec {
    /// The address the host listens on (loopback by default; port 0 picks
    /// a free one, which the actor's info then shows).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The path prefix the component is mounted under (`/` by default).
    pub fn route(mut self, prefix: impl Into<String>) -> Self {
        self.route = prefix.into();
        self
    }

    /// The largest request body, in bytes; a larger one is answered 413.
    pub fn max_body_bytes(mut self, bytes: u64) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// How long one request may take, from its instance's start to the
    /// end of its body; past it the request is a `deadline-exceeded` crash.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The health check of a component that exports none: `GET PATH`
    /// (below the route) on the schedule of the child's
    /// [`HealthSpec`](crate::HealthSpec) must answer 2xx.
    pub fn health_path(mut self, path: impl Into<String>) -> Self {
        self.health_path = Some(path.into());
        self
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        for (what, path) in [
            ("route", Some(&self.route)),
            ("health_path", self.health_path.as_ref()),
        ] {
            if let Some(path) = path
                && !path.starts_with('/')
            {
                return Err(format!("the http {what} `{path}` must start with `/`"));
            }
        }
        if self.request_timeout.is_zero() {
            return Err("the http request_timeout must be more than zero".into());
        }
        super::limits::check_duration("the http request_timeout", self.request_timeout)
    }
}
