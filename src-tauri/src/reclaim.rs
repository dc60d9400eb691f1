//! Gives the webview's library pages back to the system once the window is gone
//! (Linux).
//!
//! Closing the window ends WebKit's processes, but the app's own process keeps every
//! page of WebKit's libraries that the webview touched while it ran: WebKit, its
//! JavaScript engine, ICU, the speech synthesizer WebKit links, and Mesa with LLVM
//! (for the EGL display WebKit opens, and for GTK's look at the display's GL at
//! start). They are clean pages read from the library files, of no more use to the
//! app in the tray, yet they stay in its page tables, and in its PSS, until memory
//! runs short (the figures are in BENCHMARKS.md). [`release_webview_pages`] asks the
//! kernel to reclaim them now with `madvise(MADV_PAGEOUT)`. The data stays what it
//! was: a page the app touches again (the next window's webview) is read back from
//! the file. Pages another process maps too (the X server's Mesa, a second WebKit
//! user) are left by the kernel, and so are the pages the loader changed (relocated
//! data, anonymous now), which only swap could take.
//!
//! Which libraries is [`is_webview_library`], by file name. The parsing of
//! `/proc/self/smaps` and that rule are plain functions, tested here; e2e s8 checks the
//! effect on the real app.

/// The file-name prefixes of the libraries the webview brings into use in the app's
/// process (each matched at the start of the name, so versions do not matter).
const WEBVIEW_LIBRARY_PREFIXES: &[&str] = &[
    "libwebkit2gtk",
    "libjavascriptcoregtk",
    "libicu",
    "libflite",
    "libgst",
    "libLLVM",
    "libgallium",
    "libEGL",
    "libGLX",
    "libGL.",
    "libgbm",
];

/// Whether the mapped file at `path` is one of the webview's libraries: a name in
/// [`WEBVIEW_LIBRARY_PREFIXES`], or a Mesa driver (`…_dri.so`).
pub fn is_webview_library(path: &str) -> bool {
    let Some(name) = path.rsplit('/').next().filter(|_| path.starts_with('/')) else {
        return false;
    };
    WEBVIEW_LIBRARY_PREFIXES.iter().any(|p| name.starts_with(p)) || name.ends_with("_dri.so")
}

/// One mapping of a webview library, from `/proc/self/smaps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Its first address.
    pub start: usize,
    /// Its length in bytes.
    pub len: usize,
    /// How much of it is resident, kB (`Rss:`), for the log's figure.
    pub rss_kb: u64,
}

/// The mappings of webview libraries in `smaps` (the text of a `/proc/<pid>/smaps`).
/// A header line is "start-end perms offset dev inode path"; the lines after it, up to
/// the next header, are its fields.
pub fn webview_mappings(smaps: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    let mut current = false;
    for line in smaps.lines() {
        if let Some(m) = header(line) {
            current = m.is_some();
            out.extend(m);
        } else if let (true, Some(rss)) = (current, line.strip_prefix("Rss:")) {
            let kb = rss
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(0);
            if let Some(last) = out.last_mut() {
                last.rss_kb = kb;
            }
        }
    }
    out
}

/// `None` for a field line; `Some(None)` for the header of a mapping that is not a
/// webview library; `Some(Some(_))` for one that is.
fn header(line: &str) -> Option<Option<Mapping>> {
    let (start, end) = line.split_whitespace().next()?.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    // Past the range, perms, offset, device and inode: the path (which may hold
    // spaces), or nothing for an anonymous mapping.
    let mut rest = line;
    for _ in 0..5 {
        rest = rest.trim_start();
        rest = &rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..];
    }
    let path = rest.trim();
    Some((is_webview_library(path) && end > start).then(|| Mapping {
        start,
        len: end - start,
        rss_kb: 0,
    }))
}

/// What [`release_webview_pages`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    /// How many mappings it advised.
    pub mappings: usize,
    /// Their resident size before, kB.
    pub before_kb: u64,
    /// Their resident size after, kB.
    pub after_kb: u64,
}

