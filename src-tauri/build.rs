fn main() {
    // Every command the UI may call gets an allow-<command> permission; the capability
    // in capabilities/main.json grants exactly these to the main window, nothing else.
    let manifest = tauri_build::AppManifest::new().commands(&[
        "get_snapshot",
        "connect",
        "disconnect",
        "toggle",
        "reconnect",
        "subscribe",
        "unsubscribe",
        "place_order",
        "cancel_order",
        "resend_order",
        "discard_order",
        "get_settings",
        "save_settings",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri build step");
}
