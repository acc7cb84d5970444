//! The SDP data model (RFC 4566 §5), its serialization, and typed access to the
//! attributes a PBX reads (rtpmap, fmtp, ptime, direction, rtcp, rtcp-mux).

use std::fmt;
use std::net::IpAddr;

/// A session description: session-level fields then the media descriptions, in the
/// order RFC 4566 §5 prescribes (which is also the order [`fmt::Display`] writes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`.
    pub origin: Origin,
    /// `s=` (RFC 4566 wants at least one character; empty is accepted, RFC 5118 §4.8's
    /// example has it).
    pub session_name: String,
    /// `i=`.
    pub information: Option<String>,
    /// `u=`.
    pub uri: Option<String>,
    /// `e=` lines.
    pub emails: Vec<String>,
    /// `p=` lines.
    pub phones: Vec<String>,
    /// Session-level `c=`.
    pub connection: Option<Connection>,
    /// Session-level `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines, each with its `r=` lines; at least one.
    pub times: Vec<Timing>,
    /// `z=`, verbatim.
    pub time_zones: Option<String>,
    /// Session-level `k=`, verbatim.
    pub key: Option<String>,
    /// Session-level `a=` lines, unknown ones kept verbatim.
    pub attributes: Vec<Attribute>,
    /// `m=` sections.
    pub media: Vec<MediaDescription>,
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Username, `-` when none.
    pub username: String,
    /// Session id (digits).
    pub session_id: String,
    /// Session version: RFC 3264 §8 has it grow by one with every changed offer/answer.
    pub session_version: u64,
    /// Network type, `IN`.
    pub net_type: String,
    /// `IP4` or `IP6`.
    pub addr_type: String,
    /// Address (IP literal without brackets, or a name).
    pub address: String,
}

/// `c=<nettype> <addrtype> <connection-address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// `IN`.
    pub net_type: String,
    /// `IP4` or `IP6`.
    pub addr_type: String,
    /// Address, possibly with `/ttl` and `/count` for multicast; IPv6 without brackets
    /// (RFC 5118 §4.6).
    pub address: String,
}

impl Connection {
    /// `IN IP4 a.b.c.d` or `IN IP6 x:y::z` for an address.
    pub fn from_ip(ip: IpAddr) -> Connection {
        Connection {
            net_type: "IN".into(),
            addr_type: addr_type_of(ip).into(),
            address: ip.to_string(),
        }
    }

    /// The address as an IP, when it is a unicast literal of the stated type.
    pub fn ip(&self) -> Option<IpAddr> {
        let ip: IpAddr = self.address.parse().ok()?;
        (self.net_type == "IN" && self.addr_type == addr_type_of(ip)).then_some(ip)
    }

    /// RFC 3264 §8.4 (from RFC 2543): `c=IN IP4 0.0.0.0` put a stream on hold. `::`
    /// is treated the same for IPv6 since some stacks send it.
    pub fn is_hold_address(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_unspecified())
    }
}

pub(crate) fn addr_type_of(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// `b=<bwtype>:<bandwidth>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    /// `AS`, `CT`, `TIAS`, ...
    pub bw_type: String,
    /// kbit/s (bit/s for TIAS).
    pub bandwidth: u64,
}

/// `t=<start> <stop>` and its `r=` lines (kept verbatim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// NTP start time, 0 for unbounded.
    pub start: u64,
    /// NTP stop time, 0 for unbounded.
    pub stop: u64,
    /// `r=` values.
    pub repeats: Vec<String>,
}

/// `a=<name>` or `a=<name>:<value>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute name (case-sensitive per RFC 4566 §5.13 in practice; compared as is).
    pub name: String,
    /// Value after the first `:`, `None` for a property attribute.
    pub value: Option<String>,
}

impl Attribute {
    /// A property attribute (`a=rtcp-mux`).
    pub fn property(name: impl Into<String>) -> Attribute {
        Attribute {
            name: name.into(),
            value: None,
        }
    }

