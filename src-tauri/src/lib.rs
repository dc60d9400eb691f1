//! Uplink's desktop shell: a thin Tauri 2 app over the connection engine.
//!
//! Module tour:
//! * [`settings`]: the user's settings, validated per field, stored 0600;
//! * [`bridge`]: the one mapping from engine events to UI events, tray redraws and
//!   notifications, with market data coalesced to 20 Hz;
//! * [`notify`]: when to notify (dedupe, rate limit), separate from sending;
//! * [`network`]: NetworkManager's "network is back" re-arms the connection;
//! * [`tray`] and [`icon`]: the tray icon per state, its label and menu;
//! * [`commands`]: what the window may call, one-line adapters;
//! * `logging`: stderr plus a rotating file.
//!
//! The window is a view: the backend pushes `uplink://status`, `uplink://latency`,
//! `uplink://market` and `uplink://log` events; the UI never polls.
//!
//! Environment (for tests and packagers): `UPLINK_CONFIG_DIR` and `UPLINK_LOG_DIR`
//! replace the platform directories; `UPLINK_TRAY_DIR` is where the tray backend
//! writes its icon PNGs; `UPLINK_NETWORK_BUS=session` watches NetworkManager on the
//! session bus instead of the system bus.

pub mod bridge;
pub mod commands;
pub mod icon;
pub mod network;
pub mod notify;
pub mod settings;
pub mod tray;

mod logging;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tauri::{AppHandle, Emitter, Manager, RunEvent, Runtime, WindowEvent};
use tauri_plugin_notification::NotificationExt;
use uplink_engine::{Engine, EventStream, Handle, StateKind};
use uplink_sim::{SimConfig, Simulator};

use crate::bridge::{names, Bridge, Out};
use crate::commands::{ApiError, Snapshot};
use crate::settings::{Settings, SettingsInput, SettingsStore, SettingsView};
use crate::tray::TrayController;

/// How often coalesced market data and tray changes are flushed.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// Tray redraws at most this often (some panels drop faster icon changes).
const TRAY_EVERY: Duration = Duration::from_millis(200);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Everything the commands and the tray act on.
#[derive(Debug)]
pub struct AppState {
    /// The connection.
    pub engine: Handle,
    /// Where settings are saved.
    store: SettingsStore,
    /// Settings in force.
    settings: Mutex<Settings>,
    /// Status, market book, orders and log, shared with the bridge task.
    bridge: Arc<Mutex<Bridge>>,
    /// The built-in demo feed, while in use.
    demo: tokio::sync::Mutex<Option<Simulator>>,
    /// Numbers client order ids.
    order_seq: AtomicU64,
}

impl AppState {
    /// A copy of the settings in force.
    pub fn settings(&self) -> Settings {
        self.settings.lock().unwrap().clone()
    }

    /// The notification preferences alone (read on every batch of events).
    fn notify_prefs(&self) -> settings::NotifySettings {
        self.settings.lock().unwrap().notify.clone()
    }

    fn snapshot(&self) -> Snapshot {
        let b = self.bridge.lock().unwrap();
        Snapshot {
            status: b.status().cloned(),
            quotes: b.quotes(),
            orders: b.orders(),
            log: b.log(),
            settings: self.settings().view(),
        }
    }

