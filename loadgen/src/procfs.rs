//! CPU, memory and threads of processes, read from `/proc`.

use std::time::Instant;

/// Kernel clock ticks per second for `/proc/*/stat` times (USER_HZ, 100
/// on every Linux architecture this runs on).
const TICKS_PER_SEC: f64 = 100.0;

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Reading {
    /// CPU seconds used so far (user + system).
    pub cpu_secs: f64,
    pub rss_kb: u64,
    pub threads: u64,
}

/// Sums the readings of `pids` (a server may be a master and a worker).
pub fn read(pids: &[u32]) -> Reading {
    pids.iter().fold(Reading::default(), |acc, pid| {
        let one = read_one(&pid.to_string());
        Reading {
            cpu_secs: acc.cpu_secs + one.cpu_secs,
            rss_kb: acc.rss_kb + one.rss_kb,
            threads: acc.threads + one.threads,
        }
    })
}

pub fn read_self() -> Reading {
    read_one("self")
}

fn read_one(pid: &str) -> Reading {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
    let cpu_secs = (ticks(11) + ticks(12)) / TICKS_PER_SEC;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Reading {
        cpu_secs,
        rss_kb: field("VmRSS:"),
        threads: field("Threads:"),
    }
}

/// CPU used between two readings, in cores.
pub struct CpuMeter {
    pids: Vec<u32>,
    at: Instant,
    server: Reading,
    own: Reading,
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Usage {
    pub server_cores: f64,
    pub loadgen_cores: f64,
    pub server_rss_kb: u64,
    pub server_threads: u64,
}

impl CpuMeter {
    pub fn start(pids: &[u32]) -> Self {
        Self {
            pids: pids.to_vec(),
            at: Instant::now(),
            server: read(pids),
            own: read_self(),
        }
    }

    pub fn stop(&self) -> Usage {
        let wall = self.at.elapsed().as_secs_f64().max(1e-9);
        let server = read(&self.pids);
        let own = read_self();
        Usage {
            server_cores: (server.cpu_secs - self.server.cpu_secs) / wall,
            loadgen_cores: (own.cpu_secs - self.own.cpu_secs) / wall,
            server_rss_kb: server.rss_kb,
            server_threads: server.threads,
        }
    }
}
