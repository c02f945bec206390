//! A client of the admin endpoint (the `client` feature): what the CLI
//! uses, and what scripts and tests can use from Rust.

use wasmvisor::{ActorInfo, DeadLetter};

use crate::api::{
    Action, ActorDetail, ActorStarted, ErrorBody, ErrorCode, RunRequest, SupervisorNode, Upgraded,
};

/// Why a request to the admin endpoint got no answer the client could use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No host answers at the address.
    #[error(
        "cannot reach a wasmvisor host at {addr} ({source}); is `wasmvisor run` running? Point \
         the CLI at its directory with --dir (or WASMVISOR_DIR), or give --admin and --token"
    )]
    Unreachable {
        /// The address tried.
        addr: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The host refused the request, saying why.
    #[error("{message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The stable code of the refusal.
        code: ErrorCode,
        /// The host's reason.
        message: String,
    },
    /// The host answered an error status without an error body (not a
    /// wasmvisor host?).
    #[error("the host answered {status}")]
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// The answer could not be read or decoded, or a stream broke.
    #[error("{what}: {source}")]
    Read {
        /// What was being read.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ClientError {
    /// The code of the host's refusal, if it refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    fn read(what: &'static str, source: reqwest::Error) -> Self {
        ClientError::Read {
            what,
            source: Box::new(source),
        }
    }
}

/// Talks to a running host's admin endpoint.
#[derive(Debug, Clone)]
pub struct AdminClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl AdminClient {
    /// A client for the endpoint at `addr` (`host:port`), sending `token`
    /// with every request.
    pub fn new(addr: &str, token: Option<String>) -> Self {
        AdminClient {
            base: format!("http://{addr}"),
            token,
            // Never through a proxy: the endpoint is on loopback, and the
            // token must not go anywhere else.
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap_or_default(),
        }
    }

    /// Lists the host's actors.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the host cannot be reached, or what it answered.
    pub async fn actors(&self) -> Result<Vec<ActorInfo>, ClientError> {
        read_json(self.get("/v1/actors").await?).await
    }

    /// The supervision tree.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the host cannot be reached, or what it answered.
    pub async fn tree(&self) -> Result<Vec<SupervisorNode>, ClientError> {
        read_json(self.get("/v1/tree").await?).await
    }

    /// One actor, in detail.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the host cannot be reached, or what it answered.
    pub async fn actor(&self, name: &str) -> Result<ActorDetail, ClientError> {
        read_json(self.get(&format!("/v1/actors/{name}")).await?).await
    }

    /// Sends `message` to the actor `name` and returns its reply.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the host cannot be reached, or the actor's error.
    pub async fn call(&self, name: &str, message: Vec<u8>) -> Result<Vec<u8>, ClientError> {
        read_bytes(
            self.post(&format!("/v1/actors/{name}/call"), message)
                .await?,
        )
        .await
    }

    /// Sends `message` to the actor `name` without waiting for a reply.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the host cannot be reached, or why the message was
    /// not accepted.
    pub async fn cast(&self, name: &str, message: Vec<u8>) -> Result<(), ClientError> {
        self.post(&format!("/v1/actors/{name}/cast"), message)
            .await
            .map(drop)
    }

    /// Asks the actor's supervisor to restart, stop or start it, or kills
    /// it (an actor or a supervisor). A restart or a start returns what it
    /// came to (the instance, or none when the plugin ignored its start).
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the host cannot be reached, or why it refused.
    pub async fn act(
        &self,
        name: &str,
        action: Action,
    ) -> Result<Option<ActorStarted>, ClientError> {
        let response = self
            .post(&format!("/v1/actors/{name}/{action}"), Vec::new())
            .await?;
        match action {
            Action::Restart | Action::Start => read_json(response).await.map(Some),
            _ => Ok(None),
        }
    }

    /// Upgrades the actor `name` to the component `component` (the bytes of
    /// a `.wasm` file); returns the version it runs now.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the host cannot be reached, the component does not
    /// load (`invalid-plugin`), or the upgrade was refused and the running
    /// version goes on (`management`).
    pub async fn upgrade(&self, name: &str, component: Vec<u8>) -> Result<Upgraded, ClientError> {
        read_json(
            self.post(&format!("/v1/actors/{name}/upgrade"), component)
                .await?,
        )
        .await
    }

    /// Runs the actor's `wasi:cli` program once with `request`'s arguments
    /// and stdin, and returns how it ended (its exit code and output).
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the host cannot be reached, no such actor, or it is
    /// not a program (`wrong-world`).
    pub async fn run(
        &self,
        name: &str,
        request: &RunRequest,
    ) -> Result<wasmvisor::RunOutcome, ClientError> {
        let body = serde_json::to_vec(request).unwrap_or_default();
        read_json(self.post(&format!("/v1/actors/{name}/run"), body).await?).await
    }

