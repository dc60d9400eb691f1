//! Reads `/proc/<pid>/smaps`: each mapping's range, permissions, file and resident
//! sizes. Plain Rust with no dependencies, so that the end-to-end tests use this very
//! parser (`tests/src/lib.rs` includes the file) to check what `reclaim` does.

/// One mapping of a process's address space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Its first address.
    pub start: usize,
    /// Its length in bytes.
    pub len: usize,
    /// Whether it may be written (the `w` of its permissions): the loader's relocated
    /// data, the heap, a library's `.data`.
    pub writable: bool,
    /// The file it maps; empty for anonymous memory, a `[name]` for the kernel's
    /// (`[heap]`, `[stack]`). A file removed since ends in " (deleted)".
    pub path: String,
    /// How much of it is resident, kB (`Rss:`).
    pub rss_kb: u64,
    /// How much of that is anonymous, kB (`Anonymous:`): in a file mapping, the pages
    /// copied on write, which no longer match the file.
    pub anonymous_kb: u64,
    /// How much is locked in memory, kB (`Locked:`).
    pub locked_kb: u64,
    /// How much is in swap, kB (`Swap:`): in a file mapping, pages copied on write and
    /// then swapped out, which `Anonymous:` no longer counts.
    pub swap_kb: u64,
    /// Whether it was ever a private writable mapping (the `ac` of `VmFlags:`, which
    /// stays after it is made read-only, as the loader does to relocated data).
    pub ever_writable: bool,
}

impl Mapping {
    /// The file's name (after the last `/`); empty for anything that is not a file.
    pub fn file_name(&self) -> &str {
        match self.path.starts_with('/') {
            true => self.path.rsplit('/').next().unwrap_or(""),
            false => "",
        }
    }
}

/// Every mapping in `smaps`, the text of a `/proc/<pid>/smaps`. A header line is
/// "start-end perms offset dev inode path" (the path may hold spaces, or be missing);
/// the lines after it, up to the next header, are its fields ("Rss:    12 kB").
pub fn parse(smaps: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    for line in smaps.lines() {
        if let Some(m) = header(line) {
            out.push(m);
            continue;
        }
        let (Some(last), Some((key, value))) = (out.last_mut(), line.split_once(':')) else {
            continue;
        };
        if key == "VmFlags" {
            last.ever_writable = value.split_whitespace().any(|f| f == "ac");
            continue;
        }
        let field = match key {
            "Rss" => &mut last.rss_kb,
            "Anonymous" => &mut last.anonymous_kb,
            "Locked" => &mut last.locked_kb,
            "Swap" => &mut last.swap_kb,
            _ => continue,
        };
        *field = value
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap_or(0);
    }
    out
}

/// The mapping a header line starts; `None` for a field line.
fn header(line: &str) -> Option<Mapping> {
    let mut words = line.split_whitespace();
    let (start, end) = words.next()?.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let perms = words.next()?;
    // Past the range, perms, offset, device and inode: the path, or nothing.
    let mut rest = line;
    for _ in 0..5 {
        rest = rest.trim_start();
        rest = &rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..];
    }
    Some(Mapping {
        start,
        len: end.saturating_sub(start),
        writable: perms.as_bytes().get(1) == Some(&b'w'),
        path: rest.trim().to_owned(),
        rss_kb: 0,
        anonymous_kb: 0,
        locked_kb: 0,
        swap_kb: 0,
        ever_writable: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mapping_gets_its_own_fields() {
        let smaps = "\
55d0c0000000-55d0c0200000 r-xp 00000000 fe:00 100                        /usr/bin/uplink-app
Rss:                1024 kB
Pss:                1024 kB
7f0000000000-7f0000400000 r--p 00000000 fe:00 200                        /usr/lib/libjavascriptcoregtk-4.1.so.0
Size:               4096 kB
Rss:                3000 kB
Pss:                3000 kB
Anonymous:           120 kB
Swap:                  8 kB
Locked:                4 kB
VmFlags: rd mr mw me ac
7f0000500000-7f0000600000 rw-p 00000000 00:00 0 
Rss:                  64 kB
Anonymous:            64 kB
7f0000700000-7f0000800000 r--p 00000000 fe:00 301                        /home/a trader/lib copy.so (deleted)
Rss:                   8 kB
";
        let maps = parse(smaps);
        assert_eq!(maps.len(), 4);
        assert_eq!(
            maps[1],
            Mapping {
                start: 0x7f00_0000_0000,
                len: 0x40_0000,
                writable: false,
                path: "/usr/lib/libjavascriptcoregtk-4.1.so.0".into(),
                rss_kb: 3000,
                anonymous_kb: 120,
                locked_kb: 4,
                swap_kb: 8,
                ever_writable: true,
            }
        );
        assert_eq!(maps[0].rss_kb, 1024);
        assert_eq!(maps[0].anonymous_kb, 0, "the next mapping's field");
        assert!(!maps[0].ever_writable);
        assert_eq!((maps[2].path.as_str(), maps[2].writable), ("", true));
        assert_eq!(maps[2].file_name(), "");
        assert_eq!(maps[3].path, "/home/a trader/lib copy.so (deleted)");
        assert_eq!(maps[3].file_name(), "lib copy.so (deleted)");
        assert_eq!(maps[1].file_name(), "libjavascriptcoregtk-4.1.so.0");
    }
}
