//! `x11-close NAME`: asks the top-level window named NAME to close, as a window
//! manager's close button does (WM_DELETE_WINDOW), on `$DISPLAY`. For benchmarks
//! that measure the app after its window was closed (scripts/footprint.sh).

fn main() -> std::process::ExitCode {
    let Some(name) = std::env::args().nth(1) else {
        eprintln!("usage: x11-close WINDOW-NAME");
        return std::process::ExitCode::from(2);
    };
    match uplink_e2e::x11::request_close(&name) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("x11-close: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