    /// A value attribute (`a=ptime:20`).
    pub fn value(name: impl Into<String>, value: impl Into<String>) -> Attribute {
        Attribute {
            name: name.into(),
            value: Some(value.into()),
        }
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, `application`, ...
    pub media: String,
    /// Port; 0 marks a rejected or disabled stream (RFC 3264 §6, §8.2).
    pub port: u16,
    /// The `/<number of ports>` suffix.
    pub port_count: Option<u32>,
    /// `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, ...
    pub protocol: String,
    /// Formats (payload type numbers for RTP).
    pub formats: Vec<String>,
    /// `i=`.
    pub information: Option<String>,
    /// Media-level `c=` lines; they override the session level (RFC 4566 §5.7).
    pub connections: Vec<Connection>,
    /// `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `k=`, verbatim.
    pub key: Option<String>,
    /// `a=` lines.
    pub attributes: Vec<Attribute>,
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// Payload type.
    pub payload_type: u8,
    /// Encoding name as written (compare case-insensitively).
    pub encoding: String,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Channels (audio), when given.
    pub channels: Option<u32>,
}

/// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtcp {
    /// RTCP port.
    pub port: u16,
    /// RTCP address, when given.
    pub connection: Option<Connection>,
}

/// Media direction (RFC 4566 §6, RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `sendrecv`, the default.
    SendRecv,
    /// `sendonly`: what a phone putting the call on hold offers.
    SendOnly,
    /// `recvonly`.
    RecvOnly,
    /// `inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Parses an attribute name.
    pub fn parse(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// Whether this side sends.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether this side receives.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// From the two capabilities.
    pub fn from_flags(send: bool, recv: bool) -> Direction {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// The same stream seen from the other end: sendonly ↔ recvonly (RFC 3264 §6.1).
    pub fn reversed(self) -> Direction {
        Direction::from_flags(self.receives(), self.sends())
    }

    /// What both allow.
    pub fn intersect(self, other: Direction) -> Direction {
        Direction::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn find_attr<'a>(attrs: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attrs.iter().find(|a| a.name == name)
}

fn direction_in(attrs: &[Attribute]) -> Option<Direction> {
    // The last direction attribute wins if a sender repeats them; there should be one.
    attrs.iter().rev().find_map(|a| {
        a.value
            .is_none()
            .then(|| Direction::parse(&a.name))
            .flatten()
    })
}

impl MediaDescription {
    /// The first attribute with this name: `Some("")` for a property attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        find_attr(&self.attributes, name).map(|a| a.value.as_deref().unwrap_or(""))
    }

    /// Whether an attribute with this name is present.
    pub fn has_attribute(&self, name: &str) -> bool {
        find_attr(&self.attributes, name).is_some()
    }

    /// Removes every attribute with this name.
    pub fn remove_attribute(&mut self, name: &str) {
        self.attributes.retain(|a| a.name != name);
    }

    /// The formats as RTP payload types (those that are numbers 0–127).
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok().filter(|pt| *pt < 128))
    }

    /// Every well-formed `a=rtpmap`.
    pub fn rtpmaps(&self) -> impl Iterator<Item = RtpMap> + '_ {
        self.attributes
            .iter()
            .filter(|a| a.name == "rtpmap")
            .filter_map(|a| parse_rtpmap(a.value.as_deref()?))
    }

    /// The `a=rtpmap` of a payload type.
    pub fn rtpmap(&self, payload_type: u8) -> Option<RtpMap> {
        self.rtpmaps().find(|m| m.payload_type == payload_type)
    }

    /// The parameters of `a=fmtp:<payload type> <parameters>`.
    pub fn fmtp(&self, payload_type: u8) -> Option<&str> {
        self.attributes
            .iter()
            .filter(|a| a.name == "fmtp")
            .filter_map(|a| a.value.as_deref())
            .find_map(|v| {
                let (pt, params) = v.split_once(' ').unwrap_or((v, ""));
                (pt.parse::<u8>().ok() == Some(payload_type)).then_some(params.trim_start())
            })
    }

    /// `a=ptime` in milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        self.attribute("ptime")?.trim().parse().ok()
    }

    /// The media-level direction attribute, if any (see
    /// [`SessionDescription::direction`] for the effective one).
    pub fn direction_attribute(&self) -> Option<Direction> {
        direction_in(&self.attributes)
    }

    /// Replaces the media-level direction attribute.
    pub fn set_direction(&mut self, direction: Direction) {
        self.attributes
            .retain(|a| !(a.value.is_none() && Direction::parse(&a.name).is_some()));
        self.attributes
            .push(Attribute::property(direction.as_str()));
    }

    /// `a=rtcp` (RFC 3605).
    pub fn rtcp(&self) -> Option<Rtcp> {
        let v = self.attribute("rtcp")?;
        let mut parts = v.split(' ').filter(|s| !s.is_empty());
        let port = parts.next()?.parse().ok()?;
        let connection = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(t), Some(a)) => Some(Connection {
                net_type: n.into(),
                addr_type: t.into(),
                address: a.into(),
            }),
            _ => None,
        };
        Some(Rtcp { port, connection })
    }

    /// `a=rtcp-mux` (RFC 5761).
    pub fn rtcp_mux(&self) -> bool {
        self.has_attribute("rtcp-mux")
    }
}

