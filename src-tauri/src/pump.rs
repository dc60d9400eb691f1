//! The two loops that move the engine's output to the window and the notifier, in
//! plain Rust: the shell gives them a [`UiSink`] (Tauri's emitter and notifier), the
//! tests give them a recording one.
//!
//! * [`status`]: every status the engine publishes goes to the window as
//!   [`names::STATUS`], at most [`STATUS_EVERY`] apart (the latest always gets out).
//! * [`events`]: each engine event goes through [`AppModel::apply`]; what it returns
//!   (log lines, latency samples, notifications) goes out at once, and the coalesced
//!   market data every [`FLUSH_EVERY`].
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

/// How often coalesced market data is flushed to the window.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// The window hears of a new status at most this often.
pub const STATUS_EVERY: Duration = Duration::from_millis(50);
/// Engine events taken under one lock of the model, at most.
const BATCH: usize = 4096;

/// Where the pumps deliver.
pub trait UiSink: Send + Sync + 'static {
    /// Sends a UI event to the window.
    fn emit<S: Serialize + Clone>(&self, name: &str, payload: &S);
    /// Raises a desktop notification.
    fn notify(&self, n: &Notification);
}

/// Sends every published status to the window (see the module docs).
pub async fn status<S: UiSink>(
    sink: Arc<S>,
    mut rx: watch::Receiver<Status>,
    model: Arc<Mutex<AppModel>>,
) {
    loop {
        let ui = {
            let st = rx.borrow_and_update();
            model.lock().unwrap().ui_status(&st)
        };
        sink.emit(names::STATUS, &ui);
        tokio::time::sleep(STATUS_EVERY).await;
        if rx.changed().await.is_err() {
            break;
        }
    }
}

/// Maps engine events through the model and delivers the results (see the module docs).
pub async fn events<S: UiSink>(sink: Arc<S>, mut events: EventStream, model: Arc<Mutex<AppModel>>) {
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            ev = events.recv() => {
                let Some(first) = ev else { break };
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
            _ = flush.tick() => {
                let market = model.lock().unwrap().take_market(Instant::now());
                if let Some(m) = market {
                    sink.emit(names::MARKET, &m);
                }
            }
        }
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

    /// Keeps what the pumps deliver, as JSON, by event name.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(String, serde_json::Value)>>);

    impl UiSink for Recorder {
        fn emit<S: Serialize + Clone>(&self, name: &str, payload: &S) {
            let v = serde_json::to_value(payload).unwrap();
            self.0.lock().unwrap().push((name.to_owned(), v));
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

    /// A price from the socket reaches the window's market event; the published status
    /// reaches it as `uplink://status`, label and all.
    #[tokio::test]
    async fn prices_and_status_flow_from_a_real_feed_to_the_sink() {
        let sim = Simulator::start(SimConfig {
            rate: 50.0,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let (engine, stream) = Engine::start(ClientConfig::new(sim.url())).unwrap();
        engine.subscribe(vec!["AAPL".into()]).unwrap();
        engine.connect().unwrap();
        let mut m = AppModel::new(false, NotifySettings::default());
        m.set_watchlist(&["AAPL".into()]);
        let model = Arc::new(Mutex::new(m));
        let sink = Arc::new(Recorder::default());
        let a = tokio::spawn(events(Arc::clone(&sink), stream, Arc::clone(&model)));
        let b = tokio::spawn(status(Arc::clone(&sink), engine.status(), model));
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
        // Both pumps end with the engine.
        tokio::time::timeout(Duration::from_secs(5), async {
            a.await.unwrap();
            b.await.unwrap();
        })
        .await
        .expect("pumps end when the engine stops");
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
        let st = tokio::spawn(status(
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
