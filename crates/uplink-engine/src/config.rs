//! What the engine connects to and how: URL, credentials, TLS, limits; validated
//! up front so a bad setting is a clear error before anything connects.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use url::Url;

use crate::proxy::{Proxy, ProxySetting};
use crate::EngineError;
pub use uplink_core::redact::is_secret_key;

/// Text from outside (an HTTP status line) made safe to show: control characters
/// escaped, at most 200 characters.
pub(crate) fn scrub(s: &str) -> String {
    uplink_core::redact::escape_and_bound(s, 200)
}

/// Where the token goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPlacement {
    /// `?token=…` in the URL.
    Query,
    /// `Authorization: Bearer …`.
    Header,
    /// Both, as the seed's example does.
    #[default]
    Both,
}

/// Everything the engine needs to know. Build one, then [`crate::Engine::start`] validates it.
#[derive(Clone)]
pub struct ClientConfig {
    /// `ws://` or `wss://` URL of the feed: the primary endpoint.
    pub url: String,
    /// Backup endpoints of the same feed, in order of preference. The token, headers
    /// and TLS settings apply to all of them.
    pub backups: Vec<String>,
    /// Auth token, if the feed wants one. Never logged; masked in every status.
    pub token: Option<String>,
    /// Where the token is sent.
    pub token_placement: TokenPlacement,
    /// Extra HTTP headers for the upgrade request.
    pub headers: Vec<(String, String)>,
    /// How to reach the feed: from the environment (the default), directly, or
    /// through a given HTTP CONNECT or SOCKS5 proxy.
    pub proxy: ProxySetting,
    /// A PEM file of extra CA certificates to trust (besides the public roots).
    pub extra_ca_file: Option<PathBuf>,
    /// Largest inbound message accepted; a bigger one drops the connection (counted as `message_too_large`).
    pub max_message_size: usize,
    /// Largest inbound frame accepted.
    pub max_frame_size: usize,
    /// State machine, backoff, heartbeat and queue tunables.
    pub core: uplink_core::Config,
    /// Seed of the backoff jitter; `None` picks one from the clock.
    pub seed: Option<u64>,
    /// How often a `stats` event is published.
    pub stats_interval: Duration,
    /// Events buffered per subscriber before the engine waits for it.
    pub event_buffer: usize,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("url", &mask_url_str(&self.url))
            .field(
                "backups",
                &self
                    .backups
                    .iter()
                    .map(|u| mask_url_str(u))
                    .collect::<Vec<_>>(),
            )
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("token_placement", &self.token_placement)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("extra_ca_file", &self.extra_ca_file)
            .field("core", &self.core)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// Defaults for everything but the URL.
    pub fn new(url: impl Into<String>) -> ClientConfig {
        ClientConfig {
            url: url.into(),
            backups: Vec::new(),
            token: None,
            token_placement: TokenPlacement::default(),
            headers: Vec::new(),
            proxy: ProxySetting::default(),
            extra_ca_file: None,
            max_message_size: 16 << 20,
            max_frame_size: 16 << 20,
            core: uplink_core::Config::default(),
            seed: None,
            stats_interval: Duration::from_secs(1),
            event_buffer: 4096,
        }
    }
}

/// One endpoint, ready to dial.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    /// The URL to dial, token included if it goes in the query.
    pub dial_url: Url,
    /// The URL for people: credentials masked.
    pub masked_url: String,
    /// The proxy to go through, if any.
    pub proxy: Option<Proxy>,
    /// Why the proxy the environment names cannot be used: every dial fails with it.
    pub proxy_error: Option<String>,
}

/// A validated configuration, ready to dial.
#[derive(Clone)]
pub(crate) struct Prepared {
    /// The primary's URL for people: credentials masked.
    pub masked_url: String,
    /// Headers of the upgrade request, Authorization included if it goes there.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// TLS settings for wss.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Every endpoint, primary first (the primary's masked URL is also `masked_url`).
    pub endpoints: Vec<Target>,
    pub max_message_size: usize,
    pub max_frame_size: usize,
    pub core: uplink_core::Config,
    pub stats_interval: Duration,
    pub event_buffer: usize,
    /// The secrets of this configuration, removed from every message.
    pub redactor: uplink_core::Redactor,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("url", &self.masked_url)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// The URL with any password and secret query values replaced by `***`; a user name
/// with no password (`wss://TOKEN@host`, a token in practice) too.
pub fn mask_url(url: &Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    } else if !u.username().is_empty() {
        let _ = u.set_username("***");
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_key(&k) {
                    "***".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // Keep the asterisks readable rather than percent-encoded.
    u.to_string().replace("%2A%2A%2A", "***")
}

/// Whether [`mask_url`] hides anything in `url`: a password, a lone user name, or a
/// secret query value.
pub fn has_secret(url: &Url) -> bool {
    url.password().is_some()
        || !url.username().is_empty()
        || url.query_pairs().any(|(k, _)| is_secret_key(&k))
}

/// [`mask_url`] for text that may not even parse.
pub fn mask_url_str(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => mask_url(&u),
        Err(_) => "<invalid URL>".to_owned(),
    }
}

fn positive(name: &'static str, d: Duration) -> Result<(), EngineError> {
    if d.is_zero() {
        return Err(EngineError::Config(uplink_core::ConfigError::ZeroDuration(
            name,
        )));
    }
    Ok(())
}

impl ClientConfig {
    /// Checks the whole configuration (URL, token, headers, CA file, tunables) without
    /// starting anything; the same check [`crate::Engine::start`] makes.
    pub fn validate(&self) -> Result<(), EngineError> {
        self.prepare().map(|_| ())
    }

