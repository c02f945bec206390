//! HTTP requests through a `wasi:http/proxy` actor against raw
//! wasmtime-wasi-http serving the same component with no supervision: the
//! same hyper HTTP/1 server, one fresh instance per request (as `wasmtime
//! serve` does for WASI 0.2), on an engine with the host's settings. Both are
//! driven by the same keep-alive clients, in this process.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::wasmvisor::{ChildSpec, Host, HttpSpec, SupervisorSpec};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::harness::{guest, median, percentile};
use crate::report::{Row, Rows};

/// Clients at once, and requests each sends, per round.
const CLIENTS: usize = 8;
const PER_CLIENT: usize = 250;
/// Rounds, alternating between the floor and wasmvisor; the median counts.
const ROUNDS: usize = 3;

pub(crate) async fn http_serving(rows: &mut Rows) {
    let hello = std::fs::read(guest("http_hello")).unwrap();
    let floor = format!("http://{}/hello", raw_server(&hello).await);
    let host = Host::new().unwrap();
    let plugin = host.load_plugin("http_hello", hello).await.unwrap();
    let http = HttpSpec::default().listen("127.0.0.1:0".parse().unwrap());
    host.start_supervisor(
        SupervisorSpec::new("web").child(ChildSpec::new("web", plugin).http(http)),
    )
    .await
    .unwrap();
    let ours = format!("{}/hello", host.actor("web").unwrap().info().url.unwrap());
    let (mut floor_rates, mut our_rates) = (Vec::new(), Vec::new());
    let (mut floor_latencies, mut our_latencies) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (rate, latencies) = load(&floor).await;
        floor_rates.push(rate);
        floor_latencies.extend(latencies);
        let (rate, latencies) = load(&ours).await;
        our_rates.push(rate);
        our_latencies.extend(latencies);
    }
    host.shutdown().await;
    let what = format!(
        "{CLIENTS} keep-alive clients, {PER_CLIENT} requests each, a fresh instance per request; \
         floor: raw wasmtime-wasi-http on the same server; median of {ROUNDS} alternating rounds"
    );
    rows.push(Row::rates(
        format!("HTTP requests per second through a `wasi:http` actor ({what})"),
        median(&mut our_rates),
        median(&mut floor_rates),
    ));
    for (name, p) in [("p50", 0.5), ("p99", 0.99)] {
        rows.push(Row::times(
            format!("HTTP request latency {name} (as above, all rounds)"),
            percentile(&mut our_latencies, p),
            percentile(&mut floor_latencies, p),
        ));
    }
}

/// Drives `url` with the clients: requests per second, and each latency.
async fn load(url: &str) -> (f64, Vec<Duration>) {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let start = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, url) = (client.clone(), url.parse::<hyper::Uri>().unwrap());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(PER_CLIENT);
                for _ in 0..PER_CLIENT {
                    let sent = Instant::now();
                    let response = client.get(url.clone()).await.unwrap();
                    assert!(response.status().is_success());
                    response.into_body().collect().await.unwrap();
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.unwrap());
    }
    let rate = (CLIENTS * PER_CLIENT) as f64 / start.elapsed().as_secs_f64();
    (rate, latencies)
}

/// The floor's store data: a WASI context and a `wasi:http` one.
struct RawHttp {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl WasiView for RawHttp {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RawHttp {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: wasmtime_wasi_http::default_hooks(),
        }
    }
}

/// Serves `component` with raw wasmtime-wasi-http on a free loopback port.
async fn raw_server(component: &[u8]) -> SocketAddr {
    let engine = Engine::new(&::wasmvisor::benchmarking::floor_config(None, None)).unwrap();
    let mut linker: Linker<RawHttp> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).unwrap();
    let component = wasmtime::component::Component::new(&engine, component).unwrap();
    let pre = Arc::new(ProxyPre::new(linker.instantiate_pre(&component).unwrap()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let pre = pre.clone();
            let engine = engine.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let (pre, engine) = (pre.clone(), engine.clone());
                    async move { Ok::<_, Infallible>(raw_request(&engine, &pre, request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

type Response = hyper::Response<wasmtime_wasi_http::p2::body::HyperOutgoingBody>;

/// One request on a fresh store and instance, as `wasmtime serve` does.
async fn raw_request(
    engine: &Engine,
    pre: &ProxyPre<RawHttp>,
    request: hyper::Request<hyper::body::Incoming>,
) -> Response {
    let mut store = Store::new(
        engine,
        RawHttp {
            wasi: WasiCtx::builder().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
        },
    );
    store.set_epoch_deadline(u64::MAX / 2);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let request = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, request)
        .unwrap();
    let out = store
        .data_mut()
        .http()
        .new_response_outparam(sender)
        .unwrap();
    let pre = pre.clone();
    tokio::spawn(async move {
        let proxy = pre.instantiate_async(&mut store).await.unwrap();
        let call = pin!(
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, request, out)
        );
        call.await.unwrap();
    });
    match receiver.await {
        Ok(Ok(response)) => response,
        _ => {
            let body = Full::new(Bytes::from_static(b"failed"))
                .map_err(wasmtime_wasi_http::Error::from)
                .boxed_unsync();
            let mut response = hyper::Response::new(body);
            *response.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}
