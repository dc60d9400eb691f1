//! A stand-in NetworkManager on the private session bus: the app (started with
//! `UPLINK_NETWORK_BUS=session`) hears its `StateChanged` signals as it would hear
//! the real one's on the system bus.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use zbus::object_server::SignalEmitter;
use zbus::{interface, Connection};

const PATH: &str = "/org/freedesktop/NetworkManager";

#[derive(Debug)]
struct Nm {
    state: Arc<AtomicU32>,
}

#[interface(name = "org.freedesktop.NetworkManager")]
impl Nm {
    #[zbus(property)]
    fn state(&self) -> u32 {
        self.state.load(Ordering::SeqCst)
    }

    // Named apart: zbus generates `state_changed` for the `State` property itself.
    #[zbus(signal, name = "StateChanged")]
    async fn announce_state(emitter: &SignalEmitter<'_>, state: u32) -> zbus::Result<()>;
}

/// Owns `org.freedesktop.NetworkManager` on the session bus.
#[derive(Debug)]
pub struct FakeNetworkManager {
    conn: Connection,
    state: Arc<AtomicU32>,
}

/// `NM_STATE_DISCONNECTED`.
pub const DISCONNECTED: u32 = 20;
/// `NM_STATE_CONNECTED_GLOBAL`.
pub const CONNECTED_GLOBAL: u32 = 70;

impl FakeNetworkManager {
    /// Starts it in `state`. Start it before the app.
    pub async fn start(state: u32) -> FakeNetworkManager {
        let state = Arc::new(AtomicU32::new(state));
        let conn = zbus::connection::Builder::session()
            .expect("a session bus")
            .name("org.freedesktop.NetworkManager")
            .expect("name")
            .serve_at(
                PATH,
                Nm {
                    state: Arc::clone(&state),
                },
            )
            .expect("object")
            .build()
            .await
            .expect("own org.freedesktop.NetworkManager on the session bus");
        FakeNetworkManager { conn, state }
    }

    /// Changes the state and announces it, as NetworkManager does.
    pub async fn set_state(&self, s: u32) {
        self.state.store(s, Ordering::SeqCst);
        let iface = self
            .conn
            .object_server()
            .interface::<_, Nm>(PATH)
            .await
            .expect("our interface");
        Nm::announce_state(iface.signal_emitter(), s)
            .await
            .expect("StateChanged sent");
    }
}
