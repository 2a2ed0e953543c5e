//! CPU time and resident memory of this process from `/proc/self`, what `top` and
//! `docker stats` look at too.

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on every Linux ABI).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// Size of the pages `/proc/<pid>/statm` counts in (4 KiB on the platforms the image runs on).
const PAGE_SIZE_BYTES: u64 = 4096;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    /// User plus system CPU time.
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
}

impl ProcessStats {
    /// The current figures; zero where `/proc` cannot be read.
    pub fn read() -> ProcessStats {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        ProcessStats {
            cpu_seconds: cpu_seconds_from_stat(&stat),
            resident_bytes: resident_bytes_from_statm(&statm),
        }
    }
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line, in seconds. The command name
/// (field 2) may hold spaces, so fields are counted after its closing parenthesis.
fn cpu_seconds_from_stat(stat: &str) -> f64 {
    let Some((_, after_name)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    // After the name come field 3 (state) onwards, so utime is the 12th of these.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / CLOCK_TICKS_PER_SECOND
}

/// The resident set (second field of `/proc/<pid>/statm`, in pages), in bytes.
fn resident_bytes_from_statm(statm: &str) -> u64 {
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|pages| pages.parse::<u64>().ok())
        .map_or(0, |pages| pages * PAGE_SIZE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_past_a_command_name_with_spaces() {
        let stat =
            "42 (my agent) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 100 1000 200";
        assert_eq!(cpu_seconds_from_stat(stat), 3.0);
        assert_eq!(cpu_seconds_from_stat("garbage"), 0.0);
    }

    #[test]
    fn resident_memory_is_the_second_statm_field_in_pages() {
        assert_eq!(
            resident_bytes_from_statm("1000 256 100 1 0 200 0"),
            256 * 4096
        );
        assert_eq!(resident_bytes_from_statm(""), 0);
    }

    #[test]
    fn this_process_has_resident_memory() {
        assert!(ProcessStats::read().resident_bytes > 0);
    }
}
