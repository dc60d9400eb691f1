//! What the window's commands and the tray menu act on, in plain Rust with no Tauri
//! types: the engine handle, the settings and their store, the app model and the
//! built-in demo feed. Commands are one-line adapters over these methods.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use uplink_engine::proto::Side;
use uplink_engine::{
    Engine, EngineError, EventStream, Handle, OrderRequest, Outbound, OutboundError, Status,
};
use uplink_sim::{SimConfig, Simulator};

use crate::commands::{ApiError, Snapshot};
use crate::model::{AppModel, Level, Out};
use crate::settings::{self, LoadNote, Settings, SettingsInput, SettingsStore, SettingsView};

/// Wall-clock Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A symbol as the trader typed it, as the feed knows it: trimmed, upper case.
pub fn normalize_symbol(s: &str) -> String {
    s.trim().to_uppercase()
}

/// What the trader does to one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderAction {
    /// Cancel it while it is still queued.
    Cancel,
    /// Send an unconfirmed (held) order again, with its client order id.
    Resend,
    /// Forget an unconfirmed (held) order.
    Discard,
}

/// The trader's controls of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Connect (no effect if connected or already trying).
    Connect,
    /// Disconnect and stay disconnected.
    Disconnect,
    /// Connect when idle, disconnect otherwise.
    Toggle,
    /// Drop the connection and dial again now.
    Reconnect,
}

/// The engine in use (see [`Service`]'s `engine` field).
#[derive(Debug)]
struct Slot {
    /// Its handle. Replaced by a fresh engine's if it ends without being asked.
    handle: Handle,
    /// True while the app shows an engine failure: the replacement's status is held
    /// back until the trader connects (or disconnects). Relaying and releasing both
    /// publish under the slot's lock, so the newest status always wins.
    held: bool,
}

/// Why the app shows `error` after its engine ended without being asked.
pub const ENGINE_STOPPED: &str = "the connection engine stopped unexpectedly";

/// The result of saving settings.
#[derive(Debug)]
pub struct Saved {
    /// The settings now in force, token masked.
    pub view: SettingsView,
    /// `Some(on)` when "launch at login" changed and the shell must apply it.
    pub launch_at_login: Option<bool>,
}

/// The app's services. One per app; shared by the commands, the tray and the pumps.
#[derive(Debug)]
pub struct Service {
    /// The engine in use, and whether its status is held back. One lock for both:
    /// a trader's control and an engine's replacement cannot interleave.
    engine: Arc<Mutex<Slot>>,
    /// The status the app shows (window and tray): the engine's, relayed; after an
    /// engine ended unexpectedly, that failure, until the trader acts.
    status: watch::Sender<Status>,
    /// Set once the app is quitting: the engine's end is expected, not a failure.
    stopping: AtomicBool,
    /// Where settings are saved.
    store: SettingsStore,
    /// Settings in force.
    settings: Mutex<Settings>,
    /// Watchlist, orders, log and notification policy; shared with the event pump.
    model: Arc<Mutex<AppModel>>,
    /// The built-in demo feed, while in use.
    demo: tokio::sync::Mutex<Option<Simulator>>,
    /// Numbers client order ids.
    order_seq: AtomicU64,
    /// The runtime every engine of this service runs on (see [`Service::start_on`]).
    engines_on: tokio::runtime::Handle,
}

impl Service {
    /// Loads the settings from `config_dir`, starts the demo feed if they name no feed,
    /// and starts the engine, connecting, on the current runtime. Returns the service
    /// and the engine's events.
    pub async fn start(config_dir: &Path) -> Result<(Service, EventStream), ApiError> {
        Service::start_on(config_dir, tokio::runtime::Handle::current()).await
    }

