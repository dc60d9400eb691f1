//! The commands the window may call: one-line adapters over the engine and the
//! settings. Errors reach the UI as `{code, message, fields?}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use tauri::State;
use uplink_engine::EngineError;

use crate::model::{LogEntry, OrderView, Quote, UiStatus};
use crate::service::{Control, OrderAction, Service};
use crate::settings::{SettingsInput, SettingsView};

/// An error as the UI receives it.
#[derive(Debug, Serialize, PartialEq, ts_rs::TS)]
pub struct ApiError {
    /// Machine-readable: `invalid_input`, `invalid_settings`, `engine_stopped`, `internal`.
    #[ts(type = "string")]
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// Per-field messages, for forms.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub fields: Option<BTreeMap<String, String>>,
    /// With `rate_limited`: seconds until the next send is allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub retry_in_secs: Option<f64>,
}

impl ApiError {
    pub(crate) fn input(message: impl Into<String>) -> Self {
        ApiError {
            code: "invalid_input",
            message: message.into(),
            fields: None,
            retry_in_secs: None,
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let (code, retry_in_secs) = match e {
            EngineError::Stopped => ("engine_stopped", None),
            EngineError::Command(_) | EngineError::Message(_) => ("invalid_input", None),
            EngineError::RateLimited { retry_in_secs, .. } => ("rate_limited", Some(retry_in_secs)),
            _ => ("invalid_settings", None),
        };
        ApiError {
            code,
            message: e.to_string(),
            fields: None,
            retry_in_secs,
        }
    }
}

type Res<T> = Result<T, ApiError>;

/// Everything the window needs when it opens.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct Snapshot {
    /// The engine's current status.
    pub status: UiStatus,
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
pub async fn get_snapshot(service: State<'_, Arc<Service>>) -> Res<Snapshot> {
    Ok(service.snapshot())
}

#[tauri::command]
pub async fn connect(service: State<'_, Arc<Service>>) -> Res<()> {
    Ok(service.control(Control::Connect)?)
}

#[tauri::command]
pub async fn disconnect(service: State<'_, Arc<Service>>) -> Res<()> {
    Ok(service.control(Control::Disconnect)?)
}

/// Connect when idle, disconnect otherwise (the status's `toggle` says which).
#[tauri::command]
pub async fn toggle(service: State<'_, Arc<Service>>) -> Res<()> {
    Ok(service.control(Control::Toggle)?)
}

#[tauri::command]
pub async fn reconnect(service: State<'_, Arc<Service>>) -> Res<()> {
    Ok(service.control(Control::Reconnect)?)
}

#[tauri::command]
pub async fn subscribe(service: State<'_, Arc<Service>>, symbols: Vec<String>) -> Res<Vec<String>> {
    service.watch(&symbols, true)
}

#[tauri::command]
pub async fn unsubscribe(
    service: State<'_, Arc<Service>>,
    symbols: Vec<String>,
) -> Res<Vec<String>> {
    service.watch(&symbols, false)
}

#[tauri::command]
pub async fn place_order(
    service: State<'_, Arc<Service>>,
    symbol: String,
    side: String,
    qty: f64,
) -> Res<String> {
    service.place_order(&symbol, &side, qty)
}

/// Cancels an order still queued (offline, or behind others).
#[tauri::command]
pub async fn cancel_order(service: State<'_, Arc<Service>>, key: String) -> Res<()> {
    service.order_action(&key, OrderAction::Cancel).await
}

/// Sends an unconfirmed order again, with the same client order id.
#[tauri::command]
pub async fn resend_order(service: State<'_, Arc<Service>>, key: String) -> Res<()> {
    service.order_action(&key, OrderAction::Resend).await
}

/// Forgets an unconfirmed order: it is not sent again.
#[tauri::command]
pub async fn discard_order(service: State<'_, Arc<Service>>, key: String) -> Res<()> {
    service.order_action(&key, OrderAction::Discard).await
}

#[tauri::command]
pub async fn get_settings(service: State<'_, Arc<Service>>) -> Res<SettingsView> {
    Ok(service.settings().view())
}

#[tauri::command]
pub async fn save_settings<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    service: State<'_, Arc<Service>>,
    input: SettingsInput,
) -> Res<SettingsView> {
    let saved = service.save_settings(input).await?;
    if let Some(on) = saved.launch_at_login {
        crate::sync_autostart(&app, on);
    }
    Ok(saved.view)
}
