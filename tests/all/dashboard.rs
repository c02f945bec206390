//! The dashboard at `/ui/`: what it serves without the token and the
//! headers on every answer, over plain HTTP; and the page itself in a real
//! headless Chromium (through chromedriver) against `wasmvisor run` on the
//! example plugins.
//!
//! The browser test needs `chromedriver` and Chromium (`just test` installs
//! Debian's `chromium` and `chromium-driver`, or prints the command). Where
//! they are missing it fails, saying so, unless it is told to skip with
//! `WASMVISOR_SKIP_BROWSER=1`: then it passes as skipped, and says it. With
//! `WASMVISOR_SCREENSHOT=PATH` it saves a screenshot of the page at the end
//! (how `docs/images/dashboard.png` is made: `just screenshot`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use tokio::io::AsyncBufReadExt;

use crate::cli::{RunningHost, start_host, stop_host, wasmvisor};
use crate::common::{guest, within};

/// A plugin directory with the examples the page is tried on. The
/// crasher's supervisor counts restarts over 10 minutes, so that a restart
/// budget read after a crash cannot have refilled on a slow machine.
fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["counter", "crasher", "memo", "vitals"] {
        std::fs::copy(guest(name), dir.path().join(format!("{name}.wasm"))).unwrap();
    }
    std::fs::write(
        dir.path().join("crasher.toml"),
        "[supervisor]\nmax_restarts = 3\nwithin = \"10m\"\n",
    )
    .unwrap();
    dir
}

