//! The test command's own scripts, run as the test command runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository")
}

/// Runs `scripts/disk-check.sh` with `args`.
fn disk_check(args: &[&str]) -> Output {
    Command::new(repo().join("scripts/disk-check.sh"))
        .args(args)
        .output()
        .expect("bash runs scripts/disk-check.sh")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("uplink-disk-check-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_disk_check_passes_when_the_space_is_there_and_says_what_is_missing_when_not() {
    let dir = scratch("target");
    let path = dir.to_str().unwrap();
    let ok = disk_check(&["0", path]);
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    assert!(ok.stderr.is_empty(), "{ok:?}");
    assert!(dir.is_dir(), "the target directory is made if missing");

    // A leading zero is decimal, not octal.
    let ok = disk_check(&["08", path]);
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");

    // No disk here has a billion GiB: the check stops the suite, and says why.
    let short = disk_check(&["1000000000", path]);
    assert_eq!(short.status.code(), Some(1), "{short:?}");
    let said = String::from_utf8_lossy(&short.stderr);
    assert!(
        said.starts_with("error: the test suite needs about 1000000000 GiB for its builds in ")
            && said.contains(&format!("{path}/"))
            && said.contains("GiB free on its disk")
            && said.contains("Free some space on that disk."),
        "{said}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_disk_check_refuses_a_need_that_is_not_a_number_and_a_call_without_one() {
    let dir = scratch("bad");
    let path = dir.to_str().unwrap();
    for bad in ["seven", "7.5", "-1", ""] {
        let out = disk_check(&[bad, path]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&format!(
                "NEED_GIB must be a whole number of GiB, not '{bad}'"
            )),
            "{bad}: {out:?}"
        );
    }
    let none = disk_check(&[]);
    assert_eq!(none.status.code(), Some(2), "{none:?}");
    assert!(
        String::from_utf8_lossy(&none.stderr).starts_with("usage: disk-check.sh NEED_GIB [DIR]"),
        "{none:?}"
    );
    assert!(!dir.exists(), "nothing is made on bad arguments");
}