    /// [`Service::start`], with this engine and every later one (a replacement)
    /// running on `engines_on`. The app gives it the connection's own thread, where
    /// the event pump runs too ([`crate::engine_thread`]).
    pub async fn start_on(
        config_dir: &Path,
        engines_on: tokio::runtime::Handle,
    ) -> Result<(Service, EventStream), ApiError> {
        let store = SettingsStore::new(config_dir);
        let (settings, load_note) = store.load();
        match &load_note {
            Some(LoadNote::Error(e)) => tracing::error!("{e}"),
            Some(LoadNote::Warning(w)) => tracing::warn!("{w}"),
            None => {}
        }
        let demo = if settings.uses_demo() {
            Some(start_demo().await.map_err(demo_error)?)
        } else {
            None
        };
        let demo_url = demo.as_ref().map(Simulator::url).unwrap_or_default();
        let (engine, events) = start_engine(&settings, &demo_url, &engines_on)?;
        engine.connect()?;
        let (status, _) = watch::channel(engine.status().borrow().clone());
        let from = engine.status();
        let slot = Arc::new(Mutex::new(Slot {
            handle: engine,
            held: false,
        }));
        relay(from, status.clone(), Arc::clone(&slot), &engines_on);
        let mut model = AppModel::new(settings.uses_demo(), settings.notify.clone());
        model.set_watchlist(&settings.watchlist);
        model.set_redactor(settings.client_config(&demo_url).redactor());
        if let Some(n) = load_note {
            let level = match n {
                LoadNote::Error(_) => Level::Error,
                LoadNote::Warning(_) => Level::Warn,
            };
            model.note(level, n.text().to_owned(), now_ms());
        }
        let service = Service {
            engine: slot,
            status,
            stopping: AtomicBool::new(false),
            store,
            settings: Mutex::new(settings),
            model: Arc::new(Mutex::new(model)),
            demo: tokio::sync::Mutex::new(demo),
            order_seq: AtomicU64::new(0),
            engines_on,
        };
        Ok((service, events))
    }

    /// The engine in use (the handle of a replacement, after one ended unexpectedly).
    pub fn engine(&self) -> Handle {
        self.engine.lock().unwrap().handle.clone()
    }

    /// The status the app shows: the engine's, or an engine failure until the trader
    /// acts. Follow this, not one engine's, so a replacement engine is followed too.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }

    /// The trader's Connect, Disconnect, toggle or Reconnect, on the engine in use.
    /// After an engine failure this is also the trader's answer to it: the failure's
    /// `error` gives way to the fresh engine's status.
    pub fn control(&self, c: Control) -> Result<(), EngineError> {
        // Under the slot's lock (sending a command never blocks): the command goes to
        // the engine whose status this releases.
        let mut slot = self.engine.lock().unwrap();
        let engine = &slot.handle;
        match c {
            Control::Connect => engine.connect(),
            Control::Disconnect => engine.disconnect(),
            Control::Toggle => engine.toggle(),
            Control::Reconnect => engine.reconnect(),
        }?;
        if slot.held {
            slot.held = false;
            self.status
                .send_replace(slot.handle.status().borrow().clone());
        }
        Ok(())
    }

    /// The app is quitting: stops the engine cleanly (within `grace`); its end is
    /// then not a failure.
    pub async fn shutdown(&self, grace: std::time::Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        let engine = self.engine();
        let _ = tokio::time::timeout(grace, engine.shutdown()).await;
    }

    /// The engine's event stream ended. If the app is quitting, that was asked for:
    /// `None`. Otherwise the engine died (a bug): the app shows `error`
    /// ([`ENGINE_STOPPED`]) until the trader acts, the model marks open orders
    /// unconfirmed and notifies, and a fresh engine with the same settings takes the
    /// dead one's place, subscribed but not connected: the trader's Connect (window
    /// or tray) connects it. Returns what the model said, and the new engine's events
    /// (or why it could not start: then the error says to restart Uplink).
    pub async fn replace_dead_engine(&self) -> Option<(Vec<Out>, Result<EventStream, ApiError>)> {
        if self.stopping.load(Ordering::SeqCst) {
            return None;
        }
        tracing::error!("{ENGINE_STOPPED}: starting a fresh one for the trader to connect");
        let failed = self
            .engine()
            .status()
            .borrow()
            .engine_stopped(ENGINE_STOPPED, now_ms());
        // The fresh engine and the model first, so that whoever sees the error finds
        // its log line, and a Connect goes to the fresh engine.
        let started = self.start_fresh().await;
        let (engine, events) = match started {
            Ok(started) => started,
            Err(e) => {
                // Nothing to connect: say so, and keep saying it.
                let reason = format!(
                    "{ENGINE_STOPPED}, and a fresh one could not start ({}): restart Uplink",
                    e.message
                );
                let failed = failed.engine_stopped(&reason, now_ms());
                self.engine.lock().unwrap().held = true;
                self.status.send_replace(failed.clone());
                let outs =
                    self.model
                        .lock()
                        .unwrap()
                        .engine_stopped(&failed, Instant::now(), now_ms());
                return Some((outs, Err(e)));
            }
        };
        let outs = self
            .model
            .lock()
            .unwrap()
            .engine_stopped(&failed, Instant::now(), now_ms());
        let from = engine.status();
        {
            let mut slot = self.engine.lock().unwrap();
            slot.handle = engine;
            slot.held = true;
            self.status.send_replace(failed);
        }
        relay(
            from,
            self.status.clone(),
            Arc::clone(&self.engine),
            &self.engines_on,
        );
        if self.stopping.load(Ordering::SeqCst) {
            // The app began to quit meanwhile: the fresh engine goes too.
            self.engine().shutdown().await;
            return None;
        }
        Some((outs, Ok(events)))
    }