fn parse_rtpmap(v: &str) -> Option<RtpMap> {
    let (pt, rest) = v.split_once(' ')?;
    let payload_type: u8 = pt.parse().ok().filter(|p| *p < 128)?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next().filter(|e| !e.is_empty())?.to_owned();
    let clock_rate = parts.next()?.parse().ok()?;
    let channels = match parts.next() {
        Some(c) => Some(c.parse().ok()?),
        None => None,
    };
    if parts.next().is_some() {
        return None;
    }
    Some(RtpMap {
        payload_type,
        encoding,
        clock_rate,
        channels,
    })
}

impl SessionDescription {
    /// A minimal description: `v=0`, the origin, `s=-`, `t=0 0`, nothing else.
    pub fn new(origin: Origin) -> SessionDescription {
        SessionDescription {
            origin,
            session_name: "-".into(),
            information: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: None,
            bandwidths: Vec::new(),
            times: vec![Timing {
                start: 0,
                stop: 0,
                repeats: Vec::new(),
            }],
            time_zones: None,
            key: None,
            attributes: Vec::new(),
            media: Vec::new(),
        }
    }

    /// The first session-level attribute with this name (`Some("")` for a property).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        find_attr(&self.attributes, name).map(|a| a.value.as_deref().unwrap_or(""))
    }

    /// The connection that applies to media `index`: its own first `c=`, else the
    /// session's (RFC 4566 §5.7).
    pub fn connection_for(&self, index: usize) -> Option<&Connection> {
        self.media
            .get(index)
            .and_then(|m| m.connections.first())
            .or(self.connection.as_ref())
    }

    /// The direction attribute that applies to media `index`: media level, else session
    /// level, else sendrecv (RFC 3264 §5.1).
    pub fn direction(&self, index: usize) -> Direction {
        self.media
            .get(index)
            .and_then(MediaDescription::direction_attribute)
            .or_else(|| direction_in(&self.attributes))
            .unwrap_or(Direction::SendRecv)
    }

    /// The direction media `index` effectively has, counting the old RFC 2543 hold form:
    /// with `c=0.0.0.0` the sender receives nothing (RFC 3264 §8.4).
    pub fn effective_direction(&self, index: usize) -> Direction {
        let d = self.direction(index);
        if self
            .connection_for(index)
            .is_some_and(Connection::is_hold_address)
        {
            Direction::from_flags(d.sends(), false)
        } else {
            d
        }
    }

    /// Whether media `index` is put on hold by the side that sent this description:
    /// it is active (port ≠ 0) and the sender does not want to receive (`sendonly`,
    /// `inactive`, or `c=0.0.0.0`).
    pub fn is_held(&self, index: usize) -> bool {
        self.media.get(index).is_some_and(|m| m.port != 0)
            && !self.effective_direction(index).receives()
    }

    /// Whether every active audio stream is held (the whole call is on hold). False when
    /// there is no active audio stream.
    pub fn is_on_hold(&self) -> bool {
        let mut active = self
            .media
            .iter()
            .enumerate()
            .filter(|(_, m)| m.media == "audio" && m.port != 0)
            .peekable();
        active.peek().is_some() && active.all(|(i, _)| self.is_held(i))
    }

    /// Serialized with CRLF line ends (RFC 4566 §5).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.net_type,
            self.addr_type,
            self.address
        )
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.net_type, self.addr_type, self.address)
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}:{}", self.name, v),
            None => f.write_str(&self.name),
        }
    }
}

