//! Via header values (RFC 3261 §20.42, §18.2.1; `rport` from RFC 3581).

use super::params::Params;
use super::text::SipStr;
use super::uri::Host;

/// The magic cookie that marks an RFC 3261 branch (§8.1.1.7).
pub const BRANCH_MAGIC_COOKIE: &str = "z9hG4bK";

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Via {
    /// Protocol name and version, normally `SIP` and `2.0`.
    pub protocol: SipStr,
    pub version: SipStr,
    /// Transport token, as written (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`, or any token).
    pub transport: SipStr,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    pub fn branch(&self) -> Option<&str> {
        self.params.value("branch")
    }

    /// True when the branch starts with the RFC 3261 magic cookie (§17.2.3).
    /// A bare cookie (`z9hG4bK` alone, RFC 4475 §3.2.1) does not identify a transaction.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| {
            b.len() > BRANCH_MAGIC_COOKIE.len() && b.starts_with(BRANCH_MAGIC_COOKIE)
        })
    }

    pub fn received(&self) -> Option<&str> {
        self.params.value("received")
    }

    /// `rport` as sent: `Some(None)` when the client asks for it, `Some(Some(port))` once filled.
    pub fn rport(&self) -> Option<Option<&str>> {
        self.params.get("rport")
    }
}
