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
    /// Longest value any base timer may take. Operator settings above it are clamped so
    /// `now + 64*T1` can never overflow an `Instant` (which would panic).
    pub const MAX: Duration = Duration::from_secs(3600);

    /// This configuration with every value clamped to [`Self::MAX`], T1 at least 1 ms
    /// (a zero T1 would retransmit in a busy loop) and T2 at least T1.
    pub fn clamped(self) -> Self {
        let c = |d: Duration| d.min(Self::MAX);
        let t1 = c(self.t1).max(Duration::from_millis(1));
        TimerConfig {
            t1,
            t2: c(self.t2).max(t1),
            t4: c(self.t4),
            timer_d: c(self.timer_d),
            timer_c: self.timer_c.map(c),
        }
    }

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

    #[test]
    fn absurd_settings_are_clamped() {
        let c = TimerConfig {
            t1: Duration::ZERO,
            t2: Duration::MAX,
            t4: Duration::MAX,
            timer_d: Duration::MAX,
            timer_c: Some(Duration::MAX),
        }
        .clamped();
        assert_eq!(c.t1, Duration::from_millis(1));
        assert_eq!(c.t2, TimerConfig::MAX);
        assert_eq!(c.timer_c, Some(TimerConfig::MAX));
        // 64 * MAX still fits after any plausible Instant.
        let now = Instant::now();
        assert!(
            now.checked_add(c.t1x64().max(TimerConfig::MAX * 64))
                .is_some()
        );
        assert_eq!(TimerConfig::default().clamped(), TimerConfig::default());
    }
}
