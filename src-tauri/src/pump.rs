//! The loops that move the engine's output to the window and the notifier, in plain
//! Rust: the shell gives them a [`UiSink`] (Tauri's emitter and notifier), the tests
//! give them a recording one.
//!
//! * [`frames`]: what the window draws, status and market data, goes out together in
//!   one *frame*, at most one every [`FRAME`]. A frame goes out as soon as there is
//!   something new and the last one is at least [`FRAME`] old; meanwhile the status is
//!   the latest published and the market data coalesces (the latest quote per
//!   symbol, each changed order once). Without a GPU, WebKitGTK paints the whole
//!   window in software for every change, so the number of frames is what an open
//!   window costs (BENCHMARKS.md, "Window redraws").
//! * [`events`]: each engine event goes through [`AppModel::apply`]; what it returns
//!   (log lines, latency samples, notifications) goes out at once. Market data waits
//!   for the next frame: the model wakes [`frames`] ([`AppModel::market_due`])
//!   whatever changed it, an engine event or a command (an order placed, a symbol
//!   removed).
//! * [`supervise`]: runs [`events`] for as long as the app runs; if the engine ends
//!   without being asked, the service shows it and puts a fresh engine in its place
//!   (see [`Service::replace_dead_engine`]), and the pump goes on with that one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use uplink_engine::{EventStream, Status};

use crate::model::{names, AppModel, Out};
use crate::notify::Notification;
use crate::service::{now_ms, Service};

/// The window gets at most one frame (status and market data) this often: 3 a second.
pub const FRAME: Duration = Duration::from_millis(333);
/// Engine events taken under one lock of the model, at most.
const BATCH: usize = 4096;

/// Where the pumps deliver.
pub trait UiSink: Send + Sync + 'static {
    /// Sends a UI event to the window.
    fn emit<S: Serialize + Clone>(&self, name: &str, payload: &S);
    /// Raises a desktop notification.
    fn notify(&self, n: &Notification);
}

/// Sends the window its frames (see the module docs) until the status channel
/// closes.
pub async fn frames<S: UiSink>(
    sink: Arc<S>,
    mut rx: watch::Receiver<Status>,
    model: Arc<Mutex<AppModel>>,
) {
    let market = model.lock().unwrap().market_due();
    // The first frame carries the status the window opens with.
    let mut status_due = true;
    loop {
        let (status, market_data) = {
            let mut m = model.lock().unwrap();
            let status = status_due.then(|| m.ui_status(&rx.borrow_and_update()));
            (status, m.take_market(Instant::now()))
        };
        // Back to back, so the web view applies both before it paints.
        if let Some(ui) = status {
            sink.emit(names::STATUS, &ui);
        }
        if let Some(m) = market_data {
            sink.emit(names::MARKET, &m);
        }
        tokio::time::sleep(FRAME).await;
        status_due = tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() {
                    break;
                }
                true
            }
            () = market.notified() => rx.has_changed().unwrap_or(false),
        };
    }
}

/// Maps engine events through the model and delivers the results (see the module
/// docs).
pub async fn events<S: UiSink>(sink: Arc<S>, mut events: EventStream, model: Arc<Mutex<AppModel>>) {
    while let Some(first) = events.recv().await {
        let mut outs = Vec::new();
        {
            let mut m = model.lock().unwrap();
            let (now, ms) = (Instant::now(), now_ms());
            if let Some(t) = events.read_at() {
                m.note_read(t);
            }
            outs.extend(m.apply(first, now, ms));
            // Take what else is already there under the same lock.
            for _ in 0..BATCH {
                let Some(ev) = events.try_recv() else { break };
                outs.extend(m.apply(ev, now, ms));
            }
        }
        deliver(&*sink, outs);
    }
}

