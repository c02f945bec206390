//! One HTTP request served by a `wasi:http/proxy` component, as `wasmtime
//! serve` serves it: a fresh store and instance from the cached
//! `InstancePre`, the guest's `incoming-handler.handle` on a task of its
//! own (it goes on writing the body after it has set the response), under
//! the request's deadline and the actor's limits and capabilities.
//!
//! A trap before the response is set answers 500 with the reason; a trap
//! after it cuts the body off. Either way the crash is reported to the
//! caller's `on_crash`, once, so that the actor's supervisor counts it.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::call::bounded;
use super::compiled::Compiled;
use super::crash::classify;
use super::store::{InstanceCount, arm, new_store};
use crate::error::CrashReason;
use crate::health::HealthStatus;
use crate::spec::{Capabilities, Limits, Stdio};
use crate::state::view::StateView;

/// A response as hyper sends it.
pub(crate) type HttpResponse = hyper::Response<HyperOutgoingBody>;

/// What a request's instance is made with.
#[derive(Clone)]
pub(crate) struct RequestSetup {
    pub(crate) actor: Arc<str>,
    pub(crate) limits: Limits,
    pub(crate) capabilities: Capabilities,
    pub(crate) stdio: Stdio,
    /// How long the request may take, the guest's writing of the body
    /// included.
    pub(crate) timeout: Duration,
    /// The host's count of live instances, which each request's joins.
    pub(crate) instances: InstanceCount,
}

/// How a request went, before its body was sent.
pub(crate) enum Answer {
    /// The guest set this response (its body may still be coming).
    Response(HttpResponse),
    /// The guest crashed before it set one (reported to `on_crash` too).
    Crashed(CrashReason),
    /// The guest answered with an error code instead of a response.
    GuestError(ErrorCode),
    /// The guest returned without setting a response.
    NoResponse,
    /// The request could not be handed to the guest, or its instance could
    /// not be set up (a capability that cannot be granted): why.
    NotHandled(String),
}

/// Serves `request` with a fresh instance of `compiled`. `on_crash` hears
/// of a crash of the guest, before or after it set the response.
pub(crate) async fn serve<B>(
    compiled: Arc<Compiled>,
    setup: &RequestSetup,
    request: hyper::Request<B>,
    on_crash: impl FnOnce(CrashReason) + Send + 'static,
) -> Answer
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    let Some(indices) = compiled.exports.http.clone() else {
        return Answer::NotHandled("the component exports no `wasi:http/incoming-handler`".into());
    };
    let mut store = match new_store(
        &compiled.engine,
        setup.actor.clone(),
        &setup.limits,
        (&setup.capabilities, &setup.stdio),
        StateView::default(),
        &Arc::default(),
    ) {
        Ok(store) => store,
        Err(why) => return Answer::NotHandled(why),
    };
    store.data_mut().counted = Some(setup.instances.enter());
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let handed = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, request)
        .and_then(|request| {
            let out = store.data_mut().http().new_response_outparam(sender)?;
            Ok((request, out))
        });
    let (request, out) = match handed {
        Ok(handed) => handed,
        Err(error) => return Answer::NotHandled(format!("{error:#}")),
    };
    arm(&mut store, setup.timeout);
    let timeout = setup.timeout;
    let deadlines = compiled.engine.settings().deadlines.clone();
    let guest = tokio::spawn(async move {
        let deadline = store.data().deadline;
        let result = async {
            let instance = {
                let instantiate = pin!(compiled.pre.instantiate_async(&mut store));
                bounded(&deadlines, deadline, None, instantiate).await?
            };
            let handler = indices.load(&mut store, &instance)?;
            let call = pin!(handler.call_handle(&mut store, request, out));
            bounded(&deadlines, deadline, None, call).await
        }
        .await;
        let crash = result
            .err()
            .map(|error| classify(error, store.data(), timeout));
        // The store (and the response's sender, if never used) goes first,
        // so that the waiting side sees the end before the report.
        drop(store);
        if let Some(crash) = &crash {
            on_crash(crash.clone());
        }
        crash
    });
    match receiver.await {
        Ok(Ok(response)) => Answer::Response(response),
        Ok(Err(code)) => Answer::GuestError(code),
        // The sender dropped unused: the guest ended without a response.
        Err(_) => match guest.await {
            Ok(Some(crash)) => Answer::Crashed(crash),
            Ok(None) => Answer::NoResponse,
            Err(join) => Answer::Crashed(CrashReason::Trap(format!(
                "the request's task failed: {join}"
            ))),
        },
    }
}

/// The health check of a `wasi:http` component that exports none: a
/// `GET` of `path` through a fresh instance must answer 2xx.
pub(crate) struct HttpHealth {
    pub(crate) compiled: Arc<Compiled>,
    pub(crate) setup: RequestSetup,
    pub(crate) path: String,
}

impl HttpHealth {
    /// Sends the health request, cut off after `timeout`: its verdict, or
    /// the crash of its instance.
    pub(crate) async fn check(&self, timeout: Duration) -> Result<HealthStatus, CrashReason> {
        let request = hyper::Request::get(&self.path)
            .header(hyper::header::HOST, "localhost")
            .body(http_body_util::Empty::<Bytes>::new());
        let request = match request {
            Ok(request) => request,
            Err(error) => {
                return Ok(HealthStatus::Unhealthy(format!(
                    "GET {}: {error}",
                    self.path
                )));
            }
        };
        let setup = RequestSetup {
            timeout,
            ..self.setup.clone()
        };
        let verdict =
            |status: String| HealthStatus::Unhealthy(format!("GET {} {status}", self.path));
        match serve(self.compiled.clone(), &setup, request, drop).await {
            Answer::Response(response) if response.status().is_success() => {
                Ok(HealthStatus::Healthy)
            }
            Answer::Response(response) => Ok(verdict(format!("answered {}", response.status()))),
            Answer::Crashed(crash) => Err(crash),
            Answer::GuestError(code) => Ok(verdict(format!("answered with an error: {code:?}"))),
            Answer::NoResponse => Ok(verdict("answered nothing".into())),
            Answer::NotHandled(why) => Ok(verdict(why)),
        }
    }
}

/// A plain-text response of the host's own.
pub(crate) fn plain(status: hyper::StatusCode, text: String) -> HttpResponse {
    let body = Full::new(Bytes::from(text))
        .map_err(wasmtime_wasi_http::Error::from)
        .boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