    /// The app model, shared with the event pump.
    pub fn model(&self) -> &Arc<Mutex<AppModel>> {
        &self.model
    }

    /// A copy of the settings in force.
    pub fn settings(&self) -> Settings {
        self.settings.lock().unwrap().clone()
    }

    /// Everything the window needs when it opens.
    pub fn snapshot(&self) -> Snapshot {
        // The window asks once, when its page has loaded: the log tells a window that
        // opened from one that loaded.
        tracing::info!("the window loaded: sending it the current state");
        let status = self.status.borrow().clone();
        let m = self.model.lock().unwrap();
        Snapshot {
            status: m.ui_status(&status),
            quotes: m.quotes(),
            orders: m.orders(),
            log: m.log(),
            settings: self.settings().view(),
        }
    }

    /// Adds or removes watchlist symbols: subscribes on the feed and saves the list.
    pub fn watch(&self, symbols: &[String], add: bool) -> Result<Vec<String>, ApiError> {
        let symbols: Vec<String> = symbols.iter().map(|s| normalize_symbol(s)).collect();
        let engine = self.engine();
        if add {
            engine.subscribe(symbols.clone())?;
        } else {
            engine.unsubscribe(symbols.clone())?;
            self.model.lock().unwrap().remove_symbols(&symbols);
        }
        let mut s = self.settings.lock().unwrap();
        for sym in symbols {
            let pos = s.watchlist.iter().position(|w| *w == sym);
            match (add, pos) {
                (true, None) => s.watchlist.push(sym),
                (false, Some(i)) => {
                    s.watchlist.remove(i);
                }
                _ => {}
            }
        }
        let mut model = self.model.lock().unwrap();
        if let Err(e) = self.store.save(&s) {
            // In effect now (subscribed), but the next start would not know it.
            let why = e.into_values().collect::<Vec<_>>().join("; ");
            tracing::warn!("watchlist not saved: {why}");
            model.note(
                Level::Warn,
                format!("The watchlist changed but could not be saved, so the next start will not have it: {why}"),
                now_ms(),
            );
        }
        model.set_watchlist(&s.watchlist);
        Ok(s.watchlist.clone())
    }

    /// Places an order: validated once (by [`Outbound::order`]), handed to the engine,
    /// and recorded as a row only once the engine has it. Returns its client order id.
    pub fn place_order(&self, symbol: &str, side: &str, qty: f64) -> Result<String, ApiError> {
        let side = match side {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            _ => return Err(ApiError::input("side must be buy or sell")),
        };
        let key = format!(
            "ui-{}-{}",
            now_ms(),
            self.order_seq.fetch_add(1, Ordering::Relaxed) + 1
        );
        let symbol = normalize_symbol(symbol);
        let order = Outbound::order(OrderRequest {
            symbol: symbol.clone(),
            side,
            qty,
            client_order_id: Some(key.clone()),
        })?;
        // Hold the model across the send: the event pump cannot see this order's
        // `sent` before its row exists.
        let mut model = self.model.lock().unwrap();
        let id = self.engine().send(order)?;
        model.order_placed(id, &key, &symbol, side, qty, now_ms());
        Ok(key)
    }

