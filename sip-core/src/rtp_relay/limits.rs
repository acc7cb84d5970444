//! The process's open-file limit, which bounds the calls the relay can carry: a media
//! session holds four UDP sockets (RTP and RTCP on each leg). Services are often started
//! with a soft limit of 1024 (about 250 calls) under a much higher hard limit; raising the
//! soft limit up to the hard one needs no privilege, so a server does it at start.

use std::io;

/// UDP sockets one media session holds: RTP and RTCP on each of its two legs.
pub const SOCKETS_PER_SESSION: u64 = 4;

/// The open-file limit (`RLIMIT_NOFILE`) before and after [`raise_open_file_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFileLimit {
    /// The soft limit found.
    pub before: u64,
    /// The soft limit now in force.
    pub now: u64,
    /// The hard limit, the most an unprivileged process may set.
    pub hard: u64,
}

impl OpenFileLimit {
    /// Media sessions the limit leaves room for once `reserved` descriptors are set aside
    /// for everything else (store, SIP sockets, epoll, the admin UI's connections).
    pub fn sessions(&self, reserved: u64) -> u64 {
        self.now.saturating_sub(reserved) / SOCKETS_PER_SESSION
    }
}

/// Raises the soft open-file limit to the hard limit (to `/proc/sys/fs/nr_open` when the
/// hard limit is unlimited, as the kernel refuses more) and returns both values.
pub fn raise_open_file_limit() -> io::Result<OpenFileLimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass, which we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // rlim_t is u64 on Linux, the only platform the relay runs on.
    let before: u64 = limit.rlim_cur;
    let hard: u64 = limit.rlim_max;
    let target = if limit.rlim_max == libc::RLIM_INFINITY {
        kernel_max_open_files()
    } else {
        hard
    };
    if before >= target {
        return Ok(OpenFileLimit {
            before,
            now: before,
            hard,
        });
    }
    let raised = libc::rlimit {
        rlim_cur: target,
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit only reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const raised) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(OpenFileLimit {
        before,
        now: target,
        hard,
    })
}

/// The kernel's ceiling for any process's open-file limit.
fn kernel_max_open_files() -> u64 {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        // The kernel's default for nr_open.
        .unwrap_or(1 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_what_is_left_after_the_reserve_in_fours() {
        let limit = OpenFileLimit {
            before: 1024,
            now: 20_000,
            hard: 20_000,
        };
        assert_eq!(limit.sessions(100), 4975);
        assert_eq!(
            limit.sessions(30_000),
            0,
            "a reserve above the limit leaves none"
        );
    }
}
