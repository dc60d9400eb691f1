//! The test command's own scripts, run as the test command runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository")
}

/// Runs `scripts/disk-check.sh` with `args`, its target directory set to `dir`.
fn disk_check(dir: &Path, args: &[&str]) -> Output {
    Command::new(repo().join("scripts/disk-check.sh"))
        .args(args)
        .env("CARGO_TARGET_DIR", dir)
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
    let ok = disk_check(&dir, &["0"]);
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    assert!(ok.stderr.is_empty(), "{ok:?}");
    assert!(dir.is_dir(), "the target directory is made if missing");

    // No disk here has a billion GB: the check stops the suite, and says why.
    let short = disk_check(&dir, &["1000000000"]);
    assert_eq!(short.status.code(), Some(1), "{short:?}");
    let said = String::from_utf8_lossy(&short.stderr);
    assert!(
        said.starts_with("error: the test suite needs about 1000000000 GB for its builds in ")
            && said.contains(&format!("{}/", dir.display()))
            && said.contains("GB free on its disk")
            && said.contains("Free some space, or set CARGO_TARGET_DIR"),
        "{said}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_disk_check_refuses_a_need_that_is_not_a_number() {
    let dir = scratch("bad");
    for bad in ["seven", "7.5", "-1"] {
        let out = disk_check(&dir, &[bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&format!(
                "NEED_GB must be a whole number of GB, not '{bad}'"
            )),
            "{bad}: {out:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
