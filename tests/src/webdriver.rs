//! The real app, started through tauri-driver (WebKitWebDriver) and driven over W3C
//! WebDriver. Each [`App`] has its own settings, log and tray-icon directories.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// W3C's key for element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The app binary under test (built by the test command before the suite runs).
pub fn app_binary() -> PathBuf {
    std::env::var_os("UPLINK_APP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::root().join("target/debug/uplink-app"))
}

/// Checks the app is built and makes its scratch folders; returns its path.
fn ready(dir: &Path) -> PathBuf {
    let bin = app_binary();
    assert!(
        bin.exists(),
        "build the app first: {} is missing",
        bin.display()
    );
    for sub in ["config", "logs", "tray", "home/.config"] {
        std::fs::create_dir_all(dir.join(sub)).expect("scratch subdirectory");
    }
    bin
}

/// The app's environment, whoever starts it: its own settings, logs, tray icons and
/// home under `dir`.
fn app_env(cmd: &mut Command, dir: &Path) {
    cmd.env("UPLINK_CONFIG_DIR", dir.join("config"))
        .env("UPLINK_LOG_DIR", dir.join("logs"))
        .env("UPLINK_TRAY_DIR", dir.join("tray"))
        // A home of its own: launch-at-login writes $HOME/.config/autostart.
        .env("HOME", dir.join("home"))
        .env("XDG_CONFIG_HOME", dir.join("home/.config"))
        .env("NO_AT_BRIDGE", "1")
        // Listen for "network is back" on the private session bus, never the host's.
        .env("UPLINK_NETWORK_BUS", "session")
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        );
}

