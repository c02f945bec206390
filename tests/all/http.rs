//! `wasi:http/proxy` handlers no one wrote for wasmvisor, served behind the
//! host's own listener, one fresh instance per request, and supervised: a
//! Rust handler on the `wasip2` crate (guest-examples/http-hello) and a
//! Python one made by componentize-py (guest-examples/python-http), reached
//! by a real HTTP client over loopback.

use std::time::Duration;

use wasmvisor::{
    ActorStatus, Backoff, ChildSpec, CrashReason, ExitReason, HealthSpec, Host, HttpSpec,
    SupervisorSpec, SupervisorStatus, World,
};

use crate::common::{plugin, supervise, wait_until, within};

/// A client that never goes through a proxy.
fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Starts `guest` as the actor `name` under a supervisor of its own (made
/// by `supervisor`), on a free loopback port at `route`; its URL.
async fn serve(
    host: &Host,
    name: &str,
    guest: &str,
    tweak: impl FnOnce(ChildSpec) -> ChildSpec,
    supervisor: impl FnOnce(SupervisorSpec) -> SupervisorSpec,
) -> (wasmvisor::SupervisorRef, String) {
    let http = HttpSpec::default()
        .listen("127.0.0.1:0".parse().unwrap())
        .route(format!("/{name}"));
    let child = tweak(ChildSpec::new(name, plugin(host, guest).await).http(http));
    let sup = supervise(
        host,
        supervisor(SupervisorSpec::new(format!("{name}-sup")).child(child)),
    )
    .await;
    let url = host
        .actor(name)
        .unwrap()
        .info()
        .url
        .expect("a served actor has a URL");
    (sup, url)
}

/// GET `url`: (status, body).
async fn get(url: &str) -> (u16, String) {
    let response = within("an HTTP answer", client().get(url).send())
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// GETs `url` until it answers `status`.
async fn until_status(url: &str, status: u16) -> String {
    within("the expected HTTP status", async {
        loop {
            let (got, body) = get(url).await;
            if got == status {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

#[tokio::test]
async fn a_wasi_http_handler_is_detected_and_serves_requests_under_its_route() {
    let host = Host::new().unwrap();
    assert_eq!(plugin(&host, "http_hello").await.world(), World::HttpProxy);
    let (_sup, url) = serve(&host, "web", "http_hello", |c| c, |s| s).await;
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/web"),
        "{url}"
    );
    assert_eq!(
        get(&format!("{url}/hello")).await,
        (200, "hello from rust".into())
    );
    // The prefix is taken off the path the component sees.
    assert_eq!(
        get(&format!("{url}/nope")).await,
        (404, "no route /nope".into())
    );
    let root = url.trim_end_matches("/web");
    let (status, body) = get(&format!("{root}/elsewhere")).await;
    assert_eq!(status, 404);
    assert!(
        body.contains("no component is mounted at /elsewhere"),
        "{body}"
    );
    let error = host.actor("web").unwrap().call("hi").await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("send it HTTP requests at http://"),
        "{error}"
    );
    let info = host.actor("web").unwrap().info();
    assert_eq!(info.world, Some(World::HttpProxy));
    assert_eq!(info.status, ActorStatus::Running);
    let metrics = host.metrics();
    assert!(
        metrics
            .contains(r#"wasmvisor_http_requests_total{actor="web",route="/web",status="2xx"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"wasmvisor_http_requests_total{actor="web",route="/web",status="4xx"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"wasmvisor_http_request_duration_seconds_count{actor="web",route="/web"} 2"#
        )
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_crashing_request_is_answered_500_while_others_are_served() {
    let host = Host::new().unwrap();
    let (_sup, url) = serve(&host, "web", "http_hello", |c| c, |s| s).await;
    let slow = tokio::spawn(get_owned(format!("{url}/slow?ms=400")));
    let (status, body) = get(&format!("{url}/crash")).await;
    assert_eq!(status, 500);
    assert!(body.contains("`web` crashed on this request"), "{body}");
    assert!(body.contains("http-hello was asked to crash"), "{body}");
    // The request that was in flight on its own instance is not touched.
    assert_eq!(
        within("the slow request", slow).await.unwrap(),
        (200, "slow done".into())
    );
    // The crash is the child's: its supervisor restarted it, and it serves.
    assert_eq!(
        until_status(&format!("{url}/hello"), 200).await,
        "hello from rust"
    );
    let info = host.actor("web").unwrap().info();
    assert_eq!(info.restarts, 1);
    assert!(
        matches!(
            info.last_exit,
            Some(ExitReason::Crash(CrashReason::Panic(_)))
        ),
        "{:?}",
        info.last_exit
    );
    assert!(
        host.metrics()
            .contains(r#"wasmvisor_crashes_total{actor="web",reason="panic"} 1"#)
    );
    host.shutdown().await;
}

async fn get_owned(url: String) -> (u16, String) {
    get(&url).await
}

#[tokio::test]
async fn a_handler_that_keeps_crashing_is_taken_out_of_service_and_recovers_after_its_backoff() {
    let host = Host::new().unwrap();
    // A backoff: between a crash and the restart, the route answers 503.
    let (_sup, url) = serve(
        &host,
        "flaky",
        "http_hello",
        |c| c,
        |s| s.backoff(Backoff::Fixed(Duration::from_millis(300))),
    )
    .await;
    assert_eq!(get(&format!("{url}/crash")).await.0, 500);
    let (status, body) = get(&format!("{url}/hello")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("`flaky` is not in service"), "{body}");
    assert_eq!(
        until_status(&format!("{url}/hello"), 200).await,
        "hello from rust"
    );

    // More crashes than the intensity allows: the supervisor gives up, and
    // the route says so instead of answering garbage.
    let (sup, url) = serve(
        &host,
        "doomed",
        "http_hello",
        |c| c,
        |s| s.intensity(2, Duration::from_secs(60)),
    )
    .await;
    for _ in 0..3 {
        let (status, _) = get(&format!("{url}/crash")).await;
        assert!(status == 500 || status == 503, "{status}");
        until_status_not(&format!("{url}/hello"), 503).await;
    }
    within("the give-up", sup.stopped()).await;
    assert!(matches!(sup.status(), SupervisorStatus::GaveUp(_)));
    let (status, body) = get(&format!("{url}/hello")).await;
    assert_eq!(status, 503);
    assert!(body.contains("it is stopped"), "{body}");
    host.shutdown().await;
}

/// GETs `url` until it answers anything but `status`, or its supervisor has
/// given up (then 503 is what it answers).
async fn until_status_not(url: &str, status: u16) {
    within("another HTTP status", async {
        loop {
            let (got, body) = get(url).await;
            if got != status || body.contains("it is stopped") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_handler_with_no_health_export_is_checked_with_a_health_request() {
    let host = Host::new().unwrap();
    let health = HealthSpec::default()
        .interval(Duration::from_millis(50))
        .initial_delay(Duration::from_millis(10))
        .threshold(2);
    let (_sup, _) = serve(
        &host,
        "fine",
        "http_hello",
        |c| {
            c.health(health.clone())
                .http(http_at("fine").health_path("/healthz"))
        },
        |s| s,
    )
    .await;
    let fine = host.actor("fine").unwrap();
    wait_until("a passed health request", || {
        fine.info().health == wasmvisor::HealthStatus::Healthy
    })
    .await;
    let (_sup, _) = serve(
        &host,
        "sick",
        "http_hello",
        |c| {
            c.health(health.clone())
                .http(http_at("sick").health_path("/sick"))
        },
        |s| s.intensity(100, Duration::from_secs(60)),
    )
    .await;
    let sick = host.actor("sick").unwrap();
    wait_until("the failing health requests to restart it", || {
        sick.info().restarts > 0
    })
    .await;
    let Some(ExitReason::HealthCheckFailed(why)) = sick.info().last_exit else {
        panic!("{:?}", sick.info().last_exit);
    };
    assert!(why.contains("GET /sick answered 500"), "{why}");
    host.shutdown().await;
}

/// An HTTP spec on a free loopback port, at `/name`.
fn http_at(name: &str) -> HttpSpec {
    HttpSpec::default()
        .listen("127.0.0.1:0".parse().unwrap())
        .route(format!("/{name}"))
}

#[tokio::test]
async fn request_bodies_and_times_are_limited() {
    let host = Host::new().unwrap();
    let (_sup, url) = serve(
        &host,
        "small",
        "http_hello",
        |c| {
            c.http(
                http_at("small")
                    .max_body_bytes(16)
                    .request_timeout(Duration::from_millis(300)),
            )
        },
        |s| s,
    )
    .await;
    let echo = |body: &'static str| {
        let url = format!("{url}/echo");
        async move {
            let response = client().post(url).body(body).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(echo("ten bytes!").await, (200, "ten bytes!".into()));
    let (status, body) = echo("far more than sixteen bytes").await;
    assert_eq!(status, 413, "{body}");
    let (status, body) = get(&format!("{url}/spin")).await;
    assert_eq!(status, 500);
    assert!(body.contains("deadline of 300 ms"), "{body}");
    until_status(&format!("{url}/hello"), 200).await;
    assert_eq!(
        host.actor("small").unwrap().info().last_exit,
        Some(ExitReason::Crash(CrashReason::DeadlineExceeded {
            limit_ms: 300
        }))
    );
    host.shutdown().await;
}

#[tokio::test]
async fn an_upgrade_lets_requests_in_flight_finish_and_sends_new_ones_to_the_new_version() {
    let host = Host::new().unwrap();
    let (sup, url) = serve(&host, "web", "http_hello", |c| c, |s| s).await;
    let in_flight: Vec<_> = (0..4)
        .map(|_| tokio::spawn(get_owned(format!("{url}/slow?ms=500"))))
        .collect();
    // Another language's handler, no SDK either: componentize-py's.
    let python = plugin(&host, "python-http").await;
    assert_eq!(python.world(), World::HttpProxy);
    sup.upgrade_child("web", python).await.unwrap();
    assert_eq!(
        get(&format!("{url}/hello")).await,
        (200, "hello from python".into())
    );
    for request in in_flight {
        assert_eq!(
            within("a request in flight", request).await.unwrap(),
            (200, "slow done".into())
        );
    }
    // A crash of the new version on probation rolls the upgrade back: the
    // route serves the previous version again.
    assert_eq!(get(&format!("{url}/crash")).await.0, 500);
    assert_eq!(
        until_status(&format!("{url}/hello"), 200).await,
        "hello from rust"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_shutdown_drains_the_requests_in_flight() {
    let host = Host::new().unwrap();
    let (_sup, url) = serve(&host, "web", "http_hello", |c| c, |s| s).await;
    let slow = tokio::spawn(get_owned(format!("{url}/slow?ms=400")));
    // Once it is in flight (the live instances: the actor's and the request's).
    wait_until("the request to be in flight", || host.live_instances() == 2).await;
    within("the shutdown", host.shutdown()).await;
    assert_eq!(
        within("the slow request", slow).await.unwrap(),
        (200, "slow done".into())
    );
}

/// The operator's path: a handler dropped into the plugin directory with an
/// `[http]` manifest is served where it says, and `wasmvisor run` prints
/// where.
#[tokio::test]
async fn a_dropped_handler_is_served_where_its_manifest_says() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate::common::guest("http_hello"),
        dir.path().join("web.wasm"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("web.toml"),
        "[http]\nlisten = \"127.0.0.1:0\"\nroute = \"/site\"\n",
    )
    .unwrap();
    let mut child = crate::cli::spawn_host(&[], dir.path(), None, &["--ephemeral"]);
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = crate::cli::rest_of_line(&mut lines, "http: web at ", "the served URL").await;
    assert!(url.ends_with("/site"), "{url}");
    assert_eq!(
        get(&format!("{url}/hello")).await,
        (200, "hello from rust".into())
    );
    let (ok, ps, _) = crate::cli::wasmvisor(dir.path(), &["ps"]).await;
    assert!(
        ok && ps
            .lines()
            .any(|l| l.starts_with("web") && l.contains("http-proxy")),
        "{ps}"
    );
    child.kill().await.unwrap();
}
