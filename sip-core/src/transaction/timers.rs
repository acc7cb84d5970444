//! Timer names and values (RFC 3261 §17 and Table 4 in Appendix A; RFC 6026 §8.4 and §8.7
//! for Timers L and M). Values derive from T1, T2 and T4, which the caller may change
//! (§17.1.1.1 allows a smaller T1 on private networks; raising T2/T4 suits slow links).

use std::time::{Duration, Instant};

/// A pending retransmission: when it fires and the interval it was armed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retransmit {
    pub at: Instant,
    pub interval: Duration,
}

/// The RFC's timer names, reported in [`super::Action::Timeout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE client retransmission (§17.1.1.2).
    A,
    /// INVITE client transaction timeout (§17.1.1.2).
    B,
    /// Proxy INVITE timeout, optional (§16.6 step 11).
    C,
    /// INVITE client wait for response retransmissions in Completed (§17.1.1.2).
    D,
    /// Non-INVITE client retransmission (§17.1.2.2).
    E,
    /// Non-INVITE client transaction timeout (§17.1.2.2).
    F,
    /// INVITE server final response retransmission (§17.2.1).
    G,
    /// INVITE server wait for ACK (§17.2.1).
    H,
    /// INVITE server wait for ACK retransmissions in Confirmed (§17.2.1).
    I,
    /// Non-INVITE server wait for request retransmissions in Completed (§17.2.2).
    J,
    /// Non-INVITE client wait for response retransmissions in Completed (§17.1.2.2).
    K,
    /// INVITE server Accepted state lifetime (RFC 6026 §8.7).
    L,
    /// INVITE client Accepted state lifetime (RFC 6026 §8.4).
    M,
    /// The §9.1 guard: a CANCELled INVITE without a final response after 64*T1.
    CancelGuard,
}

/// T1, T2, T4 and the few values the RFC leaves to the implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate, default 500 ms (§17.1.1.1).
    pub t1: Duration,
    /// Maximum retransmission interval for non-INVITE requests and INVITE responses,
    /// default 4 s (§17.1.2.2).
    pub t2: Duration,
    /// Maximum time a message stays in the network, default 5 s (§17.1.2.2).
    pub t4: Duration,
    /// Timer D over unreliable transports: "at least 32 seconds" (§17.1.1.2).
    pub timer_d: Duration,
    /// Timer C (§16.6 step 11, "greater than 3 minutes"), for proxies; `None` disables it.
    pub timer_c: Option<Duration>,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
            timer_c: None,
        }
    }
}

impl TimerConfig {
    /// 64*T1: Timers B, F, H, L, M and J over unreliable transports.
    pub fn t1x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Initial A/E/G interval, or `None` on a reliable transport (no retransmissions).
    pub fn retransmit_initial(&self, reliable: bool) -> Option<Duration> {
        (!reliable).then_some(self.t1)
    }

    /// Timer D: `timer_d` (≥ 32 s) unreliable, zero reliable (§17.1.1.2).
    pub fn d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.timer_d.max(self.t1x64())
        }
    }

    /// Timers I and K: T4 unreliable, zero reliable (§17.2.1, §17.1.2.2).
    pub fn i_k(&self, reliable: bool) -> Duration {
        if reliable { Duration::ZERO } else { self.t4 }
    }

    /// Timer J: 64*T1 unreliable, zero reliable (§17.2.2).
    pub fn j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t1x64()
        }
    }

    /// The next non-INVITE request / INVITE response interval: doubled, capped at T2
    /// (§17.1.2.2 Timer E, §17.2.1 Timer G).
    pub fn backoff_capped(&self, interval: Duration) -> Duration {
        interval.saturating_mul(2).min(self.t2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_table_4() {
        let c = TimerConfig::default();
        assert_eq!(c.t1x64(), Duration::from_secs(32));
        assert_eq!(c.d(false), Duration::from_secs(32));
        assert_eq!(c.d(true), Duration::ZERO);
        assert_eq!(c.i_k(false), Duration::from_secs(5));
        assert_eq!(c.j(true), Duration::ZERO);
        assert_eq!(c.retransmit_initial(true), None);
        let mut i = c.t1;
        let mut seen = vec![];
        for _ in 0..5 {
            i = c.backoff_capped(i);
            seen.push(i.as_millis());
        }
        assert_eq!(seen, [1000, 2000, 4000, 4000, 4000]);
    }
}
