//! The user's settings: validated per field, saved atomically to a file only the user
//! can read, never saved when invalid, and shown to the UI with the token masked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uplink_engine::core::{Heartbeat, PongMatch, RateLimit, UnackedOrders};
use uplink_engine::{ClientConfig, ProxySetting, TokenPlacement};

/// Which notifications the user wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct NotifySettings {
    /// When the connection enters `error` (auth, TLS, …).
    pub on_error: bool,
    /// When the reconnect loop gives up after its last attempt.
    pub on_give_up: bool,
    /// When the connection recovers after an outage.
    pub on_recover: bool,
    /// When an order fills.
    pub on_order_fill: bool,
    /// When an order is rejected.
    pub on_order_reject: bool,
    /// When prices stop while the link is up (once per stale episode).
    pub on_stale: bool,
    /// When the feed has been down for `alert_after_secs`, and when it is back.
    pub on_outage: bool,
    /// Play the desktop's notification sound with the stale and outage alerts.
    pub sound: bool,
    /// When the feed switches to a backup endpoint, or back to the primary.
    pub on_switch: bool,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            on_error: true,
            on_give_up: true,
            on_recover: false,
            on_order_fill: false,
            on_order_reject: true,
            on_stale: true,
            on_outage: true,
            sound: false,
            on_switch: true,
        }
    }
}

/// Everything the user can set. Stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct Settings {
    /// Feed URLs, the primary first, then its backups in order of preference; none
    /// means the built-in demo feed. An older file's single `feed_url` is read as a
    /// one-entry list.
    pub feed_urls: Vec<String>,
    /// Auth token for the feed. Never logged, never sent to the UI.
    pub token: Option<String>,
    /// Seconds between heartbeats.
    pub heartbeat_interval_secs: f64,
    /// Seconds to wait for a pong.
    pub pong_timeout_secs: f64,
    /// First reconnect delay, seconds.
    pub reconnect_base_delay_secs: f64,
    /// Largest reconnect delay, seconds.
    pub reconnect_max_delay_secs: f64,
    /// Attempts before giving up.
    pub max_reconnect_attempts: u32,
    /// Outbound queue capacity.
    pub queue_size: usize,
    /// Seconds without prices, while symbols are subscribed and the link is up,
    /// before the feed is shown stale; 0 turns it off.
    pub stale_after_secs: f64,
    /// Seconds down before the outage alert; 0: only the give-up notifies.
    pub alert_after_secs: f64,
    /// Orders unacknowledged when the connection drops: re-sent (same client order
    /// id) or held for the trader.
    pub unacked_orders: UnackedOrders,
    /// Seconds an order may go unacknowledged before it is shown unconfirmed.
    pub ack_timeout_secs: f64,
    /// Seconds an order may wait offline before it expires; 0 = never.
    pub order_ttl_secs: f64,
    /// At most this many sends (orders and other messages) …; 0 = no limit.
    pub rate_limit_max: u32,
    /// … in any window of this many seconds.
    pub rate_limit_window_secs: f64,
    /// On a backup feed this long, probe the primary and switch back once it
    /// answers; 0 = never.
    pub failback_after_secs: f64,
    /// How the link is kept alive: the seed's JSON ping, WebSocket Ping frames, a
    /// custom ping, or none.
    pub heartbeat: HeartbeatSetting,
    /// With `heartbeat = custom`: the text sent as a ping, e.g. `{"op":"ping"}`.
    pub ping_text: String,
    /// With `heartbeat = custom`: the answer is a message of this `type` …
    pub pong_type: String,
    /// … or has this top-level field, `name=value` (value as JSON, else a string).
    pub pong_field: String,
    /// "" = from the environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY),
    /// "direct" = none, or `http://[user:pass@]host:port` / `socks5://…`. Its
    /// password is masked like the token in what the window sees.
    pub proxy: String,
    /// A PEM file of extra CA certificates to trust, besides the system's and the
    /// bundled web roots ("" = none).
    pub ca_file: String,
    /// Extra headers for the WebSocket upgrade, `Name: value`; values are masked in
    /// what the window sees.
    pub headers: Vec<String>,
    /// Where the token goes.
    pub token_placement: Placement,
    /// Notifications on/off by kind.
    pub notify: NotifySettings,
    /// Start hidden in the tray.
    pub start_minimized: bool,
    /// Start with the desktop session.
    pub launch_at_login: bool,
    /// Symbols on the watchlist (subscribed on the feed).
    pub watchlist: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            feed_urls: Vec::new(),
            token: None,
            heartbeat_interval_secs: 30.0,
            pong_timeout_secs: 10.0,
            reconnect_base_delay_secs: 1.0,
            reconnect_max_delay_secs: 60.0,
            max_reconnect_attempts: 10,
            queue_size: 1000,
            stale_after_secs: 30.0,
            alert_after_secs: 10.0,
            unacked_orders: UnackedOrders::Resend,
            ack_timeout_secs: 10.0,
            order_ttl_secs: 60.0,
            rate_limit_max: 100,
            rate_limit_window_secs: 60.0,
            failback_after_secs: 300.0,
            heartbeat: HeartbeatSetting::Json,
            ping_text: String::new(),
            pong_type: String::new(),
            pong_field: String::new(),
            proxy: String::new(),
            ca_file: String::new(),
            headers: Vec::new(),
            token_placement: Placement::Both,
            notify: NotifySettings::default(),
            start_minimized: false,
            launch_at_login: false,
            watchlist: ["AAPL", "MSFT", "NVDA", "TSLA", "BTC-USD"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// What the UI sees of the settings: the token only as "set or not"; the proxy's
/// password and header values masked.
#[derive(Debug, Clone, Serialize, PartialEq, ts_rs::TS)]
pub struct SettingsView {
    /// All settings but the token.
    #[serde(flatten)]
    pub settings: Settings,
    /// Whether a token is stored.
    pub token_set: bool,
    /// The token masked for display ("" when none).
    pub token_masked: String,
    /// Things the trader should know about these settings (e.g. a token sent in the
    /// clear).
    pub warnings: Vec<String>,
}

/// How the link is kept alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum HeartbeatSetting {
    /// `{"type":"ping"}` / `pong`.
    #[default]
    Json,
    /// WebSocket protocol Ping/Pong frames.
    Websocket,
    /// `ping_text`, answered as `pong_type` / `pong_field` say.
    Custom,
    /// No ping: inbound data alone proves the link.
    None,
}

