//! The brute-force lockout table: failed authentications per source address in a sliding
//! window, and the bans they cause. Pure bookkeeping: every call takes `now`, so tests
//! drive it with a fake clock and the gate decides what to answer.
//!
//! What counts as a failure is the gate's business (wrong password or unknown user, never
//! a first request without credentials nor a stale nonce: the phone knows its password).

use crate::config::LockoutConfig;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// What recording a failure led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Counted; `failures` within the window so far.
    Counted { failures: u32 },
    /// This failure engaged a ban lasting until `until`.
    Banned { until: Instant },
    /// Not counted: lockout disabled, the address is already banned, or the table is
    /// full of other addresses (see [`LockoutConfig::max_tracked_addresses`]).
    Ignored,
}

#[derive(Debug, Default)]
struct Entry {
    /// Times of failures within the window, oldest first; never longer than
    /// `max_failures` (older ones cannot matter any more).
    failures: VecDeque<Instant>,
    banned_until: Option<Instant>,
}

impl Entry {
    fn forget_before(&mut self, cutoff: Option<Instant>) {
        if let Some(cutoff) = cutoff {
            while self.failures.front().is_some_and(|t| *t <= cutoff) {
                self.failures.pop_front();
            }
        }
    }
}

/// Failures and bans per source address.
#[derive(Debug)]
pub struct LockoutTable {
    config: LockoutConfig,
    entries: HashMap<IpAddr, Entry>,
}

impl LockoutTable {
    pub fn new(config: LockoutConfig) -> Self {
        LockoutTable {
            config,
            entries: HashMap::new(),
        }
    }

    pub fn config(&self) -> &LockoutConfig {
        &self.config
    }

