//! The window's IPC types are generated from the Rust types (ts-rs) into
//! `ui/src/generated/ipc.ts`. This test fails when the checked-in file differs from
//! what the Rust types say, so a drift breaks the build. To regenerate after changing
//! a type: `UPDATE_IPC_TYPES=1 cargo test -p uplink-app --test ipc_types`.

use std::path::PathBuf;

use ts_rs::{Config, TS};
use uplink_app::commands::{ApiError, Snapshot};
use uplink_app::model::{
    Level, LogEntry, OrderState, OrderStep, OrderView, Quote, UiLatency, UiMarket, UiStatus,
};
use uplink_app::settings::{
    HeartbeatSetting, NotifySettings, Placement, Settings, SettingsInput, SettingsView,
};
use uplink_engine::core::{
    BreakerState, EndpointStatus, LastError, LatencySummary, StatsSnapshot, SymbolHealth, Toggle,
    UnackedOrders,
};
use uplink_engine::{ErrorKind, StateKind, Status};

fn generated() -> String {
    // JavaScript numbers hold every count and timestamp Uplink sends (below 2^53).
    let cfg = Config::new().with_large_int("number");
    let decls = [
        StateKind::decl(&cfg),
        Toggle::decl(&cfg),
        ErrorKind::decl(&cfg),
        LatencySummary::decl(&cfg),
        LastError::decl(&cfg),
        StatsSnapshot::decl(&cfg),
        SymbolHealth::decl(&cfg),
        BreakerState::decl(&cfg),
        EndpointStatus::decl(&cfg),
        Status::decl(&cfg),
        UiStatus::decl(&cfg),
        UiLatency::decl(&cfg),
        Quote::decl(&cfg),
        OrderState::decl(&cfg),
        OrderStep::decl(&cfg),
        UnackedOrders::decl(&cfg),
        OrderView::decl(&cfg),
        UiMarket::decl(&cfg),
        Level::decl(&cfg),
        LogEntry::decl(&cfg),
        NotifySettings::decl(&cfg),
        HeartbeatSetting::decl(&cfg),
        Placement::decl(&cfg),
        Settings::decl(&cfg),
        SettingsView::decl(&cfg),
        SettingsInput::decl(&cfg),
        Snapshot::decl(&cfg),
        ApiError::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from the Rust types by src-tauri/tests/ipc_types.rs (ts-rs). Do not edit:\n\
         // change the Rust type, then run UPDATE_IPC_TYPES=1 cargo test -p uplink-app --test ipc_types\n",
    );
    for d in decls {
        out.push('\n');
        out.push_str("export ");
        out.push_str(d.trim());
        out.push('\n');
    }
    out
}

#[test]
fn the_ui_types_match_the_rust_types() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/generated/ipc.ts");
    let want = generated();
    if std::env::var_os("UPDATE_IPC_TYPES").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "ui/src/generated/ipc.ts is out of date with the Rust types; regenerate it with\n  \
         UPDATE_IPC_TYPES=1 cargo test -p uplink-app --test ipc_types\n\
         and commit the result"
    );
}