/// Where the token goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// `?token=…` in the URL.
    Query,
    /// `Authorization: Bearer …`.
    Header,
    /// Both.
    #[default]
    Both,
}

/// What the window shows for a secret it must not see.
const MASK: &str = "***";

/// `url` with its password masked.
fn mask_proxy(url: &str) -> String {
    if url.contains('@') {
        uplink_engine::mask_url_str(url)
    } else {
        url.to_owned()
    }
}

/// Whether a feed URL carries a secret: a password, or a secret query key
/// (`?token=…`).
fn has_secret(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| uplink_engine::has_secret(&u))
}

/// A feed URL from the window, with what it was shown masked put back: the stored
/// URL itself if it came back unchanged; else, if it was edited, each `***` that
/// stands for a secret (the password, a secret query key's value; the n-th of a
/// repeated key) gets the value the stored URLs with the same scheme, host and port
/// hold for it, if they agree on one. Edits elsewhere are kept. A `***` with none, or
/// several, to come from stays, and [`Settings::validate`] refuses it: never a guess.
/// A URL without a masked secret is kept as typed.
fn restore_feed_secrets(url: String, stored: &[String], index: usize) -> String {
    let in_order = || stored.get(index).into_iter().chain(stored);
    if let Some(same) = in_order().find(|old| has_secret(old) && mask_feed_url(old) == url) {
        return same.clone();
    }
    let Ok(mut u) = url::Url::parse(&url) else {
        return url;
    };
    if !holds_mask(&u) {
        return url;
    }
    let olds: Vec<url::Url> = in_order()
        .filter_map(|s| url::Url::parse(s).ok())
        .filter(|o| {
            o.scheme() == u.scheme()
                && o.host_str() == u.host_str()
                && o.port_or_known_default() == u.port_or_known_default()
        })
        .collect();
    // The one value the stored URLs agree on, if there is exactly one.
    fn only(values: impl Iterator<Item = String>) -> Option<String> {
        let mut values: Vec<String> = values.collect();
        values.sort();
        values.dedup();
        (values.len() == 1).then(|| values.remove(0))
    }
    if u.password() == Some(MASK) {
        if let Some(p) = only(olds.iter().filter_map(|o| o.password().map(str::to_owned))) {
            let _ = u.set_password(Some(&p));
        }
    } else if u.password().is_none() && u.username() == MASK {
        let lone = olds
            .iter()
            .filter(|o| o.password().is_none() && !o.username().is_empty())
            .map(|o| o.username().to_owned());
        if let Some(name) = only(lone) {
            let _ = u.set_username(&name);
        }
    }
    let mut seen: Vec<String> = Vec::new();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let n = seen.iter().filter(|s| **s == k).count();
            seen.push(k.to_string());
            let restored = (v == MASK && uplink_engine::is_secret_key(&k))
                .then(|| {
                    only(olds.iter().filter_map(|o| {
                        o.query_pairs()
                            .filter(|(ok, _)| *ok == k)
                            .nth(n)
                            .map(|(_, ov)| ov.into_owned())
                    }))
                })
                .flatten();
            (k.into_owned(), restored.unwrap_or_else(|| v.into_owned()))
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

/// Whether a feed URL still holds a masked secret (`***` as its password, as its
/// user name with no password, or as a secret query key's value).
fn holds_mask(u: &url::Url) -> bool {
    u.password() == Some(MASK)
        || (u.password().is_none() && u.username() == MASK)
        || u.query_pairs()
            .any(|(k, v)| v == MASK && uplink_engine::is_secret_key(&k))
}

/// A feed URL as the window may see it: its secrets masked, else exactly as stored.
fn mask_feed_url(url: &str) -> String {
    if has_secret(url) {
        uplink_engine::mask_url_str(url)
    } else {
        url.to_owned()
    }
}

/// `Name: value` with the value masked.
fn mask_header(h: &str) -> String {
    match h.split_once(':') {
        Some((name, _)) => format!("{}: {MASK}", name.trim()),
        None => h.to_owned(),
    }
}

/// What the UI sends to change the settings.
#[derive(Debug, Clone, Deserialize, ts_rs::TS)]
pub struct SettingsInput {
    /// The new settings; its `token` field is ignored, see `token_change`.
    #[serde(flatten)]
    pub settings: Settings,
    /// `None`: keep the stored token; `Some("")`: remove it; `Some(t)`: replace it.
    #[serde(default)]
    pub token_change: Option<String>,
}

/// Per-field messages for settings that cannot be saved.
pub type FieldErrors = BTreeMap<String, String>;

impl Settings {
    /// The view sent to the UI.
    pub fn view(&self) -> SettingsView {
        let mut settings = self.clone();
        let token_set = settings.token.take().is_some();
        settings.proxy = mask_proxy(&settings.proxy);
        settings.feed_urls = settings
            .feed_urls
            .iter()
            .map(|u| mask_feed_url(u))
            .collect();
        settings.headers = settings.headers.iter().map(|h| mask_header(h)).collect();
        SettingsView {
            warnings: self.warnings(),
            settings,
            token_set,
            token_masked: if token_set {
                "••••••••".into()
            } else {
                String::new()
            },
        }
    }

    /// With `next` in force, would the stored token go to a host it was not going to
    /// before? Returns that host: the token must then be entered again, not carried
    /// along silently to whoever the new URL names.
    pub fn token_goes_to_new_host(&self, next: &Settings) -> Option<String> {
        next.token.as_ref()?;
        let hosts = |s: &Settings| -> Vec<String> {
            s.feed_urls
                .iter()
                .filter_map(|u| url::Url::parse(u).ok())
                .filter_map(|u| u.host_str().map(str::to_owned))
                .collect()
        };
        let before = hosts(self);
        hosts(next).into_iter().find(|h| !before.contains(h))
    }

    /// Things the trader should know: a token sent unencrypted over `ws://` to a host
    /// that is not this machine.
    pub fn warnings(&self) -> Vec<String> {
        if self.token.is_none() {
            return Vec::new();
        }
        self.feed_urls
            .iter()
            .filter_map(|u| url::Url::parse(u).ok())
            .filter(|u| u.scheme() == "ws")
            .filter_map(|u| u.host_str().map(str::to_owned))
            .filter(|h| !is_loopback(h))
            .map(|h| {
                format!("The token is sent unencrypted over ws:// to {h}: anyone on the way can read it. Use wss://.")
            })
            .collect()
    }

    /// Applies a change from the UI to these settings (validation comes after).
    pub fn apply(&self, input: SettingsInput) -> Settings {
        let mut next = input.settings;
        next.feed_urls = next
            .feed_urls
            .iter()
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
            .enumerate()
            .map(|(i, u)| restore_feed_secrets(u, &self.feed_urls, i))
            .collect();
        // What the window got masked and sent back unchanged keeps its secret.
        if next.proxy == mask_proxy(&self.proxy) {
            next.proxy = self.proxy.clone();
        }
        next.proxy = next.proxy.trim().to_owned();
        next.headers = next
            .headers
            .iter()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .map(|h| {
                self.headers
                    .iter()
                    .find(|old| mask_header(old) == h && h.ends_with(MASK))
                    .cloned()
                    .unwrap_or(h)
            })
            .collect();
        next.ca_file = next.ca_file.trim().to_owned();
        next.token = match input.token_change {
            None => self.token.clone(),
            Some(t) if t.trim().is_empty() => None,
            Some(t) => Some(t.trim().to_owned()),
        };
        next
    }

    /// Checks every field; all problems are reported, each on its field.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        let mut secs = |field: &str, v: f64, max: f64| {
            if !v.is_finite() || v <= 0.0 {
                e.insert(field.into(), "must be a positive number of seconds".into());
            } else if v > max {
                e.insert(field.into(), format!("must be at most {max} seconds"));
            }
        };
        secs(
            "heartbeat_interval_secs",
            self.heartbeat_interval_secs,
            3600.0,
        );
        secs("pong_timeout_secs", self.pong_timeout_secs, 600.0);
        secs(
            "reconnect_base_delay_secs",
            self.reconnect_base_delay_secs,
            3600.0,
        );
        secs(
            "reconnect_max_delay_secs",
            self.reconnect_max_delay_secs,
            86_400.0,
        );
        secs("ack_timeout_secs", self.ack_timeout_secs, 3600.0);
        secs(
            "rate_limit_window_secs",
            self.rate_limit_window_secs,
            86_400.0,
        );
        if !e.contains_key("reconnect_base_delay_secs")
            && !e.contains_key("reconnect_max_delay_secs")
            && self.reconnect_max_delay_secs < self.reconnect_base_delay_secs
        {
            e.insert(
                "reconnect_max_delay_secs".into(),
                "must not be less than the base delay".into(),
            );
        }
        if !(1..=1000).contains(&self.max_reconnect_attempts) {
            e.insert(
                "max_reconnect_attempts".into(),
                "must be between 1 and 1000".into(),
            );
        }
        if self.rate_limit_max > 1_000_000 {
            e.insert(
                "rate_limit_max".into(),
                "must be between 0 (no limit) and 1000000".into(),
            );
        }
        for (field, v) in [
            ("stale_after_secs", self.stale_after_secs),
            ("alert_after_secs", self.alert_after_secs),
            ("order_ttl_secs", self.order_ttl_secs),
            ("failback_after_secs", self.failback_after_secs),
        ] {
            if !v.is_finite() || !(0.0..=86_400.0).contains(&v) {
                e.insert(
                    field.into(),
                    "must be between 0 (off) and 86400 seconds".into(),
                );
            }
        }
        if !(1..=100_000).contains(&self.queue_size) {
            e.insert("queue_size".into(), "must be between 1 and 100000".into());
        }
        if self.feed_urls.len() > MAX_FEEDS {
            e.insert(
                "feed_urls".into(),
                format!("at most {MAX_FEEDS} feeds (a primary and its backups)"),
            );
        }
        for (i, u) in self.feed_urls.iter().enumerate() {
            let problem = match url::Url::parse(u) {
                Err(err) => Some(format!("not a valid URL ({err})")),
                Ok(u) if !matches!(u.scheme(), "ws" | "wss") => {
                    Some("must start with ws:// or wss://".to_owned())
                }
                Ok(u) if u.host_str().is_none_or(str::is_empty) => Some("needs a host".to_owned()),
                Ok(u) if holds_mask(&u) => Some(format!(
                    "a secret shown as {MASK} has no one stored value for this scheme, host and port: enter it again"
                )),
                Ok(_) => None,
            };
            if let Some(p) = problem {
                let msg = if self.feed_urls.len() > 1 {
                    format!("line {}: {p}", i + 1)
                } else {
                    p
                };
                e.entry("feed_urls".into()).or_insert(msg);
            }
        }
        if let Some(t) = &self.token {
            if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                e.insert(
                    "token".into(),
                    "must not contain spaces or control characters".into(),
                );
            }
        }
        if let Err(err) = uplink_engine::core::validate_symbols(&self.watchlist) {
            e.insert("watchlist".into(), err.to_string());
        }
        if self.heartbeat == HeartbeatSetting::Custom {
            if self.ping_text.trim().is_empty() {
                e.insert(
                    "ping_text".into(),
                    "a custom heartbeat needs the ping's text".into(),
                );
            }
            let field_ok = self
                .pong_field
                .split_once('=')
                .is_some_and(|(k, _)| !k.trim().is_empty());
            if self.pong_type.trim().is_empty() && !field_ok {
                e.insert(
                    "pong_field".into(),
                    "give the answer's type, or a field as name=value".into(),
                );
            }
        }
        if !self.ca_file.is_empty() && !std::path::Path::new(&self.ca_file).is_file() {
            e.insert("ca_file".into(), "no such file".into());
        }
        for (i, h) in self.headers.iter().enumerate() {
            match h.split_once(':') {
                Some((k, _)) if !k.trim().is_empty() => {}
                _ => {
                    // Not the line itself: it may be a credential with its colon lost.
                    e.insert(
                        "headers".into(),
                        format!(
                            "header {} of {} has no name before a colon: write each as Name: value",
                            i + 1,
                            self.headers.len()
                        ),
                    );
                }
            }
        }
        if !self.proxy.is_empty() && !matches!(self.proxy.as_str(), "direct" | "none") {
            let ok = url::Url::parse(&self.proxy).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "socks5" | "socks5h") && u.host_str().is_some()
            });
            if !ok {
                e.insert(
                    "proxy".into(),
                    "use http://host:port or socks5://host:port (user:password@ optional), direct, or leave empty".into(),
                );
            }
        }
        if e.is_empty() {
            // Last word to the engine, with a placeholder URL for the demo feed.
            if let Err(err) = self.client_config("ws://127.0.0.1:9/ws").validate() {
                e.insert("feed_urls".into(), err.to_string());
            }
        }
        if e.is_empty() {
            Ok(())
        } else {
            Err(e)
        }
    }

    /// The engine configuration; `demo_url` is used when no feed URL is set.
    pub fn client_config(&self, demo_url: &str) -> ClientConfig {
        let url = self.feed_urls.first().map_or(demo_url, String::as_str);
        let mut c = ClientConfig::new(url);
        c.backups = self.feed_urls.iter().skip(1).cloned().collect();
        c.token = self.token.clone();
        c.token_placement = TokenPlacement::Both;
        let d = |s: f64| Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO);
        c.core = uplink_engine::core::Config::default()
            .with_heartbeat(d(self.heartbeat_interval_secs), d(self.pong_timeout_secs));
        c.core.reconnect_base_delay = d(self.reconnect_base_delay_secs);
        c.core.reconnect_max_delay = d(self.reconnect_max_delay_secs);
        c.core.max_reconnect_attempts = self.max_reconnect_attempts;
        c.core.queue_size = self.queue_size;
        c.core.stale_after = d(self.stale_after_secs);
        c.core.alert_after = d(self.alert_after_secs);
        c.core.ack_timeout = d(self.ack_timeout_secs);
        c.core.order_ttl = d(self.order_ttl_secs);
        c.core.unacked_orders = self.unacked_orders;
        c.core.failback_after = d(self.failback_after_secs);
        c.core.heartbeat = self.core_heartbeat();
        c.proxy = match self.proxy.as_str() {
            "" => ProxySetting::FromEnvironment,
            "direct" | "none" => ProxySetting::Direct,
            u => ProxySetting::Url(u.to_owned()),
        };
        c.extra_ca_file = (!self.ca_file.is_empty()).then(|| PathBuf::from(&self.ca_file));
        c.headers = self
            .headers
            .iter()
            .filter_map(|h| h.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        c.token_placement = match self.token_placement {
            Placement::Query => TokenPlacement::Query,
            Placement::Header => TokenPlacement::Header,
            Placement::Both => TokenPlacement::Both,
        };
        c.core.rate_limit = (self.rate_limit_max > 0).then(|| RateLimit {
            max: self.rate_limit_max,
            window: d(self.rate_limit_window_secs),
        });
        c
    }

    /// Whether `other` connects the same way (URL, token and where it goes, headers,
    /// proxy, CA file, timing, queue): if not, a change from `other` to `self` needs a
    /// reconnect. What is left out the running engine takes as it is (`tune`).
    pub fn same_connection(&self, other: &Settings) -> bool {
        self.feed_urls == other.feed_urls
            && self.token == other.token
            && self.token_placement == other.token_placement
            && self.headers == other.headers
            && self.proxy == other.proxy
            && self.ca_file == other.ca_file
            && self.heartbeat_interval_secs == other.heartbeat_interval_secs
            && self.pong_timeout_secs == other.pong_timeout_secs
            && self.reconnect_base_delay_secs == other.reconnect_base_delay_secs
            && self.reconnect_max_delay_secs == other.reconnect_max_delay_secs
            && self.max_reconnect_attempts == other.max_reconnect_attempts
            && self.queue_size == other.queue_size
    }

    /// The core's heartbeat for these settings (custom fields checked by `validate`).
    fn core_heartbeat(&self) -> Heartbeat {
        match self.heartbeat {
            HeartbeatSetting::Json => Heartbeat::Json,
            HeartbeatSetting::Websocket => Heartbeat::WebSocket,
            HeartbeatSetting::None => Heartbeat::None,
            HeartbeatSetting::Custom => {
                let pong = match self.pong_field.split_once('=') {
                    Some((k, v)) if self.pong_type.trim().is_empty() => PongMatch::Field {
                        name: k.trim().to_owned(),
                        value: serde_json::from_str(v.trim())
                            .unwrap_or_else(|_| serde_json::Value::String(v.trim().to_owned())),
                    },
                    _ => PongMatch::Type(self.pong_type.trim().to_owned()),
                };
                Heartbeat::Custom {
                    ping: self.ping_text.clone(),
                    pong,
                }
            }
        }
    }

    /// Whether the built-in demo feed is in use.
    pub fn uses_demo(&self) -> bool {
        self.feed_urls.is_empty()
    }
}

