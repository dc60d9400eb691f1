//! The tray, seen as a desktop panel sees it: we own `org.kde.StatusNotifierWatcher`
//! on the private session bus, accept the app's registration, read the item's
//! properties and click its menu over `com.canonical.dbusmenu`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedValue, Type, Value};
use zbus::{interface, Connection};

use crate::wait_for;

/// A registered item: the bus name and object path of the app's tray icon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayItem {
    /// Unique bus name of the app.
    pub service: String,
    /// Object path of the item.
    pub path: String,
}

#[derive(Debug, Default)]
struct Watcher {
    items: Arc<Mutex<Vec<TrayItem>>>,
}

#[interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    async fn register_status_notifier_item(
        &self,
        service: &str,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        // Items register with either their object path or their bus name.
        let item = if service.starts_with('/') {
            TrayItem {
                service: sender,
                path: service.to_owned(),
            }
        } else {
            TrayItem {
                service: service.to_owned(),
                path: "/StatusNotifierItem".to_owned(),
            }
        };
        let name = format!("{}{}", item.service, item.path);
        self.items.lock().unwrap().push(item);
        let _ = Self::status_notifier_item_registered(&emitter, &name).await;
    }

    fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items
            .lock()
            .unwrap()
            .iter()
            .map(|i| format!("{}{}", i.service, i.path))
            .collect()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }

    #[zbus(signal)]
    async fn status_notifier_item_registered(
        emitter: &SignalEmitter<'_>,
        service: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn status_notifier_host_registered(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;
}

/// The watcher, and a connection to read items with.
#[derive(Debug)]
pub struct Tray {
    conn: Connection,
    items: Arc<Mutex<Vec<TrayItem>>>,
}

/// One node of a dbusmenu layout: `(ia{sv}av)`.
#[derive(Debug, serde::Deserialize, Type, Value, OwnedValue)]
struct Layout {
    id: i32,
    props: HashMap<String, OwnedValue>,
    children: Vec<OwnedValue>,
}

/// A menu item as the panel shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MenuEntry {
    /// dbusmenu id (what `Event` takes).
    pub id: i32,
    /// Text.
    pub label: String,
    /// Whether it can be clicked.
    pub enabled: bool,
}

fn flatten(node: Layout, out: &mut Vec<MenuEntry>) {
    let label = node
        .props
        .get("label")
        .and_then(|v| String::try_from(v.try_clone().ok()?).ok())
        .unwrap_or_default();
    let enabled = node
        .props
        .get("enabled")
        .and_then(|v| bool::try_from(v).ok())
        .unwrap_or(true);
    if node.id != 0 {
        out.push(MenuEntry {
            id: node.id,
            label,
            enabled,
        });
    }
    for child in node.children {
        if let Ok(l) = Layout::try_from(child) {
            flatten(l, out);
        }
    }
}

impl Tray {
    /// Takes the watcher's name on the session bus. Start it before the app.
    pub async fn start() -> Tray {
        let items = Arc::new(Mutex::new(Vec::new()));
        let watcher = Watcher {
            items: Arc::clone(&items),
        };
        let conn = zbus::connection::Builder::session()
            .expect("a session bus (run under scripts/e2e.sh)")
            .name("org.kde.StatusNotifierWatcher")
            .expect("watcher name")
            .serve_at("/StatusNotifierWatcher", watcher)
            .expect("watcher object")
            .build()
            .await
            .expect("own org.kde.StatusNotifierWatcher on the session bus");
        Tray { conn, items }
    }

    /// Waits until an item registers, and returns the newest one.
    pub async fn item(&self, timeout: Duration) -> TrayItem {
        let items = Arc::clone(&self.items);
        wait_for("the app's tray icon to register", timeout, || {
            let items = Arc::clone(&items);
            async move {
                items
                    .lock()
                    .unwrap()
                    .last()
                    .cloned()
                    .ok_or_else(|| "no StatusNotifierItem registered".to_owned())
            }
        })
        .await
    }

    /// Forgets registered items (before launching another app instance).
    pub fn clear(&self) {
        self.items.lock().unwrap().clear();
    }

