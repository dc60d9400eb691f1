//! Reads `/proc/<pid>/stat`: each process's command name, whether it is a zombie, and
//! its parent. Plain Rust with no dependencies, so that the end-to-end tests find the
//! app's WebKit processes with this very reader (`tests/src/lib.rs` includes the file),
//! as the app does to end or wait for them.

/// What `/proc/<pid>/stat` says of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Its pid.
    pub pid: u32,
    /// Its command name as the kernel keeps it: at most 15 bytes, and it may hold
    /// spaces and parentheses (`WebKitWebProcess` is `WebKitWebProces`).
    pub name: String,
    /// Whether it has ended and waits for its parent to reap it (state `Z`): such a
    /// process holds no memory and does nothing, so it should not be waited for.
    pub zombie: bool,
    /// Its parent's pid (0 for the kernel's first processes).
    pub ppid: u32,
}

/// Parses one `/proc/<pid>/stat` line: "pid (name) state ppid …". The name ends at the
/// *last* `)`, since it may hold parentheses itself. `None` if the line is not one.
pub fn parse(line: &str) -> Option<Process> {
    let (head, rest) = line.split_once(" (")?;
    let (name, after) = rest.rsplit_once(')')?;
    let mut fields = after.split_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some(Process {
        pid: head.trim().parse().ok()?,
        name: name.to_owned(),
        zombie: state == "Z",
        ppid,
    })
}

/// Every process this one can see now, from one pass over /proc. A process that ends
/// during the pass is left out. (A name need not be UTF-8: such bytes read as U+FFFD.)
pub fn all() -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let bytes = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
            parse(&String::from_utf8_lossy(&bytes))
        })
        .collect()
}

/// The pids of `parent`'s living children whose name is one of `names` (whole names,
/// as [`Process::name`] has them). Zombies are not counted.
pub fn children_named(parent: u32, names: &[&str]) -> Vec<u32> {
    all()
        .into_iter()
        .filter(|p| p.ppid == parent && !p.zombie && names.contains(&p.name.as_str()))
        .map(|p| p.pid)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_spaces_and_parentheses_ends_at_the_last_parenthesis() {
        let p = parse("4242 (Web (Content) x) S 17 4242 4242 0 -1 4194560 1 0 0 0").unwrap();
        assert_eq!(
            p,
            Process {
                pid: 4242,
                name: "Web (Content) x".into(),
                zombie: false,
                ppid: 17
            }
        );
    }

    #[test]
    fn a_zombie_is_marked_and_a_line_that_is_not_stat_is_refused() {
        assert!(parse("9 (sleep) Z 1 9 9 0 -1").unwrap().zombie);
        assert_eq!(parse(""), None);
        assert_eq!(parse("9 sleep S 1"), None);
        assert_eq!(parse("9 (sleep) S"), None, "no parent");
        assert_eq!(parse("x (sleep) S 1"), None, "no pid");
    }

    #[test]
    fn this_process_is_found_with_its_parent() {
        let me = std::process::id();
        let mine = all()
            .into_iter()
            .find(|p| p.pid == me)
            .expect("this process");
        assert!(!mine.zombie);
        assert_eq!(
            mine.ppid,
            std::os::unix::process::parent_id(),
            "the parent /proc gives is the one std gives"
        );
    }

    #[test]
    fn children_are_found_by_their_parent_and_whole_name_and_not_once_ended() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let me = std::process::id();
        assert!(children_named(me, &["sleep"]).contains(&pid));
        assert!(
            !children_named(me, &["sleeper", "slee"]).contains(&pid),
            "the whole name"
        );
        assert!(
            !children_named(pid, &["sleep"]).contains(&pid),
            "another parent's"
        );
        child.kill().unwrap();
        // Ended but not reaped: a zombie, which is not counted.
        let waited = std::time::Instant::now();
        while !all().iter().any(|p| p.pid == pid && p.zombie) {
            assert!(
                waited.elapsed().as_secs() < 10,
                "the child never became a zombie"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!children_named(me, &["sleep"]).contains(&pid));
        child.wait().unwrap();
    }
}