    /// The actor's state, exported as JSON (see
    /// `wasmvisor::state::backup`).
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the host cannot be reached, or what it answered.
    pub async fn state(&self, name: &str) -> Result<serde_json::Value, ClientError> {
        read_json(self.get(&format!("/v1/actors/{name}/state")).await?).await
    }

    /// Lists the host's dead letters.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the host cannot be reached, or what it answered.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, ClientError> {
        read_json(self.get("/v1/dead-letters").await?).await
    }

    /// Replays dead letter `id` and returns the reply.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the host cannot be reached, or the call's error.
    pub async fn replay(&self, id: u64) -> Result<Vec<u8>, ClientError> {
        read_bytes(
            self.post(&format!("/v1/dead-letters/{id}/replay"), Vec::new())
                .await?,
        )
        .await
    }

    /// The host's metrics, in the Prometheus text format.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the host cannot be reached, or what it answered.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let response = self.get("/metrics").await?;
        response
            .text()
            .await
            .map_err(|e| ClientError::read("reading the metrics", e))
    }

    /// Subscribes to the host's lifecycle events: every event from the
    /// moment this returns is in the stream.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the host cannot be reached, or what it answered.
    pub async fn events(&self) -> Result<EventStream, ClientError> {
        self.event_stream("/v1/events").await
    }

    /// Subscribes to the host's lifecycle events, starting with the ones
    /// it kept that are numbered after `since` (0: all it kept).
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the host cannot be reached, or what it answered.
    pub async fn events_since(&self, since: u64) -> Result<EventStream, ClientError> {
        self.event_stream(&format!("/v1/events?since={since}"))
            .await
    }

    async fn event_stream(&self, path: &str) -> Result<EventStream, ClientError> {
        Ok(EventStream {
            response: self.get(path).await?,
            pending: String::new(),
            ready: std::collections::VecDeque::new(),
        })
    }

    /// The lifecycle events the host kept (see
    /// `Host::recent_events`), oldest first,
    /// as JSON.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the host cannot be reached, or what it answered.
    pub async fn recent_events(&self) -> Result<Vec<serde_json::Value>, ClientError> {
        read_json(self.get("/v1/events/recent").await?).await
    }

    /// Follows the host's lifecycle events, the ones it kept first;
    /// `on_event` gets each one's JSON, until the host goes away.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the host cannot be reached, or what it answered.
    pub async fn follow_events(&self, mut on_event: impl FnMut(&str)) -> Result<(), ClientError> {
        let mut events = self.events_since(0).await?;
        while let Some(event) = events.next().await? {
            on_event(&event);
        }
        Ok(())
    }

    async fn get(&self, path: &str) -> Result<reqwest::Response, ClientError> {
        self.send(self.http.get(self.url(path))).await
    }

    async fn post(&self, path: &str, body: Vec<u8>) -> Result<reqwest::Response, ClientError> {
        self.send(self.http.post(self.url(path)).body(body)).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; a failure to reach the host, or an error answer,
    /// becomes a message.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.map_err(|e| ClientError::Unreachable {
            addr: self.base.clone(),
            source: Box::new(e),
        })?;
        check(response).await
    }
}

/// A host's lifecycle events, as they happen (see [`AdminClient::events`]).
#[derive(Debug)]
pub struct EventStream {
    response: reqwest::Response,
    pending: String,
    ready: std::collections::VecDeque<String>,
}

impl EventStream {
    /// The next event's JSON; `None` once the host has closed the stream.
    ///
    /// # Errors
    ///
    /// [`ClientError::Read`] when the stream breaks.
    pub async fn next(&mut self) -> Result<Option<String>, ClientError> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Ok(Some(event));
            }
            let Some(chunk) = self
                .response
                .chunk()
                .await
                .map_err(|e| ClientError::read("the event stream broke", e))?
            else {
                return Ok(None);
            };
            self.pending.push_str(&String::from_utf8_lossy(&chunk));
            // Server-sent events end with a blank line; `data:` lines carry them.
            while let Some(end) = self.pending.find("\n\n") {
                let event: String = self.pending.drain(..end + 2).collect();
                for line in event.lines() {
                    if let Some(data) = line.strip_prefix("data:") {
                        self.ready.push_back(data.trim_start().to_owned());
                    }
                }
            }
        }
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, ClientError> {
    response
        .json()
        .await
        .map_err(|e| ClientError::read("the host sent an answer that cannot be read", e))
}

async fn read_bytes(response: reqwest::Response) -> Result<Vec<u8>, ClientError> {
    response
        .bytes()
        .await
        .map(|bytes| bytes.to_vec())
        .map_err(|e| ClientError::read("the reply could not be read", e))
}

async fn check(response: reqwest::Response) -> Result<reqwest::Response, ClientError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    match response.json::<ErrorBody>().await {
        Ok(body) => Err(ClientError::Refused {
            status,
            code: body.error,
            message: body.message,
        }),
        Err(_) => Err(ClientError::Status { status }),
    }
}
