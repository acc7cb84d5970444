//! Request-URIs and the URIs inside name-addr headers: `sip:`/`sips:` (RFC 3261 §19.1),
//! `tel:` (RFC 3966) and any other scheme kept opaque (RFC 4475 §3.3.2).
//! User parts keep their %-escapes as received; comparison helpers unescape where
//! RFC 3261 §19.1.4 says escaped and unescaped forms are equal.

use super::params::Params;
use super::text::SipStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// A host name, kept as written (compare case-insensitively).
    Domain(SipStr),
    Ipv4(Ipv4Addr),
    /// Written in brackets in SIP URIs and Via (`[2001:db8::1]`).
    Ipv6(Ipv6Addr),
}

impl Host {
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Domain(_) => None,
            Host::Ipv4(a) => Some(IpAddr::V4(*a)),
            Host::Ipv6(a) => Some(IpAddr::V6(*a)),
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Host::Ipv4(a),
            IpAddr::V6(a) => Host::Ipv6(a),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SipUri {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// User part as received, %-escapes intact (may contain `;`, RFC 4475 §3.1.1.9).
    pub user: Option<SipStr>,
    pub password: Option<SipStr>,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
    /// The `?hname=hvalue&…` part, raw and still escaped, without the `?`.
    pub headers: Option<SipStr>,
}

impl SipUri {
    /// A `sip:` URI with just a host.
    pub fn new(host: Host) -> Self {
        SipUri {
            secure: false,
            user: None,
            password: None,
            host,
            port: None,
            params: Params::new(),
            headers: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TelUri {
    /// The telephone-subscriber number as written (`+4764820000`, `5550100`).
    pub number: SipStr,
    pub params: Params,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OtherUri {
    pub scheme: SipStr,
    /// Everything after `scheme:`, untouched.
    pub opaque: SipStr,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Uri {
    Sip(SipUri),
    Tel(TelUri),
    Other(OtherUri),
}

impl Uri {
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    pub fn as_sip_mut(&mut self) -> Option<&mut SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Other(o) => o.scheme.as_str(),
        }
    }
}