/// Whether `host` is this machine.
fn is_loopback(host: &str) -> bool {
    let h = host.trim_matches(['[', ']']);
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Feeds at most (a primary and its backups).
pub const MAX_FEEDS: usize = 8;

/// Reads a settings file's JSON; an older file's single `feed_url` string becomes
/// `feed_urls` (empty string: none).
pub fn parse(text: &str) -> Result<Settings, String> {
    let mut v: serde_json::Value = serde_json::from_str(text).map_err(|e| json_error(&e))?;
    if let Some(obj) = v.as_object_mut() {
        if let Some(old) = obj.remove("feed_url") {
            if !obj.contains_key("feed_urls") {
                let list = match old.as_str().map(str::trim) {
                    Some("") | None => serde_json::json!([]),
                    Some(u) => serde_json::json!([u]),
                };
                obj.insert("feed_urls".into(), list);
            }
        }
    }
    serde_json::from_value(v).map_err(|e| json_error(&e))
}

/// The top-level keys of a settings file that name no setting (a typo, or a newer
/// version's), each shown at most 40 characters long.
pub fn unknown_keys(text: &str) -> Vec<String> {
    let known = serde_json::to_value(Settings {
        token: Some(String::new()),
        ..Settings::default()
    })
    .unwrap_or_default();
    let Ok(serde_json::Value::Object(file)) = serde_json::from_str(text) else {
        return Vec::new();
    };
    file.keys()
        .filter(|k| *k != "feed_url" && known.get(k.as_str()).is_none())
        .map(|k| format!("`{}`", uplink_engine::core::shorten(k, 40)))
        .collect()
}

/// What is wrong with a settings file, without the value that is wrong: serde_json
/// quotes it (`invalid type: string "wss://…?token=…"`), and it may be a secret typed
/// into the wrong field.
fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let full = e.to_string();
    // Without the position serde_json appends (the value may hold the same words).
    let position = format!(" at line {} column {}", e.line(), e.column());
    let msg = full.strip_suffix(&position).unwrap_or(&full);
    let what = match e.classify() {
        // Syntax messages quote no value ("expected `,` or `}`").
        Category::Syntax => format!("not valid JSON: {msg}"),
        Category::Eof => "the file ends too early".to_owned(),
        Category::Io => "it cannot be read".to_owned(),
        Category::Data
            if msg.starts_with("missing field") || msg.starts_with("duplicate field") =>
        {
            msg.to_owned()
        }
        // `invalid type: string "…", expected a sequence`: only what was expected (the
        // last one: the quoted value may itself contain the word).
        Category::Data => match msg.rfind(", expected ") {
            Some(i) => format!("a value of the wrong kind: {}", &msg[i + 2..]),
            None => "a value that does not fit its field".to_owned(),
        },
    };
    if e.line() == 0 {
        what
    } else {
        format!("{what} (line {}, column {})", e.line(), e.column())
    }
}