    /// Parses one endpoint's URL, the token added to its query if it goes there.
    fn target(&self, url: &str) -> Result<Target, EngineError> {
        let url = url.trim();
        let mut dial_url = Url::parse(url).map_err(|e| EngineError::InvalidUrl {
            url: mask_url_str(url),
            reason: e.to_string(),
        })?;
        if !matches!(dial_url.scheme(), "ws" | "wss") {
            return Err(EngineError::InvalidUrl {
                url: mask_url(&dial_url),
                reason: format!("the scheme must be ws or wss, not {}", dial_url.scheme()),
            });
        }
        if dial_url.host_str().is_none_or(str::is_empty) {
            return Err(EngineError::InvalidUrl {
                url: mask_url(&dial_url),
                reason: "the URL has no host".into(),
            });
        }
        if let Some(token) = &self.token {
            if matches!(
                self.token_placement,
                TokenPlacement::Query | TokenPlacement::Both
            ) && !token.is_empty()
            {
                dial_url.query_pairs_mut().append_pair("token", token);
            }
        }
        // A proxy setting that cannot be used is refused here. One from the environment
        // is the machine's, not this configuration's: the engine starts, and each dial
        // fails with the reason, where the trader sees it.
        let (proxy, proxy_error) =
            match crate::proxy::resolve(&self.proxy, &dial_url, |k| std::env::var(k).ok()) {
                Ok(p) => (p, None),
                Err(e) if self.proxy == ProxySetting::FromEnvironment => (None, Some(e)),
                Err(e) => return Err(EngineError::Proxy(e)),
            };
        Ok(Target {
            proxy_error,
            masked_url: mask_url(&dial_url),
            dial_url,
            proxy,
        })
    }

    /// What removes this configuration's secrets from text: the token, the proxies'
    /// passwords, the header values. The engine cleans every message of its own with
    /// it; this is for text from the feed that an application shows elsewhere (an
    /// order's reason in a window). An endpoint whose proxy cannot be resolved adds no
    /// password (the engine refuses such a configuration anyway).
    pub fn redactor(&self) -> uplink_core::Redactor {
        let endpoints: Vec<Target> = std::iter::once(&self.url)
            .chain(&self.backups)
            .filter_map(|u| self.target(u).ok())
            .collect();
        self.redactor_for(&endpoints)
    }

    fn redactor_for(&self, endpoints: &[Target]) -> uplink_core::Redactor {
        let mut secrets: Vec<String> = self.token.iter().cloned().collect();
        secrets.extend(
            endpoints
                .iter()
                .filter_map(|t| t.proxy.as_ref()?.auth.as_ref())
                .map(|(_, pass)| pass.clone()),
        );
        secrets.extend(self.headers.iter().map(|(_, v)| v.clone()));
        uplink_core::Redactor::new(secrets)
    }

    /// Validates everything and prepares the dial: URLs, headers, TLS roots.
    pub(crate) fn prepare(&self) -> Result<Prepared, EngineError> {
        let mut core = self.core.clone();
        core.endpoints = 1 + self.backups.len();
        core.validate()?;
        positive("stats_interval", self.stats_interval)?;
        if self.max_message_size == 0 || self.max_frame_size == 0 {
            return Err(EngineError::Config(uplink_core::ConfigError::ZeroCount(
                "max_message_size and max_frame_size",
            )));
        }
        if self.event_buffer == 0 {
            return Err(EngineError::Config(uplink_core::ConfigError::ZeroCount(
                "event_buffer",
            )));
        }

        let mut headers = Vec::new();
        for (k, v) in &self.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| EngineError::InvalidHeader(k.clone()))?;
            let value =
                HeaderValue::from_str(v).map_err(|_| EngineError::InvalidHeader(k.clone()))?;
            headers.push((name, value));
        }
        if let Some(token) = &self.token {
            if token.is_empty() || token.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(EngineError::InvalidToken);
            }
            if matches!(
                self.token_placement,
                TokenPlacement::Header | TokenPlacement::Both
            ) {
                let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| EngineError::InvalidToken)?;
                value.set_sensitive(true);
                headers.push((HeaderName::from_static("authorization"), value));
            }
        }
        let endpoints = std::iter::once(&self.url)
            .chain(&self.backups)
            .map(|u| self.target(u))
            .collect::<Result<Vec<_>, _>>()?;
        let tls = if endpoints.iter().any(|t| t.dial_url.scheme() == "wss") {
            Some(Arc::new(tls_config(self.extra_ca_file.as_ref())?))
        } else {
            None
        };
        let redactor = self.redactor_for(&endpoints);
        Ok(Prepared {
            redactor,
            masked_url: endpoints[0].masked_url.clone(),
            endpoints,
            headers,
            tls,
            max_message_size: self.max_message_size,
            max_frame_size: self.max_frame_size,
            core,
            stats_interval: self.stats_interval,
            event_buffer: self.event_buffer,
        })
    }
}

