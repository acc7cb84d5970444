//! Raising the open-file limit. In a test binary of its own, as it changes a limit of the
//! whole process that other tests running alongside would feel.

use sip_core::rtp_relay::raise_open_file_limit;

fn soft_and_hard() -> (u64, u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we own.
    let r = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) };
    assert_eq!(r, 0, "getrlimit: {}", std::io::Error::last_os_error());
    (limit.rlim_cur, limit.rlim_max)
}

#[test]
fn a_low_soft_limit_is_raised_to_the_hard_limit() {
    let (_, hard) = soft_and_hard();
    let low: u64 = 256;
    if hard <= low {
        eprintln!("skipped: the hard open-file limit ({hard}) leaves nothing to raise");
        return;
    }
    // A service started with a low soft limit under a high hard one.
    let lowered = libc::rlimit {
        rlim_cur: low,
        rlim_max: hard,
    };
    // SAFETY: setrlimit only reads the struct we pass.
    let r = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const lowered) };
    assert_eq!(r, 0, "setrlimit: {}", std::io::Error::last_os_error());

    let limit = raise_open_file_limit().expect("raising the soft limit needs no privilege");
    assert_eq!(limit.before, low);
    assert_eq!(limit.hard, hard);
    assert!(limit.now > low, "raised: {limit:?}");
    if hard != libc::RLIM_INFINITY {
        assert_eq!(limit.now, hard);
    }
    assert_eq!(
        soft_and_hard(),
        (limit.now, hard),
        "the process's limit changed"
    );

    // Raising again finds nothing to do.
    let again = raise_open_file_limit().expect("second call");
    assert_eq!((again.before, again.now), (limit.now, limit.now));
}