/// Sends what the model returned: to the window, or as a notification.
fn deliver<S: UiSink>(sink: &S, outs: Vec<Out>) {
    for out in outs {
        match out {
            Out::Latency(l) => sink.emit(names::LATENCY, &l),
            Out::Log(l) => sink.emit(names::LOG, &l),
            Out::Notify(n) => {
                tracing::info!(title = %n.title, body = %n.body, "notification");
                sink.notify(&n);
            }
        }
    }
}

/// Runs [`events`] over `stream`, and over each engine that replaces a dead one,
/// until the app quits (see the module docs).
pub async fn supervise<S: UiSink>(sink: Arc<S>, service: Arc<Service>, mut stream: EventStream) {
    loop {
        events(Arc::clone(&sink), stream, Arc::clone(service.model())).await;
        let Some((outs, next)) = service.replace_dead_engine().await else {
            return; // the app is quitting
        };
        deliver(&*sink, outs);
        match next {
            Ok(next) => stream = next,
            Err(e) => {
                tracing::error!("cannot start a fresh engine: {}", e.message);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::NotifySettings;
    use uplink_engine::{ClientConfig, Engine};
    use uplink_sim::{SimConfig, Simulator};

    /// Keeps what the pumps deliver, to be looked at by the tests.
    #[derive(Default)]
    struct Recorder(
        /// Each event's name and payload as JSON, in the order delivered.
        Mutex<Vec<(String, serde_json::Value)>>,
        /// When each was delivered, in the same order: frames' spacing is checked.
        Mutex<Vec<Instant>>,
    );

    impl UiSink for Recorder {
        fn emit<S: Serialize + Clone>(&self, name: &str, payload: &S) {
            let v = serde_json::to_value(payload).unwrap();
            let mut all = self.0.lock().unwrap();
            all.push((name.to_owned(), v));
            self.1.lock().unwrap().push(Instant::now());
        }
        fn notify(&self, n: &Notification) {
            self.emit("notification", n);
        }
    }

    impl Recorder {
        async fn wait_for(&self, what: &str, pred: impl Fn(&str, &serde_json::Value) -> bool) {
            self.wait_after(0, what, pred).await
        }

        /// How much has been recorded: a mark for [`Recorder::wait_after`].
        fn mark(&self) -> usize {
            self.0.lock().unwrap().len()
        }

        /// Waits for what `pred` accepts among what was recorded after `mark`.
        async fn wait_after(
            &self,
            mark: usize,
            what: &str,
            pred: impl Fn(&str, &serde_json::Value) -> bool,
        ) {
            for _ in 0..500 {
                if self.0.lock().unwrap()[mark..]
                    .iter()
                    .any(|(n, v)| pred(n, v))
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("no {what}; saw {:?}", self.0.lock().unwrap());
        }
    }

    /// An engine on a simulator feed of `rate` msg/s with `symbols` watched, and both
    /// pumps ([`events`] and [`frames`]) delivering to a [`Recorder`].
    struct Pumps {
        /// Kept so the feed lives as long as the test.
        sim: Simulator,
        /// The engine under the pumps: the test stops it (and with it the pumps).
        engine: uplink_engine::Handle,
        /// The model the pumps fill: tests change it as commands would.
        model: Arc<Mutex<AppModel>>,
        /// What the pumps delivered.
        sink: Arc<Recorder>,
        /// Resolves when both pumps have ended (they end with the engine).
        ended: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    }

    impl Pumps {
        async fn start(rate: f64, symbols: &[&str]) -> Pumps {
            let sim = Simulator::start(SimConfig {
                rate,
                ..SimConfig::default()
            })
            .await
            .unwrap();
            let symbols: Vec<String> = symbols.iter().map(|s| s.to_string()).collect();
            // No periodic status (it would carry a frame along): what the window gets
            // comes from the feed, the model, or a change of state.
            let cfg = ClientConfig {
                stats_interval: Duration::from_secs(3600),
                ..ClientConfig::new(sim.url())
            };
            let (engine, stream) = Engine::start(cfg).unwrap();
            if !symbols.is_empty() {
                engine.subscribe(symbols.clone()).unwrap();
            }
            engine.connect().unwrap();
            let mut m = AppModel::new(false, NotifySettings::default());
            m.set_watchlist(&symbols);
            let model = Arc::new(Mutex::new(m));
            let sink = Arc::new(Recorder::default());
            let a = tokio::spawn(events(Arc::clone(&sink), stream, Arc::clone(&model)));
            let b = tokio::spawn(frames(
                Arc::clone(&sink),
                engine.status(),
                Arc::clone(&model),
            ));
            let ended = Box::pin(async move {
                a.await.unwrap();
                b.await.unwrap();
            });
            Pumps {
                sim,
                engine,
                model,
                sink,
                ended,
            }
        }
    }

    /// A price from the socket reaches the window's market event; the published status
    /// reaches it as `uplink://status`, label and all.
    #[tokio::test]
    async fn prices_and_status_flow_from_a_real_feed_to_the_sink() {
        let Pumps {
            sim: _sim,
            engine,
            sink,
            ended,
            ..
        } = Pumps::start(50.0, &["AAPL"]).await;
        sink.wait_for("an AAPL quote", |n, v| {
            n == names::MARKET
                && v["quotes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|q| q["symbol"] == "AAPL")
        })
        .await;
        sink.wait_for("a connected status", |n, v| {
            n == names::STATUS
                && v["state"] == "connected"
                && v["label"].as_str().unwrap().starts_with("Connected")
        })
        .await;
        sink.wait_for("the connect log line", |n, v| {
            n == names::LOG
                && v["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("Connected to ws://")
        })
        .await;
        engine.shutdown().await;
        tokio::time::timeout(Duration::from_secs(5), ended)
            .await
            .expect("pumps end when the engine stops");
    }

    /// A 2,000 msg/s feed: the window gets at most one frame per [`FRAME`] (each
    /// kind of event at least [`FRAME`] after the one before).
    #[tokio::test]
    async fn a_busy_feed_reaches_the_window_in_frames_at_most_three_a_second() {
        let Pumps {
            sim: _sim,
            engine,
            sink,
            ended,
            ..
        } = Pumps::start(2000.0, &["AAPL", "MSFT"]).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        engine.shutdown().await;
        ended.await;

        let all = sink.0.lock().unwrap();
        let at = sink.1.lock().unwrap();
        let of =
            |name: &str| -> Vec<usize> { (0..all.len()).filter(|&i| all[i].0 == name).collect() };
        let (statuses, markets) = (of(names::STATUS), of(names::MARKET));
        assert!(
            markets.len() >= 2,
            "prices flowed: {} market events",
            markets.len()
        );
        for kind in [&statuses, &markets] {
            for w in kind.windows(2) {
                let gap = at[w[1]] - at[w[0]];
                assert!(gap >= FRAME, "two frames {gap:?} apart");
            }
        }
    }

    /// What a command changes reaches the window in the next frame, with nothing
    /// from the feed to carry it: here an order placed while the feed sends no
    /// prices (nothing is subscribed).
    #[tokio::test]
    async fn an_order_placed_on_a_quiet_feed_reaches_the_window_in_the_next_frame() {
        let Pumps {
            sim: _sim,
            engine,
            model,
            sink,
            ended,
        } = Pumps::start(0.0, &[]).await;
        sink.wait_for("a connected status", |n, v| {
            n == names::STATUS && v["state"] == "connected"
        })
        .await;
        tokio::time::sleep(FRAME * 2).await;
        let mark = sink.mark();
        model.lock().unwrap().order_placed(
            uplink_engine::MessageId(1),
            "ui-1",
            "AAPL",
            uplink_engine::proto::Side::Buy,
            5.0,
            now_ms(),
        );
        let placed = Instant::now();
        sink.wait_after(mark, "the order's row", |n, v| {
            n == names::MARKET && v["orders"][0]["key"] == "ui-1"
        })
        .await;
        // The frame went out for the order, not for anything later.
        assert!(
            sink.0.lock().unwrap()[mark..]
                .iter()
                .all(|(n, _)| n == names::MARKET),
            "only the order's frame: {:?}",
            &sink.0.lock().unwrap()[mark..]
        );
        assert!(
            placed.elapsed() < Duration::from_secs(3),
            "in the next frame"
        );
        engine.shutdown().await;
        ended.await;
    }

    /// The engine panics (as a bug would): the window and the tray see `error` with
    /// the reason, the trader is notified, a fresh engine takes its place, and the
    /// trader's Connect brings prices back. Quitting is not a failure.
    #[tokio::test]
    async fn a_dead_engine_is_an_error_with_a_notification_and_connect_restarts_it() {
        let sim = Simulator::start(SimConfig {
            rate: 50.0,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        crate::settings::SettingsStore::new(dir.path())
            .save(&crate::settings::Settings {
                feed_urls: vec![sim.url()],
                watchlist: vec!["AAPL".into()],
                ..Default::default()
            })
            .unwrap();
        let (service, stream) = Service::start(dir.path()).await.unwrap();
        let service = Arc::new(service);
        let sink = Arc::new(Recorder::default());
        let sup = tokio::spawn(supervise(Arc::clone(&sink), Arc::clone(&service), stream));
        let shown = service.status();
        let st = tokio::spawn(frames(
            Arc::clone(&sink),
            service.status(),
            Arc::clone(service.model()),
        ));
        let is = |state: &'static str| {
            move |n: &str, v: &serde_json::Value| n == names::STATUS && v["state"] == state
        };
        sink.wait_for("connected", is("connected")).await;

        let mark = sink.mark();
        service.engine().crash().unwrap();
        sink.wait_after(mark, "the notification", |n, v| {
            n == "notification"
                && v["title"] == "Uplink connection error"
                && v["body"] == crate::service::ENGINE_STOPPED
        })
        .await;
        sink.wait_after(mark, "the log line", |n, v| {
            n == names::LOG
                && v["level"] == "error"
                && v["message"]
                    .as_str()
                    .unwrap()
                    .starts_with(crate::service::ENGINE_STOPPED)
        })
        .await;
        sink.wait_after(mark, "the error status", |n, v| {
            n == names::STATUS
                && v["state"] == "error"
                && v["toggle"] == "connect"
                && v["label"] == "Error · the connection engine stopped unexpectedly"
        })
        .await;
        // The error stays until the trader acts: the fresh engine is not connected
        // behind the trader's back, and its `disconnected` is not shown over it.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(shown.borrow().state, uplink_engine::StateKind::Error);
        let after_error = sink.0.lock().unwrap()[mark..]
            .iter()
            .position(|(n, v)| is("error")(n, v))
            .unwrap();
        assert!(
            !sink.0.lock().unwrap()[mark + after_error..]
                .iter()
                .any(|(n, v)| n == names::STATUS && v["state"] != "error"),
            "nothing shown over the error"
        );

        let mark = sink.mark();
        service.control(crate::service::Control::Toggle).unwrap();
        sink.wait_after(mark, "connected again", is("connected"))
            .await;
        sink.wait_after(mark, "prices from the fresh engine", |n, v| {
            n == names::MARKET && !v["quotes"].as_array().unwrap().is_empty()
        })
        .await;

        // Quitting: the engine's end is expected, so no second failure.
        let notes = |sink: &Recorder| {
            sink.0
                .lock()
                .unwrap()
                .iter()
                .filter(|(n, _)| n == "notification")
                .count()
        };
        let notes_before = notes(&sink);
        service.shutdown(Duration::from_secs(2)).await;
        tokio::time::timeout(Duration::from_secs(5), sup)
            .await
            .expect("the supervisor ends when the app quits")
            .unwrap();
        assert_eq!(notes(&sink), notes_before);
        assert_ne!(shown.borrow().state, uplink_engine::StateKind::Error);
        st.abort();
    }
}