    /// What the trader does to an order listed in the window.
    pub async fn order_action(&self, key: &str, action: OrderAction) -> Result<(), ApiError> {
        let id =
            self.model.lock().unwrap().message_id(key).ok_or_else(|| {
                ApiError::input(format!("no order {key} placed from this window"))
            })?;
        let engine = self.engine();
        match action {
            OrderAction::Cancel => engine.cancel(id).await?,
            OrderAction::Resend => engine.resend(id).await?,
            OrderAction::Discard => engine.discard(id).await?,
        }
        Ok(())
    }

    /// Starts the demo feed if it is not running; returns its URL.
    async fn ensure_demo(&self) -> Result<String, ApiError> {
        let mut demo = self.demo.lock().await;
        if let Some(sim) = demo.as_ref() {
            return Ok(sim.url());
        }
        let sim = start_demo().await.map_err(demo_error)?;
        let url = sim.url();
        *demo = Some(sim);
        Ok(url)
    }

    /// Validates, saves and applies new settings; invalid ones change nothing.
    pub async fn save_settings(&self, input: SettingsInput) -> Result<Saved, ApiError> {
        let current = self.settings();
        let token_kept = input.token_change.is_none();
        let next = current.apply(input);
        let invalid = |fields: settings::FieldErrors| ApiError {
            code: "invalid_settings",
            message: format!(
                "{} setting(s) need attention; nothing was saved",
                fields.len()
            ),
            fields: Some(fields),
            retry_in_secs: None,
        };
        next.validate().map_err(invalid)?;
        if let Some(host) = token_kept
            .then(|| current.token_goes_to_new_host(&next))
            .flatten()
        {
            return Err(invalid(settings::FieldErrors::from([(
                "token".to_owned(),
                format!("the feed moved to {host}: enter the token again to send it there, or remove it"),
            )])));
        }
        let demo_url = self.demo_url_for(&next).await?;
        let config = next.client_config(&demo_url);
        config.validate().map_err(|e| {
            invalid(settings::FieldErrors::from([(
                "feed_urls".to_owned(),
                e.to_string(),
            )]))
        })?;
        self.store.save(&next).map_err(invalid)?;

        if !next.same_connection(&current) {
            tracing::info!(
                demo = next.uses_demo(),
                "connection settings changed: reconnecting"
            );
            self.engine().reconfigure(&config)?;
            self.model.lock().unwrap().set_redactor(config.redactor());
        } else if next.client_config(&demo_url).core != current.client_config(&demo_url).core {
            // Staleness and alert thresholds: no reason to drop a working connection.
            self.engine().tune(config.core.clone())?;
        }
        let not_in = |list: &[String], other: &[String]| -> Vec<String> {
            list.iter()
                .filter(|s| !other.contains(s))
                .cloned()
                .collect()
        };
        let added = not_in(&next.watchlist, &current.watchlist);
        let removed = not_in(&current.watchlist, &next.watchlist);
        if !added.is_empty() {
            self.engine().subscribe(added)?;
        }
        if !removed.is_empty() {
            self.engine().unsubscribe(removed.clone())?;
        }
        {
            let mut m = self.model.lock().unwrap();
            m.remove_symbols(&removed);
            m.set_demo(next.uses_demo());
            m.set_prefs(next.notify.clone());
            m.set_watchlist(&next.watchlist);
        }
        let saved = Saved {
            view: next.view(),
            launch_at_login: (next.launch_at_login != current.launch_at_login)
                .then_some(next.launch_at_login),
        };
        *self.settings.lock().unwrap() = next;
        Ok(saved)
    }
}

impl Service {
    /// A fresh engine with the settings in force, subscribed, not connected.
    async fn start_fresh(&self) -> Result<(Handle, EventStream), ApiError> {
        let settings = self.settings();
        start_engine(
            &settings,
            &self.demo_url_for(&settings).await?,
            &self.engines_on,
        )
    }

    /// The demo feed's URL (started if need be) when `settings` name no feed; else
    /// empty.
    async fn demo_url_for(&self, settings: &Settings) -> Result<String, ApiError> {
        if settings.uses_demo() {
            self.ensure_demo().await
        } else {
            Ok(String::new())
        }
    }
}

