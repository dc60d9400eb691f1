//! The tray icon: what it shows for a status (pure, tested), and the controller that
//! puts it on the panel.
//!
//! On Linux the default backend (libayatana-appindicator) has no click events and no
//! tooltip, so the text goes in the title (`XAyatanaLabel` on the bus) and in a
//! disabled first menu item, and every action is a menu item.

use std::time::Duration;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};

use tauri::{AppHandle, Runtime};
use tokio::sync::watch;
use uplink_engine::Status;

use crate::icon::{self, Look};

/// Menu item ids.
pub mod ids {
    /// Shows the window.
    pub const OPEN: &str = "open";
    /// Manual reconnect.
    pub const RECONNECT: &str = "reconnect";
    /// Connect or Disconnect, whichever applies.
    pub const TOGGLE: &str = "toggle";
    /// Exits the app.
    pub const QUIT: &str = "quit";
    /// The disabled status line.
    pub const STATUS: &str = "status";
}

/// What the tray shows: the engine's status, as words and a colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayView {
    /// Selects icon colour and shape.
    pub look: Look,
    /// Title / status line: the status's own label, e.g. "Connected · 12 ms".
    pub label: String,
    /// Text of the toggle item: "Connect" or "Disconnect".
    pub toggle: &'static str,
}

impl TrayView {
    /// The tray's view of a status. Every word comes from the status itself.
    pub fn of(st: &Status) -> TrayView {
        TrayView {
            look: Look::of(st),
            label: st.label.clone(),
            toggle: st.toggle.label(),
        }
    }
}

