//! The app's top-level window as the X server sees it. With no window manager on
//! Xvfb, "the user clicks ×" is the `WM_DELETE_WINDOW` message a window manager would
//! send; "the window is visible" is its map state.

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt, EventMask, MapState, Window,
};

fn atom(conn: &impl Connection, name: &str) -> Result<u32, String> {
    conn.intern_atom(false, name.as_bytes())
        .map_err(|e| e.to_string())?
        .reply()
        .map(|r| r.atom)
        .map_err(|e| e.to_string())
}

fn title(conn: &impl Connection, w: Window) -> Option<String> {
    let utf8 = atom(conn, "UTF8_STRING").ok()?;
    let net_name = atom(conn, "_NET_WM_NAME").ok()?;
    for (prop, ty) in [
        (net_name, utf8),
        (AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()),
    ] {
        let r = conn
            .get_property(false, w, prop, ty, 0, 256)
            .ok()?
            .reply()
            .ok()?;
        if !r.value.is_empty() {
            return Some(String::from_utf8_lossy(&r.value).into_owned());
        }
    }
    None
}

/// The top-level window titled `name`.
fn find(conn: &impl Connection, root: Window, name: &str) -> Result<Window, String> {
    let tree = conn
        .query_tree(root)
        .map_err(|e| e.to_string())?
        .reply()
        .map_err(|e| e.to_string())?;
    let mut seen = Vec::new();
    for w in tree.children {
        if let Some(t) = title(conn, w) {
            if t == name {
                return Ok(w);
            }
            seen.push(t);
        }
    }
    Err(format!("no top-level window titled {name:?}; saw {seen:?}"))
}

fn connect() -> Result<(x11rb::rust_connection::RustConnection, Window), String> {
    let (conn, screen) = x11rb::connect(None).map_err(|e| e.to_string())?;
    let root = conn.setup().roots[screen].root;
    Ok((conn, root))
}

/// Whether the window titled `name` is mapped and viewable.
pub fn is_viewable(name: &str) -> Result<bool, String> {
    let (conn, root) = connect()?;
    let w = find(&conn, root, name)?;
    let attrs = conn
        .get_window_attributes(w)
        .map_err(|e| e.to_string())?
        .reply()
        .map_err(|e| e.to_string())?;
    Ok(attrs.map_state == MapState::VIEWABLE)
}

/// Asks the window titled `name` to close, as a window manager does.
pub fn request_close(name: &str) -> Result<(), String> {
    let (conn, root) = connect()?;
    let w = find(&conn, root, name)?;
    let protocols = atom(&conn, "WM_PROTOCOLS")?;
    let delete = atom(&conn, "WM_DELETE_WINDOW")?;
    let event = ClientMessageEvent::new(32, w, protocols, [delete, 0, 0, 0, 0]);
    conn.send_event(false, w, EventMask::NO_EVENT, event)
        .map_err(|e| e.to_string())?
        .check()
        .map_err(|e| format!("send_event: {e}"))?;
    conn.flush().map_err(|e| e.to_string())
}
