//! The relay's UDP port pool: pairs of an even RTP port and the odd RTCP port above it
//! (RFC 3550 §11), handed out as leases that give the pair back when dropped.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use rand::seq::SliceRandom;

use super::RelayError;

/// Free and used port pairs of one range. Shared behind a mutex by the relay and the leases.
#[derive(Debug)]
pub struct PortPool {
    /// Free RTP (even) ports. Released pairs go to the back, so a port is reused as late as
    /// possible and stray packets of an old call rarely reach a new one.
    free: VecDeque<u16>,
    in_use: usize,
    capacity: usize,
}

impl PortPool {
    /// A pool of every even port `p` in `min..=max` with `p + 1 <= max`, in random order so
    /// the next port of a call is hard to guess (an injected packet must hit the port before
    /// the real phone does to be latched).
    pub fn new(min: u16, max: u16) -> Result<Self, RelayError> {
        let first = min.saturating_add(min % 2);
        let mut ports: Vec<u16> = (u32::from(first)..u32::from(max))
            .step_by(2)
            .filter_map(|p| u16::try_from(p).ok())
            .filter(|&p| p != 0)
            .collect();
        if ports.is_empty() {
            return Err(RelayError::EmptyPortRange { min, max });
        }
        ports.shuffle(&mut rand::thread_rng());
        let capacity = ports.len();
        Ok(Self {
            free: ports.into(),
            in_use: 0,
            capacity,
        })
    }

    /// Takes a free RTP port (its RTCP port is `port + 1`).
    pub fn take(&mut self) -> Option<u16> {
        let p = self.free.pop_front()?;
        self.in_use += 1;
        Some(p)
    }

    /// Gives `rtp_port` back.
    pub fn give_back(&mut self, rtp_port: u16) {
        self.in_use = self.in_use.saturating_sub(1);
        self.free.push_back(rtp_port);
    }

    /// Pairs currently leased.
    pub fn in_use(&self) -> usize {
        self.in_use
    }

    /// Pairs in the range.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// A leased RTP/RTCP port pair; dropping it returns the pair to the pool. Held by a leg
/// after its sockets, so the sockets close before the ports can be handed out again.
#[derive(Debug)]
pub struct PortLease {
    pool: Arc<Mutex<PortPool>>,
    rtp_port: u16,
}

impl PortLease {
    /// Leases the next free pair, or fails with [`RelayError::PortsExhausted`].
    pub fn take(pool: &Arc<Mutex<PortPool>>) -> Result<Self, RelayError> {
        let mut p = pool.lock().unwrap_or_else(PoisonError::into_inner);
        let capacity = p.capacity();
        let rtp_port = p.take().ok_or(RelayError::PortsExhausted { capacity })?;
        Ok(Self {
            pool: Arc::clone(pool),
            rtp_port,
        })
    }

    /// The even RTP port.
    pub fn rtp_port(&self) -> u16 {
        self.rtp_port
    }

    /// The odd RTCP port, `rtp_port + 1`.
    pub fn rtcp_port(&self) -> u16 {
        self.rtp_port + 1
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .give_back(self.rtp_port);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_even_and_inside_the_range() {
        let mut p = PortPool::new(10001, 10010).unwrap();
        // Even ports 10002..=10008 (10010 has no 10011 in range).
        assert_eq!(p.capacity(), 4);
        let mut got = Vec::new();
        while let Some(port) = p.take() {
            got.push(port);
        }
        got.sort_unstable();
        assert_eq!(got, vec![10002, 10004, 10006, 10008]);
    }

    #[test]
    fn exhaustion_and_release_through_leases() {
        let pool = Arc::new(Mutex::new(PortPool::new(20000, 20003).unwrap()));
        let a = PortLease::take(&pool).unwrap();
        let b = PortLease::take(&pool).unwrap();
        assert_eq!(a.rtp_port() % 2, 0);
        assert_eq!(a.rtcp_port(), a.rtp_port() + 1);
        assert!(matches!(
            PortLease::take(&pool),
            Err(RelayError::PortsExhausted { capacity: 2 })
        ));
        drop(a);
        assert_eq!(pool.lock().unwrap().in_use(), 1);
        let c = PortLease::take(&pool).unwrap();
        drop((b, c));
        assert_eq!(pool.lock().unwrap().in_use(), 0);
    }

    #[test]
    fn empty_range_is_an_error() {
        assert!(PortPool::new(3000, 3000).is_err());
        assert!(PortPool::new(3001, 3002).is_err());
    }
}
