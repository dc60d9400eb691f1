//! The commands the window may call: one-line adapters over the engine and the
//! settings. Errors reach the UI as `{code, message, fields?}`.

use std::collections::BTreeMap;

use serde::Serialize;
use tauri::State;
use uplink_engine::EngineError;

use crate::bridge::{LogEntry, OrderView, Quote, UiStatus};
use crate::settings::{SettingsInput, SettingsView};
use crate::AppState;

/// An error as the UI receives it.
#[derive(Debug, Serialize, PartialEq)]
pub struct ApiError {
    /// Machine-readable: `invalid_input`, `invalid_settings`, `engine_stopped`, `internal`.
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// Per-field messages, for forms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

impl ApiError {
    pub(crate) fn input(message: impl Into<String>) -> Self {
        ApiError {
            code: "invalid_input",
            message: message.into(),
            fields: None,
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let code = match e {
            EngineError::Stopped => "engine_stopped",
            EngineError::Command(_) => "invalid_input",
            _ => "invalid_settings",
        };
        ApiError {
            code,
            message: e.to_string(),
            fields: None,
        }
    }
}

type Res<T> = Result<T, ApiError>;

/// Everything the window needs when it opens.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    /// Current status (absent for the first instants after start).
    pub status: Option<UiStatus>,
    /// Latest quote of each symbol.
    pub quotes: Vec<Quote>,
    /// Orders, newest first.
    pub orders: Vec<OrderView>,
    /// The event log, oldest first.
    pub log: Vec<LogEntry>,
    /// Settings, token masked.
    pub settings: SettingsView,
}

#[tauri::command]
pub async fn get_snapshot(state: State<'_, AppState>) -> Res<Snapshot> {
    Ok(state.snapshot())
}

#[tauri::command]
pub async fn connect(state: State<'_, AppState>) -> Res<()> {
    Ok(state.engine.connect()?)
}

#[tauri::command]
pub async fn disconnect(state: State<'_, AppState>) -> Res<()> {
    Ok(state.engine.disconnect()?)
}

#[tauri::command]
pub async fn reconnect(state: State<'_, AppState>) -> Res<()> {
    Ok(state.engine.reconnect()?)
}

#[tauri::command]
pub async fn subscribe(state: State<'_, AppState>, symbols: Vec<String>) -> Res<Vec<String>> {
    state.watch(symbols, true)
}

#[tauri::command]
pub async fn unsubscribe(state: State<'_, AppState>, symbols: Vec<String>) -> Res<Vec<String>> {
    state.watch(symbols, false)
}

#[tauri::command]
pub async fn place_order(
    state: State<'_, AppState>,
    symbol: String,
    side: String,
    qty: f64,
) -> Res<String> {
    state.place_order(&symbol, &side, qty)
}

#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> Res<SettingsView> {
    Ok(state.settings().view())
}

#[tauri::command]
pub async fn save_settings(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    input: SettingsInput,
) -> Res<SettingsView> {
    state.save_settings(&app, input).await
}