/// An engine for `settings` (on the demo feed at `demo_url` if they name no feed),
/// running on `rt`, subscribed to the watchlist, not yet connected.
fn start_engine(
    settings: &Settings,
    demo_url: &str,
    rt: &tokio::runtime::Handle,
) -> Result<(Handle, EventStream), ApiError> {
    let (engine, events) = {
        let _on = rt.enter();
        Engine::start(settings.client_config(demo_url))?
    };
    if !settings.watchlist.is_empty() {
        engine.subscribe(settings.watchlist.clone())?;
    }
    Ok((engine, events))
}

/// Publishes every status of one engine as the app's, unless the slot is held (the
/// app shows an engine failure), on the engine's runtime `rt`. Ends with that engine.
fn relay(
    mut from: watch::Receiver<Status>,
    to: watch::Sender<Status>,
    slot: Arc<Mutex<Slot>>,
    rt: &tokio::runtime::Handle,
) {
    rt.spawn(async move {
        loop {
            {
                let slot = slot.lock().unwrap();
                // Marked seen even when held, so `changed` waits for the next one.
                let status = from.borrow_and_update();
                if !slot.held {
                    to.send_replace(status.clone());
                }
            }
            if from.changed().await.is_err() {
                break;
            }
        }
    });
}

fn demo_error(e: uplink_sim::SimError) -> ApiError {
    ApiError {
        code: "internal",
        message: format!("cannot start the demo feed: {e}"),
        fields: None,
        retry_in_secs: None,
    }
}

async fn start_demo() -> Result<Simulator, uplink_sim::SimError> {
    Simulator::start(SimConfig {
        rate: 8.0,
        seed: now_ms(),
        ..SimConfig::default()
    })
    .await
}

impl From<OutboundError> for ApiError {
    fn from(e: OutboundError) -> Self {
        ApiError::input(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use uplink_engine::proto::Payload;
    use uplink_engine::EngineEvent;

    /// The engine of a service started with [`Service::start_on`] runs on the runtime
    /// given, not on the one the start was awaited on: that one can end (here it is
    /// dropped at once), and the engine goes on connecting and delivering prices.
    #[test]
    fn the_engine_runs_on_the_runtime_it_is_given() {
        let feed_rt = tokio::runtime::Runtime::new().unwrap();
        let sim = feed_rt
            .block_on(Simulator::start(SimConfig {
                rate: 50.0,
                ..SimConfig::default()
            }))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        SettingsStore::new(dir.path())
            .save(&Settings {
                feed_urls: vec![sim.url()],
                watchlist: vec!["AAPL".into()],
                ..Default::default()
            })
            .unwrap();
        let engines = crate::engine_thread().unwrap();
        let caller = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (service, mut events) = caller
            .block_on(Service::start_on(dir.path(), engines.clone()))
            .unwrap();
        drop(caller);
        let first_price = async {
            while let Some(ev) = events.recv().await {
                if let EngineEvent::Message { message } = ev {
                    if let Payload::Update(u) = message.payload {
                        return Some(u.symbol);
                    }
                }
            }
            None
        };
        let price = engines
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), first_price).await });
        assert_eq!(price.expect("prices within 10 s"), Some("AAPL".into()));
        assert_eq!(
            service.status().borrow().state,
            uplink_engine::StateKind::Connected,
            "the status relay runs there too"
        );
        engines.block_on(service.shutdown(Duration::from_secs(2)));
    }

    /// A watchlist change that cannot be saved is in effect, and the trader is told
    /// that the next start will not have it.
    #[test]
    fn a_watchlist_change_that_cannot_be_saved_says_so() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        SettingsStore::new(&config)
            .save(&Settings {
                feed_urls: vec![sim.url()],
                ..Default::default()
            })
            .unwrap();
        let (service, _events) = rt.block_on(Service::start(&config)).unwrap();
        // The folder is gone and a file stands in its place: nothing can be written.
        std::fs::remove_dir_all(&config).unwrap();
        std::fs::write(&config, b"not a folder").unwrap();
        let list = service.watch(&["IBM".into()], true).unwrap();
        assert!(list.contains(&"IBM".to_string()), "{list:?}");
        let said = service.model().lock().unwrap().log();
        assert!(
            said.iter().any(|l| l.level == Level::Warn
                && l.message
                    .starts_with("The watchlist changed but could not be saved")),
            "{said:?}"
        );
        rt.block_on(service.shutdown(Duration::from_secs(2)));
    }
}
