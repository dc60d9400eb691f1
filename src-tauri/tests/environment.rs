//! The renderer switch the app sets before anything starts (its own process: the
//! environment is process-wide). The e2e suite checks the running web process
//! inherits it; this checks a user's own choice is kept.

#[cfg(target_os = "linux")]
#[test]
fn the_dmabuf_switch_is_set_unless_the_user_chose() {
    use uplink_app::{prepare_environment, DMABUF_SWITCH};

    // The user chose the DMABUF renderer (a machine with a GPU): kept.
    std::env::set_var(DMABUF_SWITCH, "0");
    prepare_environment();
    assert_eq!(std::env::var(DMABUF_SWITCH).as_deref(), Ok("0"));

    // Nobody chose: turned off, the cheap choice without GPU acceleration.
    std::env::remove_var(DMABUF_SWITCH);
    prepare_environment();
    assert_eq!(std::env::var(DMABUF_SWITCH).as_deref(), Ok("1"));
}