/// What loading the settings has to say besides the settings.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadNote {
    /// The file could not be used: the defaults are in force.
    Error(String),
    /// The file is in force, but something in it was ignored.
    Warning(String),
}

impl LoadNote {
    /// The text, whichever it is.
    pub fn text(&self) -> &str {
        match self {
            LoadNote::Error(t) | LoadNote::Warning(t) => t,
        }
    }
}

/// Where settings live, and how they are read and written.
#[derive(Debug, Clone)]
pub struct SettingsStore {
    /// The settings file.
    path: PathBuf,
}

impl SettingsStore {
    /// A store for `dir/settings.json`.
    pub fn new(dir: &Path) -> Self {
        SettingsStore {
            path: dir.join("settings.json"),
        }
    }

    /// The settings file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes over the settings file of `old` (an earlier version's folder) if this
    /// store has none yet: copied, with its owner-only mode, the old one left as it
    /// was. Returns whether it did.
    pub fn adopt(&self, old: &SettingsStore) -> std::io::Result<bool> {
        if self.path.exists() || !old.path.exists() {
            return Ok(false);
        }
        self.write(&std::fs::read(&old.path)?)?;
        Ok(true)
    }

    /// Reads the settings. Missing file: defaults. Unreadable or invalid file: it is
    /// kept aside as `settings.json.bad`, the error is returned with the defaults, and
    /// nothing crashes.
    pub fn load(&self) -> (Settings, Option<LoadNote>) {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (Settings::default(), None)
            }
            Err(e) => {
                return (
                    Settings::default(),
                    Some(LoadNote::Error(format!(
                        "cannot read {}: {e}",
                        self.path.display()
                    ))),
                )
            }
        };
        let parsed = parse(&text);
        match parsed.and_then(|s| s.validate().map(|()| s).map_err(|e| format!("{e:?}"))) {
            Ok(s) => {
                let unknown = unknown_keys(&text);
                let note = (!unknown.is_empty()).then(|| {
                    LoadNote::Warning(format!(
                        "{} has settings Uplink does not know, ignored (and left out at the next save): {}",
                        self.path.display(),
                        unknown.join(", ")
                    ))
                });
                (s, note)
            }
            Err(e) => {
                let bad = self.path.with_extension("json.bad");
                let _ = std::fs::rename(&self.path, &bad);
                (
                    Settings::default(),
                    Some(LoadNote::Error(format!(
                        "settings file was invalid ({e}); kept as {} and started with defaults",
                        bad.display()
                    ))),
                )
            }
        }
    }

    /// Validates, then writes atomically (temp file, fsync, rename), readable by the user alone.
    pub fn save(&self, s: &Settings) -> Result<(), FieldErrors> {
        s.validate()?;
        let text = serde_json::to_string_pretty(s).map_err(std::io::Error::from);
        text.and_then(|t| self.write(t.as_bytes())).map_err(|e| {
            FieldErrors::from([(
                "_".to_owned(),
                format!("cannot save settings to {}: {e}", self.path.display()),
            )])
        })
    }

    /// Writes atomically: one save at a time (a process-wide lock), a temporary file
    /// of its own (created new, 0600), flushed to disk, renamed over the old file, and
    /// the folder flushed so the rename survives a crash.
    fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        static SAVING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let _one_at_a_time = SAVING.lock().unwrap_or_else(|p| p.into_inner());
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self
            .path
            .with_extension(format!("json.{}.{n}.tmp", std::process::id()));
        let written = (|| {
            let mut f = create_private(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            sync_dir(dir)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

/// A new file (never an existing one) that only the user can read: mode 0600 on
/// Unix. On Windows a file in the user's profile inherits the profile's
/// owner-only access, so nothing more is set there.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        open.mode(0o600);
        let f = open.open(path)?;
        // The umask may have narrowed the mode, never widened it; say it exactly.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(f)
    }
    #[cfg(not(unix))]
    open.open(path)
}

/// Flushes a folder's entries, so a rename in it survives a crash. Unix only: a
/// folder cannot be opened as a file on Windows, where the rename itself
/// (MoveFileEx, replacing) is what the platform offers.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    return std::fs::File::open(dir)?.sync_all();
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("uplink-settings-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn defaults_are_valid_and_use_the_demo_feed() {
        let s = Settings::default();
        s.validate().unwrap();
        assert!(s.uses_demo());
        let c = s.client_config("ws://127.0.0.1:5/ws");
        assert_eq!(c.url, "ws://127.0.0.1:5/ws");
        assert_eq!(c.core.idle_timeout, Duration::from_secs(60));
    }

    #[test]
    fn every_bad_field_gets_its_own_message() {
        let s = Settings {
            feed_urls: vec!["http://example.com".into()],
            heartbeat_interval_secs: 0.0,
            pong_timeout_secs: f64::NAN,
            reconnect_base_delay_secs: 10.0,
            reconnect_max_delay_secs: 5.0,
            max_reconnect_attempts: 0,
            queue_size: 0,
            token: Some("a b".into()),
            watchlist: vec!["OK".into(), "not ok".into()],
            ..Settings::default()
        };
        let e = s.validate().unwrap_err();
        let fields: Vec<&str> = e.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "feed_urls",
                "heartbeat_interval_secs",
                "max_reconnect_attempts",
                "pong_timeout_secs",
                "queue_size",
                "reconnect_max_delay_secs",
                "token",
                "watchlist"
            ]
        );
        assert_eq!(e["feed_urls"], "must start with ws:// or wss://");
        assert!(Settings {
            feed_urls: vec!["not a url".into()],
            ..Settings::default()
        }
        .validate()
        .unwrap_err()["feed_urls"]
            .starts_with("not a valid URL"));
        assert_eq!(
            Settings {
                feed_urls: vec!["ws://a/ws".into(), "http://b/ws".into()],
                ..Settings::default()
            }
            .validate()
            .unwrap_err()["feed_urls"],
            "line 2: must start with ws:// or wss://"
        );
    }

    #[test]
    fn the_token_never_reaches_the_ui_and_changes_only_when_asked() {
        let stored = Settings {
            token: Some("s3cret".into()),
            ..Settings::default()
        };
        let view = stored.view();
        let json = serde_json::to_string(&view).unwrap();
        assert!(!json.contains("s3cret"), "{json}");
        assert!(view.token_set);
        let keep = SettingsInput {
            settings: view.settings.clone(),
            token_change: None,
        };
        assert_eq!(stored.apply(keep).token.as_deref(), Some("s3cret"));
        let clear = SettingsInput {
            settings: view.settings.clone(),
            token_change: Some(String::new()),
        };
        assert_eq!(stored.apply(clear).token, None);
        let set = SettingsInput {
            settings: view.settings,
            token_change: Some(" new ".into()),
        };
        assert_eq!(stored.apply(set).token.as_deref(), Some("new"));
    }

    #[test]
    fn an_earlier_versions_settings_are_adopted_once_and_never_overwrite() {
        let old_dir = tmpdir("adopt-old");
        let new_dir = tmpdir("adopt-new");
        let old = SettingsStore::new(&old_dir);
        let new = SettingsStore::new(&new_dir);
        assert!(!new.adopt(&old).unwrap(), "nothing to adopt");
        let s = Settings {
            feed_urls: vec!["wss://feed.example/ws".into()],
            token: Some("tok".into()),
            ..Settings::default()
        };
        old.save(&s).unwrap();
        assert!(new.adopt(&old).unwrap());
        assert_eq!(new.load(), (s.clone(), None));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(new.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Once there are settings of its own, the old ones are never taken again.
        let changed = Settings {
            watchlist: vec!["NVDA".into()],
            ..s.clone()
        };
        new.save(&changed).unwrap();
        assert!(!new.adopt(&old).unwrap());
        assert_eq!(new.load().0, changed);
        assert_eq!(old.load().0, s, "the old file is left as it was");
    }

    #[test]
    fn saved_settings_survive_and_only_the_user_can_read_them() {
        let dir = tmpdir("save");
        let store = SettingsStore::new(&dir);
        assert_eq!(
            store.load(),
            (Settings::default(), None),
            "first start: defaults"
        );
        let s = Settings {
            feed_urls: vec!["wss://feed.example/ws".into()],
            token: Some("tok".into()),
            watchlist: vec!["AAPL".into()],
            ..Settings::default()
        };
        store.save(&s).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(store.load(), (s.clone(), None));

        // Invalid settings are refused and the file is untouched.
        let bad = Settings {
            feed_urls: vec!["ftp://x".into()],
            ..s.clone()
        };
        assert!(store.save(&bad).is_err());
        assert_eq!(store.load().0, s);
    }

    #[test]
    fn a_corrupt_file_is_set_aside_not_fatal() {
        let dir = tmpdir("corrupt");
        std::fs::create_dir_all(&dir).unwrap();
        let store = SettingsStore::new(&dir);
        std::fs::write(store.path(), "{ not json").unwrap();
        let (s, err) = store.load();
        assert_eq!(s, Settings::default());
        assert!(matches!(err, Some(LoadNote::Error(e)) if e.contains("settings.json.bad")));
        assert!(dir.join("settings.json.bad").exists());
    }

    #[test]
    fn an_older_single_feed_url_is_read_as_a_one_entry_list() {
        let s = parse(r#"{"feed_url": "ws://127.0.0.1:9000/ws", "queue_size": 5}"#).unwrap();
        assert_eq!(s.feed_urls, ["ws://127.0.0.1:9000/ws"]);
        assert_eq!(s.queue_size, 5);
        assert!(parse(r#"{"feed_url": ""}"#).unwrap().uses_demo());
        let s = parse(r#"{"feed_urls": ["ws://a/ws", "ws://b/ws"]}"#).unwrap();
        let c = s.client_config("ws://demo/ws");
        assert_eq!(
            (c.url.as_str(), c.backups.as_slice()),
            ("ws://a/ws", &["ws://b/ws".to_string()][..])
        );
    }

    /// What `stored` becomes when the window sends `shown` back, the token kept.
    fn saved(stored: &Settings, shown: Settings) -> Settings {
        stored.apply(SettingsInput {
            settings: shown,
            token_change: None,
        })
    }

    #[test]
    fn proxy_passwords_and_header_values_never_reach_the_window_and_survive_a_save() {
        let stored = Settings {
            feed_urls: vec![
                "wss://feed.example/ws".into(),
                "wss://bob:pw-7@backup.example/ws?apikey=ak-7&desk=3".into(),
            ],
            proxy: "http://alice:pa55@proxy.corp:3128".into(),
            headers: vec!["X-Api-Key: k3y".into()],
            ..Settings::default()
        };
        let view = stored.view();
        let json = serde_json::to_string(&view).unwrap();
        for secret in ["pa55", "k3y", "pw-7", "ak-7"] {
            assert!(!json.contains(secret), "{secret}: {json}");
        }
        assert_eq!(view.settings.proxy, "http://alice:***@proxy.corp:3128/");
        assert_eq!(view.settings.headers, ["X-Api-Key: ***"]);
        assert_eq!(
            view.settings.feed_urls,
            [
                "wss://feed.example/ws",
                "wss://bob:***@backup.example/ws?apikey=***&desk=3"
            ],
            "a URL without a secret exactly as stored"
        );
        // The window sends back what it was shown: the secrets are kept.
        let back = saved(&stored, view.settings.clone());
        assert_eq!(back.proxy, stored.proxy);
        assert_eq!(back.headers, stored.headers);
        assert_eq!(back.feed_urls, stored.feed_urls);
        assert!(
            back.same_connection(&stored),
            "nothing changed: no reconnect"
        );

        {
            // Edited elsewhere in the line: the secrets stay, the edit is kept.
            let mut edited = view.settings.clone();
            edited.feed_urls[1] = edited.feed_urls[1].replace("desk=3", "desk=4");
            let back = saved(&stored, edited);
            assert_eq!(
                back.feed_urls[1],
                "wss://bob:pw-7@backup.example/ws?apikey=ak-7&desk=4"
            );
            back.validate().unwrap();
            // Moved to a host it has no secret for: refused, with a reason.
            let mut moved = view.settings.clone();
            moved.feed_urls[1] = moved.feed_urls[1].replace("backup.example", "other.example");
            let back = saved(&stored, moved);
            let e = back.validate().unwrap_err();
            assert!(e["feed_urls"].contains("enter it again"), "{e:?}");
            // Two lines to one host that differ only in their secrets keep their own.
            let twins = Settings {
                feed_urls: vec![
                    "wss://h.example/ws?token=first".into(),
                    "wss://h.example/ws?token=second".into(),
                ],
                ..Settings::default()
            };
            let back = saved(&twins, twins.view().settings);
            assert_eq!(back.feed_urls, twins.feed_urls);
            // A line removed and the other edited: which token it had cannot be told
            // (both lines went to that host), so it is asked for, never guessed.
            let mut one = twins.view().settings;
            one.feed_urls = vec![one.feed_urls[1].replace("/ws", "/v2")];
            let back = saved(&twins, one);
            assert!(back.validate().unwrap_err()["feed_urls"].contains("enter it again"));
            // Never onto plain ws://: nothing to come from there, so refused.
            let mut plain = twins.view().settings;
            plain.feed_urls = vec![plain.feed_urls[0].replace("wss://", "ws://")];
            let back = saved(&twins, plain);
            assert!(back.validate().unwrap_err()["feed_urls"].contains("enter it again"));
            // A repeated key gets each of its own values back.
            let repeated = Settings {
                feed_urls: vec!["wss://r.example/ws?token=a&token=b&desk=3".into()],
                ..Settings::default()
            };
            let mut view = repeated.view().settings;
            view.feed_urls[0] = view.feed_urls[0].replace("desk=3", "desk=4");
            let back = saved(&repeated, view);
            assert_eq!(
                back.feed_urls,
                ["wss://r.example/ws?token=a&token=b&desk=4"]
            );
            // A token as the URL's user name: masked, and kept when the line is edited.
            let lone = Settings {
                feed_urls: vec!["wss://ghp_t0ken@l.example/ws?desk=1".into()],
                ..Settings::default()
            };
            let mut view = lone.view().settings;
            assert_eq!(view.feed_urls, ["wss://***@l.example/ws?desk=1"]);
            view.feed_urls[0] = view.feed_urls[0].replace("desk=1", "desk=2");
            let back = saved(&lone, view);
            assert_eq!(back.feed_urls, ["wss://ghp_t0ken@l.example/ws?desk=2"]);
            // A URL with no secret is kept exactly as typed, `***` or not.
            let odd = Settings {
                feed_urls: vec!["wss://H.example:443/x?q=***&a=%20".into()],
                ..Settings::default()
            };
            let back = saved(&odd, odd.view().settings);
            assert_eq!(back.feed_urls, odd.feed_urls);
        }
        let c = back.client_config("");
        assert_eq!(c.headers, [("X-Api-Key".to_string(), "k3y".to_string())]);
    }

    #[test]
    fn a_token_over_plain_ws_to_another_host_is_warned_about() {
        let mut s = Settings {
            feed_urls: vec!["ws://feed.example/ws".into(), "ws://127.0.0.1:9/ws".into()],
            token: Some("t".into()),
            ..Settings::default()
        };
        assert_eq!(
            s.view().warnings,
            ["The token is sent unencrypted over ws:// to feed.example: anyone on the way can read it. Use wss://."]
        );
        s.feed_urls[0] = "wss://feed.example/ws".into();
        assert!(s.view().warnings.is_empty(), "loopback and wss are fine");
    }

    #[test]
    fn heartbeat_proxy_ca_and_headers_are_validated() {
        let s = Settings {
            heartbeat: HeartbeatSetting::Custom,
            proxy: "ftp://x".into(),
            ca_file: "/no/such/ca.pem".into(),
            headers: vec!["no colon".into()],
            ..Settings::default()
        };
        let e = s.validate().unwrap_err();
        for k in ["ping_text", "pong_field", "proxy", "ca_file", "headers"] {
            assert!(e.contains_key(k), "{k}: {e:?}");
        }
        let ok = Settings {
            heartbeat: HeartbeatSetting::Custom,
            ping_text: r#"{"op":"ping"}"#.into(),
            pong_field: "op=pong".into(),
            ..Settings::default()
        };
        ok.validate().unwrap();
        assert_eq!(
            ok.client_config("ws://demo/ws").core.heartbeat,
            Heartbeat::Custom {
                ping: r#"{"op":"ping"}"#.into(),
                pong: PongMatch::Field {
                    name: "op".into(),
                    value: serde_json::json!("pong")
                }
            }
        );
    }

    #[test]
    fn unknown_settings_in_the_file_are_named_and_the_rest_is_used() {
        let dir = std::env::temp_dir().join(format!("uplink-unknown-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SettingsStore::new(&dir);
        std::fs::write(
            dir.join("settings.json"),
            r#"{"queue_size": 7, "heartbeat_intervall_secs": 5, "feed_url": ""}"#,
        )
        .unwrap();
        let (s, note) = store.load();
        assert_eq!(s.queue_size, 7);
        let Some(LoadNote::Warning(note)) = note else {
            panic!("a warning: {note:?}")
        };
        assert!(note.ends_with("`heartbeat_intervall_secs`"), "{note}");
        assert!(
            !note.contains("feed_url"),
            "the older name is still read: {note}"
        );
        std::fs::write(dir.join("settings.json"), r#"{"queue_size": 7}"#).unwrap();
        assert_eq!(store.load().1, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_wrong_value_in_the_file_is_described_not_repeated() {
        let e =
            parse("{\n  \"feed_urls\": \"wss://feed.example/ws?token=sekrit-1\"\n}").unwrap_err();
        assert!(!e.contains("sekrit"), "{e}");
        assert!(e.contains("expected a sequence"), "{e}");
        let e = parse(r#"{"queue_size": "sekrit-2"}"#).unwrap_err();
        assert!(!e.contains("sekrit") && e.contains("wrong kind"), "{e}");
        let e = parse(r#"{"token": "sekrit-3""#).unwrap_err();
        assert!(!e.contains("sekrit") && e.contains("line 1"), "{e}");
        // The word "expected" inside the value shows nothing of it.
        let e = parse(r#"{"feed_urls": "x, expected sekrit-4"}"#).unwrap_err();
        assert!(!e.contains("sekrit"), "{e}");
        let e = parse(r#"{"feed_urls": "x, expected sekrit-5 at line 9"}"#).unwrap_err();
        assert!(
            !e.contains("sekrit") && e.ends_with("expected a sequence"),
            "{e}"
        );
        let e = parse(r#"{"queue_size": 1 "token": 2}"#).unwrap_err();
        assert!(e.starts_with("not valid JSON: expected `,` or `}`"), "{e}");
    }

    #[test]
    fn a_bad_header_line_is_named_by_its_place_not_repeated() {
        let s = Settings {
            headers: vec!["X-Ok: 1".into(), "Authorization Bearer sk-live-42".into()],
            ..Settings::default()
        };
        let e = s.validate().unwrap_err();
        assert_eq!(
            e["headers"],
            "header 2 of 2 has no name before a colon: write each as Name: value"
        );
    }

    #[test]
    fn every_setting_of_how_to_connect_makes_a_change_reconnect() {
        let base = Settings::default();
        let changed: Vec<(&str, Settings)> = vec![
            (
                "feed_urls",
                Settings {
                    feed_urls: vec!["wss://b.example/ws".into()],
                    ..base.clone()
                },
            ),
            (
                "token",
                Settings {
                    token: Some("t0ken".into()),
                    ..base.clone()
                },
            ),
            (
                "token_placement",
                Settings {
                    token_placement: Placement::Header,
                    ..base.clone()
                },
            ),
            (
                "headers",
                Settings {
                    headers: vec!["X-Desk: 7".into()],
                    ..base.clone()
                },
            ),
            (
                "proxy",
                Settings {
                    proxy: "http://proxy.example:3128".into(),
                    ..base.clone()
                },
            ),
            (
                "ca_file",
                Settings {
                    ca_file: "/etc/ssl/certs/ca-certificates.crt".into(),
                    ..base.clone()
                },
            ),
            (
                "queue_size",
                Settings {
                    queue_size: 7,
                    ..base.clone()
                },
            ),
        ];
        for (what, s) in changed {
            assert!(!s.same_connection(&base), "{what} changed: reconnect");
        }
        // Thresholds the running engine takes as they are.
        let tuned = Settings {
            stale_after_secs: 5.0,
            alert_after_secs: 9.0,
            ..base.clone()
        };
        assert!(tuned.same_connection(&base));
    }

    #[test]
    fn the_stored_token_does_not_follow_the_feed_to_a_new_host_silently() {
        let current = Settings {
            feed_urls: vec!["wss://feed.example/ws".into()],
            token: Some("t0k".into()),
            ..Settings::default()
        };
        let moved = Settings {
            feed_urls: vec!["wss://evil.example/ws".into()],
            ..current.clone()
        };
        assert_eq!(
            current.token_goes_to_new_host(&moved).as_deref(),
            Some("evil.example")
        );
        let same_host = Settings {
            feed_urls: vec!["wss://feed.example/other".into()],
            ..current.clone()
        };
        assert_eq!(current.token_goes_to_new_host(&same_host), None);
        let no_token = Settings {
            token: None,
            ..moved
        };
        assert_eq!(current.token_goes_to_new_host(&no_token), None);
    }
}
