//! Proxies on trader networks: HTTP `CONNECT` and SOCKS5, with optional
//! username/password, chosen explicitly or from the standard environment variables.
//!
//! The proxy only carries bytes: for `wss://` the TLS session with the feed runs inside
//! the tunnel, so the proxy sees neither the token nor the data. Every error names the
//! proxy (credentials masked), not the feed, so a trader knows whom to call. The
//! handshake is bounded by the dial's connect timeout, like the rest of the dial.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uplink_core::ErrorKind;
use url::Url;

use crate::config::mask_url;

/// How the engine finds its proxy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProxySetting {
    /// From `HTTPS_PROXY` (wss) / `HTTP_PROXY` (ws) / `ALL_PROXY`, lower case first,
    /// unless `NO_PROXY` names the feed's host. The default.
    #[default]
    FromEnvironment,
    /// Connect directly, whatever the environment says.
    Direct,
    /// This proxy: `http://[user:pass@]host:port` or `socks5://[user:pass@]host:port`
    /// (`socks5h://` too: the proxy resolves the feed's name either way).
    Url(String),
}

/// The kind of proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// HTTP `CONNECT`.
    Http,
    /// SOCKS5 (RFC 1928), the feed's name resolved by the proxy.
    Socks5,
}

/// A proxy ready to dial through.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    pub kind: Kind,
    pub host: String,
    pub port: u16,
    /// Username and password, if any.
    pub auth: Option<(String, String)>,
    /// Its URL for people, the password masked.
    pub masked: String,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked)
    }
}

