//! What a trader sees, on a real (virtual) desktop: the built app, its tray icon read
//! over D-Bus as a panel reads it, its notifications on the bus, its window over
//! WebDriver, and the feed simulator injecting faults.
//!
//! Run with `scripts/e2e.sh` (Xvfb, a private D-Bus session and dunst are started
//! there). Scenarios run one at a time: the app is single-instance per session bus.

use std::time::{Duration, Instant};

use serde_json::json;
use uplink_e2e::{scratch, wait_for, App, Notifications, Tray, TrayItem};
use uplink_sim::{DropMode, SimConfig, Simulator};

const T: Duration = Duration::from_secs(20);

/// One scenario's desktop: tray watcher, notification log, app.
struct Desk {
    name: &'static str,
    tray: Tray,
    notes: Notifications,
    app: Option<App>,
    item: TrayItem,
    dir: std::path::PathBuf,
}

/// Fast settings for `url`: 1 s heartbeat and pong deadline, short backoff.
fn fast(url: &str, attempts: u32) -> serde_json::Value {
    json!({
        "feed_url": url,
        "heartbeat_interval_secs": 1.0,
        "pong_timeout_secs": 1.0,
        "reconnect_base_delay_secs": 0.5,
        "reconnect_max_delay_secs": 1.0,
        "max_reconnect_attempts": attempts,
        "watchlist": ["AAPL", "MSFT"],
    })
}

impl Desk {
    async fn start(name: &'static str, settings: Option<serde_json::Value>) -> Desk {
        let dir = scratch(name);
        std::fs::create_dir_all(dir.join("config")).unwrap();
        if let Some(s) = settings {
            std::fs::write(dir.join("config/settings.json"), s.to_string()).unwrap();
        }
        let tray = Tray::start().await;
        let notes = Notifications::watch();
        let app = launch(&dir).await;
        let item = tray.item(T).await;
        Desk {
            name,
            tray,
            notes,
            app: Some(app),
            item,
            dir,
        }
    }

    fn app(&self) -> &App {
        self.app.as_ref().expect("app running")
    }

    /// Waits until the tray icon shows `colour`.
    async fn tray_is(&self, colour: &str, within: Duration) {
        wait_for(&format!("tray icon {colour}"), within, || async {
            match self.tray.icon_colour(&self.item).await {
                Ok(c) if c == colour => Ok(()),
                Ok(c) => Err(format!(
                    "icon is {c}; label {:?}",
                    self.tray.prop(&self.item, "XAyatanaLabel").await
                )),
                Err(e) => Err(e),
            }
        })
        .await;
    }

    /// Waits until the window's indicator says `state`.
    async fn window_is(&self, state: &str, within: Duration) {
        wait_for(&format!("window state {state}"), within, || async {
            match self.app().attr("[data-testid=indicator]", "data-state") {
                Ok(s) if s == state => Ok(()),
                Ok(s) => Err(format!(
                    "window shows {s}: {:?}",
                    self.app().text("[data-testid=state-reason]")
                )),
                Err(e) => Err(e),
            }
        })
        .await;
    }

