//! Harness for end-to-end tests of the real Uplink app on a real (virtual) desktop.
//!
//! The test command (`scripts/e2e.sh`) provides Xvfb, a private D-Bus session and a
//! notification daemon; this crate provides, per test:
//! * [`Tray`]: owns `org.kde.StatusNotifierWatcher`, as a panel does, reads the
//!   registered item's properties (the icon PNG, the label) and clicks its menu over
//!   `com.canonical.dbusmenu`;
//! * [`Notifications`]: every `Notify` call on the bus, via `dbus-monitor`;
//! * [`App`]: the built app binary started through tauri-driver (WebKitWebDriver),
//!   with its own settings directory, driven over W3C WebDriver;
//! * [`x11`]: the app's top-level window as the X server sees it (mapped or not),
//!   and a close request as a window manager sends it;
//! * [`smaps`]: the app's own reader of `/proc/<pid>/smaps` (the same file), for
//!   what the app keeps resident;
//! * [`procstat`]: the app's own reader of `/proc/<pid>/stat` (the same file), for
//!   the app's WebKit processes;
//! * [`wait_for`]: waits on observed state with a timeout, and on failure says what it
//!   last saw. No sleeps stand in for conditions.

pub mod network;
pub mod notifications;
#[path = "../../src-tauri/src/procstat.rs"]
pub mod procstat;
#[path = "../../src-tauri/src/smaps.rs"]
pub mod smaps;
pub mod tray;
pub mod webdriver;
pub mod x11;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use notifications::Notifications;
pub use tray::{Tray, TrayItem};
pub use webdriver::App;

/// Polls `probe` every 50 ms until it returns `Ok`, for at most `timeout`. On timeout,
/// panics with `what` and the last thing `probe` observed.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match probe().await {
            Ok(v) => return v,
            Err(seen) => seen,
        };
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last observed: {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Where screenshots and logs of each scenario go.
pub fn artifacts() -> PathBuf {
    let d = std::env::var_os("UPLINK_E2E_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("artifacts").join("e2e"));
    std::fs::create_dir_all(&d).expect("artifacts directory");
    d
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("uplink-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch directory");
    d
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
