//! Every desktop notification sent on the session bus, as `dbus-monitor` sees the
//! `org.freedesktop.Notifications.Notify` calls (the notification plugin drops
//! delivery errors, so the bus is the only honest witness).

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// One notification: its summary and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Title line.
    pub summary: String,
    /// Body text.
    pub body: String,
}

/// A running `dbus-monitor` and what it has seen.
#[derive(Debug)]
pub struct Notifications {
    child: Child,
    text: Arc<Mutex<String>>,
}

impl Notifications {
    /// Starts watching; only calls made after this are seen.
    pub fn watch() -> Notifications {
        let mut child = Command::new("dbus-monitor")
            .args([
                "--session",
                "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor (package dbus) must be installed");
        let mut out = child.stdout.take().expect("piped");
        let text = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&text);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Notifications { child, text }
    }

    /// The notifications seen so far, in order.
    pub fn seen(&self) -> Vec<Note> {
        parse(&self.text.lock().unwrap())
    }
}

impl Drop for Notifications {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses `dbus-monitor` output: in each `Notify` call the strings are app name,
/// icon, summary, body.
fn parse(text: &str) -> Vec<Note> {
    text.split("method call")
        .filter(|block| block.contains("member=Notify"))
        .filter_map(|block| {
            let strings: Vec<String> = block
                .lines()
                .filter_map(|l| l.trim_start().strip_prefix("string \""))
                .map(|s| s.strip_suffix('"').unwrap_or(s).to_owned())
                .collect();
            Some(Note {
                summary: strings.get(2)?.clone(),
                body: strings.get(3)?.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_notify_calls() {
        let sample = r#"signal time=1 sender=org.freedesktop.DBus -> destination=:1.9 serial=2 path=/org/freedesktop/DBus; interface=org.freedesktop.DBus; member=NameAcquired
   string ":1.9"
method call time=2 sender=:1.5 -> destination=org.freedesktop.Notifications serial=7 path=/org/freedesktop/Notifications; interface=org.freedesktop.Notifications; member=Notify
   string "uplink-app"
   uint32 0
   string ""
   string "Uplink connection error"
   string "authentication failed: HTTP 401 Unauthorized"
   array [
   ]
"#;
        let notes = super::parse(sample);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].summary, "Uplink connection error");
        assert_eq!(
            notes[0].body,
            "authentication failed: HTTP 401 Unauthorized"
        );
    }
}