    /// Whether `ip` is banned at `now`. A ban that ran out is lifted here (its failures
    /// are forgotten with it, so the address starts over).
    pub fn is_banned(&mut self, ip: IpAddr, now: Instant) -> bool {
        let Some(entry) = self.entries.get_mut(&ip) else {
            return false;
        };
        match entry.banned_until {
            Some(until) if until > now => true,
            Some(_) => {
                self.entries.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Records a failed authentication from `ip` at `now`.
    pub fn record_failure(&mut self, ip: IpAddr, now: Instant) -> FailureOutcome {
        if !self.config.enabled || self.config.max_failures == 0 {
            return FailureOutcome::Ignored;
        }
        if self.is_banned(ip, now) {
            return FailureOutcome::Ignored;
        }
        if !self.entries.contains_key(&ip)
            && self.entries.len() >= self.config.max_tracked_addresses
        {
            self.prune(now);
            if self.entries.len() >= self.config.max_tracked_addresses {
                // A flood from very many sources: keep the bans we have rather than grow
                // without bound. Each of those sources is still challenged as usual.
                return FailureOutcome::Ignored;
            }
        }
        let cutoff = now.checked_sub(self.config.window);
        let max = self.config.max_failures;
        let ban = self.config.ban;
        let entry = self.entries.entry(ip).or_default();
        entry.forget_before(cutoff);
        entry.failures.push_back(now);
        while entry.failures.len() > max as usize {
            entry.failures.pop_front();
        }
        let failures = u32::try_from(entry.failures.len()).unwrap_or(u32::MAX);
        if failures >= max {
            let until = now + ban;
            entry.banned_until = Some(until);
            entry.failures.clear();
            FailureOutcome::Banned { until }
        } else {
            FailureOutcome::Counted { failures }
        }
    }

    /// Lifts a ban (an administrator's decision); true when `ip` was banned.
    pub fn unban(&mut self, ip: IpAddr) -> bool {
        self.entries
            .remove(&ip)
            .is_some_and(|e| e.banned_until.is_some())
    }

    /// Current bans with the time left, longest first.
    pub fn bans(&self, now: Instant) -> Vec<(IpAddr, Duration)> {
        let mut v: Vec<(IpAddr, Duration)> = self
            .entries
            .iter()
            .filter_map(|(ip, e)| {
                e.banned_until
                    .filter(|u| *u > now)
                    .map(|u| (*ip, u.duration_since(now)))
            })
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// Failures of `ip` still inside the window.
    pub fn failures(&self, ip: IpAddr, now: Instant) -> u32 {
        let cutoff = now.checked_sub(self.config.window);
        self.entries.get(&ip).map_or(0, |e| {
            let n = e
                .failures
                .iter()
                .filter(|t| cutoff.is_none_or(|c| **t > c))
                .count();
            u32::try_from(n).unwrap_or(u32::MAX)
        })
    }

    /// Drops entries with neither a running ban nor failures inside the window.
    pub fn prune(&mut self, now: Instant) {
        let cutoff = now.checked_sub(self.config.window);
        self.entries.retain(|_, e| {
            e.forget_before(cutoff);
            match e.banned_until {
                Some(u) if u > now => true,
                Some(_) => false,
                None => !e.failures.is_empty(),
            }
        });
    }

    /// Addresses tracked (banned or with recent failures).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(max: u32, window: u64, ban: u64) -> LockoutConfig {
        LockoutConfig {
            max_failures: max,
            window: Duration::from_secs(window),
            ban: Duration::from_secs(ban),
            ..LockoutConfig::default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip literal")
    }

    #[test]
    fn bans_after_max_failures_within_window_and_lifts_after_ban() {
        let t0 = Instant::now();
        let mut t = LockoutTable::new(cfg(3, 60, 600));
        let a = ip("192.0.2.1");
        assert_eq!(
            t.record_failure(a, t0),
            FailureOutcome::Counted { failures: 1 }
        );
        assert_eq!(
            t.record_failure(a, t0 + Duration::from_secs(10)),
            FailureOutcome::Counted { failures: 2 }
        );
        assert!(!t.is_banned(a, t0 + Duration::from_secs(11)));
        let third = t0 + Duration::from_secs(20);
        assert_eq!(
            t.record_failure(a, third),
            FailureOutcome::Banned {
                until: third + Duration::from_secs(600)
            }
        );
        assert!(t.is_banned(a, third));
        assert!(t.is_banned(a, third + Duration::from_secs(599)));
        assert_eq!(t.bans(third).len(), 1);
        // Failures while banned do not extend the ban.
        assert_eq!(
            t.record_failure(a, third + Duration::from_secs(1)),
            FailureOutcome::Ignored
        );
        assert!(!t.is_banned(a, third + Duration::from_secs(600)));
        assert!(t.is_empty(), "a lifted ban forgets the address");
        // After the ban the address starts over.
        assert_eq!(
            t.record_failure(a, third + Duration::from_secs(601)),
            FailureOutcome::Counted { failures: 1 }
        );
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let t0 = Instant::now();
        let mut t = LockoutTable::new(cfg(3, 60, 600));
        let a = ip("192.0.2.1");
        t.record_failure(a, t0);
        t.record_failure(a, t0 + Duration::from_secs(30));
        // The first one is 61 s old now: only two inside the window.
        assert_eq!(
            t.record_failure(a, t0 + Duration::from_secs(61)),
            FailureOutcome::Counted { failures: 2 }
        );
        assert_eq!(t.failures(a, t0 + Duration::from_secs(61)), 2);
        assert_eq!(t.failures(a, t0 + Duration::from_secs(200)), 0);
        assert!(!t.is_banned(a, t0 + Duration::from_secs(62)));
    }

    #[test]
    fn addresses_are_counted_apart() {
        let t0 = Instant::now();
        let mut t = LockoutTable::new(cfg(2, 60, 60));
        let (a, b) = (ip("192.0.2.1"), ip("2001:db8::1"));
        t.record_failure(a, t0);
        t.record_failure(b, t0);
        assert!(!t.is_banned(a, t0) && !t.is_banned(b, t0));
        assert!(matches!(
            t.record_failure(b, t0),
            FailureOutcome::Banned { .. }
        ));
        assert!(t.is_banned(b, t0) && !t.is_banned(a, t0));
    }

    #[test]
    fn disabled_never_bans() {
        let t0 = Instant::now();
        let mut t = LockoutTable::new(LockoutConfig {
            enabled: false,
            ..cfg(1, 60, 60)
        });
        let a = ip("192.0.2.1");
        for i in 0..100 {
            assert_eq!(
                t.record_failure(a, t0 + Duration::from_secs(i)),
                FailureOutcome::Ignored
            );
        }
        assert!(!t.is_banned(a, t0 + Duration::from_secs(100)));
        assert!(t.is_empty());
    }

    #[test]
    fn unban_lifts_at_once() {
        let t0 = Instant::now();
        let mut t = LockoutTable::new(cfg(1, 60, 600));
        let a = ip("192.0.2.7");
        assert!(matches!(
            t.record_failure(a, t0),
            FailureOutcome::Banned { .. }
        ));
        assert!(t.unban(a));
        assert!(!t.is_banned(a, t0));
        assert!(!t.unban(a));
    }

    #[test]
    fn table_is_bounded_but_keeps_bans() {
        let t0 = Instant::now();
        let mut t = LockoutTable::new(LockoutConfig {
            max_tracked_addresses: 3,
            ..cfg(2, 60, 600)
        });
        let banned = ip("198.51.100.1");
        t.record_failure(banned, t0);
        t.record_failure(banned, t0);
        assert!(t.is_banned(banned, t0));
        t.record_failure(ip("198.51.100.2"), t0);
        t.record_failure(ip("198.51.100.3"), t0);
        assert_eq!(
            t.record_failure(ip("198.51.100.4"), t0),
            FailureOutcome::Ignored,
            "full table: new sources are not tracked"
        );
        assert_eq!(t.len(), 3);
        // Once the window has passed, stale entries make room; the ban survives.
        let later = t0 + Duration::from_secs(61);
        assert_eq!(
            t.record_failure(ip("198.51.100.4"), later),
            FailureOutcome::Counted { failures: 1 }
        );
        assert!(t.is_banned(banned, later));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn ban_list_shows_time_left() {
        let t0 = Instant::now();
        let mut t = LockoutTable::new(cfg(1, 60, 100));
        t.record_failure(ip("192.0.2.1"), t0);
        t.record_failure(ip("192.0.2.2"), t0 + Duration::from_secs(50));
        let bans = t.bans(t0 + Duration::from_secs(60));
        assert_eq!(
            bans,
            vec![
                (ip("192.0.2.2"), Duration::from_secs(90)),
                (ip("192.0.2.1"), Duration::from_secs(40)),
            ]
        );
        assert!(t.bans(t0 + Duration::from_secs(200)).is_empty());
    }
}