/// Checks the headers every answer of the endpoint carries.
fn assert_security_headers(response: &reqwest::Response) {
    let headers = response.headers();
    let what = response.url().path();
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    let policy = headers["content-security-policy"].to_str().unwrap();
    for rule in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(rule), "{what}: {policy}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_holds_nothing_of_the_host_and_its_data_needs_the_token_in_a_header() {
    let dir = plugin_dir();
    let host = start_host(dir.path()).await;
    let base = format!("http://{}", host.admin);
    let http = reqwest::Client::new();

    // The page and its files: served without the token, holding no data,
    // setting no cookie.
    for (path, kind) in [
        ("/ui/", "text/html"),
        ("/ui/app.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
    ] {
        let file = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(file.status(), StatusCode::OK, "{path}");
        assert_security_headers(&file);
        assert!(file.headers().get(SET_COOKIE).is_none(), "{path}");
        assert!(
            file.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(kind),
            "{path}"
        );
        let body = file.text().await.unwrap();
        assert!(
            !body.contains("crasher") && !body.contains(&host.token),
            "{path}"
        );
    }

    // The data: only with the token in the Authorization header; a cookie
    // carrying it counts for nothing.
    let tree = format!("{base}/v1/tree");
    for refused in [
        http.get(&tree).send().await.unwrap(),
        http.get(&tree)
            .header(COOKIE, format!("wasmvisor-admin={}", host.token))
            .send()
            .await
            .unwrap(),
        http.get(&tree)
            .bearer_auth("not-the-token")
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_security_headers(&refused);
    }
    let answer = http
        .get(&tree)
        .bearer_auth(&host.token)
        .send()
        .await
        .unwrap();
    assert_security_headers(&answer);
    let tree: serde_json::Value = answer.json().await.unwrap();
    let counter = tree
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["name"] == "counter")
        .unwrap();
    assert_eq!(counter["strategy"], "one-for-one");
    assert_eq!(counter["restart_budget"]["used"], 0);

    // The sign-in address carries the token after `#`: never sent to the host.
    let (ok, out, err) = wasmvisor(&host.dir, &["dashboard"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("{base}/ui/#token={}", host.token));
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

/// The environment variable that lets the browser test pass as skipped
/// where there is no browser.
const SKIP_BROWSER: &str = "WASMVISOR_SKIP_BROWSER";

/// What the browser test does on this machine: run with this chromedriver
/// (`Ok(Some)`), pass as skipped because `skip` asks for it (`Ok(None)`),
/// or fail, saying what is missing and how to get it (`Err`).
fn browser_plan(
    driver: Option<PathBuf>,
    skip: Option<std::ffi::OsString>,
) -> Result<Option<PathBuf>, String> {
    match (driver, skip) {
        (Some(driver), _) => Ok(Some(driver)),
        (None, Some(skip)) if !skip.is_empty() && skip != "0" => Ok(None),
        (None, _) => Err(format!(
            "the dashboard's browser test needs chromedriver and Chromium, and chromedriver \
             is not on the PATH: install them (`just browser`, or Debian: apt-get install \
             chromium chromium-driver), or set {SKIP_BROWSER}=1 to skip this test"
        )),
    }
}

#[test]
fn a_missing_browser_fails_the_test_unless_skipping_is_asked_for() {
    let driver = PathBuf::from("/usr/bin/chromedriver");
    assert_eq!(browser_plan(Some(driver.clone()), None), Ok(Some(driver)));
    let refused = browser_plan(None, None).unwrap_err();
    assert!(
        refused.contains("apt-get install chromium chromium-driver"),
        "{refused}"
    );
    assert!(refused.contains(SKIP_BROWSER), "{refused}");
    assert!(browser_plan(None, Some("0".into())).is_err());
    assert!(browser_plan(None, Some("".into())).is_err());
    assert_eq!(browser_plan(None, Some("1".into())), Ok(None));
}

impl Browser {
    /// Starts one; `None` when there is none and the test may skip (see
    /// [`browser_plan`]).
    async fn start() -> Option<Browser> {
        let plan = browser_plan(
            find_program("WASMVISOR_CHROMEDRIVER", &["chromedriver"]),
            std::env::var_os(SKIP_BROWSER),
        );
        let driver = match plan {
            Ok(Some(driver)) => driver,
            Ok(None) => {
                eprintln!("skipped, as {SKIP_BROWSER} asks: the dashboard's browser test");
                return None;
            }
            Err(why) => panic!("{why}"),
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

    // Without a token: the sign-in form, which turns a wrong one away.
    page.goto(&base).await.unwrap();
    let field = within(
        "the sign-in form",
        page.wait().for_element(Locator::Id("token")),
    )
    .await
    .unwrap();
    field.send_keys("wrong").await.unwrap();
    click(page, "#sign-in-form button").await;
    text_until(page, "#problem", "the sign-in form to refuse", |text| {
        text.contains("not this host's admin token")
    })
    .await;
    assert!(
        page.find(Locator::Css("tr[data-actor]")).await.is_err(),
        "nothing of the host before signing in"
    );

    // The address `wasmvisor dashboard` prints signs in, and the token
    // leaves the address bar.
    page.goto(&format!("{base}#token={}", host.token))
        .await
        .unwrap();
    text_until(page, "#connection", "the event stream to connect", |t| {
        t == "live"
    })
    .await;
    assert_eq!(page.current_url().await.unwrap().as_str(), base);
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
    text_until(
        page,
        "tr[data-actor=\"vitals\"] [data-field=\"world\"]",
        "vitals' world",
        |text| text == "plugin",
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
        |text| text == "restarts left: 2 of 3 per 10 min",
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

    // A reload keeps the tab signed in, and the timeline comes back from
    // the events the host kept.
    page.refresh().await.unwrap();
    text_until(
        page,
        "#timeline li[data-subject=\"crasher\"][data-kind=\"actor-exited\"]",
        "the crash in the timeline after a reload",
        |text| text.contains("panic"),
    )
    .await;
    // Signing out forgets the token: the sign-in form again, and a reload
    // does not bring the tree back.
    click(page, "#sign-out").await;
    page.wait()
        .for_element(Locator::Css("#sign-in:not([hidden])"))
        .await
        .unwrap();
    page.refresh().await.unwrap();
    page.wait()
        .for_element(Locator::Css("#sign-in:not([hidden])"))
        .await
        .unwrap();
    let dashboard = page.find(Locator::Id("dashboard")).await.unwrap();
    assert!(!dashboard.is_displayed().await.unwrap());
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
