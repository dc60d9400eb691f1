// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // Before any thread starts: the environment the webview will inherit.
    uplink_app::prepare_environment();
    uplink_app::run();
}