    /// Adds or removes watchlist symbols: subscribes on the feed and saves the list.
    fn watch(&self, symbols: Vec<String>, add: bool) -> Result<Vec<String>, ApiError> {
        let symbols: Vec<String> = symbols.iter().map(|s| s.trim().to_uppercase()).collect();
        uplink_engine::core::validate_symbols(&symbols)
            .map_err(|e| ApiError::input(e.to_string()))?;
        if add {
            self.engine.subscribe(symbols.clone())?;
        } else {
            self.engine.unsubscribe(symbols.clone())?;
            self.bridge.lock().unwrap().remove_symbols(&symbols);
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
        if let Err(e) = self.store.save(&s) {
            tracing::warn!("watchlist not saved: {e:?}");
        }
        Ok(s.watchlist.clone())
    }

    /// Queues an order; it is written once connected, in order, exactly once.
    fn place_order(&self, symbol: &str, side: &str, qty: f64) -> Result<String, ApiError> {
        let symbol = symbol.trim().to_uppercase();
        uplink_engine::core::validate_symbols(std::slice::from_ref(&symbol))
            .map_err(|e| ApiError::input(e.to_string()))?;
        if !matches!(side, "buy" | "sell") {
            return Err(ApiError::input("side must be buy or sell"));
        }
        if !(qty.is_finite() && qty > 0.0 && qty <= 1_000_000.0) {
            return Err(ApiError::input(
                "quantity must be a number above 0 and at most 1,000,000",
            ));
        }
        let key = format!(
            "ui-{}-{}",
            now_ms(),
            self.order_seq.fetch_add(1, Ordering::Relaxed) + 1
        );
        let text = serde_json::json!({
            "type": "order",
            "data": {"symbol": symbol, "side": side, "qty": qty, "client_order_id": key},
        })
        .to_string();
        self.bridge
            .lock()
            .unwrap()
            .add_local_order(&key, &symbol, side, qty, now_ms());
        self.engine.send(text)?;
        Ok(key)
    }

    /// Starts the demo feed if it is not running; returns its URL.
    async fn ensure_demo(&self) -> Result<String, ApiError> {
        let mut demo = self.demo.lock().await;
        if let Some(sim) = demo.as_ref() {
            return Ok(sim.url());
        }
        let sim = start_demo().await.map_err(|e| ApiError {
            code: "internal",
            message: format!("cannot start the demo feed: {e}"),
            fields: None,
        })?;
        let url = sim.url();
        *demo = Some(sim);
        Ok(url)
    }

    /// Validates, saves and applies new settings; invalid ones change nothing.
    async fn save_settings<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        input: SettingsInput,
    ) -> Result<SettingsView, ApiError> {
        let current = self.settings();
        let next = current.apply(input);
        let invalid = |fields: settings::FieldErrors| ApiError {
            code: "invalid_settings",
            message: format!(
                "{} setting(s) need attention; nothing was saved",
                fields.len()
            ),
            fields: Some(fields),
        };
        next.validate().map_err(invalid)?;
        let demo_url = if next.uses_demo() {
            self.ensure_demo().await?
        } else {
            String::new()
        };
        let config = next.client_config(&demo_url);
        config.validate().map_err(|e| {
            invalid(settings::FieldErrors::from([(
                "feed_url".to_owned(),
                e.to_string(),
            )]))
        })?;
        self.store.save(&next).map_err(invalid)?;

        if !next.same_connection(&current) {
            tracing::info!(
                demo = next.uses_demo(),
                "connection settings changed: reconnecting"
            );
            self.engine.reconfigure(&config)?;
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
            self.engine.subscribe(added)?;
        }
        if !removed.is_empty() {
            self.engine.unsubscribe(removed.clone())?;
            self.bridge.lock().unwrap().remove_symbols(&removed);
        }
        if next.launch_at_login != current.launch_at_login {
            sync_autostart(app, next.launch_at_login);
        }
        self.bridge.lock().unwrap().set_demo(next.uses_demo());
        let view = next.view();
        *self.settings.lock().unwrap() = next;
        Ok(view)
    }
}

