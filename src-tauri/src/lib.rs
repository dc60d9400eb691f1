//! Uplink's desktop shell: a thin Tauri 2 app over the connection engine.
//!
//! The app's logic is plain Rust with no Tauri types; this file only wires it.
//!
//! Module tour:
//! * [`service`]: what commands and the tray act on (engine handle, settings, demo
//!   feed, the model), order placement and watchlist changes;
//! * [`model`]: watchlist quotes, orders with a typed lifecycle, the event log, the
//!   notification policy, and the one mapping from engine events to UI events;
//! * [`pump`]: the loops that carry the engine's status and events to a [`pump::UiSink`]
//!   (the event pump runs with the engine on the connection's own thread,
//!   [`engine_thread`]);
//! * [`notify`]: when to notify (dedupe, rate limit), separate from sending;
//! * [`settings`]: the user's settings, validated per field, stored 0600;
//! * [`network`]: "the network is back" (NetworkManager, or else the interfaces'
//!   addresses) re-arms the connection;
//! * [`reclaim`] (with [`smaps`], its reader of /proc): while no window is open, the
//!   webview's library pages are unmapped from the app (Linux);
//! * `procstat`: finds the app's WebKit processes in /proc, to end the network
//!   process and to wait for both after a close (Linux);
//! * [`tray`] and [`icon`]: the tray's own task (it watches the app's status), its
//!   icons, label and menu;
//! * [`commands`]: what the window may call, one-line adapters over [`service`];
//! * `logging`: stderr plus a rotating file.
//!
//! Data flow: the engine publishes one [`uplink_engine::Status`] (a `watch`); the
//! service relays it as the app's status ([`service::Service::status`]), which the
//! tray task and the window's frames ([`pump::frames`], at most 3 a second) both
//! follow. Engine events go through the model (the event pump, under
//! [`pump::supervise`]) to the window's log, latency chart and notifier at once, and
//! to its market view in the next frame. The window never polls. If the engine ends without being
//! asked, the app's status becomes that `error` and a fresh engine waits for the
//! trader's Connect.
//!
//! Environment (for tests and packagers): `UPLINK_CONFIG_DIR` and `UPLINK_LOG_DIR`
//! replace the platform directories; `UPLINK_TRAY_DIR` is where the tray backend
//! writes its icon PNGs; `UPLINK_NETWORK_BUS=session` watches NetworkManager on the
//! session bus instead of the system bus.

pub mod commands;
pub mod icon;
pub mod model;
pub mod network;
pub mod notify;
#[cfg(target_os = "linux")]
pub mod procstat;
pub mod pump;
pub mod reclaim;
pub mod service;
pub mod settings;
pub mod smaps;
pub mod tray;

mod logging;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tauri::{AppHandle, Emitter, Manager, RunEvent, Runtime, WindowEvent};
use tauri_plugin_notification::NotificationExt;

use crate::notify::Notification;
use crate::pump::UiSink;
use crate::service::{Control, Service};
use crate::tray::TrayController;

/// What differs between the real desktop app and a headless smoke test.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Put an icon in the tray (needs a desktop session).
    pub tray: bool,
    /// Listen for "the network is back" (NetworkManager, or else the interfaces).
    pub network: bool,
}

impl Options {
    /// The desktop app.
    pub const DESKTOP: Options = Options {
        tray: true,
        network: true,
    };
}

/// Tauri's emitter and notifier as the pumps' sink.
struct TauriSink<R: Runtime>(AppHandle<R>);

impl<R: Runtime> UiSink for TauriSink<R> {
    fn emit<S: serde::Serialize + Clone>(&self, name: &str, payload: &S) {
        // No window, no work: a new one loads the snapshot when it opens.
        if self.0.get_webview_window(MAIN).is_none() {
            return;
        }
        if let Err(e) = self.0.emit(name, payload.clone()) {
            tracing::warn!("cannot emit {name}: {e}");
        }
    }