/// The operating system's trust store (where corporate TLS-inspection CAs are
/// installed), plus the bundled web roots, plus the certificates of `extra_ca`.
/// Certificates are always validated; there is no insecure fallback.
fn tls_config(extra_ca: Option<&PathBuf>) -> Result<rustls::ClientConfig, EngineError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    if !native.errors.is_empty() || ignored > 0 {
        tracing::debug!(
            added,
            ignored,
            errors = native.errors.len(),
            "system trust store read with problems"
        );
    }
    if let Some(path) = extra_ca {
        let ca_error = |reason: String| EngineError::CaFile {
            path: path.clone(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| ca_error(format!("not a PEM certificate: {e}")))?;
            roots.add(cert).map_err(|e| ca_error(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(ca_error("no certificate found in the file".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| EngineError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_tokens_and_passwords() {
        let u = Url::parse("wss://bob:hunter2@feed.example/ws?token=abc&symbol=AAPL&API_KEY=k")
            .unwrap();
        let m = mask_url(&u);
        assert_eq!(
            m,
            "wss://bob:***@feed.example/ws?token=***&symbol=AAPL&API_KEY=***"
        );
        assert!(!m.contains("hunter2") && !m.contains("abc"));
        // A user name alone is a token in practice.
        let u = Url::parse("wss://ghp_t0ken@feed.example/ws").unwrap();
        assert_eq!(mask_url(&u), "wss://***@feed.example/ws");
        assert!(has_secret(&u));
        assert!(!has_secret(
            &Url::parse("wss://feed.example/ws?desk=1").unwrap()
        ));
    }

    #[test]
    fn bad_settings_are_refused_with_a_clear_reason() {
        let err = |c: ClientConfig| c.prepare().expect_err("refused").to_string();
        assert_eq!(
            err(ClientConfig::new("http://x/ws")),
            "invalid feed URL http://x/ws: the scheme must be ws or wss, not http"
        );
        assert!(err(ClientConfig::new("not a url")).starts_with("invalid feed URL"));
        assert!(err(ClientConfig::new("ws://")).starts_with("invalid feed URL"));
        let mut c = ClientConfig::new("ws://127.0.0.1:1/ws");
        c.core.reconnect_base_delay = Duration::from_secs(5);
        c.core.reconnect_max_delay = Duration::from_secs(1);
        assert!(err(c).contains("reconnect_max_delay"));
        let mut c = ClientConfig::new("ws://127.0.0.1:1/ws");
        c.token = Some("has space".into());
        assert!(err(c).contains("token"));
        let mut c = ClientConfig::new("ws://127.0.0.1:1/ws");
        c.headers.push(("bad header".into(), "v".into()));
        assert!(err(c).contains("bad header"));
        let mut c = ClientConfig::new("wss://127.0.0.1:1/ws");
        c.extra_ca_file = Some("/nonexistent/ca.pem".into());
        assert!(err(c).contains("/nonexistent/ca.pem"));
    }

    #[test]
    fn the_token_goes_where_it_is_told_and_is_masked() {
        let mut c = ClientConfig::new("ws://127.0.0.1:9/ws");
        c.token = Some("t0k".into());
        let p = c.prepare().unwrap();
        assert_eq!(
            p.endpoints[0].dial_url.as_str(),
            "ws://127.0.0.1:9/ws?token=t0k"
        );
        assert_eq!(p.masked_url, "ws://127.0.0.1:9/ws?token=***");
        assert!(p
            .headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "Bearer t0k"));
        c.token_placement = TokenPlacement::Header;
        assert_eq!(
            c.prepare().unwrap().endpoints[0].dial_url.as_str(),
            "ws://127.0.0.1:9/ws"
        );
        assert!(!format!("{c:?}").contains("t0k"));
    }
}