/// Asks the kernel to reclaim the pages of the webview's libraries in this process
/// (see the module's documentation). Call it when no webview is left; one that comes
/// later reads the pages back from the files.
#[cfg(target_os = "linux")]
pub fn release_webview_pages() -> std::io::Result<Released> {
    use nix::sys::mman::{madvise, MmapAdvise};
    let resident = |maps: &[Mapping]| maps.iter().map(|m| m.rss_kb).sum::<u64>();
    let maps = webview_mappings(&std::fs::read_to_string("/proc/self/smaps")?);
    for m in &maps {
        let Some(addr) = std::ptr::NonNull::new(m.start as *mut std::ffi::c_void) else {
            continue;
        };
        // SAFETY: MADV_PAGEOUT only asks the kernel to reclaim the pages; what they
        // hold does not change (a clean file page is read back from its file when
        // touched, a changed one is kept or swapped), so no memory this process can
        // see is altered, whatever else maps this range by now. An address range that
        // is no longer mapped makes madvise fail with ENOMEM and nothing else.
        #[allow(unsafe_code)]
        let advised = unsafe { madvise(addr, m.len, MmapAdvise::MADV_PAGEOUT) };
        if let Err(e) = advised {
            tracing::debug!(start = m.start, "madvise(MADV_PAGEOUT): {e}");
        }
    }
    let after = webview_mappings(&std::fs::read_to_string("/proc/self/smaps")?);
    Ok(Released {
        mappings: maps.len(),
        before_kb: resident(&maps),
        after_kb: resident(&after),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webview_libraries_are_known_by_file_name() {
        for yes in [
            "/usr/lib/x86_64-linux-gnu/libwebkit2gtk-4.1.so.0.19.9",
            "/usr/lib/x86_64-linux-gnu/libjavascriptcoregtk-4.1.so.0.9.11",
            "/usr/lib/x86_64-linux-gnu/libicudata.so.72.1",
            "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1",
            "/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so",
            "/usr/lib/x86_64-linux-gnu/libflite_cmu_us_slt.so.2.2",
            "/usr/lib/x86_64-linux-gnu/libGL.so.1.7.0",
        ] {
            assert!(is_webview_library(yes), "{yes}");
        }
        for no in [
            "/usr/lib/x86_64-linux-gnu/libgtk-3.so.0.2406.32",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/x86_64-linux-gnu/libGLdispatch.so.0.0.0",
            "/opt/uplink/libwebkit-notes/uplink-app",
            "[heap]",
            "libwebkit2gtk-4.1.so",
            "",
        ] {
            assert!(!is_webview_library(no), "{no}");
        }
    }

    #[test]
    fn smaps_gives_the_webview_mappings_with_their_resident_size() {
        let smaps = "\
55d0c0000000-55d0c0200000 r-xp 00000000 fe:00 100 /usr/bin/uplink-app
Rss:                1024 kB
Pss:                1024 kB
7f0000000000-7f0000400000 r-xp 00000000 fe:00 200 /usr/lib/libjavascriptcoregtk-4.1.so.0
Size:               4096 kB
Rss:                3000 kB
Pss:                3000 kB
VmFlags: rd ex mr mw me
7f0000400000-7f0000401000 ---p 00400000 fe:00 200 /usr/lib/libjavascriptcoregtk-4.1.so.0
Rss:                   0 kB
7f0000500000-7f0000600000 rw-p 00000000 00:00 0
Rss:                  64 kB
7f0000600000-7f0000700000 r--p 00000000 fe:00 300 /usr/lib/dri/swrast_dri.so
Rss:                  12 kB
7f0000700000-7f0000800000 r--p 00000000 fe:00 301 /home/a trader/libwebkit2gtk copy.so
Rss:                   8 kB
";
        assert_eq!(
            webview_mappings(smaps),
            vec![
                Mapping {
                    start: 0x7f00_0000_0000,
                    len: 0x40_0000,
                    rss_kb: 3000
                },
                Mapping {
                    start: 0x7f00_0040_0000,
                    len: 0x1000,
                    rss_kb: 0
                },
                Mapping {
                    start: 0x7f00_0060_0000,
                    len: 0x10_0000,
                    rss_kb: 12
                },
                Mapping {
                    start: 0x7f00_0070_0000,
                    len: 0x10_0000,
                    rss_kb: 8
                },
            ],
            "the anonymous mapping's Rss does not land on the one before it"
        );
    }
}