    /// A string property of the item (`IconName`, `XAyatanaLabel`, `Title`, `Status`).
    pub async fn prop(&self, item: &TrayItem, name: &str) -> Result<String, String> {
        let props = zbus::fdo::PropertiesProxy::builder(&self.conn)
            .destination(item.service.as_str())
            .map_err(|e| e.to_string())?
            .path(item.path.as_str())
            .map_err(|e| e.to_string())?
            .build()
            .await
            .map_err(|e| e.to_string())?;
        let iface = zbus::names::InterfaceName::from_static_str("org.kde.StatusNotifierItem")
            .map_err(|e| e.to_string())?;
        let v = props
            .get(iface, name)
            .await
            .map_err(|e| format!("{name}: {e}"))?;
        String::try_from(v).map_err(|e| format!("{name}: {e}"))
    }

    /// The icon shown now: the PNG at `IconName` (under `IconThemePath` if relative).
    pub async fn icon_rgba(&self, item: &TrayItem) -> Result<(u32, u32, Vec<u8>), String> {
        let name = self.prop(item, "IconName").await?;
        let path = if name.starts_with('/') {
            std::path::PathBuf::from(&name)
        } else {
            let dir = self.prop(item, "IconThemePath").await?;
            std::path::Path::new(&dir).join(format!("{name}.png"))
        };
        let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut decoder = png::Decoder::new(file);
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
        let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
        buf.truncate(info.buffer_size());
        if info.color_type != png::ColorType::Rgba {
            return Err(format!("unexpected PNG colour type {:?}", info.color_type));
        }
        Ok((info.width, info.height, buf))
    }

    /// The colour the icon shows: the average of its opaque pixels, named.
    pub async fn icon_colour(&self, item: &TrayItem) -> Result<&'static str, String> {
        let (_, _, rgba) = self.icon_rgba(item).await?;
        let (mut sum, mut n) = ([0u64; 3], 0u64);
        for p in rgba
            .chunks(4)
            .filter(|p| p[3] == 255 && !(p[0] == 255 && p[1] == 255 && p[2] == 255))
        {
            for i in 0..3 {
                sum[i] += u64::from(p[i]);
            }
            n += 1;
        }
        if n == 0 {
            return Err("the icon has no opaque pixels".into());
        }
        let avg = sum.map(|s| (s / n) as u8);
        Ok(name_colour(avg))
    }

    /// The menu as the panel would show it.
    pub async fn menu(&self, item: &TrayItem) -> Result<Vec<MenuEntry>, String> {
        let reply = self
            .conn
            .call_method(
                Some(item.service.as_str()),
                format!("{}/Menu", item.path).as_str(),
                Some("com.canonical.dbusmenu"),
                "GetLayout",
                &(0i32, -1i32, Vec::<String>::new()),
            )
            .await
            .map_err(|e| format!("GetLayout: {e}"))?;
        let (_revision, layout): (u32, Layout) = reply
            .body()
            .deserialize()
            .map_err(|e| format!("layout: {e}"))?;
        let mut out = Vec::new();
        flatten(layout, &mut out);
        Ok(out)
    }

    /// Clicks the menu item with this label, as a panel does.
    pub async fn click(&self, item: &TrayItem, label: &str) -> Result<(), String> {
        let menu = self.menu(item).await?;
        let entry = menu.iter().find(|e| e.label == label).ok_or_else(|| {
            format!(
                "no menu item {label:?} in {:?}",
                menu.iter().map(|e| &e.label).collect::<Vec<_>>()
            )
        })?;
        self.conn
            .call_method(
                Some(item.service.as_str()),
                format!("{}/Menu", item.path).as_str(),
                Some("com.canonical.dbusmenu"),
                "Event",
                &(entry.id, "clicked", Value::from(""), 0u32),
            )
            .await
            .map_err(|e| format!("Event: {e}"))?;
        Ok(())
    }
}

/// Names an RGB colour as one of the tray's four.
pub fn name_colour([r, g, b]: [u8; 3]) -> &'static str {
    let palette: [(&str, [i32; 3]); 5] = [
        ("gray", [0x9c, 0xa3, 0xaf]),
        ("yellow", [0xea, 0xb3, 0x08]),
        ("amber", [0xf9, 0x73, 0x16]),
        ("green", [0x22, 0xc5, 0x5e]),
        ("red", [0xef, 0x44, 0x44]),
    ];
    let d = |c: [i32; 3]| {
        (c[0] - i32::from(r)).pow(2) + (c[1] - i32::from(g)).pow(2) + (c[2] - i32::from(b)).pow(2)
    };
    palette
        .iter()
        .min_by_key(|(_, c)| d(*c))
        .map_or("unknown", |(n, _)| *n)
}