fn sync_autostart<R: Runtime>(app: &AppHandle<R>, on: bool) {
    use tauri_plugin_autostart::ManagerExt;
    let res = if on {
        app.autolaunch().enable()
    } else {
        app.autolaunch().disable()
    };
    if let Err(e) = res {
        tracing::warn!("cannot change launch at login: {e}");
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

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Shows, unminimizes and focuses the main window.
pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// Keeps the file logger alive.
struct LogGuard(#[allow(dead_code)] Option<logging::Guard>);

fn setup(app: &mut tauri::App) -> Result<(), Box<dyn std::error::Error>> {
    let paths = app.path();
    let config_dir = env_dir("UPLINK_CONFIG_DIR").map_or_else(|| paths.app_config_dir(), Ok)?;
    let log_dir = env_dir("UPLINK_LOG_DIR").map_or_else(|| paths.app_log_dir(), Ok)?;
    app.manage(LogGuard(logging::init(&log_dir)));
    tracing::info!(config = %config_dir.display(), logs = %log_dir.display(), "Uplink starting");

    let store = SettingsStore::new(&config_dir);
    let (settings, load_error) = store.load();
    if let Some(e) = &load_error {
        tracing::error!("{e}");
    }
    let demo = if settings.uses_demo() {
        Some(tauri::async_runtime::block_on(start_demo())?)
    } else {
        None
    };
    let demo_url = demo.as_ref().map(Simulator::url).unwrap_or_default();
    let (engine, events) = tauri::async_runtime::block_on(async {
        let (engine, events) = Engine::start(settings.client_config(&demo_url))?;
        if !settings.watchlist.is_empty() {
            engine.subscribe(settings.watchlist.clone())?;
        }
        engine.connect()?;
        Ok::<_, uplink_engine::EngineError>((engine, events))
    })?;

    let bridge = Arc::new(Mutex::new(Bridge::new(settings.uses_demo())));
    if let Some(e) = load_error {
        bridge.lock().unwrap().note("error", e, now_ms());
    }
    let start_hidden = settings.start_minimized || std::env::args().any(|a| a == "--minimized");
    app.manage(AppState {
        engine,
        store,
        settings: Mutex::new(settings),
        bridge: Arc::clone(&bridge),
        demo: tokio::sync::Mutex::new(demo),
        order_seq: AtomicU64::new(0),
    });

    let tray_dir = env_dir("UPLINK_TRAY_DIR");
    let tray = match TrayController::build(app.handle(), tray_dir) {
        Ok(t) => Some(t),
        Err(e) => {
            // A desktop without a tray still gets the window and notifications.
            tracing::error!("no tray icon: {e}");
            None
        }
    };
    app.on_menu_event(|app, event| on_menu(app, event.id().as_ref()));
    tauri::async_runtime::spawn(bridge_loop(app.handle().clone(), events, bridge, tray));
    tauri::async_runtime::spawn(network::watch(app.state::<AppState>().engine.clone()));

    if !start_hidden {
        show_main(app.handle());
    }
    Ok(())
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let state = app.state::<AppState>();
    let result = match id {
        tray::ids::OPEN => {
            show_main(app);
            Ok(())
        }
        tray::ids::RECONNECT => state.engine.reconnect(),
        tray::ids::TOGGLE => {
            let current = state
                .bridge
                .lock()
                .unwrap()
                .status()
                .map(|s| s.status.state);
            match current {
                Some(StateKind::Disconnected | StateKind::Error) | None => state.engine.connect(),
                _ => state.engine.disconnect(),
            }
        }
        tray::ids::QUIT => {
            app.exit(0);
            Ok(())
        }
        _ => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!("menu {id}: {e}");
    }
}

/// Moves engine events to the UI, the tray and the notifier.
async fn bridge_loop<R: Runtime>(
    app: AppHandle<R>,
    mut events: EventStream,
    bridge: Arc<Mutex<Bridge>>,
    mut tray: Option<TrayController<R>>,
) {
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tray_dirty = true;
    let mut last_tray = Instant::now() - TRAY_EVERY;
    loop {
        tokio::select! {
            ev = events.recv() => {
                let Some(first) = ev else { break };
                let prefs = app.state::<AppState>().notify_prefs();
                let mut outs = Vec::new();
                {
                    let mut b = bridge.lock().unwrap();
                    let (now, ms) = (Instant::now(), now_ms());
                    outs.extend(b.apply(first, now, ms, &prefs));
                    // Take what else is already there under the same lock.
                    for _ in 0..4096 {
                        let Some(ev) = events.try_recv() else { break };
                        outs.extend(b.apply(ev, now, ms, &prefs));
                    }
                }
                for out in outs {
                    match out {
                        Out::Status(s) => emit(&app, names::STATUS, &*s),
                        Out::Latency(l) => emit(&app, names::LATENCY, &l),
                        Out::Log(l) => emit(&app, names::LOG, &l),
                        Out::Notify(n) => {
                            tracing::info!(title = %n.title, body = %n.body, "notification");
                            if let Err(e) = app.notification().builder().title(&n.title).body(&n.body).show() {
                                tracing::warn!("notification not shown: {e}");
                            }
                        }
                        Out::Tray => tray_dirty = true,
                    }
                }
            }
            _ = flush.tick() => {
                let market = bridge.lock().unwrap().take_market();
                if let Some(m) = market {
                    emit(&app, names::MARKET, &m);
                }
                if tray_dirty && last_tray.elapsed() >= TRAY_EVERY {
                    let view = bridge.lock().unwrap().status().map(|s| tray::view(&s.status, now_ms()));
                    if let (Some(t), Some(v)) = (tray.as_mut(), view) {
                        if let Err(e) = t.show(v) {
                            tracing::warn!("tray update failed: {e}");
                        }
                    }
                    tray_dirty = false;
                    last_tray = Instant::now();
                }
            }
        }
    }
}

fn emit<R: Runtime, S: serde::Serialize + Clone>(app: &AppHandle<R>, name: &str, payload: &S) {
    if let Err(e) = app.emit(name, payload.clone()) {
        tracing::warn!("cannot emit {name}: {e}");
    }
}

/// Builds and runs the app until Quit.
pub fn run() {
    use tauri_plugin_window_state::StateFlags;
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("second launch: showing the window");
            show_main(app);
        }))
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(StateFlags::all() & !StateFlags::VISIBLE)
                .build(),
        )
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--minimized"]),
        ))
        .setup(setup)
        .invoke_handler(tauri::generate_handler![
            commands::get_snapshot,
            commands::connect,
            commands::disconnect,
            commands::reconnect,
            commands::subscribe,
            commands::unsubscribe,
            commands::place_order,
            commands::get_settings,
            commands::save_settings,
        ])
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                // Closing hides to the tray; Quit in the tray menu exits.
                tracing::info!(window = window.label(), "window closed: hiding to the tray");
                api.prevent_close();
                if let Err(e) = window.hide() {
                    tracing::warn!("cannot hide the window: {e}");
                }
            }
        })
        .build(tauri::generate_context!())
        .expect("Uplink cannot start: Tauri failed to build the app");
    app.run(|app, event| match event {
        RunEvent::ExitRequested {
            api, code: None, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            if let Some(state) = app.try_state::<AppState>() {
                let engine = state.engine.clone();
                tauri::async_runtime::block_on(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(2), engine.shutdown()).await;
                });
            }
            tracing::info!("Uplink stopped");
        }
        _ => {}
    });
}
