//! Readers of Linux `/proc` for load tests: a process's CPU time
//! (`/proc/PID/stat` utime + stime) and peak resident memory (`VmHWM` in
//! `/proc/PID/status`), and the CPU time of a process's threads by name.

use std::fs;
use std::io;

/// Clock ticks per second of `/proc/*/stat` times. `USER_HZ` is 100 on every
/// Linux architecture Podium targets (it is part of the kernel ABI).
const USER_HZ: f64 = 100.0;

/// CPU time (user + system) in seconds used so far by process `pid`.
pub fn cpu_seconds(pid: u32) -> io::Result<f64> {
    stat_cpu_seconds(&fs::read_to_string(format!("/proc/{pid}/stat"))?)
}

/// Peak resident set size (`VmHWM`) of process `pid`, in bytes.
pub fn peak_rss_bytes(pid: u32) -> io::Result<u64> {
    status_kib(
        &fs::read_to_string(format!("/proc/{pid}/status"))?,
        "VmHWM:",
    )
    .map(|k| k * 1024)
}

/// Current resident set size (`VmRSS`) of process `pid`, in bytes.
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    status_kib(
        &fs::read_to_string(format!("/proc/{pid}/status"))?,
        "VmRSS:",
    )
    .map(|k| k * 1024)
}

/// CPU seconds of the threads of `pid` whose name starts with `prefix`
/// (threads that exited are not counted).
pub fn threads_cpu_seconds(pid: u32, prefix: &str) -> io::Result<f64> {
    let mut total = 0.0;
    for entry in fs::read_dir(format!("/proc/{pid}/task"))? {
        let dir = entry?.path();
        let (Ok(comm), Ok(stat)) = (
            fs::read_to_string(dir.join("comm")),
            fs::read_to_string(dir.join("stat")),
        ) else {
            continue; // the thread exited meanwhile
        };
        if comm.trim_end().starts_with(prefix) {
            total += stat_cpu_seconds(&stat)?;
        }
    }
    Ok(total)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// utime + stime from the text of a `stat` file. The command name (field 2)
/// is in parentheses and may contain spaces, so fields are counted after the last `)`.
fn stat_cpu_seconds(stat: &str) -> io::Result<f64> {
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| invalid("no ')' in stat"))?;
    // After ')': field 3 (state) is index 0, so utime (14) is 11 and stime (15) is 12.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| invalid("bad utime/stime in stat"))
    };
    Ok((tick(11)? + tick(12)?) as f64 / USER_HZ)
}

fn status_kib(status: &str, key: &str) -> io::Result<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| invalid("field missing in status"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_the_name() {
        let stat = "1234 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(stat_cpu_seconds(stat).unwrap(), 3.0);
        assert!(stat_cpu_seconds("garbage").is_err());
    }

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(cpu_seconds(pid).unwrap() >= 0.0);
        let peak = peak_rss_bytes(pid).unwrap();
        assert!(peak >= rss_bytes(pid).unwrap() && peak > 1024 * 1024);
        assert!(threads_cpu_seconds(pid, "").unwrap() >= 0.0);
    }
}
