fn main() {
    // Tauri embeds the built UI; without it its macro fails with a cryptic panic. Say
    // what to run instead.
    // Read at run time, not baked in with env!(): a target directory shared by two
    // checkouts reuses one build script for both, and each must look at its own ui/.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dist = std::path::Path::new(&manifest_dir).join("../ui/dist/index.html");
    println!("cargo:rerun-if-changed=../ui/dist/index.html");
    if !dist.exists() {
        eprintln!(
            "error: the window's UI is not built yet: run `cd ui && npm ci && npm run build` (or ./scripts/run.sh, which does it) before cargo build or cargo test"
        );
        std::process::exit(1);
    }
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
