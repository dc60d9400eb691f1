//! Takes the webview's library pages out of the app's memory once no window is open
//! (Linux).
//!
//! Closing the window ends WebKit's processes, but the app's own process keeps every
//! page of WebKit's libraries that the webview touched while it ran: WebKit, its
//! JavaScript engine, ICU, the speech synthesizer WebKit links, GStreamer. Started in
//! the tray, loading WebKit touches some of them too. They are clean pages of the
//! library files, of no more use to the app in the tray, yet they stay mapped, and
//! counted in its PSS, until memory runs short (the figures are in BENCHMARKS.md).
//!
//! [`release_webview_pages`] unmaps them with `madvise(MADV_DONTNEED)`. They stay in
//! the kernel's page cache, which drops clean pages first when memory is needed, and a
//! later access (the next window's webview) maps them again, from the cache while they
//! are there, else from the file. `MADV_PAGEOUT`, which would also drop them from the
//! cache, does nothing to file pages for a user who cannot write the file (Linux's
//! `can_do_file_pageout`): a trader and `/usr/lib`.
//!
//! `MADV_DONTNEED` discards what a private mapping holds apart from the file, so it is
//! given only mappings where there is no such thing, and whose address range cannot
//! come to hold anything else ([`releasable`]):
//! * inside a range a library had at the start ([`note_start_libraries`]): glibc never
//!   unloads those, so the range is never reused;
//! * not writable and never writable, with no page copied on write (anonymous or in
//!   swap; relocated data is such) and no locked page, as `/proc/self/smaps` says just
//!   before.
//!
//! What is left: the relocated data (anonymous; only swap could take it), and the
//! libraries WebKit and GTK load later (Mesa and LLVM, for their GL displays), whose
//! ranges could be reused after an unload.

use crate::smaps::Mapping;
#[cfg(target_os = "linux")]
use std::sync::OnceLock;

/// The file-name prefixes of the libraries the webview brings into use in the app's
/// process (each matched at the start of the name, so versions do not matter).
const WEBVIEW_LIBRARY_PREFIXES: &[&str] = &[
    "libwebkit2gtk",
    "libjavascriptcoregtk",
    "libicu",
    "libflite",
    "libgst",
];

/// Whether a mapped file named `name` (no folder) is one of the webview's libraries.
pub fn is_webview_library(name: &str) -> bool {
    WEBVIEW_LIBRARY_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The file mappings the process had at the start, by [`note_start_libraries`].
#[cfg(target_os = "linux")]
static AT_START: OnceLock<Vec<Mapping>> = OnceLock::new();

/// Records the file mappings there are now, as the libraries loaded at the start.
/// Call it first thing in `main`, before anything could load a library of its own.
pub fn note_start_libraries() {
    #[cfg(target_os = "linux")]
    match std::fs::read_to_string("/proc/self/maps") {
        Ok(maps) => {
            let files = crate::smaps::parse(&maps)
                .into_iter()
                .filter(|m| !m.file_name().is_empty());
            let _ = AT_START.set(files.collect());
        }
        Err(e) => tracing::warn!("cannot read this process's mappings: {e}"),
    }
}

/// Whether `m` may be given [`MADV_DONTNEED`](release_webview_pages): inside the
/// range of one of the `at_start` mappings, of the same file (not removed since); not
/// writable and never writable; holding no page copied on write (anonymous or
/// swapped) and no locked page; and something resident to unmap.
pub fn releasable(m: &Mapping, at_start: &[Mapping]) -> bool {
    let inside =
        |s: &Mapping| s.path == m.path && s.start <= m.start && m.start + m.len <= s.start + s.len;
    at_start.iter().any(inside)
        && !m.path.ends_with(" (deleted)")
        && !m.writable
        && !m.ever_writable
        && m.anonymous_kb == 0
        && m.swap_kb == 0
        && m.locked_kb == 0
        && m.rss_kb > 0
}

/// What [`release_webview_pages`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    /// How many mappings it advised.
    pub mappings: usize,
    /// How many of those the kernel refused (each is logged).
    pub refused: usize,
    /// The resident size of the webview's libraries before, kB.
    pub before_kb: u64,
    /// And after, kB.
    pub after_kb: u64,
}

/// Unmaps the pages of the webview's libraries in this process (see the module's
/// documentation). Call it when no webview is left; one that comes later maps them
/// again.
#[cfg(target_os = "linux")]
pub fn release_webview_pages() -> std::io::Result<Released> {
    release(|m| is_webview_library(m.file_name()))
}

