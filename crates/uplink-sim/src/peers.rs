//! Real proxy servers for tests: tinyproxy (HTTP CONNECT) and microsocks (SOCKS5),
//! both Debian packages (`scripts/install-deps.sh --test` installs them), each started
//! on a free port of 127.0.0.1 with a config of its own and killed on drop. They are
//! independent peers: nothing of Uplink's is in them.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A proxy server process, killed on drop.
#[derive(Debug)]
pub struct ProxyServer {
    child: Child,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    /// tinyproxy's log (its `CONNECT` lines show what went through it).
    log: Option<PathBuf>,
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ProxyServer {
    fn wait_ready(self) -> ProxyServer {
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < until,
                "the proxy on port {} did not start",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self
    }

    /// What tinyproxy logged so far (empty for microsocks, which logs nothing).
    pub fn log(&self) -> String {
        self.log
            .as_ref()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .unwrap_or_default()
    }

    /// How many tunnels tinyproxy was asked for.
    pub fn connects(&self) -> usize {
        self.log().matches("CONNECT").count()
    }
}

/// A free port on 127.0.0.1 (free when asked; the caller binds it soon after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// tinyproxy, with `BasicAuth user password` if `auth` is given.
pub fn tinyproxy(auth: Option<(&str, &str)>) -> ProxyServer {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("uplink-tinyproxy-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let log = dir.join("tinyproxy.log");
    std::fs::write(&log, "").expect("the log file");
    let mut conf = format!(
        "Port {port}\nListen 127.0.0.1\nTimeout 60\nMaxClients 50\nAllow 127.0.0.1\nLogLevel Connect\nLogFile \"{}\"\n",
        log.display()
    );
    if is_root() {
        // tinyproxy drops root; what it becomes must be able to write its log.
        conf.push_str("User nobody\nGroup nogroup\n");
        for (mode, path) in [("777", &dir), ("666", &log)] {
            let _ = Command::new("chmod").arg(mode).arg(path).status();
        }
    }
    if let Some((u, p)) = auth {
        conf.push_str(&format!("BasicAuth {u} {p}\n"));
    }
    let path = dir.join("tinyproxy.conf");
    std::fs::write(&path, conf).expect("the config file");
    let child = Command::new("tinyproxy")
        .arg("-d")
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tinyproxy is installed (scripts/install-deps.sh --test)");
    ProxyServer {
        child,
        port,
        log: Some(log),
    }
    .wait_ready()
}

/// microsocks, with a username and password if `auth` is given.
pub fn microsocks(auth: Option<(&str, &str)>) -> ProxyServer {
    let port = free_port();
    let mut cmd = Command::new("microsocks");
    cmd.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
    if let Some((u, p)) = auth {
        cmd.args(["-u", u, "-P", p]);
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("microsocks is installed (scripts/install-deps.sh --test)");
    ProxyServer {
        child,
        port,
        log: None,
    }
    .wait_ready()
}