fn line(f: &mut fmt::Formatter<'_>, kind: char, value: impl fmt::Display) -> fmt::Result {
    write!(f, "{kind}={value}\r\n")
}

impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        line(f, 'v', 0)?;
        line(f, 'o', &self.origin)?;
        line(f, 's', &self.session_name)?;
        if let Some(i) = &self.information {
            line(f, 'i', i)?;
        }
        if let Some(u) = &self.uri {
            line(f, 'u', u)?;
        }
        for e in &self.emails {
            line(f, 'e', e)?;
        }
        for p in &self.phones {
            line(f, 'p', p)?;
        }
        if let Some(c) = &self.connection {
            line(f, 'c', c)?;
        }
        for b in &self.bandwidths {
            line(f, 'b', format_args!("{}:{}", b.bw_type, b.bandwidth))?;
        }
        for t in &self.times {
            line(f, 't', format_args!("{} {}", t.start, t.stop))?;
            for r in &t.repeats {
                line(f, 'r', r)?;
            }
        }
        if let Some(z) = &self.time_zones {
            line(f, 'z', z)?;
        }
        if let Some(k) = &self.key {
            line(f, 'k', k)?;
        }
        for a in &self.attributes {
            line(f, 'a', a)?;
        }
        for m in &self.media {
            write!(f, "m={} {}", m.media, m.port)?;
            if let Some(n) = m.port_count {
                write!(f, "/{n}")?;
            }
            write!(f, " {}", m.protocol)?;
            for fmt_ in &m.formats {
                write!(f, " {fmt_}")?;
            }
            f.write_str("\r\n")?;
            if let Some(i) = &m.information {
                line(f, 'i', i)?;
            }
            for c in &m.connections {
                line(f, 'c', c)?;
            }
            for b in &m.bandwidths {
                line(f, 'b', format_args!("{}:{}", b.bw_type, b.bandwidth))?;
            }
            if let Some(k) = &m.key {
                line(f, 'k', k)?;
            }
            for a in &m.attributes {
                line(f, 'a', a)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_algebra() {
        use Direction::*;
        assert_eq!(SendOnly.reversed(), RecvOnly);
        assert_eq!(RecvOnly.reversed(), SendOnly);
        assert_eq!(Inactive.reversed(), Inactive);
        assert_eq!(SendRecv.reversed(), SendRecv);
        assert_eq!(SendRecv.intersect(SendOnly), SendOnly);
        assert_eq!(RecvOnly.intersect(SendOnly), Inactive);
    }

    #[test]
    fn rtpmap_parsing() {
        assert_eq!(
            parse_rtpmap("101 telephone-event/8000"),
            Some(RtpMap {
                payload_type: 101,
                encoding: "telephone-event".into(),
                clock_rate: 8000,
                channels: None
            })
        );
        assert_eq!(
            parse_rtpmap("111 opus/48000/2").and_then(|m| m.channels),
            Some(2)
        );
        for bad in [
            "",
            "x PCMU/8000",
            "200 PCMU/8000",
            "0 PCMU",
            "0 /8000",
            "0 PCMU/8000/1/2",
        ] {
            assert_eq!(parse_rtpmap(bad), None, "{bad}");
        }
    }

    #[test]
    fn connection_ip_requires_matching_type() {
        let c = Connection::from_ip("2001:db8::1".parse().expect("ip"));
        assert_eq!(c.to_string(), "IN IP6 2001:db8::1");
        assert!(c.ip().is_some());
        let wrong = Connection {
            addr_type: "IP4".into(),
            ..c
        };
        assert_eq!(wrong.ip(), None);
    }
}
