//! The dashboard at `/ui/`: its sign-in and cookie rules over plain HTTP,
//! and the page itself in a real headless Chromium (through chromedriver)
//! against `wasmvisor run` on the example plugins.
//!
//! The browser test runs where `chromedriver` and Chromium are installed
//! (`.ci/run` installs Debian's `chromium` and `chromium-driver`); elsewhere
//! it says it is skipped, unless `WASMVISOR_REQUIRE_BROWSER` is set, which
//! makes a missing browser a failure (CI sets it). With
//! `WASMVISOR_SCREENSHOT=PATH` it saves a screenshot of the page at the end
//! (how `docs/images/dashboard.png` is made: `just screenshot`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use tokio::io::AsyncBufReadExt;

use crate::cli::{RunningHost, start_host, stop_host, wasmvisor};
use crate::common::{guest, within};

/// A plugin directory with the examples the page is tried on.
fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["counter", "crasher", "memo", "vitals"] {
        std::fs::copy(guest(name), dir.path().join(format!("{name}.wasm"))).unwrap();
    }
    dir
}

/// An HTTP client that shows redirects instead of following them.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn port_of(host: &RunningHost) -> u16 {
    host.admin.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_signs_in_with_the_token_and_its_cookie_changes_nothing_without_the_csrf_header()
 {
    let dir = plugin_dir();
    let host = start_host(dir.path()).await;
    let base = format!("http://{}", host.admin);
    let http = http();
    let cookie = format!("wasmvisor-admin-{}={}", port_of(&host), host.token);

    // Not signed in: the sign-in form, and nothing of the host.
    let page = http.get(format!("{base}/ui/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Admin token"), "{html}");
    assert!(
        !html.contains("app.js") && !html.contains("crasher"),
        "{html}"
    );

    // A wrong token: refused, and no cookie.
    let wrong = http
        .get(format!("{base}/ui/?token=not-the-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("not this host's admin token")
    );

    // The right token: a cookie for this port only, out of scripts' reach,
    // and a redirect that drops the token from the address.
    for signed_in in [
        http.get(format!("{base}/ui/?token={}", host.token))
            .send()
            .await
            .unwrap(),
        http.post(format!("{base}/ui/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={}", host.token))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
        assert_eq!(signed_in.headers()[LOCATION], "/ui/");
        let set = signed_in.headers()[SET_COOKIE].to_str().unwrap();
        assert!(set.starts_with(&format!("{cookie};")), "{set}");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
    }

    // With the cookie: the page, and the API to read.
    let page = http
        .get(format!("{base}/ui/"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("/ui/app.js"));
    let tree: serde_json::Value = http
        .get(format!("{base}/v1/tree"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let counter = tree
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["name"] == "counter")
        .unwrap();
    assert_eq!(counter["strategy"], "one-for-one");
    assert_eq!(counter["restart_budget"]["used"], 0);

    // Changes need the CSRF header on top of the cookie.
    let restart = format!("{base}/v1/actors/counter/restart");
    let forbidden = http
        .post(&restart)
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let listed = host.client().actors().await.unwrap();
    let counter = listed.iter().find(|a| a.name == "counter").unwrap();
    assert_eq!(
        counter.last_exit, None,
        "a refused restart must not restart"
    );
    let allowed = http
        .post(&restart)
        .header(COOKIE, &cookie)
        .header("x-wasmvisor-csrf", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);

    // Another port's cookie, or a stale token, signs nothing in.
    for other in [
        format!("wasmvisor-admin-{}={}", port_of(&host) ^ 1, host.token),
        format!("wasmvisor-admin-{}=stale", port_of(&host)),
    ] {
        let refused = http
            .get(format!("{base}/v1/tree"))
            .header(COOKIE, other)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }

    // Signing out expires the cookie.
    let out = http
        .post(format!("{base}/ui/logout"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert!(
        out.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );

    // The CLI prints the sign-in address.
    let (ok, out, err) = wasmvisor(&host.dir, &["dashboard"]).await;
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        format!("{base}/ui/?token={}", host.token),
        "{out}"
    );
    stop_host(host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tree_shows_restart_budgets_and_state_sizes() {
    let dir = plugin_dir();
    let host = start_host(dir.path()).await;
    let client = host.client();
    assert_eq!(client.call("counter", b"inc".to_vec()).await.unwrap(), b"1");
    assert!(client.call("crasher", b"panic".to_vec()).await.is_err());
    within("the crasher to restart", async {
        loop {
            let tree = client.tree().await.unwrap();
            let crasher = tree.iter().find(|node| node.name == "crasher").unwrap();
            if crasher.children[0].info.restarts == 1 {
                assert_eq!(crasher.restart_budget.used, 1);
                assert_eq!(crasher.restart_budget.left(), 2);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let counter = client
        .actors()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.name == "counter")
        .unwrap();
    // The key `count` and the value `1`.
    assert_eq!(counter.state_bytes, "count".len() as u64 + 1);
    stop_host(host).await;
}

/// A program from the environment variable `env`, or the first of `names`
/// on the PATH.
fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// chromedriver and a headless Chromium session it drives.
struct Browser {
    client: Client,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts one, or says why not (`None`: no browser on this machine).
    async fn start() -> Option<Browser> {
        let Some(driver) = find_program("WASMVISOR_CHROMEDRIVER", &["chromedriver"]) else {
            if std::env::var_os("WASMVISOR_REQUIRE_BROWSER").is_some() {
                panic!(
                    "WASMVISOR_REQUIRE_BROWSER is set but chromedriver is not on the PATH \
                     (Debian: apt-get install chromium chromium-driver)"
                );
            }
            eprintln!(
                "skipped: the dashboard's browser test needs chromedriver and Chromium \
                 (Debian: apt-get install chromium chromium-driver)"
            );
            return None;
        };
        let mut driver = tokio::process::Command::new(driver)
            .arg("--port=0")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::BufReader::new(driver.stdout.take().unwrap()).lines();
        let port = within("chromedriver to start", async {
            loop {
                let line = lines
                    .next_line()
                    .await
                    .unwrap()
                    .expect("chromedriver exited early");
                if let Some(port) = line
                    .split("started successfully on port ")
                    .nth(1)
                    .and_then(|rest| rest.trim_end_matches('.').parse::<u16>().ok())
                {
                    return port;
                }
            }
        })
        .await;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let profile = tempfile::tempdir().unwrap();
        let mut options = serde_json::json!({
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-extensions", "--no-first-run",
                "--window-size=1500,1000", "--hide-scrollbars",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        });
        if let Some(binary) = find_program("WASMVISOR_CHROMIUM", &[]) {
            options["binary"] = binary.display().to_string().into();
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = fantoccini::ClientBuilder::new(
            hyper_util::client::legacy::connect::HttpConnector::new(),
        )
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
        Some(Browser {
            client,
            _driver: driver,
            _profile: profile,
        })
    }
}

/// Waits until the element at `css` exists and its text passes `check`;
/// returns the text.
async fn text_until(
    client: &Client,
    css: &str,
    what: &str,
    check: impl Fn(&str) -> bool,
) -> String {
    within(what, async {
        loop {
            if let Ok(element) = client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
                && check(&text)
            {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

async fn click(client: &Client, css: &str) {
    let element = within(
        &format!("`{css}` to be there"),
        client.wait().for_element(Locator::Css(css)),
    )
    .await
    .unwrap();
    element.click().await.unwrap();
}

/// Selects `actor` in the page and sends it `message`; returns the reply
/// box's text once it has an answer.
async fn send_from_page(client: &Client, actor: &str, message: &str) -> String {
    click(client, &format!("tr[data-actor=\"{actor}\"] button.link")).await;
    let input = client.find(Locator::Id("message")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(message).await.unwrap();
    click(client, "#send").await;
    text_until(client, "#reply", "the reply box to answer", |text| {
        !text.is_empty() && !text.starts_with("waiting")
    })
    .await
}

/// Clicks `action` on `actor`'s row and answers the confirmation with
/// `answer` (`ok` or `cancel`).
async fn act_from_page(client: &Client, actor: &str, action: &str, answer: &str) {
    click(
        client,
        &format!("tr[data-actor=\"{actor}\"] button[data-action=\"{action}\"]"),
    )
    .await;
    client
        .wait()
        .for_element(Locator::Css("dialog#confirm[open]"))
        .await
        .unwrap();
    click(client, &format!("#confirm-{answer}")).await;
}

async fn instance_of(host: &RunningHost, name: &str) -> Option<u64> {
    let actors = host.client().actors().await.unwrap();
    actors
        .into_iter()
        .find(|a| a.name == name)
        .unwrap()
        .instance
}

#[tokio::test(flavor = "multi_thread")]
async fn in_a_browser_the_page_shows_the_tree_live_and_acts_on_actors() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let dir = plugin_dir();
    let host = start_host(dir.path()).await;
    let page = &browser.client;
    let base = format!("http://{}/ui/", host.admin);
    assert_eq!(
        host.client()
            .call("counter", b"inc".to_vec())
            .await
            .unwrap(),
        b"1"
    );

    // A wrong token is turned away at the sign-in form.
    page.goto(&format!("{base}?token=wrong")).await.unwrap();
    text_until(page, "#problem", "the sign-in form to refuse", |text| {
        text.contains("not this host's admin token")
    })
    .await;

    // The token signs in, and leaves the address bar.
    page.goto(&format!("{base}?token={}", host.token))
        .await
        .unwrap();
    assert_eq!(page.current_url().await.unwrap().as_str(), base);
    text_until(page, "#connection", "the event stream to connect", |t| {
        t == "live"
    })
    .await;
    for name in ["counter", "crasher", "memo", "vitals"] {
        text_until(
            page,
            &format!("tr[data-actor=\"{name}\"] [data-field=\"status\"]"),
            &format!("`{name}` in the tree, running"),
            |text| text == "running",
        )
        .await;
    }
    // The timeline starts with what the host kept from before the page opened.
    text_until(
        page,
        "#timeline li[data-subject=\"memo\"][data-kind=\"actor-started\"]",
        "memo's start, from before the page opened, in the timeline",
        |text| text.contains("instance"),
    )
    .await;
    text_until(
        page,
        "tr[data-actor=\"vitals\"] [data-field=\"health\"]",
        "vitals' health check",
        |text| text == "healthy",
    )
    .await;

    // Crash one through the send-message box: the page shows the crash,
    // then the restart, live.
    let reply = send_from_page(page, "crasher", "panic").await;
    assert!(
        reply.contains("did not reply") && reply.contains("boom: asked to panic"),
        "{reply}"
    );
    text_until(
        page,
        "tr[data-actor=\"crasher\"] [data-field=\"restarts\"]",
        "the crasher's restart count to go up",
        |text| text == "1",
    )
    .await;
    text_until(
        page,
        "tr[data-actor=\"crasher\"] [data-field=\"status\"]",
        "the crasher to run again",
        |text| text == "running",
    )
    .await;
    text_until(
        page,
        "tr[data-actor=\"crasher\"] [data-field=\"last-exit\"]",
        "the crasher's last exit",
        |text| text.contains("panic"),
    )
    .await;
    text_until(
        page,
        "section[data-supervisor=\"crasher\"] [data-field=\"sup-budget\"]",
        "the crasher's supervisor to show its budget used",
        |text| text.starts_with("restarts left: 2 of 3"),
    )
    .await;
    text_until(
        page,
        "#timeline li[data-subject=\"crasher\"][data-kind=\"actor-exited\"]",
        "the crash in the timeline",
        |text| text.contains("panic"),
    )
    .await;

    // Cancelled, a restart does nothing: the page sends no request.
    let before = instance_of(&host, "counter").await;
    act_from_page(page, "counter", "restart", "cancel").await;
    assert_eq!(
        send_from_page(page, "counter", "get").await,
        "counter replied\n1"
    );
    let notice = page.find(Locator::Id("notice")).await.unwrap();
    assert_eq!(notice.text().await.unwrap(), "");
    assert_eq!(instance_of(&host, "counter").await, before);

    // Confirmed, it restarts the actor, which comes back with its state.
    act_from_page(page, "counter", "restart", "ok").await;
    text_until(page, "#notice", "the restart to be done", |text| {
        text == "counter restarted"
    })
    .await;
    let after = instance_of(&host, "counter").await;
    assert!(
        after.is_some() && after != before,
        "{before:?} -> {after:?}"
    );
    assert_eq!(
        send_from_page(page, "counter", "get").await,
        "counter replied\n1"
    );

    // Stop and start.
    act_from_page(page, "memo", "stop", "ok").await;
    text_until(
        page,
        "tr[data-actor=\"memo\"] [data-field=\"status\"]",
        "memo to stop",
        |text| text.starts_with("stopped"),
    )
    .await;
    act_from_page(page, "memo", "start", "ok").await;
    text_until(
        page,
        "tr[data-actor=\"memo\"] [data-field=\"status\"]",
        "memo to run again",
        |text| text == "running",
    )
    .await;

    // The state keys of an actor.
    click(page, "tr[data-actor=\"counter\"] button.link").await;
    click(page, "#load-state").await;
    text_until(page, "#state", "counter's state", |text| {
        text.contains("count") && text.contains("1 key(s)")
    })
    .await;

    // The timeline, filtered to one actor.
    page.find(Locator::Id("timeline-filter"))
        .await
        .unwrap()
        .select_by_value("crasher")
        .await
        .unwrap();
    let shown = page
        .execute(
            "return [...document.querySelectorAll('#timeline li')]
                 .filter((li) => !li.hidden).map((li) => li.dataset.subject);",
            vec![],
        )
        .await
        .unwrap();
    let shown: Vec<String> = serde_json::from_value(shown).unwrap();
    assert!(
        !shown.is_empty() && shown.iter().all(|s| s == "crasher"),
        "{shown:?}"
    );

    if let Some(path) = std::env::var_os("WASMVISOR_SCREENSHOT") {
        save_screenshot(page, Path::new(&path)).await;
    }
    browser.client.close().await.unwrap();
    stop_host(host).await;
}

/// Saves the page as it looks (every actor's events in the timeline).
async fn save_screenshot(page: &Client, path: &Path) {
    page.find(Locator::Id("timeline-filter"))
        .await
        .unwrap()
        .select_by_value("")
        .await
        .unwrap();
    let png = page.screenshot().await.unwrap();
    std::fs::write(path, png).unwrap();
}
