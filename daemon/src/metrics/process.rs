//! Resident memory and CPU time of this process, read from /proc (Linux is the only target).
//! Two numbers do not justify a crate: RSS is `VmRSS` in /proc/self/status (kB, no page size
//! to guess), CPU time is utime + stime in /proc/self/stat in USER_HZ ticks, which the kernel
//! fixes at 100 for user space on every architecture we ship to.

/// Memory and CPU use of this process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    pub resident_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
}

const USER_HZ: f64 = 100.0;

impl ProcessStats {
    pub fn read() -> Self {
        Self {
            resident_bytes: std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| parse_vm_rss(&s)),
            cpu_seconds: std::fs::read_to_string("/proc/self/stat")
                .ok()
                .and_then(|s| parse_cpu_ticks(&s))
                .map(|t| t as f64 / USER_HZ),
        }
    }
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files_including_odd_command_names() {
        assert_eq!(
            parse_vm_rss("Name:\tedged\nVmRSS:\t  12345 kB\n"),
            Some(12345 * 1024)
        );
        let stat = "42 (ed ged) x) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1 2 3";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
        let now = ProcessStats::read();
        assert!(now.resident_bytes.is_some_and(|b| b > 0));
        assert!(now.cpu_seconds.is_some());
    }
}