/// Ends every instance of the app under test (the next test's single-instance
/// check would hand over to a leftover), gently first.
fn end_all_instances() {
    let bin = app_binary();
    let _ = Command::new("pkill")
        .arg("-f")
        .arg(bin.as_os_str())
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Command::new("pgrep")
        .arg("-f")
        .arg(bin.as_os_str())
        .output()
        .is_ok_and(|o| !o.stdout.is_empty())
    {
        if Instant::now() > deadline {
            let _ = Command::new("pkill")
                .arg("-9")
                .arg("-f")
                .arg(bin.as_os_str())
                .status();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The app started directly, with no WebDriver session: for what must hold with no
/// webview at all (started in the tray). Ended when dropped.
#[derive(Debug)]
pub struct PlainApp {
    child: Child,
}

impl PlainApp {
    /// Starts the app with `dir/config` as its settings directory, like [`App::launch`].
    pub fn launch(dir: &Path) -> PlainApp {
        let bin = ready(dir);
        let log = std::fs::File::create(dir.join("app.log")).expect("app log");
        let mut cmd = Command::new(&bin);
        app_env(&mut cmd, dir);
        let child = cmd
            .stdout(Stdio::from(log.try_clone().expect("log handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start the app");
        PlainApp { child }
    }
}

impl Drop for PlainApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        end_all_instances();
    }
}

/// One running app and its WebDriver session.
#[derive(Debug)]
pub struct App {
    driver: Child,
    base: String,
    session: String,
    /// Scratch directory: `config/`, `logs/`, `tray/`, `driver.log`.
    pub dir: PathBuf,
}

fn call(method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
    let req = ureq::request(method, url).timeout(Duration::from_secs(30));
    let res = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let resp = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            let body = r.into_string().unwrap_or_default();
            return Err(format!("{method} {url}: HTTP {code}: {body}"));
        }
        Err(e) => return Err(format!("{method} {url}: {e}")),
    };
    let v: Value = resp
        .into_json()
        .map_err(|e| format!("{method} {url}: {e}"))?;
    Ok(v["value"].clone())
}

impl App {
    /// Starts the app with `dir/config` as its settings directory (write a
    /// `settings.json` there first to preset it) and opens a WebDriver session.
    pub fn launch(dir: &Path) -> App {
        let bin = ready(dir);
        let (port, native) = (crate::free_port(), crate::free_port());
        let log = std::fs::File::create(dir.join("driver.log")).expect("driver log");
        let mut driver = Command::new("tauri-driver");
        driver.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ]);
        // The app inherits this environment through WebKitWebDriver.
        app_env(&mut driver, dir);
        let driver = driver
            .stdout(Stdio::from(log.try_clone().expect("log handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("tauri-driver must be installed (cargo install tauri-driver --locked)");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while call("GET", &format!("{base}/status"), None).is_err() {
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not come up; see {}",
                dir.join("driver.log").display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": bin.to_string_lossy(), "args": []},
        }}});
        let v = call("POST", &format!("{base}/session"), Some(caps)).unwrap_or_else(|e| {
            panic!(
                "cannot start the app over WebDriver: {e}; see {}",
                dir.join("driver.log").display()
            )
        });
        let session = v["sessionId"].as_str().expect("a session id").to_owned();
        App {
            driver,
            base,
            session,
            dir: dir.to_path_buf(),
        }
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/session/{}{tail}", self.base, self.session)
    }

    /// Runs a script in the window and returns its result.
    pub fn exec(&self, script: &str, args: Value) -> Result<Value, String> {
        call(
            "POST",
            &self.url("/execute/sync"),
            Some(json!({"script": script, "args": args})),
        )
    }

    /// The text of the first element matching `css`.
    pub fn text(&self, css: &str) -> Result<String, String> {
        let v = self.exec(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
            json!([css]),
        )?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no element {css}"))
    }

    /// An attribute of the first element matching `css`.
    pub fn attr(&self, css: &str, name: &str) -> Result<String, String> {
        let v = self.exec(
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
            json!([css, name]),
        )?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no attribute {name} on {css}"))
    }

    fn element(&self, css: &str) -> Result<String, String> {
        let v = call(
            "POST",
            &self.url("/element"),
            Some(json!({"using": "css selector", "value": css})),
        )?;
        v[ELEMENT]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no element {css}: {v}"))
    }

    /// Clicks the element matching `css`, as a user would.
    pub fn click(&self, css: &str) -> Result<(), String> {
        let e = self.element(css)?;
        self.exec(
            "arguments[0].scrollIntoView({block: 'center'});",
            json!([{ELEMENT: e}]),
        )?;
        call(
            "POST",
            &self.url(&format!("/element/{e}/click")),
            Some(json!({})),
        )
        .map(|_| ())
    }

    /// Replaces the content of the input matching `css` by typing `text`.
    pub fn fill(&self, css: &str, text: &str) -> Result<(), String> {
        let e = self.element(css)?;
        call(
            "POST",
            &self.url(&format!("/element/{e}/clear")),
            Some(json!({})),
        )?;
        call(
            "POST",
            &self.url(&format!("/element/{e}/value")),
            Some(json!({"text": text})),
        )
        .map(|_| ())
    }

    /// Saves a screenshot of the window as `artifacts/e2e/<name>.png`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let path = crate::artifacts().join(format!("{name}.png"));
        // Let the page paint what the DOM already says (two animation frames).
        let _ = call(
            "POST",
            &self.url("/execute/async"),
            Some(
                json!({"script": "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));", "args": []}),
            ),
        );
        match call("GET", &self.url("/screenshot"), None) {
            Ok(v) => {
                let png = base64::engine::general_purpose::STANDARD
                    .decode(v.as_str().unwrap_or_default())
                    .unwrap_or_default();
                let _ = std::fs::write(&path, png);
            }
            Err(e) => eprintln!("screenshot {name} failed: {e}"),
        }
        path
    }

    /// The app's log so far (stderr through the driver).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("driver.log")).unwrap_or_default()
    }

    /// Ends the session (which ends the app) and the driver.
    pub fn quit(mut self) {
        self.stop();
        self.session.clear();
    }

    fn stop(&mut self) {
        let _ = call("DELETE", &self.url(""), None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        end_all_instances();
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            self.stop();
            self.session.clear();
        }
    }
}