    fn notify(&self, n: &Notification) {
        let mut b = self
            .0
            .notification()
            .builder()
            .title(&n.title)
            .body(&n.body);
        if n.sound {
            // The freedesktop sound theme's name for a message arriving.
            b = b.sound("message-new-instant");
        }
        let shown = b.show();
        if let Err(e) = shown {
            tracing::warn!("notification not shown: {e}");
        }
    }
}

/// The identifier before 0.1.0's packages ("dev.uplink.app", which macOS would
/// take for an application bundle): its settings folder is taken over once.
const OLD_IDENTIFIER: &str = "dev.uplink.app";

fn adopt_old_settings(config_dir: &std::path::Path) {
    let Some(old) = config_dir.parent().map(|p| p.join(OLD_IDENTIFIER)) else {
        return;
    };
    let store = settings::SettingsStore::new(config_dir);
    match store.adopt(&settings::SettingsStore::new(&old)) {
        Ok(true) => {
            tracing::info!(from = %old.display(), "took over the settings of an earlier version")
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(from = %old.display(), "cannot take over earlier settings: {e}"),
    }
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The main window's label, in tauri.conf.json.
const MAIN: &str = "main";

/// Shows, unminimizes and focuses the main window; creates it (a new webview, which
/// loads the backend's snapshot) if it was closed.
pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    let window = match app.get_webview_window(MAIN) {
        Some(w) => w,
        None => match create_main(app) {
            Ok(w) => w,
            // Made meanwhile by another caller (the tray and a second launch at once)?
            Err(e) => match app.get_webview_window(MAIN) {
                Some(w) => w,
                None => {
                    tracing::error!("cannot open the window: {e}");
                    return;
                }
            },
        },
    };
    let _ = window.unminimize();
    let _ = window.show();
    let _ = window.set_focus();
}

/// The main window as tauri.conf.json describes it (created hidden).
fn create_main<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<tauri::WebviewWindow<R>> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN)
        .cloned()
        .ok_or_else(|| tauri::Error::WindowNotFound)?;
    tracing::info!("opening the window: a new webview");
    tauri::WebviewWindowBuilder::from_config(app, &config)?.build()
}

/// Turns launch at login on or off.
pub fn sync_autostart<R: Runtime>(app: &AppHandle<R>, on: bool) {
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

/// The connection's own thread: a single-threaded runtime on which the engine's
/// driver and the event pump both run, so each message is decoded, counted and
/// applied to the model on one thread. Handing every read batch from one of the
/// shared runtime's workers to another cost a thread wake-up per batch and made
/// every message's memory be freed on another thread than the one it came from. In
/// the tray on 100,000 msg/s (release build) this halves the context switches of
/// the threads doing the work (1,693 to 828 a second) and took 1.4 to 2.3 points of a core off each of 5
/// interleaved pairs of runs (medians 17.6 and 15.8 %; BENCHMARKS.md). The thread
/// lives as long as the app.
pub fn engine_thread() -> std::io::Result<tokio::runtime::Handle> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = rt.handle().clone();
    std::thread::Builder::new()
        .name("uplink-engine".into())
        .spawn(move || rt.block_on(std::future::pending::<()>()))?;
    Ok(handle)
}