/// The tray's icons, drawn once at start.
struct Icons(Vec<(Look, Image<'static>)>);

impl Icons {
    fn draw() -> Icons {
        Icons(
            Look::ALL
                .into_iter()
                .map(|l| (l, Image::new_owned(icon::rgba(l), icon::SIZE, icon::SIZE)))
                .collect(),
        )
    }

    fn get(&self, state: Look) -> Image<'static> {
        self.0
            .iter()
            .find(|(s, _)| *s == state)
            .map(|(_, i)| i.clone())
            .expect("an icon per state")
    }
}

/// Owns the tray icon and the two menu items whose text changes.
pub struct TrayController<R: Runtime> {
    /// Drawn once at start.
    icons: Icons,
    tray: TrayIcon<R>,
    status_item: MenuItem<R>,
    toggle_item: MenuItem<R>,
    shown: Option<TrayView>,
}

impl<R: Runtime> std::fmt::Debug for TrayController<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrayController")
            .field("shown", &self.shown)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> TrayController<R> {
    /// Builds the tray with its menu. `temp_dir` is where the backend writes the PNGs
    /// it shows (set per test run so stale icons cannot confuse a check).
    pub fn build(app: &AppHandle<R>, temp_dir: Option<std::path::PathBuf>) -> tauri::Result<Self> {
        let status_item = MenuItem::with_id(app, ids::STATUS, "Disconnected", false, None::<&str>)?;
        let open = MenuItem::with_id(app, ids::OPEN, "Open Uplink", true, None::<&str>)?;
        let reconnect =
            MenuItem::with_id(app, ids::RECONNECT, "Reconnect now", true, None::<&str>)?;
        let toggle_item = MenuItem::with_id(app, ids::TOGGLE, "Connect", true, None::<&str>)?;
        let quit = MenuItem::with_id(app, ids::QUIT, "Quit", true, None::<&str>)?;
        let menu = Menu::with_items(
            app,
            &[
                &status_item,
                &PredefinedMenuItem::separator(app)?,
                &open,
                &reconnect,
                &toggle_item,
                &PredefinedMenuItem::separator(app)?,
                &quit,
            ],
        )?;
        let icons = Icons::draw();
        let mut builder = TrayIconBuilder::with_id("main")
            .icon(icons.get(Look::Disconnected))
            .title("Disconnected")
            .tooltip("Uplink")
            .menu(&menu)
            .show_menu_on_left_click(true);
        if let Some(dir) = temp_dir {
            builder = builder.temp_dir_path(dir);
        }
        let tray = builder.build(app)?;
        Ok(TrayController {
            icons,
            tray,
            status_item,
            toggle_item,
            shown: None,
        })
    }

    /// Shows `v`, touching only what changed.
    pub fn show(&mut self, v: TrayView) -> tauri::Result<()> {
        let old = self.shown.as_ref();
        if old.map(|o| o.look) != Some(v.look) {
            self.tray.set_icon(Some(self.icons.get(v.look)))?;
        }
        if old.map(|o| &o.label) != Some(&v.label) {
            self.tray.set_title(Some(&v.label))?;
            let _ = self.tray.set_tooltip(Some(format!("Uplink: {}", v.label)));
            self.status_item.set_text(&v.label)?;
        }
        if old.map(|o| o.toggle) != Some(v.toggle) {
            self.toggle_item.set_text(v.toggle)?;
        }
        self.shown = Some(v);
        Ok(())
    }
}

/// Tray redraws at most this often (some panels drop faster icon changes).
pub const TRAY_EVERY: Duration = Duration::from_millis(200);

/// The tray's own task: shows every status the engine publishes, at most
/// [`TRAY_EVERY`] apart (the latest always gets shown). Ends with the engine.
pub async fn run<R: Runtime>(mut tray: TrayController<R>, mut rx: watch::Receiver<Status>) {
    loop {
        let view = TrayView::of(&rx.borrow_and_update());
        if let Err(e) = tray.show(view) {
            tracing::warn!("tray update failed: {e}");
        }
        tokio::time::sleep(TRAY_EVERY).await;
        if rx.changed().await.is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
    use uplink_engine::core::{Config, Connection};
    use uplink_engine::ErrorKind;

    fn wall_ms(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
    }

    #[test]
    fn labels_say_state_latency_attempt_and_countdown() {
        let now = Instant::now();
        let wall = SystemTime::now();
        let cfg = Config {
            jitter: 0.0,
            ..Config::default()
        };
        let mut c = Connection::new(cfg, 1, now).unwrap();
        let v = TrayView::of(&c.status(now, wall));
        assert_eq!(
            (v.label.as_str(), v.toggle, v.look),
            ("Disconnected", "Connect", Look::Disconnected)
        );

        c.handle_connect(now);
        assert_eq!(TrayView::of(&c.status(now, wall)).label, "Connecting…");
        let conn = c.current_conn().unwrap();
        c.handle_connected(now, conn);
        let v = TrayView::of(&c.status(now, wall));
        assert_eq!(
            (v.label.as_str(), v.toggle),
            ("Connected", "Disconnect"),
            "no round trip yet"
        );
        // The server answers the first ping (sent right after the handshake) at once.
        c.handle_text(now + Duration::from_micros(300), conn, r#"{"type":"pong"}"#);
        assert_eq!(
            TrayView::of(&c.status(now, wall)).label,
            "Connected · <1 ms"
        );
        let t = now + Duration::from_secs(30);
        c.handle_timeout(t);
        c.handle_text(t + Duration::from_millis(12), conn, r#"{"type":"pong"}"#);
        assert_eq!(TrayView::of(&c.status(t, wall)).label, "Connected · 12 ms");

        c.handle_connection_lost(t, conn, ErrorKind::Io, "reset");
        c.handle_timeout(t + Duration::from_secs(1));
        let conn = c.current_conn().unwrap();
        c.handle_connect_failed(
            t + Duration::from_secs(1),
            conn,
            ErrorKind::ConnectFailed,
            "refused",
        );
        // Attempt 2 waits 2 s; 0.5 s later the label counts down from 2.
        let at = t + Duration::from_millis(1500);
        let mut st = c.status(at, wall);
        // The link was lost 1.5 s ago: it says so.
        assert_eq!(
            TrayView::of(&st).label,
            "Reconnecting · attempt 2/10 · next try in 2 s · down 1 s"
        );
        st.relabel(wall_ms(wall) + 1200);
        assert_eq!(
            TrayView::of(&st).label,
            "Reconnecting · attempt 2/10 · next try in 1 s · down 2 s"
        );

        c.handle_connect_failed(
            at,
            c.current_conn().unwrap_or(conn),
            ErrorKind::Auth,
            "authentication failed: HTTP 401 Unauthorized",
        );
        c.handle_reconnect(at);
        let conn = c.current_conn().unwrap();
        c.handle_connect_failed(
            at,
            conn,
            ErrorKind::Auth,
            "authentication failed: HTTP 401 Unauthorized",
        );
        let v = TrayView::of(&c.status(at, wall));
        assert_eq!(
            v.label,
            "Error · authentication failed: HTTP 401 Unauthorized"
        );
        assert_eq!((v.toggle, v.look), ("Connect", Look::Error));
    }

    #[test]
    fn prices_that_stop_turn_the_tray_amber_with_their_age() {
        let now = Instant::now();
        let wall = SystemTime::now();
        let mut c = Connection::new(Config::default(), 1, now).unwrap();
        c.handle_subscribe(now, &["AAPL".to_string()]).unwrap();
        c.handle_connect(now);
        let conn = c.current_conn().unwrap();
        c.handle_connected(now, conn);
        c.handle_text(now, conn, r#"{"type":"pong"}"#);
        c.handle_text(
            now,
            conn,
            r#"{"type":"update","data":{"symbol":"AAPL","price":1}}"#,
        );
        assert_eq!(TrayView::of(&c.status(now, wall)).look, Look::Connected);
        // Pongs go on (the heartbeat is 30 s); prices stop.
        let t = now + Duration::from_secs(42);
        c.handle_timeout(now + Duration::from_secs(30));
        c.handle_text(now + Duration::from_secs(30), conn, r#"{"type":"pong"}"#);
        c.handle_timeout(t);
        let v = TrayView::of(&c.status(t, wall));
        assert_eq!(v.look, Look::Stale);
        assert_eq!(v.label, "Connected · prices stale 42 s");
        assert_eq!(v.toggle, "Disconnect");
    }
}
