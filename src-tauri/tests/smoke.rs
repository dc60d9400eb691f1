//! The whole app, wired as in production, started on Tauri's mock runtime with no
//! display: the setup starts the built-in demo feed and the engine, and the window's
//! commands are invoked through Tauri's real IPC layer.

mod common;

use common::{invoke, order, place_order, snapshot_when};
use serde_json::json;

#[test]
fn the_app_starts_headless_on_the_demo_feed_and_its_commands_work() {
    let dir = tempfile::tempdir().unwrap();
    let (app, w) = common::start_app(dir.path());

    // First start: no settings, so the built-in demo feed, connected, with prices.
    let snap = snapshot_when(&w, "connected with prices", |s| {
        s["status"]["state"] == "connected" && !s["quotes"].as_array().unwrap().is_empty()
    });
    assert_eq!(snap["status"]["demo"], true);
    assert_eq!(snap["status"]["toggle"], "disconnect");
    assert!(snap["status"]["label"]
        .as_str()
        .unwrap()
        .starts_with("Connected"));
    assert_eq!(snap["settings"]["token_set"], false);

    // An order: validated once, recorded once the engine has it, then filled by the feed.
    let err = invoke(
        &w,
        "place_order",
        json!({"symbol": "AAPL", "side": "buy", "qty": 0}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid_input");
    assert_eq!(
        err["message"],
        "quantity must be a number above 0 and at most 1,000,000"
    );
    let key = place_order(
        &w,
        json!({"symbol": " aapl ", "side": "buy", "qty": 3}),
        "order placed",
    );
    let snap = snapshot_when(&w, "the order filled", |s| {
        order(s, &key).is_some_and(|o| o["status"] == "filled")
    });
    let orders = snap["orders"].as_array().unwrap();
    assert_eq!(
        orders.len(),
        1,
        "one row, only for the accepted order: {orders:?}"
    );
    assert_eq!(orders[0]["symbol"], "AAPL");

    // The toggle: the backend decides (connected, so it disconnects).
    invoke(&w, "toggle", json!({})).unwrap();
    let snap = snapshot_when(&w, "disconnected", |s| {
        s["status"]["state"] == "disconnected"
    });
    assert_eq!(snap["status"]["toggle"], "connect");
    assert_eq!(snap["status"]["label"], "Disconnected");
    invoke(&w, "toggle", json!({})).unwrap();
    snapshot_when(&w, "connected again", |s| {
        s["status"]["state"] == "connected"
    });

    // The engine dies (a bug, made by the test hook): the window's snapshot says so,
    // with Connect on the toggle; the log says what to do; Connect restarts it.
    use tauri::Manager;
    let service = app.state::<std::sync::Arc<uplink_app::service::Service>>();
    service.engine().crash().unwrap();
    let snap = snapshot_when(&w, "the engine failure", |s| {
        s["status"]["state"] == "error"
    });
    assert_eq!(
        snap["status"]["reason"],
        "the connection engine stopped unexpectedly"
    );
    assert_eq!(snap["status"]["toggle"], "connect");
    assert!(
        snap["log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"]
                == "the connection engine stopped unexpectedly: a fresh engine is ready, press Connect"),
        "{snap:#}"
    );
    invoke(&w, "toggle", json!({})).unwrap();
    snapshot_when(&w, "connected on a fresh engine", |s| {
        s["status"]["state"] == "connected"
    });
    let key = place_order(
        &w,
        json!({"symbol": "MSFT", "side": "sell", "qty": 2}),
        "order placed on the fresh engine",
    );
    snapshot_when(&w, "the order filled on the fresh engine", |s| {
        order(s, &key).is_some_and(|o| o["status"] == "filled")
    });
}
