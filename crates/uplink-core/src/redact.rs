//! The one choke point for text that comes from outside or may carry a secret: every
//! error, close reason, HTTP body and log line the engine produces passes through
//! [`Redactor::clean`] before it reaches an event, the status or a log.
//!
//! It removes the configured token and proxy password wherever they appear, masks the
//! values of secret-looking query keys (`token=…`, `jwt=…`, …) and the password of
//! any `user:password@` in URLs, escapes control characters (a newline in a close
//! reason cannot start a forged log line), and bounds the length.

/// Query keys whose values are secrets (compared case-insensitively).
pub const SECRET_KEYS: &[&str] = &[
    "token",
    "access_token",
    "auth",
    "key",
    "api_key",
    "apikey",
    "apitoken",
    "api_token",
    "jwt",
    "password",
    "passwd",
    "secret",
    "signature",
    "sig",
    "auth_token",
    "access-token",
    "api-key",
    "x-api-key",
    "client_secret",
    "refresh_token",
    "session_token",
    "passphrase",
];

/// Whether a query key's value is a secret: one of [`SECRET_KEYS`], in any case.
pub fn is_secret_key(key: &str) -> bool {
    SECRET_KEYS.contains(&key.to_ascii_lowercase().as_str())
}

/// The longest text kept from outside (an error body, a close reason).
pub const MAX_TEXT: usize = 300;

/// Removes the secrets of one configuration from text.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Exact strings never to show: the token, the proxy passwords, header values.
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// A redactor for these secrets (empty and very short ones are ignored: masking
    /// every "a" would say nothing).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Redactor {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 3).collect();
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor { secrets }
    }

    /// `text`, safe to show anywhere.
    pub fn clean(&self, text: &str) -> String {
        let mut s = text.to_owned();
        for secret in &self.secrets {
            if s.contains(secret.as_str()) {
                s = s.replace(secret.as_str(), "***");
            }
        }
        let s = mask_secret_params(&s);
        let s = mask_userinfo(&s);
        escape_and_bound(&s, MAX_TEXT)
    }
}

/// `key=value` for a secret key anywhere in text (a URL's query, a form body, a
/// request line echoed by a server): the value becomes `***`.
fn mask_secret_params(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        // A key starts after a separator (or at the start).
        let at_start = i == 0
            || matches!(
                bytes[i - 1],
                b'?' | b'&' | b' ' | b';' | b',' | b'"' | b'\'' | b'(' | b'\n'
            );
        if at_start {
            // A key is at most 32 of these bytes, then `=`: looking no further keeps
            // this linear in the text (a feed's error can be megabytes long).
            let key_len = bytes[i..]
                .iter()
                .take(33)
                .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                .count();
            if (1..=32).contains(&key_len) && bytes.get(i + key_len) == Some(&b'=') {
                let eq = key_len;
                let key = &s[i..i + eq];
                if is_secret_key(key) {
                    out.push_str(key);
                    out.push_str("=***");
                    let mut j = i + eq + 1;
                    while j < s.len()
                        && !matches!(
                            bytes[j],
                            b'&' | b' ' | b'#' | b'"' | b'\'' | b')' | b';' | b',' | b'\n' | b'\r'
                        )
                    {
                        j += 1;
                    }
                    i = j;
                    continue;
                }
            }
        }
        let c = s[i..].chars().next().expect("in bounds");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// `scheme://user:password@host` anywhere in text: the password becomes `***`; a user
/// name alone (`wss://TOKEN@host`, a token in practice) becomes `***` too.
fn mask_userinfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        out.push_str(user);
                        out.push_str(":***");
                    }
                    None => out.push_str("***"),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Control characters escaped (`\n` shows as the two characters `\n`), at most
/// `max` characters, with an ellipsis when cut.
pub fn escape_and_bound(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut n = 0;
    for c in s.chars() {
        let piece: String = if c.is_control() {
            c.escape_default().collect()
        } else {
            c.to_string()
        };
        let len = piece.chars().count();
        if n + len > max {
            out.push('…');
            break;
        }
        out.push_str(&piece);
        n += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_and_secret_keys_never_get_through() {
        let r = Redactor::new(["s3cr3t-t0ken".to_string(), "pr0xy-pw".into()]);
        let body = "400 Bad Request: GET /ws?token=s3cr3t-t0ken&jwt=eyJhbGc.x&symbol=AAPL HTTP/1.1";
        let clean = r.clean(body);
        assert!(
            !clean.contains("s3cr3t") && !clean.contains("eyJ"),
            "{clean}"
        );
        assert!(clean.contains("symbol=AAPL"), "{clean}");
        assert_eq!(r.clean("auth failed for pr0xy-pw"), "auth failed for ***");
        assert_eq!(
            r.clean("cannot reach socks5://bob:hunter2@proxy:1080/x"),
            "cannot reach socks5://bob:***@proxy:1080/x"
        );
        assert_eq!(
            r.clean("401 from wss://ghp_t0ken@feed.example/ws"),
            "401 from wss://***@feed.example/ws"
        );
        assert_eq!(r.clean("apitoken=abc; Key=zzz"), "apitoken=***; Key=***");
        assert_eq!(
            r.clean("GET /ws?auth_token=a&X-Api-Key=b&client_secret=c&desk=4"),
            "GET /ws?auth_token=***&X-Api-Key=***&client_secret=***&desk=4"
        );
    }

    #[test]
    fn newlines_cannot_forge_log_lines_and_length_is_bounded() {
        let r = Redactor::default();
        assert_eq!(r.clean("bye\nINFO forged"), "bye\\nINFO forged");
        let long = "x".repeat(10_000);
        assert_eq!(r.clean(&long).chars().count(), MAX_TEXT + 1);
    }

    #[test]
    fn a_key_is_found_only_right_before_its_equals_sign() {
        let r = Redactor::default();
        assert_eq!(r.clean("a token=x b"), "a token=*** b");
        assert_eq!(
            r.clean("token =x"),
            "token =x",
            "a space is not part of a key"
        );
        assert_eq!(r.clean("my-token=x"), "my-token=x", "only the keys listed");
        let key32 = format!("{}=x", "k".repeat(32));
        assert_eq!(r.clean(&key32), key32, "32 bytes: a key, not a secret one");
        assert_eq!(r.clean("x token=1 (jwt=2)"), "x token=*** (jwt=***)");
    }

    /// An error text of 8 MiB with a separator every other byte and no `=` (what a
    /// feed can send, up to the message limit). Masking once looked for an `=` from
    /// every separator to the end of the text: about 4·10^12 steps here, hours of a
    /// frozen engine. Now each separator looks at most 33 bytes ahead.
    #[test]
    fn a_huge_text_of_separators_is_cleaned_in_one_pass() {
        let r = Redactor::new(["s3cr3t-t0ken".to_string()]);
        let mut text = "a ".repeat(4 << 20);
        text.push_str("token=s3cr3t-t0ken");
        let clean = r.clean(&text);
        assert_eq!(clean.chars().count(), MAX_TEXT + 1);
        assert!(clean.starts_with("a a a"), "{clean}");
    }
}