/// Gives [`releasable`] mappings that `which` picks `MADV_DONTNEED`.
#[cfg(target_os = "linux")]
fn release(which: impl Fn(&Mapping) -> bool) -> std::io::Result<Released> {
    use nix::sys::mman::{madvise, MmapAdvise};
    let at_start = AT_START.get().ok_or_else(|| {
        std::io::Error::other("the libraries loaded at the start were not recorded")
    })?;
    let read = || -> std::io::Result<Vec<Mapping>> {
        let maps = crate::smaps::parse(&std::fs::read_to_string("/proc/self/smaps")?);
        Ok(maps.into_iter().filter(|m| which(m)).collect())
    };
    let resident = |maps: &[Mapping]| maps.iter().map(|m| m.rss_kb).sum::<u64>();
    let before = read()?;
    let (mut mappings, mut refused) = (0, 0);
    for m in before.iter().filter(|m| releasable(m, at_start)) {
        let Some(addr) = std::ptr::NonNull::new(m.start as *mut std::ffi::c_void) else {
            continue;
        };
        mappings += 1;
        // SAFETY: MADV_DONTNEED on a private file mapping drops its pages from this
        // process; the next access maps the file's page again. `releasable` passed
        // only a range that cannot be written, never could, and, as smaps said a
        // moment ago, holds no page copied on write, resident or swapped: every page
        // in it is the file's own, and a page can only become a copy by a write. So a
        // later access reads what was there. The range lies in one a library had at
        // the start, which glibc never unloads, so it holds nothing else by now. (Not
        // covered: a debugger's breakpoint written into the range in between.)
        #[allow(unsafe_code)]
        let advised = unsafe { madvise(addr, m.len, MmapAdvise::MADV_DONTNEED) };
        if let Err(e) = advised {
            refused += 1;
            tracing::warn!(start = m.start, path = %m.path, "madvise(MADV_DONTNEED): {e}");
        }
    }
    Ok(Released {
        mappings,
        refused,
        before_kb: resident(&before),
        after_kb: resident(&read()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webview_libraries_are_known_by_file_name() {
        for yes in [
            "libwebkit2gtk-4.1.so.0.19.9",
            "libjavascriptcoregtk-4.1.so.0.9.11",
            "libicudata.so.72.1",
            "libflite_cmu_us_slt.so.2.2",
            "libgstreamer-1.0.so.0",
        ] {
            assert!(is_webview_library(yes), "{yes}");
        }
        for no in ["libgtk-3.so.0", "libc.so.6", "uplink-app", "libwebkit", ""] {
            assert!(!is_webview_library(no), "{no}");
        }
    }

    #[test]
    fn only_pages_that_match_the_file_in_a_range_of_the_start_are_released() {
        let lib = "/usr/lib/libwebkit2gtk-4.1.so.0";
        let m = Mapping {
            start: 0x7f00_0000_1000,
            len: 0x1000,
            writable: false,
            path: lib.into(),
            rss_kb: 4,
            anonymous_kb: 0,
            locked_kb: 0,
            swap_kb: 0,
            ever_writable: false,
        };
        let at_start = [Mapping {
            start: 0x7f00_0000_0000,
            len: 0x3000,
            ..m.clone()
        }];
        assert!(
            releasable(&m, &at_start),
            "part of a range it had at the start"
        );
        let not = |change: fn(&mut Mapping), why: &str| {
            let mut n = m.clone();
            change(&mut n);
            assert!(!releasable(&n, &at_start), "{why}");
        };
        not(|n| n.writable = true, "writable");
        not(
            |n| n.ever_writable = true,
            "made read-only after it was writable",
        );
        not(|n| n.anonymous_kb = 4, "a page copied on write");
        not(
            |n| n.swap_kb = 4,
            "a page copied on write, then swapped out",
        );
        not(|n| n.locked_kb = 4, "locked");
        not(|n| n.rss_kb = 0, "nothing resident");
        not(
            |n| n.path = "/usr/lib/libwebkit2gtk-4.1.so.1".into(),
            "loaded later",
        );
        not(|n| n.path.push_str(" (deleted)"), "removed since");
        not(
            |n| n.start = 0x7f00_0000_3000,
            "the same file at a range of later",
        );
        not(|n| n.len = 0x3000, "reaching past the range of the start");
    }

    /// 4 MiB of read-only data in this test binary, a file mapping of its own.
    #[cfg(target_os = "linux")]
    static PAGES: [u8; 4 << 20] = [7; 4 << 20];

    /// The pages of a file the user cannot write go, come back by themselves, and
    /// hold what they held. As root, the check runs in a child as the user nobody,
    /// who cannot write this test binary: a trader's case with `/usr/lib`.
    #[cfg(target_os = "linux")]
    #[test]
    fn pages_go_and_come_back_unchanged_for_a_user_who_cannot_write_the_file() {
        use std::os::unix::fs::MetadataExt;
        use std::os::unix::process::CommandExt;
        const CHILD: &str = "UPLINK_RECLAIM_TEST_CHILD";
        let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
        if root && std::env::var_os(CHILD).is_none() {
            let status = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "reclaim::tests::pages_go_and_come_back",
                    "--test-threads=1",
                    "--nocapture",
                ])
                .env(CHILD, "1")
                .uid(65534)
                .gid(65534)
                .status()
                .unwrap_or_else(|e| panic!("cannot run the check as the user nobody: {e}"));
            assert!(status.success(), "the check as nobody: {status}");
            return;
        }
        if !root {
            // Not root: as this user, who owns the binary if they built it.
            eprintln!("the check runs as this user, not as one who cannot write the file");
        }
        note_start_libraries();
        let sum = || {
            std::hint::black_box(&PAGES)
                .iter()
                .map(|&b| u64::from(b))
                .sum::<u64>()
        };
        assert_eq!(sum(), 7 << 22);
        let at = PAGES.as_ptr() as usize;
        let ours = |m: &Mapping| m.start <= at && at < m.start + m.len;
        let r = release(ours).unwrap();
        eprintln!(
            "as uid {}: {r:?}",
            std::fs::metadata("/proc/self").unwrap().uid()
        );
        assert_eq!((r.mappings, r.refused), (1, 0), "{r:?}");
        assert!(
            r.before_kb >= 4096 && r.after_kb + 3072 <= r.before_kb,
            "{r:?}"
        );
        assert_eq!(sum(), 7 << 22, "the same bytes, read back");
    }
}
