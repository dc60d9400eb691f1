//! What the test binaries that run the whole app on Tauri's mock runtime share: a
//! command invoked through Tauri's real IPC layer, waiting for a snapshot, and an
//! order placed and found in one.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewWindow, WebviewWindowBuilder};
use uplink_app::{app_builder, Options};

/// The app as `run` wires it (without the tray and the network watch, which need a
/// desktop), its settings and logs under `dir`, its setup run, and a main window.
/// One per test binary: the folders are given to it in the environment.
pub fn start_app(dir: &std::path::Path) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    std::env::set_var("UPLINK_CONFIG_DIR", dir.join("config"));
    std::env::set_var("UPLINK_LOG_DIR", dir.join("logs"));
    let opts = Options {
        tray: false,
        network: false,
    };
    let mut app = app_builder(mock_builder(), opts)
        .build(mock_context(noop_assets()))
        .expect("the app builds on the mock runtime");
    // One turn of the (mock) event loop runs the app's setup, as `run` would.
    #[allow(deprecated)]
    app.run_iteration(|_, _| {});
    let w = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, w)
}

/// Where the window's own pages come from, as Tauri names it per platform: the
/// origin its capabilities allow (WebView2 serves custom protocols over http).
const APP_ORIGIN: &str = if cfg!(windows) {
    "http://tauri.localhost"
} else {
    "tauri://localhost"
};

/// Invokes the window command `cmd` with `args`, as the UI does.
pub fn invoke(w: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        w,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: APP_ORIGIN.parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: tauri::test::INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

/// Polls the snapshot until `pred` holds; on timeout, fails showing the last one.
pub fn snapshot_when(
    w: &WebviewWindow<MockRuntime>,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let snap = invoke(w, "get_snapshot", json!({})).expect("get_snapshot");
        if pred(&snap) {
            return snap;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} within 15 s; last snapshot: {snap:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Places an order through IPC, as the window does; returns its key. `what` names
/// the order in the failure message.
pub fn place_order(w: &WebviewWindow<MockRuntime>, args: Value, what: &str) -> String {
    let key = invoke(w, "place_order", args).unwrap_or_else(|e| panic!("{what}: {e}"));
    key.as_str().expect("an order key").to_owned()
}

/// The order row with `key` in a snapshot, if there is one.
pub fn order<'a>(snap: &'a Value, key: &str) -> Option<&'a Value> {
    snap["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["key"] == key)
}
