//! Rewriting a description for the RTP relay, and keeping each leg's `o=` line honest.
//!
//! A B2BUA that relays media must present its own address and ports to each leg. What
//! changes: session- and media-level `c=`, each m-line's port, `a=rtcp`, the `o=` address,
//! and ICE attributes are removed (the phone's candidates would send the peer around the
//! relay). What is kept: everything else, including the RFC 2543 hold form `c=0.0.0.0`,
//! which stays on the media it applied to so the other leg still sees the hold.

use super::model::{Attribute, Connection, SessionDescription, addr_type_of};
use std::net::IpAddr;

/// ICE attributes (RFC 8839) dropped by [`SessionDescription::rewrite_connection`].
pub const ICE_ATTRIBUTES: [&str; 7] = [
    "candidate",
    "remote-candidates",
    "end-of-candidates",
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "ice-lite",
];

/// The rewrite was asked for the wrong number of ports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{got} ports given for {expected} m-lines")]
pub struct PortCountMismatch {
    /// m-lines in the description.
    pub expected: usize,
    /// Ports given.
    pub got: usize,
}

impl SessionDescription {
    /// Points every stream at the relay: `addr` in `c=` (session level, and media level
    /// where a media-level `c=` existed) and in `o=`, `ports[i]` as the port of m-line `i`.
    /// Rejected streams (port 0) stay rejected. RTCP is taken to be on the next port
    /// (RFC 3550 §11), or on the RTP port with `a=rtcp-mux`, and `a=rtcp` says so.
    ///
    /// Leaves `o=`'s session id and version alone: use [`OriginKeeper`] per leg for those.
    pub fn rewrite_connection(
        &mut self,
        addr: IpAddr,
        ports: &[u16],
    ) -> Result<(), PortCountMismatch> {
        if ports.len() != self.media.len() {
            return Err(PortCountMismatch {
                expected: self.media.len(),
                got: ports.len(),
            });
        }
        let ours = Connection::from_ip(addr);
        let session_hold = self
            .connection
            .as_ref()
            .is_some_and(Connection::is_hold_address);
        for (m, &port) in self.media.iter_mut().zip(ports) {
            let media_hold = match m.connections.first() {
                Some(c) => c.is_hold_address(),
                None => session_hold,
            };
            if media_hold {
                // Keep the hold visible on this stream only.
                let hold_ip: IpAddr = match addr {
                    IpAddr::V4(_) => IpAddr::from([0u8; 4]),
                    IpAddr::V6(_) => IpAddr::from([0u16; 8]),
                };
                m.connections = vec![Connection::from_ip(hold_ip)];
            } else if !m.connections.is_empty() {
                m.connections = vec![ours.clone()];
            }
            if m.port != 0 {
                m.port = port;
            }
            m.attributes
                .retain(|a| !ICE_ATTRIBUTES.contains(&a.name.as_str()));
            if m.has_attribute("rtcp") {
                let rtcp_port = if m.rtcp_mux() {
                    m.port
                } else {
                    m.port.saturating_add(1)
                };
                let value = format!("{rtcp_port} {ours}");
                for a in m.attributes.iter_mut().filter(|a| a.name == "rtcp") {
                    *a = Attribute::value("rtcp", value.clone());
                }
            }
        }
        self.attributes
            .retain(|a| !ICE_ATTRIBUTES.contains(&a.name.as_str()));
        self.connection = Some(ours);
        self.origin.addr_type = addr_type_of(addr).into();
        self.origin.address = addr.to_string();
        Ok(())
    }
}

/// The `o=` line one leg sees, kept consistent across offers and answers.
///
/// RFC 3264 §8: a new description in the same session keeps the username and session id
/// and has version + 1 if anything changed, the same version if nothing did (a session
/// refresh). A B2BUA forwarding rewritten descriptions cannot reuse the other leg's `o=`:
/// after a transfer the other leg is a different phone with a different session id. So
/// each leg has its own keeper that stamps every description sent on that leg.
#[derive(Debug, Clone)]
pub struct OriginKeeper {
    username: String,
    session_id: String,
    version: u64,
    /// The last description stamped, with its `o=` normalised, for change detection.
    last: Option<String>,
}

impl OriginKeeper {
    /// A keeper for one leg; the first description gets `first_version`.
    pub fn new(
        username: impl Into<String>,
        session_id: impl Into<String>,
        first_version: u64,
    ) -> Self {
        OriginKeeper {
            username: username.into(),
            session_id: session_id.into(),
            version: first_version,
            last: None,
        }
    }

    /// The version last stamped.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Sets `o=`'s username, session id and version on a description about to be sent on
    /// this leg, bumping the version if the description differs from the previous one.
    /// Returns whether it changed.
    pub fn stamp(&mut self, sd: &mut SessionDescription) -> bool {
        sd.origin.username.clone_from(&self.username);
        sd.origin.session_id.clone_from(&self.session_id);
        sd.origin.session_version = 0;
        let text = sd.to_string();
        let changed = match &self.last {
            None => false,
            Some(prev) => *prev != text,
        };
        if changed {
            self.version = self.version.wrapping_add(1);
        }
        self.last = Some(text);
        sd.origin.session_version = self.version;
        changed
    }
}