/// Keeps the file logger alive.
struct LogGuard(#[allow(dead_code)] Option<logging::Guard>);

fn setup<R: Runtime>(
    app: &mut tauri::App<R>,
    opts: Options,
) -> Result<(), Box<dyn std::error::Error>> {
    let paths = app.path();
    let config_dir = env_dir("UPLINK_CONFIG_DIR").map_or_else(|| paths.app_config_dir(), Ok)?;
    let log_dir = env_dir("UPLINK_LOG_DIR").map_or_else(|| paths.app_log_dir(), Ok)?;
    app.manage(LogGuard(logging::init(&log_dir)));
    tracing::info!(config = %config_dir.display(), logs = %log_dir.display(), "Uplink starting");
    if env_dir("UPLINK_CONFIG_DIR").is_none() {
        adopt_old_settings(&config_dir);
    }

    let engines_on = engine_thread()?;
    let (service, events) =
        tauri::async_runtime::block_on(Service::start_on(&config_dir, engines_on.clone()))
            .map_err(|e| e.message)?;
    let start_hidden =
        service.settings().start_minimized || std::env::args().any(|a| a == "--minimized");
    let service = Arc::new(service);
    let status = service.status();
    let model = Arc::clone(service.model());
    app.manage(Arc::clone(&service));

    if opts.tray {
        match TrayController::build(app.handle(), env_dir("UPLINK_TRAY_DIR")) {
            Ok(t) => {
                tauri::async_runtime::spawn(tray::run(t, status.clone()));
            }
            // A desktop without a tray still gets the window and notifications.
            Err(e) => tracing::error!("no tray icon: {e}"),
        }
    }
    app.on_menu_event(|app, event| on_menu(app, event.id().as_ref()));
    let sink = Arc::new(TauriSink(app.handle().clone()));
    tauri::async_runtime::spawn(pump::frames(Arc::clone(&sink), status, model));
    engines_on.spawn(pump::supervise(sink, Arc::clone(&service), events));
    if opts.network {
        tauri::async_runtime::spawn(network::watch(service));
    }
    if start_hidden {
        // No webview runs, yet loading WebKit touched pages of its libraries.
        release_webview_memory(app.handle().clone());
    } else {
        show_main(app.handle());
    }
    Ok(())
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let service = app.state::<Arc<Service>>();
    let result = match id {
        tray::ids::OPEN => {
            show_main(app);
            Ok(())
        }
        tray::ids::RECONNECT => service.control(Control::Reconnect),
        tray::ids::TOGGLE => service.control(Control::Toggle),
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

/// Everything but the desktop-only plugins: the setup, the commands and the window
/// behaviour, on any runtime (the real one, or Tauri's mock runtime in tests).
pub fn app_builder<R: Runtime>(builder: tauri::Builder<R>, opts: Options) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_notification::init())
        .setup(move |app| setup(app, opts))
        .invoke_handler(tauri::generate_handler![
            commands::get_snapshot,
            commands::connect,
            commands::disconnect,
            commands::toggle,
            commands::reconnect,
            commands::subscribe,
            commands::unsubscribe,
            commands::place_order,
            commands::cancel_order,
            commands::resend_order,
            commands::discard_order,
            commands::get_settings,
            commands::save_settings,
        ])
        .on_window_event(|window, event| match event {
            WindowEvent::CloseRequested { .. } => {
                // Closing destroys the window and its webview (WebKit's web process
                // ends with it), so the app in the tray costs no webview; the tray's
                // "Open Uplink" makes a new one. Quit in the tray menu exits.
                tracing::info!(
                    window = window.label(),
                    "window closed: webview released, the app stays in the tray"
                );
            }
            // The last webview gone: nobody needs WebKit's network process. (By the
            // time handlers hear of `Destroyed`, Tauri has taken the window out of its
            // list: `webview_windows()` holds only the others.)
            WindowEvent::Destroyed
                if window.label() == MAIN && window.webview_windows().is_empty() =>
            {
                end_webkit_network_process();
                release_webview_memory(window.app_handle().clone());
            }
            _ => {}
        })
}

/// Runs `app` until Quit, then stops the engine cleanly.
pub fn run_app<R: Runtime>(app: tauri::App<R>) {
    app.run(|app, event| match event {
        RunEvent::ExitRequested {
            api, code: None, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            if let Some(service) = app.try_state::<Arc<Service>>() {
                let service = Arc::clone(&service);
                tauri::async_runtime::block_on(async move {
                    service.shutdown(Duration::from_secs(2)).await;
                });
            }
            tracing::info!("Uplink stopped");
        }
        _ => {}
    });
}

/// Ends WebKit's network process once the window is gone (Linux). WebKitGTK keeps it
/// after the last webview, and Tauri keeps the web context, and with it the process,
/// for the app's lifetime (tauri-runtime-wry's `WebviewWrapper::drop`, tauri issue
/// 14626): 16 MB of the tray's PSS (BENCHMARKS.md). The next window's webview makes a
/// new one, as WebKit does after that process crashed. Only a direct child is looked
/// for (WebKit's sandbox or Flatpak would put another process between; then this
/// says so and leaves it). Elsewhere this does nothing.
fn end_webkit_network_process() {
    #[cfg(target_os = "linux")]
    {
        use nix::sys::signal::{kill, Signal};
        let found = procstat::children_named(std::process::id(), &["WebKitNetworkPr"]);
        if found.is_empty() {
            tracing::info!("no WebKit network process of ours to end");
        }
        for pid in found {
            let Ok(raw) = i32::try_from(pid) else {
                continue;
            };
            match kill(nix::unistd::Pid::from_raw(raw), Signal::SIGTERM) {
                Ok(()) => tracing::info!(pid, "asked WebKit's network process to end (SIGTERM)"),
                Err(e) => tracing::warn!(pid, "cannot end WebKit's network process: {e}"),
            }
        }
    }
}

/// Unmaps the pages of WebKit's libraries from the app's own process ([`reclaim`])
/// when no window is open: after a close, once the closed window's WebKit processes
/// have ended, and at a start in the tray (the figures are in BENCHMARKS.md). Not if
/// a window is open again by then. On a thread of its own, which waits up to 10 s for
/// those processes: until they end, the app still talks to them and tears the
/// webview down, touching those libraries. Elsewhere than Linux this does nothing.
fn release_webview_memory<R: Runtime>(app: AppHandle<R>) {
    #[cfg(target_os = "linux")]
    {
        let reclaim = move || {
            let webkit = ["WebKitWebProces", "WebKitNetworkPr"];
            let waited = std::time::Instant::now();
            while !procstat::children_named(std::process::id(), &webkit).is_empty()
                && waited.elapsed() < WEBKIT_EXIT_WAIT
            {
                std::thread::sleep(WEBKIT_EXIT_POLL);
            }
            if !app.webview_windows().is_empty() {
                tracing::debug!("a window is open again: the webview's pages stay");
                return;
            }
            match reclaim::release_webview_pages() {
                Ok(r) => tracing::info!(
                    mappings = r.mappings,
                    refused = r.refused,
                    "unmapped the webview's library pages: {} kB resident before, {} kB after",
                    r.before_kb,
                    r.after_kb
                ),
                Err(e) => tracing::warn!("the webview's library pages stay: {e}"),
            }
        };
        let spawned = std::thread::Builder::new()
            .name("uplink-reclaim".into())
            .spawn(reclaim);
        if let Err(e) = spawned {
            tracing::warn!("cannot start the thread that unmaps the webview's pages: {e}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    drop(app);
}

/// How long [`release_webview_memory`] waits for the closed window's WebKit processes
/// to end (they end within a second here), and how often it looks.
#[cfg(target_os = "linux")]
const WEBKIT_EXIT_WAIT: Duration = Duration::from_secs(10);
#[cfg(target_os = "linux")]
const WEBKIT_EXIT_POLL: Duration = Duration::from_millis(250);

/// The name of WebKitGTK's switch for its DMABUF renderer.
pub const DMABUF_SWITCH: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";

/// Sets what the webview should inherit. Without GPU acceleration (virtual machines,
/// remote desktops, some drivers) WebKitGTK's DMABUF renderer burns a core to redraw a
/// few table cells; with it disabled the same window costs a fraction of that, and
/// machines with a GPU still render. A value the user set, either way, is kept. It
/// also notes the libraries loaded at the start ([`reclaim::note_start_libraries`]).
/// Call it first thing in `main`, before any thread exists.
pub fn prepare_environment() {
    reclaim::note_start_libraries();
    #[cfg(target_os = "linux")]
    if std::env::var_os(DMABUF_SWITCH).is_none() {
        std::env::set_var(DMABUF_SWITCH, "1");
    }
}

/// Builds and runs the desktop app until Quit.
pub fn run() {
    use tauri_plugin_window_state::StateFlags;
    let builder = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("second launch: showing the window");
            show_main(app);
        }))
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(StateFlags::all() & !StateFlags::VISIBLE)
                .build(),
        )
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--minimized"]),
        ));
    let app = app_builder(builder, Options::DESKTOP)
        .build(tauri::generate_context!())
        .expect("Uplink cannot start: Tauri failed to build the app");
    run_app(app);
}