    /// Waits until the settings form shows the backend's settings; it cannot be
    /// edited before.
    async fn settings_loaded(&self) {
        wait_for("the settings form to load", T, || async {
            match self.app().attr("[data-testid=settings]", "data-loaded") {
                Ok(v) if v == "true" => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
    }

    async fn label(&self) -> String {
        self.tray
            .prop(&self.item, "XAyatanaLabel")
            .await
            .unwrap_or_default()
    }

    fn shot(&self, step: &str) {
        self.app().screenshot(&format!("{}-{step}", self.name));
    }

    /// Clicks Reconnect in the window and waits for the feed to see a new connection.
    async fn reconnect_from_window(&self, feed: &Simulator) {
        let before = feed.stats().connections_total;
        self.app().click("[data-testid=reconnect]").unwrap();
        wait_for("a new connection after Reconnect", T, || async {
            let now = feed.stats().connections_total;
            if now > before {
                Ok(())
            } else {
                Err(format!("{now} connections"))
            }
        })
        .await;
    }

    /// Waits for a first price of `symbol`, then for it to change; returns the first.
    async fn price_moves(&self, symbol: &str) -> String {
        let css = format!("[data-testid=quote-{symbol}] .price");
        let first = wait_for(&format!("a {symbol} price"), T, || async {
            match self.app().text(&css) {
                Ok(p) if p != "–" => Ok(p),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        wait_for(&format!("the {symbol} price to move"), T, || async {
            match self.app().text(&css) {
                Ok(p) if p != first => Ok(()),
                other => Err(format!("still {other:?}")),
            }
        })
        .await;
        first
    }

    async fn restart(&mut self) {
        if let Some(app) = self.app.take() {
            tokio::task::block_in_place(|| app.quit());
        }
        self.tray.clear();
        self.app = Some(launch(&self.dir).await);
        self.item = self.tray.item(T).await;
    }
}

async fn launch(dir: &std::path::Path) -> App {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || App::launch(&dir))
        .await
        .expect("launch")
}

async fn sim(config: SimConfig) -> Simulator {
    Simulator::start(config).await.expect("simulator")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s1_first_start_uses_the_demo_feed_and_shows_live_data() {
    let d = Desk::start("s1-first-start", None).await;
    d.tray_is("green", T).await;
    d.window_is("connected", T).await;
    assert!(
        d.label().await.starts_with("Connected"),
        "{}",
        d.label().await
    );
    assert_eq!(d.tray.prop(&d.item, "Status").await.unwrap(), "Active");
    assert_eq!(
        d.app().attr("[data-testid=demo-badge]", "hidden").ok(),
        None,
        "the demo feed is labelled"
    );
    // A latency figure arrives within the first second (ping right after connecting).
    let latency = wait_for("a latency figure", T, || async {
        match d.app().text("[data-testid=stat-latency-last]") {
            Ok(t) if t.ends_with("ms") => Ok(t),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    // Prices move.
    let first = d.price_moves("AAPL").await;
    d.shot("connected");
    assert!(
        d.notes.seen().is_empty(),
        "no notification on a healthy start: {:?}",
        d.notes.seen()
    );
    // The webview renders without the DMABUF renderer, which burns a core on machines
    // without GPU acceleration: the app set that for its web process, not this harness.
    // (The name is `uplink_app::DMABUF_SWITCH`; spelled out so this crate does not
    // link the app.)
    const SWITCH: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";
    assert!(
        std::env::var_os(SWITCH).is_none(),
        "the harness must not set {SWITCH} itself"
    );
    let web = webkit_web_process_environments();
    assert!(!web.is_empty(), "a WebKitWebProcess is running");
    let wanted = format!("{SWITCH}=1");
    assert!(
        web.iter().all(|env| env.contains(&wanted)),
        "every web process inherits {wanted}"
    );
    eprintln!("s1: latency {latency}, first AAPL {first}");
}

/// The environments of the app's WebKit web processes ([`web_processes`]), read
/// from /proc.
fn webkit_web_process_environments() -> Vec<Vec<String>> {
    web_processes()
        .into_iter()
        .filter_map(|pid| std::fs::read(format!("/proc/{pid}/environ")).ok())
        .map(|raw| {
            raw.split(|b| *b == 0)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s2_dropped_connections_turn_yellow_then_green_again() {
    let s = sim(SimConfig::default()).await;
    let d = Desk::start("s2-drop", Some(fast(&s.url(), 10))).await;
    d.tray_is("green", T).await;
    // The server drops everyone and is down for two seconds.
    s.refuse(Some(Duration::from_secs(2)));
    s.drop_all(DropMode::Close { code: 1001 });
    d.tray_is("yellow", T).await;
    d.window_is("reconnecting", T).await;
    // The window and the tray say it in the same words (the engine's status label).
    let detail = d.app().text("[data-testid=state-detail]").unwrap();
    assert!(
        detail.starts_with("Reconnecting · attempt "),
        "attempt and countdown shown: {detail}"
    );
    let label = d.label().await;
    assert!(label.starts_with("Reconnecting · attempt "), "{label}");
    d.shot("reconnecting");
    d.tray_is("green", T).await;
    d.window_is("connected", T).await;
    let log = d.app().text("[data-testid=event-log]").unwrap();
    assert!(log.contains("Reconnecting: attempt 1/10"), "{log}");
    assert!(log.contains("code 1001 going away"), "{log}");
    d.shot("recovered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s4_giving_up_turns_red_notifies_once_and_the_tray_reconnects() {
    let s = sim(SimConfig::default()).await;
    let d = Desk::start("s4-give-up", Some(fast(&s.url(), 3))).await;
    d.tray_is("green", T).await;
    // Refuse past the last attempt, twice over: the link flaps back in between.
    for round in 0..2 {
        s.refuse(None);
        s.drop_all(DropMode::Close { code: 1001 });
        d.tray_is("red", T).await;
        d.window_is("error", T).await;
        let reason = d.app().text("[data-testid=state-reason]").unwrap();
        assert!(
            reason.starts_with("gave up after 3 attempts: connection refused"),
            "{reason}"
        );
        let header = d.app().text("[data-testid=indicator-label]").unwrap();
        assert!(
            header.starts_with("Error · gave up after 3 attempts"),
            "the header agrees: {header}"
        );
        if round == 0 {
            d.shot("gave-up");
            wait_for("the give-up notification", T, || async {
                let seen = d.notes.seen();
                if seen.is_empty() {
                    Err("none yet".into())
                } else {
                    Ok(())
                }
            })
            .await;
        }
        // "Reconnect now" from the tray menu, once the server accepts again.
        s.accept();
        d.tray.click(&d.item, "Reconnect now").await.unwrap();
        d.tray_is("green", T).await;
        d.window_is("connected", T).await;
    }
    let seen = d.notes.seen();
    assert_eq!(
        seen.len(),
        1,
        "exactly one notification although the link failed twice: {seen:?}"
    );
    assert_eq!(seen[0].summary, "Uplink gave up reconnecting");
    assert!(
        seen[0]
            .body
            .starts_with("gave up after 3 attempts: connection refused"),
        "{:?}",
        seen[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s5_reconnect_button_and_tray_disconnect() {
    let s = sim(SimConfig::default()).await;
    let d = Desk::start("s5-controls", Some(fast(&s.url(), 10))).await;
    d.window_is("connected", T).await;
    d.reconnect_from_window(&s).await;
    d.window_is("connected", T).await;
    d.tray_is("green", T).await;

    // Disconnect from the tray menu: gray, and it stays gray.
    d.tray.click(&d.item, "Disconnect").await.unwrap();
    d.tray_is("gray", T).await;
    d.window_is("disconnected", T).await;
    assert_eq!(d.label().await, "Disconnected");
    let menu = d.tray.menu(&d.item).await.unwrap();
    assert!(
        menu.iter().any(|m| m.label == "Connect"),
        "the toggle now offers Connect: {menu:?}"
    );
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert_eq!(
            d.tray.icon_colour(&d.item).await.unwrap(),
            "gray",
            "stays disconnected"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(s.stats().connections_open, 0, "no connection to the feed");
    d.shot("disconnected");
    d.tray.click(&d.item, "Connect").await.unwrap();
    d.tray_is("green", T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s9_a_wrong_token_is_a_red_authentication_error_without_a_tight_loop() {
    let s = sim(SimConfig {
        token: Some("right-token".into()),
        ..SimConfig::default()
    })
    .await;
    let mut settings = fast(&s.url(), 10);
    settings["token"] = json!("wrong-token");
    let d = Desk::start("s9-auth", Some(settings)).await;
    d.tray_is("red", T).await;
    d.window_is("error", T).await;
    let reason = d.app().text("[data-testid=state-reason]").unwrap();
    assert!(
        reason.starts_with("authentication failed: HTTP 401"),
        "{reason}"
    );
    assert!(
        d.label().await.starts_with("Error · authentication failed"),
        "{}",
        d.label().await
    );
    wait_for("the error notification", T, || async {
        let seen = d.notes.seen();
        match seen.first() {
            Some(n) if n.summary == "Uplink connection error" && n.body.contains("401") => Ok(()),
            _ => Err(format!("{seen:?}")),
        }
    })
    .await;
    // No retry loop against the auth wall.
    let refused = s.stats().handshakes_refused;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        s.stats().handshakes_refused,
        refused,
        "no retries after a 401"
    );
    assert_eq!(refused, 1);
    let page = d
        .app()
        .exec("return document.body.innerText", json!([]))
        .unwrap();
    assert!(
        !page.as_str().unwrap_or("").contains("wrong-token"),
        "the token never reaches the window"
    );
    d.shot("auth-error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_half_open_link_is_detected_within_interval_plus_deadline() {
    let s = sim(SimConfig::default()).await;
    let d = Desk::start("s3-half-open", Some(fast(&s.url(), 10))).await;
    d.tray_is("green", T).await;
    d.window_is("connected", T).await;
    // TCP stays open, nothing is answered: only the heartbeat can tell.
    s.set_silent(true);
    let silenced = Instant::now();
    d.tray_is("yellow", T).await;
    let took = silenced.elapsed();
    // Heartbeat 1 s + pong deadline 1 s, plus the tray's 200 ms throttle and polling.
    assert!(took < Duration::from_secs(4), "detected after {took:?}");
    let log = d.app().text("[data-testid=event-log]").unwrap();
    assert!(log.contains("no pong within"), "{log}");
    d.shot("detected");
    assert!(
        s.stats().connections_open >= 1,
        "the dead link was not closed by the server"
    );
    s.set_silent(false);
    d.tray_is("green", T).await;
    d.window_is("connected", T).await;
    eprintln!("s3: half-open link detected after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s6_orders_placed_while_disconnected_are_delivered_once_in_order() {
    let s = sim(SimConfig {
        order_step: Duration::from_millis(100),
        ..SimConfig::default()
    })
    .await;
    let d = Desk::start("s6-queue", Some(fast(&s.url(), 10))).await;
    d.window_is("connected", T).await;
    d.app().click("[data-testid=toggle]").unwrap();
    d.window_is("disconnected", T).await;
    for (sym, qty) in [("AAPL", "10"), ("MSFT", "20"), ("NVDA", "30")] {
        d.app().fill("[data-testid=order-symbol]", sym).unwrap();
        d.app().fill("[data-testid=order-qty]", qty).unwrap();
        d.app().click("[data-testid=place-order]").unwrap();
    }
    wait_for("three queued orders", T, || async {
        let v = d
            .app()
            .exec("return [...document.querySelectorAll('[data-testid=order-status]')].map(e => e.textContent)", json!([]))
            .map_err(|e| e.to_string())?;
        let statuses: Vec<String> = serde_json::from_value(v).map_err(|e| e.to_string())?;
        if statuses == ["queued", "queued", "queued"] { Ok(()) } else { Err(format!("{statuses:?}")) }
    })
    .await;
    // Counters reach the window with the once-a-second stats push.
    wait_for("the queue depth to show 3", T, || async {
        match d.app().text("[data-testid=stat-queue]") {
            Ok(q) if q.starts_with("3 /") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(
        s.received().iter().all(|r| !r.text.contains("\"order\"")),
        "nothing sent while disconnected"
    );
    d.shot("queued");

    d.app().click("[data-testid=toggle]").unwrap();
    d.window_is("connected", T).await;
    wait_for("all three orders filled", T, || async {
        let v = d
            .app()
            .exec("return [...document.querySelectorAll('[data-testid=order-status]')].map(e => e.textContent)", json!([]))
            .map_err(|e| e.to_string())?;
        let statuses: Vec<String> = serde_json::from_value(v).map_err(|e| e.to_string())?;
        if statuses.iter().all(|st| st == "filled") && statuses.len() == 3 { Ok(()) } else { Err(format!("{statuses:?}")) }
    })
    .await;
    // The simulator confirms receipt: each order once, in the order placed.
    let got: Vec<(String, f64)> = s
        .received()
        .iter()
        .filter_map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.text).ok()?;
            (v["type"] == "order").then(|| {
                (
                    v["data"]["symbol"].as_str().unwrap().to_owned(),
                    v["data"]["qty"].as_f64().unwrap(),
                )
            })
        })
        .collect();
    assert_eq!(
        got,
        [
            ("AAPL".into(), 10.0),
            ("MSFT".into(), 20.0),
            ("NVDA".into(), 30.0)
        ]
    );
    d.shot("delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s7_settings_are_validated_applied_and_kept_across_a_restart() {
    let a = sim(SimConfig::default()).await;
    let b = sim(SimConfig::default()).await;
    let mut d = Desk::start("s7-settings", Some(fast(&a.url(), 10))).await;
    d.window_is("connected", T).await;
    d.settings_loaded().await;
    let file = d.dir.join("config/settings.json");
    let before = std::fs::read_to_string(&file).unwrap();

    // An invalid URL: a message on the field, nothing saved, nothing changed.
    d.app()
        .fill("[data-testid=setting-feed_urls]", "http://not-a-feed")
        .unwrap();
    d.app().click("[data-testid=save-settings]").unwrap();
    let msg = wait_for("the field error", T, || async {
        match d.app().text("[data-testid=error-feed_urls]") {
            Ok(t) if !t.is_empty() => Ok(t),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(msg, "must start with ws:// or wss://");
    assert!(d
        .app()
        .text("[data-testid=settings-result]")
        .unwrap()
        .starts_with("Not saved"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        before,
        "the file is untouched"
    );
    assert_eq!(d.app().text("[data-testid=url]").unwrap(), a.url());

    // A valid URL of a second feed: saved, and the app moves there.
    d.app()
        .fill("[data-testid=setting-feed_urls]", &b.url())
        .unwrap();
    d.app().click("[data-testid=save-settings]").unwrap();
    wait_for("the move to the second feed", T, || async {
        match (
            d.app().text("[data-testid=url]"),
            b.stats().connections_open,
        ) {
            (Ok(u), n) if u == b.url() && n >= 1 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    d.window_is("connected", T).await;
    assert_eq!(
        d.app().text("[data-testid=settings-result]").unwrap(),
        "Saved."
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    d.shot("saved");

    // After a restart the settings are still there.
    d.restart().await;
    d.window_is("connected", T).await;
    d.settings_loaded().await;
    let field = d
        .app()
        .exec(
            "return document.querySelector('[data-testid=setting-feed_urls]').value",
            json!([]),
        )
        .unwrap();
    assert_eq!(field.as_str(), Some(b.url().as_str()));
    wait_for(
        "a connection to the second feed after the restart",
        T,
        || async {
            match d.app().text("[data-testid=url]") {
                Ok(u) if u == b.url() => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    d.shot("after-restart");
}

/// Waits until the app's window is (or is not) on screen.
async fn window_viewable(want: bool) {
    let what = if want {
        "the window to be shown"
    } else {
        "the window to be hidden"
    };
    wait_for(what, T, || async {
        match uplink_e2e::x11::is_viewable("Uplink") {
            Ok(v) if v == want => Ok(()),
            // A window that was never shown may not exist on the X server at all.
            Err(e) if !want && e.starts_with("no top-level window") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
}

/// The app's WebKit web processes: every WebKitWebProcess whose parent chain leads
/// to the app under test.
fn web_processes() -> Vec<u32> {
    webkit_processes("WebKitWebProces")
}

/// The pids of the app under test (its binary's path on the command line).
fn app_pids() -> Vec<u32> {
    std::process::Command::new("pgrep")
        .arg("-f")
        .arg(uplink_e2e::webdriver::app_binary())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// How much of the libraries whose file name starts with `name` is resident in the
/// app's process, kB (the `Rss:` of their mappings in /proc/<pid>/smaps, read by the
/// app's own parser).
fn app_resident_kb(name: &str) -> u64 {
    let [pid] = app_pids()[..] else {
        panic!("not one app process: {:?}", app_pids());
    };
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    uplink_e2e::smaps::parse(&smaps)
        .iter()
        .filter(|m| m.file_name().starts_with(name))
        .map(|m| m.rss_kb)
        .sum()
}

/// The whole line in `log` where the app says it unmapped the webview's library pages,
/// with its figures ("… kB resident before, … kB after").
fn unmapped_line(log: &str) -> Option<String> {
    log.lines()
        .find(|l| l.contains("unmapped the webview's library pages") && l.contains(" kB after"))
        .map(str::to_owned)
}

/// The app's living WebKit processes whose command name starts with `name` (the kernel
/// keeps 15 bytes of it), found by their parent chain leading to the app under test
/// (read by the app's own reader of /proc). A zombie has ended, as the app counts it.
fn webkit_processes(name: &str) -> Vec<u32> {
    let app = app_pids();
    let all = uplink_e2e::procstat::all();
    let parent: std::collections::HashMap<u32, u32> = all.iter().map(|p| (p.pid, p.ppid)).collect();
    let leads_to_app = |mut pid: u32| {
        // A parent chain ends at pid 1 or 0; the bound only guards against a cycle
        // that pids reused during the pass could make.
        for _ in 0..64 {
            match parent.get(&pid) {
                Some(pp) if app.contains(pp) => return true,
                Some(&pp) if pp > 1 => pid = pp,
                _ => return false,
            }
        }
        false
    };
    all.iter()
        .filter(|p| !p.zombie && p.name.starts_with(name) && leads_to_app(p.pid))
        .map(|p| p.pid)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s8_closing_releases_the_webview_to_the_tray_and_a_second_launch_shows_the_first() {
    let s = sim(SimConfig::default()).await;
    let d = Desk::start("s8-window", Some(fast(&s.url(), 10))).await;
    d.window_is("connected", T).await;
    window_viewable(true).await;
    d.shot("open");
    let before = web_processes();
    assert!(!before.is_empty(), "the open window has a web process");

    assert!(
        !webkit_processes("WebKitNetworkPr").is_empty(),
        "the open window has a network process"
    );
    let loads = |d: &Desk| d.app().log().matches("the window loaded").count();
    let page_loads = |want: usize| {
        let d = &d;
        async move {
            wait_for("the window's page to load", T, || async {
                match loads(d) {
                    n if n == want => Ok(()),
                    n => Err(format!("{n} loads")),
                }
            })
            .await
        }
    };
    d.settings_loaded().await;
    assert_eq!(loads(&d), 1, "the window loaded once");
    let jsc_open = app_resident_kb("libjavascriptcoregtk");

    // The close button destroys the window and its webview: WebKit's web process
    // ends, and the app ends the network process WebKit would keep, while the app,
    // its tray and its connection stay.
    uplink_e2e::x11::request_close("Uplink").unwrap();
    window_viewable(false).await;
    wait_for("WebKit's processes to end", T, || async {
        match (web_processes(), webkit_processes("WebKitNetworkPr")) {
            (w, n) if w.is_empty() && n.is_empty() => Ok(()),
            (w, n) => Err(format!("still running: web {w:?}, network {n:?}")),
        }
    })
    .await;
    // With them gone, the app unmaps the pages of WebKit's libraries: of
    // JavaScriptCore's, which only the webview ran, less than a quarter stays.
    wait_for("the webview's pages to be unmapped", T, || async {
        unmapped_line(&d.app().log()).ok_or_else(|| "not in the log".to_string())
    })
    .await;
    let jsc_closed = app_resident_kb("libjavascriptcoregtk");
    assert!(
        jsc_closed * 4 < jsc_open,
        "JavaScriptCore resident: {jsc_open} kB with the window, {jsc_closed} kB after"
    );
    eprintln!("s8: JavaScriptCore resident {jsc_open} kB with the window, {jsc_closed} kB after");
    d.tray_is("green", T).await;
    assert_eq!(
        s.stats().connections_open,
        1,
        "still connected with no window"
    );

    // "Open Uplink" in the tray menu makes a new window with a new webview. (The
    // WebDriver session belonged to the old one, so from here on the checks are
    // X11's and /proc's.)
    d.tray.click(&d.item, "Open Uplink").await.unwrap();
    window_viewable(true).await;
    wait_for("a new web process", T, || async {
        match web_processes() {
            p if !p.is_empty() && p.iter().all(|x| !before.contains(x)) => Ok(()),
            p => Err(format!("{p:?}, before {before:?}")),
        }
    })
    .await;
    // Its page loads and asks for the current state, with a network process WebKit
    // started anew.
    page_loads(2).await;
    assert!(
        !webkit_processes("WebKitNetworkPr").is_empty(),
        "the new window has a network process of its own"
    );

    // A second launch shows the first instance's window and exits by itself.
    uplink_e2e::x11::request_close("Uplink").unwrap();
    window_viewable(false).await;
    let started = Instant::now();
    let second = tokio::task::spawn_blocking({
        let dir = d.dir.clone();
        move || {
            std::process::Command::new(uplink_e2e::webdriver::app_binary())
                .env("UPLINK_CONFIG_DIR", dir.join("config"))
                .env("UPLINK_LOG_DIR", dir.join("logs-second"))
                .env("UPLINK_TRAY_DIR", dir.join("tray-second"))
                .env("NO_AT_BRIDGE", "1")
                .output()
                .expect("second launch")
        }
    });
    let out = tokio::time::timeout(T, second)
        .await
        .expect("the second instance exits")
        .unwrap();
    assert!(
        out.status.success(),
        "second instance: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    window_viewable(true).await;
    assert_eq!(
        s.stats().connections_total,
        1,
        "the second launch did not open a connection of its own"
    );
    eprintln!("s8: second launch handed over in {:?}", started.elapsed());
    page_loads(3).await;

    // Closed and opened again at once, without waiting for WebKit's processes to end:
    // the new page still loads.
    uplink_e2e::x11::request_close("Uplink").unwrap();
    window_viewable(false).await;
    d.tray.click(&d.item, "Open Uplink").await.unwrap();
    window_viewable(true).await;
    page_loads(4).await;
    assert!(!webkit_processes("WebKitNetworkPr").is_empty());

    // Quit from the tray menu exits the app.
    d.tray.click(&d.item, "Quit").await.unwrap();
    wait_for("the app to exit", T, || async {
        let running = std::process::Command::new("pgrep")
            .arg("-f")
            .arg(uplink_e2e::webdriver::app_binary())
            .output()
            .map(|o| !o.stdout.is_empty())
            .unwrap_or(true);
        if running {
            Err("still running".into())
        } else {
            Ok(())
        }
    })
    .await;
    wait_for("the feed connection to close", T, || async {
        match s.stats().connections_open {
            0 => Ok(()),
            n => Err(format!("{n} open")),
        }
    })
    .await;
}

/// Whether a desktop entry's line is `Exec=` this binary (quoted or not).
fn exec_is(line: &str, bin: &std::path::Path) -> bool {
    let Some(cmd) = line.strip_prefix("Exec=") else {
        return false;
    };
    let first = cmd
        .trim_start_matches('"')
        .split(['"', ' '])
        .next()
        .unwrap_or("");
    std::path::Path::new(first) == bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s10_start_minimized_makes_no_webview_until_the_window_is_opened() {
    let s = sim(SimConfig::default()).await;
    let mut settings = fast(&s.url(), 10);
    settings["start_minimized"] = json!(true);
    let dir = scratch("s10-minimized");
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::write(dir.join("config/settings.json"), settings.to_string()).unwrap();
    let tray = Tray::start().await;
    // Started directly: a WebDriver session would need a webview from the start.
    let _app = uplink_e2e::webdriver::PlainApp::launch(&dir);
    let item = tray.item(T).await;
    // Started in the tray: connected, icon green, no window, and no webview at all.
    wait_for("tray icon green", T, || async {
        match tray.icon_colour(&item).await {
            Ok("green") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    window_viewable(false).await;
    assert_eq!(web_processes(), Vec::<u32>::new(), "no webview in the tray");
    // Loading WebKit touched pages of its libraries all the same: the app unmaps them
    // (it reads its own resident figures from /proc and logs them).
    let released = wait_for("the webview's pages to be unmapped", T, || async {
        let log = std::fs::read_to_string(dir.join("app.log")).unwrap_or_default();
        unmapped_line(&log).ok_or_else(|| "not in the log".to_string())
    })
    .await;
    let kb = |word: &str| -> u64 {
        let before = released.split(&format!(" kB {word}")).next().unwrap();
        before.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(kb("after") * 2 < kb("resident before"), "{released}");
    tray.click(&item, "Open Uplink").await.unwrap();
    window_viewable(true).await;
    wait_for("a web process for the window", T, || async {
        match web_processes() {
            p if !p.is_empty() => Ok(()),
            p => Err(format!("{p:?}")),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s17_launch_at_login_starts_this_binary() {
    let s = sim(SimConfig::default()).await;
    let d = Desk::start("s17-login", Some(fast(&s.url(), 10))).await;
    window_viewable(true).await;
    d.settings_loaded().await;

    // Launch at login: the desktop's autostart entry follows the setting.
    let entry = d.dir.join("home/.config/autostart/Uplink.desktop");
    assert!(!entry.exists());
    d.app()
        .click("[data-testid='setting-launch_at_login']")
        .unwrap();
    d.app().click("[data-testid=save-settings]").unwrap();
    // It starts this very binary (the installed one, in the installed-package test).
    let bin = std::fs::canonicalize(uplink_e2e::webdriver::app_binary()).unwrap();
    wait_for("the autostart entry", T, || async {
        match std::fs::read_to_string(&entry) {
            Ok(t) if t.lines().any(|l| exec_is(l, &bin)) && t.contains("--minimized") => Ok(()),
            other => Err(format!(
                "want Exec={} --minimized: {other:?}",
                bin.display()
            )),
        }
    })
    .await;
    d.app()
        .click("[data-testid='setting-launch_at_login']")
        .unwrap();
    d.app().click("[data-testid=save-settings]").unwrap();
    wait_for("the autostart entry to go", T, || async {
        if entry.exists() {
            Err("still there".into())
        } else {
            Ok(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s11_the_network_coming_back_rearms_a_connection_that_gave_up() {
    use uplink_e2e::network::{FakeNetworkManager, CONNECTED_GLOBAL, DISCONNECTED};
    let nm = FakeNetworkManager::start(CONNECTED_GLOBAL).await;
    let s = sim(SimConfig::default()).await;
    let d = Desk::start("s11-network-back", Some(fast(&s.url(), 2))).await;
    d.tray_is("green", T).await;
    // The network goes away: the feed is unreachable and the app gives up.
    nm.set_state(DISCONNECTED).await;
    s.refuse(None);
    s.drop_all(DropMode::Reset);
    d.tray_is("red", T).await;
    d.window_is("error", T).await;
    // The network comes back: no click needed.
    s.accept();
    nm.set_state(CONNECTED_GLOBAL).await;
    d.tray_is("green", T).await;
    d.window_is("connected", T).await;
    assert!(
        d.app().log().contains("network is back"),
        "the app says why it reconnected"
    );
    d.shot("rearmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s12_a_hundred_thousand_updates_a_second_do_not_freeze_the_window() {
    let s = sim(SimConfig {
        rate: 100_000.0,
        ..SimConfig::default()
    })
    .await;
    let d = Desk::start("s12-firehose", Some(fast(&s.url(), 10))).await;
    d.window_is("connected", T).await;
    // The feed pours in; the window keeps up because the backend coalesces.
    let received = |d: &Desk| -> u64 {
        d.app()
            .text("[data-testid=stat-messages_received]")
            .ok()
            .and_then(|t| t.replace(',', "").parse().ok())
            .unwrap_or(0)
    };
    wait_for(
        "a million messages received",
        Duration::from_secs(60),
        || async {
            match received(&d) {
                n if n >= 1_000_000 => Ok(()),
                n => Err(format!("{n} so far")),
            }
        },
    )
    .await;
    // Meanwhile the window still answers: prices move, and a click still works.
    d.price_moves("AAPL").await;
    d.reconnect_from_window(&s).await;
    d.window_is("connected", T).await;
    d.shot("under-load");
    eprintln!("s12: {} messages received by the app", received(&d));
}

/// Prices stop while the feed keeps answering pings: the tray turns amber within
/// `stale_after` + 1 s, with one notification and the stale rows dimmed; it turns green
/// again when prices resume. Then the feed goes down: the early alert arrives after
/// `alert_after`, long before giving up, and "feed back" when it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_stale_prices_turn_the_tray_amber_and_an_outage_is_alerted_early() {
    let s = sim(SimConfig {
        rate: 20.0,
        ..SimConfig::default()
    })
    .await;
    let mut settings = fast(&s.url(), 50);
    settings["stale_after_secs"] = json!(2.0);
    settings["alert_after_secs"] = json!(2.0);
    settings["reconnect_max_delay_secs"] = json!(0.5);
    let d = Desk::start("s13-stale", Some(settings)).await;
    d.tray_is("green", T).await;
    d.price_moves("AAPL").await;

    s.stall(true, &[]);
    let stalled = Instant::now();
    d.tray_is("amber", Duration::from_secs(4)).await;
    let took = stalled.elapsed();
    assert!(
        took <= Duration::from_secs(3) + Duration::from_millis(500),
        "amber {took:?} after prices stopped (stale_after 2 s + 1 s)"
    );
    let label = d.label().await;
    assert!(label.starts_with("Connected · prices stale "), "{label}");
    wait_for("the stale rows dimmed", T, || async {
        match d.app().attr("[data-testid=quote-AAPL]", "data-stale") {
            Ok(v) if v == "true" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    wait_for("one stale notification", T, || async {
        let seen = d.notes.seen();
        match seen
            .iter()
            .filter(|n| n.summary == "Uplink: prices are stale")
            .count()
        {
            1 => Ok(()),
            n => Err(format!("{n}: {seen:?}")),
        }
    })
    .await;
    d.shot("stale");
    // Pongs kept coming all along: the link itself never dropped.
    assert_eq!(s.stats().connections_total, 1);

    s.stall(false, &[]);
    d.tray_is("green", T).await;
    let stale_notes = d
        .notes
        .seen()
        .into_iter()
        .filter(|n| n.summary == "Uplink: prices are stale")
        .count();
    assert_eq!(stale_notes, 1, "one notification for the episode");

    // The feed goes down and stays down: alerted after alert_after.
    s.refuse(None);
    s.drop_all(DropMode::Close { code: 1001 });
    let down = Instant::now();
    d.tray_is("yellow", T).await;
    wait_for("the outage alert", T, || async {
        let seen = d.notes.seen();
        match seen.iter().find(|n| n.summary == "Uplink: feed down") {
            Some(n) => Ok(n.body.clone()),
            None => Err(format!("{seen:?}")),
        }
    })
    .await;
    let after = down.elapsed();
    assert!(
        after >= Duration::from_secs(2) && after < Duration::from_secs(6),
        "alerted {after:?} into the outage"
    );
    let label = d.label().await;
    assert!(
        label.contains(" · down "),
        "the tray says how long: {label}"
    );
    s.accept();
    d.tray_is("green", T).await;
    wait_for("the feed-back notification", T, || async {
        let seen = d.notes.seen();
        match seen.iter().find(|n| n.summary == "Uplink: feed back") {
            Some(n) if n.body.starts_with("Feed back after ") => Ok(()),
            _ => Err(format!("{seen:?}")),
        }
    })
    .await;
}

/// An order placed in the window survives a reset between the feed executing it and
/// acknowledging it: re-sent with the same client order id, deduplicated by the feed,
/// shown filled exactly once. An order queued while offline expires after
/// `order_ttl_secs` and is never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s14_orders_survive_a_reset_before_ack_and_expire_when_offline_too_long() {
    let s = sim(SimConfig {
        order_step: Duration::from_millis(200),
        ..SimConfig::default()
    })
    .await;
    let mut settings = fast(&s.url(), 50);
    settings["order_ttl_secs"] = json!(2.0);
    let d = Desk::start("s14-orders", Some(settings)).await;
    d.window_is("connected", T).await;

    let statuses = || async {
        let v = d
            .app()
            .exec("return [...document.querySelectorAll('[data-testid=order-status]')].map(e => e.textContent)", json!([]))
            .map_err(|e| e.to_string())?;
        serde_json::from_value::<Vec<String>>(v).map_err(|e| e.to_string())
    };
    s.fault_next_order(uplink_sim::OrderFault::ResetBeforeAck);
    d.app().fill("[data-testid=order-symbol]", "AAPL").unwrap();
    d.app().fill("[data-testid=order-qty]", "10").unwrap();
    d.app().click("[data-testid=place-order]").unwrap();
    wait_for("the order filled", T, || async {
        let st = statuses().await?;
        if st == ["filled"] {
            Ok(())
        } else {
            Err(format!("{st:?}"))
        }
    })
    .await;
    let stats = s.stats();
    assert_eq!(
        (stats.orders_executed, stats.orders_deduplicated),
        (1, 1),
        "executed once although it was sent twice"
    );
    let fills = s
        .received()
        .iter()
        .filter(|r| r.text.contains("\"order\""))
        .count();
    assert_eq!(fills, 2, "the order went out twice, same client order id");
    d.window_is("connected", T).await;
    d.shot("filled-once");

    // Offline, an order waits, then expires: it is never sent.
    d.app().click("[data-testid=toggle]").unwrap();
    d.window_is("disconnected", T).await;
    d.app().fill("[data-testid=order-symbol]", "MSFT").unwrap();
    d.app().fill("[data-testid=order-qty]", "5").unwrap();
    d.app().click("[data-testid=place-order]").unwrap();
    wait_for("the offline order expired", T, || async {
        let st = statuses().await?;
        if st.first().map(String::as_str) == Some("expired") {
            Ok(())
        } else {
            Err(format!("{st:?}"))
        }
    })
    .await;
    d.app().click("[data-testid=toggle]").unwrap();
    d.window_is("connected", T).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !s.received()
            .iter()
            .any(|r| r.text.contains("MSFT") && r.text.contains("\"order\"")),
        "an expired order is never sent"
    );
    d.shot("expired");
}

/// Two feeds in the settings: the primary dies, the backup takes over; the tray says
/// so ("Connected · backup 1 · …", still green) and one notification is raised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s15_the_backup_takes_over_and_the_tray_says_so() {
    let primary = sim(SimConfig::default()).await;
    let backup = sim(SimConfig::default()).await;
    let mut settings = fast(&primary.url(), 10);
    settings.as_object_mut().unwrap().remove("feed_url");
    settings["feed_urls"] = json!([primary.url(), backup.url()]);
    let d = Desk::start("s15-failover", Some(settings)).await;
    d.tray_is("green", T).await;
    assert!(!d.label().await.contains("backup"));

    primary.refuse(None);
    primary.drop_all(DropMode::Close { code: 1001 });
    wait_for("the backup in the tray label", T, || async {
        let label = d.label().await;
        if label.starts_with("Connected · backup 1") {
            Ok(())
        } else {
            Err(label)
        }
    })
    .await;
    d.tray_is("green", T).await;
    assert!(backup.stats().connections_open >= 1);
    wait_for("the switch notification", T, || async {
        let seen = d.notes.seen();
        match seen
            .iter()
            .filter(|n| n.summary == "Uplink: using backup 1")
            .count()
        {
            1 => Ok(()),
            n => Err(format!("{n}: {seen:?}")),
        }
    })
    .await;
    wait_for("the feeds list in the window", T, || async {
        match d.app().attr("[data-testid=endpoint-1]", "class") {
            Ok(c) if c == "current" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    d.shot("on-backup");
    // Still exactly one notification for the one switch.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let n = d
        .notes
        .seen()
        .iter()
        .filter(|n| n.summary.starts_with("Uplink: using"))
        .count();
    assert_eq!(n, 1);
}

/// The app reaches its feed through a proxy named in its settings (tinyproxy, a real
/// HTTP CONNECT proxy); the window never sees the proxy's password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s16_the_app_goes_through_a_proxy_from_its_settings() {
    let s = sim(SimConfig::default()).await;
    let proxy = uplink_sim::peers::tinyproxy(Some(("trader", "pr0xy-pw")));
    let mut settings = fast(&s.url(), 10);
    settings["proxy"] = json!(format!("http://trader:pr0xy-pw@127.0.0.1:{}", proxy.port));
    let d = Desk::start("s16-proxy", Some(settings)).await;
    d.tray_is("green", T).await;
    d.price_moves("AAPL").await;
    assert!(proxy.connects() >= 1, "through the proxy: {}", proxy.log());
    d.settings_loaded().await;
    let shown = d
        .app()
        .exec(
            "return document.querySelector('[data-testid=setting-proxy]').value",
            json!([]),
        )
        .unwrap();
    assert_eq!(
        shown.as_str(),
        Some(format!("http://trader:***@127.0.0.1:{}/", proxy.port).as_str())
    );
    let html = d
        .app()
        .exec("return document.documentElement.outerHTML", json!([]))
        .unwrap();
    assert!(
        !html.as_str().unwrap().contains("pr0xy-pw"),
        "the password never reaches the window"
    );
    d.shot("through-proxy");
}