/// Parses a proxy URL; the error says what is wrong, the URL masked.
pub(crate) fn parse(raw: &str) -> Result<Proxy, String> {
    let url = Url::parse(raw.trim()).map_err(|e| {
        format!(
            "invalid proxy URL {}: {e}",
            crate::config::mask_url_str(raw)
        )
    })?;
    let masked = mask_url(&url);
    let (kind, default_port) = match url.scheme() {
        "http" => (Kind::Http, 80),
        "socks5" | "socks5h" => (Kind::Socks5, 1080),
        other => {
            return Err(format!(
            "unsupported proxy {masked}: the scheme must be http, socks5 or socks5h, not {other}"
        ))
        }
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("invalid proxy URL {masked}: no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    // Percent-decoding only: a `+` in a password is a plus, not a space.
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let password = url.password().unwrap_or("");
    let auth = (!url.username().is_empty() || !password.is_empty())
        .then(|| (decode(url.username()), decode(password)));
    Ok(Proxy {
        kind,
        host,
        port: url.port().unwrap_or(default_port),
        auth,
        masked,
    })
}

/// The proxy for a feed at `feed`, per `setting` and (for
/// [`ProxySetting::FromEnvironment`]) the environment read through `env`.
pub(crate) fn resolve(
    setting: &ProxySetting,
    feed: &Url,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Proxy>, String> {
    match setting {
        ProxySetting::Direct => Ok(None),
        ProxySetting::Url(u) if u.trim().is_empty() => Ok(None),
        ProxySetting::Url(u) => parse(u).map(Some),
        ProxySetting::FromEnvironment => {
            // The variable's name as found, and its value: the lower-case one if it is
            // set at all (set empty, it turns a system-wide upper-case one off), else
            // the upper-case one; empty means none.
            let get = |name: &str| {
                let lower = name.to_lowercase();
                env(&lower)
                    .map(|v| (lower, v))
                    .or_else(|| env(name).map(|v| (name.to_owned(), v)))
                    .filter(|(_, v)| !v.trim().is_empty())
            };
            let host = feed.host_str().unwrap_or("");
            if get("NO_PROXY").is_some_and(|(_, list)| no_proxy_matches(&list, host)) {
                return Ok(None);
            }
            let by_scheme = if feed.scheme() == "wss" {
                get("HTTPS_PROXY")
            } else {
                get("HTTP_PROXY")
            };
            let Some((name, u)) = by_scheme.or_else(|| get("ALL_PROXY")) else {
                return Ok(None);
            };
            // `proxy.corp:3128`, as curl takes it: an HTTP proxy.
            let u = if u.contains("://") {
                u
            } else {
                format!("http://{}", u.trim())
            };
            parse(&u)
                .map(Some)
                .map_err(|e| format!("the proxy in {name} cannot be used: {e}"))
        }
    }
}

/// `NO_PROXY`: `*`, or comma-separated host names and domain suffixes (`.corp`,
/// `corp.example`), matched against the feed's host (a port in an entry is ignored).
pub(crate) fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    list.split(',').map(str::trim).any(|entry| {
        let entry = entry.to_ascii_lowercase();
        let entry = match entry.rsplit_once(':') {
            Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => {
                h.to_owned()
            }
            _ => entry,
        };
        let entry = entry.trim_start_matches('*');
        if entry.is_empty() {
            return list.trim() == "*";
        }
        let bare = entry.trim_start_matches('.');
        host == bare || host.ends_with(&format!(".{bare}"))
    })
}

/// Opens a TCP connection to `host:port` through `proxy`.
pub(crate) async fn connect(
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<TcpStream, (ErrorKind, String)> {
    let mut tcp = TcpStream::connect((proxy.host.as_str(), proxy.port))
        .await
        .map_err(|e| {
            (
                ErrorKind::ConnectFailed,
                format!("cannot reach the proxy {}: {e}", proxy.masked),
            )
        })?;
    let _ = tcp.set_nodelay(true);
    match proxy.kind {
        Kind::Http => http_connect(&mut tcp, proxy, host, port).await?,
        Kind::Socks5 => socks5_connect(&mut tcp, proxy, host, port).await?,
    }
    Ok(tcp)
}

/// The most a proxy's answer to `CONNECT` may hold before its blank line.
const MAX_CONNECT_RESPONSE: usize = 16 * 1024;

async fn http_connect(
    tcp: &mut TcpStream,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<(), (ErrorKind, String)> {
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut req = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some((user, pass)) = &proxy.auth {
        let token = base64(format!("{user}:{pass}").as_bytes());
        req.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    req.push_str("\r\n");
    let io = |e: std::io::Error| {
        (
            ErrorKind::ConnectFailed,
            format!("the proxy {} failed during CONNECT: {e}", proxy.masked),
        )
    };
    tcp.write_all(req.as_bytes()).await.map_err(io)?;
    // Read byte by byte up to the blank line: nothing of the tunnel is consumed.
    let mut head = Vec::with_capacity(256);
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_CONNECT_RESPONSE {
            return Err((
                ErrorKind::Handshake,
                format!(
                    "the proxy {} sent an oversized answer to CONNECT",
                    proxy.masked
                ),
            ));
        }
        if tcp.read(&mut b).await.map_err(io)? == 0 {
            return Err((
                ErrorKind::ConnectFailed,
                format!(
                    "the proxy {} closed the connection during CONNECT",
                    proxy.masked
                ),
            ));
        }
        head.push(b[0]);
    }
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or("").trim();
    let code: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    // Only the status line: a proxy's page may quote the request, credentials and all.
    let status = crate::config::scrub(status_line);
    match code {
        200..=299 => Ok(()),
        // 407 is the standard answer; some proxies (tinyproxy) answer CONNECT with 401.
        401 | 407 => Err((
            ErrorKind::Auth,
            format!(
                "the proxy {} wants credentials, or refused the ones given ({status})",
                proxy.masked
            ),
        )),
        _ => Err((
            ErrorKind::Handshake,
            format!(
                "the proxy {} refused to connect to {authority} ({status})",
                proxy.masked
            ),
        )),
    }
}

async fn socks5_connect(
    tcp: &mut TcpStream,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<(), (ErrorKind, String)> {
    let io = |e: std::io::Error| {
        (
            ErrorKind::ConnectFailed,
            format!("the SOCKS5 proxy {} failed: {e}", proxy.masked),
        )
    };
    let bad = |what: String| {
        (
            ErrorKind::Handshake,
            format!("the SOCKS5 proxy {} {what}", proxy.masked),
        )
    };
    // Greeting: no authentication, and username/password if we have them.
    let greeting: &[u8] = if proxy.auth.is_some() {
        &[5, 2, 0, 2]
    } else {
        &[5, 1, 0]
    };
    tcp.write_all(greeting).await.map_err(io)?;
    let mut choice = [0u8; 2];
    tcp.read_exact(&mut choice).await.map_err(io)?;
    if choice[0] != 5 {
        return Err(bad("does not speak SOCKS5".into()));
    }
    match (choice[1], &proxy.auth) {
        (0, _) => {}
        (2, Some((user, pass))) => {
            if user.len() > 255 || pass.len() > 255 {
                return Err(bad(
                    "cannot take a username or password over 255 bytes".into()
                ));
            }
            let mut msg = vec![1, user.len() as u8];
            msg.extend_from_slice(user.as_bytes());
            msg.push(pass.len() as u8);
            msg.extend_from_slice(pass.as_bytes());
            tcp.write_all(&msg).await.map_err(io)?;
            let mut reply = [0u8; 2];
            tcp.read_exact(&mut reply).await.map_err(io)?;
            if reply[1] != 0 {
                return Err((
                    ErrorKind::Auth,
                    format!(
                        "the SOCKS5 proxy {} refused the username and password",
                        proxy.masked
                    ),
                ));
            }
        }
        (0xff, _) | (2, None) => {
            return Err((
                ErrorKind::Auth,
                format!(
                    "the SOCKS5 proxy {} wants a username and password (none accepted)",
                    proxy.masked
                ),
            ))
        }
        (m, _) => return Err(bad(format!("chose an unknown method {m}"))),
    }
    // CONNECT to the feed's name; the proxy resolves it.
    let mut req = vec![5, 1, 0];
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            req.push(1);
            req.extend_from_slice(&ip.octets());
        }
        Ok(std::net::IpAddr::V6(ip)) => {
            req.push(4);
            req.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            if host.len() > 255 {
                return Err(bad("cannot take a host name over 255 bytes".into()));
            }
            req.push(3);
            req.push(host.len() as u8);
            req.extend_from_slice(host.as_bytes());
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    tcp.write_all(&req).await.map_err(io)?;
    let mut head = [0u8; 4];
    tcp.read_exact(&mut head).await.map_err(io)?;
    if head[1] != 0 {
        let why = match head[1] {
            1 => "general failure",
            2 => "connection not allowed by its rules",
            3 => "network unreachable",
            4 => "host unreachable",
            5 => "connection refused by the feed's host",
            6 => "TTL expired",
            7 => "command not supported",
            8 => "address type not supported",
            _ => "unknown error",
        };
        return Err((
            ErrorKind::ConnectFailed,
            format!(
                "the SOCKS5 proxy {} could not connect to {host}:{port}: {why}",
                proxy.masked
            ),
        ));
    }
    // The bound address, which we do not need, then the tunnel is open.
    let skip = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut len = [0u8; 1];
            tcp.read_exact(&mut len).await.map_err(io)?;
            usize::from(len[0]) + 2
        }
        t => return Err(bad(format!("answered with an unknown address type {t}"))),
    };
    let mut rest = vec![0u8; skip];
    tcp.read_exact(&mut rest).await.map_err(io)?;
    Ok(())
}

/// Standard base64 with padding, for `Proxy-Authorization: Basic`.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
            ("user:p@ss", "dXNlcjpwQHNz"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn proxy_urls_are_parsed_and_their_passwords_masked() {
        let p = parse("http://alice:s%40cret@proxy.corp:3128").unwrap();
        assert_eq!(
            (p.kind, p.host.as_str(), p.port),
            (Kind::Http, "proxy.corp", 3128)
        );
        assert_eq!(p.auth, Some(("alice".into(), "s@cret".into())));
        assert_eq!(p.masked, "http://alice:***@proxy.corp:3128/");
        assert!(!format!("{p:?}").contains("cret"));
        assert_eq!(parse("socks5h://127.0.0.1").unwrap().port, 1080);
        // A plus is a plus; escapes are decoded; a password without a user is kept.
        let p = parse("http://bob:a+b%2Fc%40d@proxy:1").unwrap();
        assert_eq!(p.auth, Some(("bob".into(), "a+b/c@d".into())));
        let p = parse("http://:only-pw@proxy:1").unwrap();
        assert_eq!(p.auth, Some((String::new(), "only-pw".into())));
        assert_eq!(parse("http://proxy:1").unwrap().auth, None);
        let e = parse("https://u:pw@proxy:1").unwrap_err();
        assert!(
            e.contains("must be http, socks5 or socks5h") && !e.contains("pw"),
            "{e}"
        );
    }

    #[test]
    fn the_environment_is_read_per_scheme_with_no_proxy() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let wss = Url::parse("wss://feed.example.com/ws").unwrap();
        let ws = Url::parse("ws://feed.example.com/ws").unwrap();
        let vars: &'static [(&str, &str)] = &[
            ("HTTPS_PROXY", "http://secure:3128"),
            ("http_proxy", "http://plain:3128"),
            ("ALL_PROXY", "socks5://all:1080"),
        ];
        let host = |r: Result<Option<Proxy>, String>| r.unwrap().map(|p| p.host);
        assert_eq!(
            host(resolve(&ProxySetting::FromEnvironment, &wss, env(vars))),
            Some("secure".into())
        );
        assert_eq!(
            host(resolve(&ProxySetting::FromEnvironment, &ws, env(vars))),
            Some("plain".into())
        );
        let only_all: &'static [(&str, &str)] = &[("ALL_PROXY", "socks5://all:1080")];
        assert_eq!(
            host(resolve(&ProxySetting::FromEnvironment, &ws, env(only_all))),
            Some("all".into())
        );
        let bypass: &'static [(&str, &str)] = &[
            ("HTTPS_PROXY", "http://secure:3128"),
            ("no_proxy", "localhost, .example.com"),
        ];
        assert_eq!(
            host(resolve(&ProxySetting::FromEnvironment, &wss, env(bypass))),
            None
        );
        assert_eq!(host(resolve(&ProxySetting::Direct, &wss, env(vars))), None);
        // Lower case first; set empty, it turns the upper-case one off.
        let both: &'static [(&str, &str)] = &[
            ("https_proxy", "http://lower:3128"),
            ("HTTPS_PROXY", "http://upper:3128"),
            ("http_proxy", " "),
            ("HTTP_PROXY", "http://upper-plain:3128"),
        ];
        assert_eq!(
            host(resolve(&ProxySetting::FromEnvironment, &wss, env(both))),
            Some("lower".into())
        );
        assert_eq!(
            host(resolve(&ProxySetting::FromEnvironment, &ws, env(both))),
            None
        );
        let upper: &'static [(&str, &str)] = &[("HTTP_PROXY", "http://upper-plain:3128")];
        assert_eq!(
            host(resolve(&ProxySetting::FromEnvironment, &ws, env(upper))),
            Some("upper-plain".into())
        );
        // No scheme: an HTTP proxy, as curl takes it.
        let bare: &'static [(&str, &str)] = &[("https_proxy", "proxy.corp:3128")];
        let p = resolve(&ProxySetting::FromEnvironment, &wss, env(bare))
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.kind, p.host.as_str(), p.port),
            (Kind::Http, "proxy.corp", 3128)
        );
        // One it cannot use is named, with its secret masked; so is a bare one.
        let bad_port: &'static [(&str, &str)] = &[("https_proxy", "proxy.corp:99999")];
        let e = resolve(&ProxySetting::FromEnvironment, &wss, env(bad_port)).unwrap_err();
        assert!(
            e.starts_with("the proxy in https_proxy cannot be used"),
            "{e}"
        );
        let tls: &'static [(&str, &str)] = &[("HTTPS_PROXY", "https://u:pw@proxy:1")];
        let e = resolve(&ProxySetting::FromEnvironment, &wss, env(tls)).unwrap_err();
        assert!(
            e.starts_with("the proxy in HTTPS_PROXY cannot be used") && !e.contains("pw"),
            "{e}"
        );
        assert_eq!(
            host(resolve(
                &ProxySetting::Url("socks5://x:9".into()),
                &wss,
                env(&[])
            )),
            Some("x".into())
        );
    }

    #[test]
    fn no_proxy_matches_hosts_and_domains() {
        assert!(no_proxy_matches("*", "anything"));
        assert!(no_proxy_matches("127.0.0.1", "127.0.0.1"));
        assert!(no_proxy_matches("corp.example", "feed.corp.example"));
        assert!(no_proxy_matches(".corp.example", "corp.example"));
        assert!(no_proxy_matches("localhost:8080", "localhost"));
        assert!(!no_proxy_matches("corp.example", "notcorp.example"));
        assert!(!no_proxy_matches("", "feed"));
    }
}
