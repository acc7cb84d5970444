//! The SDP parser: RFC 4566 §5 line by line, strict about order and cardinality.
//!
//! Accepts CRLF and bare LF line ends (RFC 4566 §5 asks parsers to), trailing empty
//! lines, and an empty `s=`. Rejects everything else RFC 4566 forbids, reporting the
//! 1-based line number: lines out of order, a type letter it does not know (§5: "MUST
//! completely ignore any session description that contains a type letter that it does
//! not understand"), a missing `v=`/`o=`/`s=`/`t=`, a `c=` missing for some media,
//! malformed `o=`/`c=`/`m=`/`t=`/`b=` values. Unknown attributes are kept verbatim.

use super::model::{
    Attribute, Bandwidth, Connection, MediaDescription, Origin, SessionDescription, Timing,
};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Largest body parsed.
pub const MAX_SDP_LEN: usize = 64 * 1024;
/// Most `m=` sections.
pub const MAX_MEDIA: usize = 64;

/// A parse failure, with the 1-based line it was found on (0 when it concerns the whole
/// body, e.g. its size or a line missing at the end).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SDP line {line}: {kind}")]
pub struct SdpError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub kind: SdpErrorKind,
}

/// What is wrong with an SDP body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpErrorKind {
    /// Larger than [`MAX_SDP_LEN`] or more than [`MAX_MEDIA`] media.
    #[error("description too large")]
    TooLarge,
    /// Not UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
    /// Not `<letter>=<value>`, or contains a control character.
    #[error("not a <type>=<value> line")]
    BadLine,
    /// An empty line before the end.
    #[error("empty line")]
    EmptyLine,
    /// A type letter RFC 4566 does not define.
    #[error("unknown type {0:?}")]
    UnknownType(char),
    /// A line where RFC 4566 §5 does not allow it.
    #[error("{0}= out of order")]
    OutOfOrder(char),
    /// A line that may appear once appears again.
    #[error("{0}= repeated")]
    Repeated(char),
    /// A mandatory line is missing.
    #[error("missing {0}=")]
    Missing(char),
    /// `v=` is not 0.
    #[error("unsupported version")]
    Version,
    /// A field has the wrong form.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// Some media has no `c=` and there is no session-level one (RFC 4566 §5.7).
    #[error("no connection address for media")]
    NoConnection,
}

fn err(line: usize, kind: SdpErrorKind) -> SdpError {
    SdpError { line, kind }
}

/// Session-level ranks in RFC 4566 §5 order; media sections restart at `m`.
fn session_rank(t: u8) -> Option<u8> {
    Some(match t {
        b'v' => 0,
        b'o' => 1,
        b's' => 2,
        b'i' => 3,
        b'u' => 4,
        b'e' => 5,
        b'p' => 6,
        b'c' => 7,
        b'b' => 8,
        b't' => 9,
        b'r' => 10,
        b'z' => 11,
        b'k' => 12,
        b'a' => 13,
        b'm' => 14,
        _ => return None,
    })
}

fn media_rank(t: u8) -> Option<u8> {
    Some(match t {
        b'm' => 0,
        b'i' => 1,
        b'c' => 2,
        b'b' => 3,
        b'k' => 4,
        b'a' => 5,
        _ => return None,
    })
}

fn repeatable(t: u8) -> bool {
    matches!(t, b'e' | b'p' | b'c' | b'b' | b't' | b'r' | b'a' | b'm')
}

impl SessionDescription {
    /// Parses an SDP body.
    pub fn parse(body: &[u8]) -> Result<SessionDescription, SdpError> {
        if body.len() > MAX_SDP_LEN {
            return Err(err(0, SdpErrorKind::TooLarge));
        }
        let mut lines: Vec<&[u8]> = body
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let mut p = Parser::default();
        for (i, raw) in lines.iter().enumerate() {
            let n = i + 1;
            if raw.is_empty() {
                return Err(err(n, SdpErrorKind::EmptyLine));
            }
            let text = std::str::from_utf8(raw).map_err(|_| err(n, SdpErrorKind::NotUtf8))?;
            p.line(n, text)?;
        }
        p.finish(lines.len())
    }
}

#[derive(Default)]
struct Parser {
    version: bool,
    origin: Option<Origin>,
    session_name: Option<String>,
    /// Rank of the last line, session or media table depending on `in_media`.
    rank: Option<u8>,
    last_type: u8,
    in_media: bool,
    // Session fields gathered before `t=` is known; moved into `sd` at the end.
    information: Option<String>,
    uri: Option<String>,
    emails: Vec<String>,
    phones: Vec<String>,
    connection: Option<Connection>,
    bandwidths: Vec<Bandwidth>,
    times: Vec<Timing>,
    time_zones: Option<String>,
    key: Option<String>,
    attributes: Vec<Attribute>,
    media: Vec<MediaDescription>,
}

impl Parser {
    fn line(&mut self, n: usize, text: &str) -> Result<(), SdpError> {
        let b = text.as_bytes();
        if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
            return Err(err(n, SdpErrorKind::BadLine));
        }
        // RFC 4566 §5: text fields exclude NUL, CR and LF; other controls are as bad.
        if b.iter().any(|&c| c < 0x20 && c != b'\t') {
            return Err(err(n, SdpErrorKind::BadLine));
        }
        let t = b[0];
        let value = &text[2..];
        self.check_order(n, t)?;
        if self.in_media {
            self.media_line(n, t, value)
        } else {
            self.session_line(n, t, value)
        }
    }

    fn check_order(&mut self, n: usize, t: u8) -> Result<(), SdpError> {
        if t == b'm' {
            if self.rank.is_none_or(|r| !self.in_media && r < 9) {
                // m= before t=: report what is missing rather than "out of order".
                return Err(err(n, SdpErrorKind::Missing(missing_before_media(self))));
            }
            self.in_media = true;
            self.rank = Some(0);
            self.last_type = t;
            return Ok(());
        }
        let rank_of = if self.in_media {
            media_rank
        } else {
            session_rank
        };
        let Some(r) = rank_of(t) else {
            return Err(if session_rank(t).is_some() {
                err(n, SdpErrorKind::OutOfOrder(t as char))
            } else {
                err(n, SdpErrorKind::UnknownType(t as char))
            });
        };
        let allowed = match self.rank {
            None => t == b'v',
            // t= may follow r= (another time description, RFC 4566 §5 "*(time...)").
            Some(cur) if !self.in_media && t == b't' => (2..=10).contains(&cur),
            // r= only directly after t= or r=.
            Some(_) if !self.in_media && t == b'r' => matches!(self.last_type, b't' | b'r'),
            Some(cur) => r > cur || (r == cur && repeatable(t)),
        };
        if !allowed {
            let repeated = self.rank == Some(r) && !repeatable(t);
            return Err(err(
                n,
                if repeated {
                    SdpErrorKind::Repeated(t as char)
                } else {
                    SdpErrorKind::OutOfOrder(t as char)
                },
            ));
        }
        self.rank = Some(r);
        self.last_type = t;
        Ok(())
    }

    fn session_line(&mut self, n: usize, t: u8, v: &str) -> Result<(), SdpError> {
        match t {
            b'v' => {
                if v != "0" {
                    return Err(err(n, SdpErrorKind::Version));
                }
                self.version = true;
            }
            b'o' => self.origin = Some(parse_origin(v).ok_or(err(n, SdpErrorKind::Invalid("o=")))?),
            b's' => self.session_name = Some(v.to_owned()),
            b'i' => self.information = Some(v.to_owned()),
            b'u' => self.uri = Some(v.to_owned()),
            b'e' => self.emails.push(v.to_owned()),
            b'p' => self.phones.push(v.to_owned()),
            b'c' => {
                if self.connection.is_some() {
                    return Err(err(n, SdpErrorKind::Repeated('c')));
                }
                self.connection =
                    Some(parse_connection(v).ok_or(err(n, SdpErrorKind::Invalid("c=")))?);
            }
            b'b' => self
                .bandwidths
                .push(parse_bandwidth(v).ok_or(err(n, SdpErrorKind::Invalid("b=")))?),
            b't' => {
                let (start, stop) = parse_two_u64(v).ok_or(err(n, SdpErrorKind::Invalid("t=")))?;
                self.times.push(Timing {
                    start,
                    stop,
                    repeats: Vec::new(),
                });
            }
            b'r' => {
                if v.trim().is_empty() {
                    return Err(err(n, SdpErrorKind::Invalid("r=")));
                }
                if let Some(last) = self.times.last_mut() {
                    last.repeats.push(v.to_owned());
                }
            }
            b'z' => self.time_zones = Some(v.to_owned()),
            b'k' => self.key = Some(v.to_owned()),
            b'a' => self
                .attributes
                .push(parse_attribute(v).ok_or(err(n, SdpErrorKind::Invalid("a=")))?),
            _ => return Err(err(n, SdpErrorKind::UnknownType(t as char))),
        }
        Ok(())
    }

    fn media_line(&mut self, n: usize, t: u8, v: &str) -> Result<(), SdpError> {
        if t == b'm' {
            if self.media.len() == MAX_MEDIA {
                return Err(err(n, SdpErrorKind::TooLarge));
            }
            self.media
                .push(parse_media(v).ok_or(err(n, SdpErrorKind::Invalid("m=")))?);
            return Ok(());
        }
        let Some(m) = self.media.last_mut() else {
            return Err(err(n, SdpErrorKind::OutOfOrder(t as char)));
        };
        match t {
            b'i' => m.information = Some(v.to_owned()),
            b'c' => m
                .connections
                .push(parse_connection(v).ok_or(err(n, SdpErrorKind::Invalid("c=")))?),
            b'b' => m
                .bandwidths
                .push(parse_bandwidth(v).ok_or(err(n, SdpErrorKind::Invalid("b=")))?),
            b'k' => m.key = Some(v.to_owned()),
            b'a' => m
                .attributes
                .push(parse_attribute(v).ok_or(err(n, SdpErrorKind::Invalid("a=")))?),
            _ => return Err(err(n, SdpErrorKind::OutOfOrder(t as char))),
        }
        Ok(())
    }

    fn finish(mut self, lines: usize) -> Result<SessionDescription, SdpError> {
        let end = lines.max(1);
        if !self.version {
            return Err(err(end, SdpErrorKind::Missing('v')));
        }
        let origin = self
            .origin
            .take()
            .ok_or(err(end, SdpErrorKind::Missing('o')))?;
        let session_name = self
            .session_name
            .take()
            .ok_or(err(end, SdpErrorKind::Missing('s')))?;
        if self.times.is_empty() {
            return Err(err(end, SdpErrorKind::Missing('t')));
        }
        // RFC 4566 §5.7: a c= at session level or in every media description.
        if self.connection.is_none() && self.media.iter().any(|m| m.connections.is_empty()) {
            return Err(err(end, SdpErrorKind::NoConnection));
        }
        Ok(SessionDescription {
            origin,
            session_name,
            information: self.information,
            uri: self.uri,
            emails: self.emails,
            phones: self.phones,
            connection: self.connection,
            bandwidths: self.bandwidths,
            times: self.times,
            time_zones: self.time_zones,
            key: self.key,
            attributes: self.attributes,
            media: self.media,
        })
    }
}

fn missing_before_media(p: &Parser) -> char {
    if !p.version {
        'v'
    } else if p.origin.is_none() {
        'o'
    } else if p.session_name.is_none() {
        's'
    } else {
        't'
    }
}

fn fields(v: &str) -> impl Iterator<Item = &str> {
    v.split(' ').filter(|s| !s.is_empty())
}

fn is_token(s: &str) -> bool {
    // RFC 4566 §9 token-char: %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E
    !s.is_empty()
        && s.bytes().all(|b| {
            matches!(b, 0x21 | 0x23..=0x27 | 0x2a..=0x2b | 0x2d..=0x2e | 0x30..=0x39 | 0x41..=0x5a | 0x5e..=0x7e)
        })
}

fn parse_origin(v: &str) -> Option<Origin> {
    let mut f = fields(v);
    let username = f.next()?.to_owned();
    let session_id = f.next()?;
    if !session_id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let session_version = f.next()?.parse().ok()?;
    let net_type = f.next()?;
    let addr_type = f.next()?;
    let address = f.next()?;
    if f.next().is_some() || !is_token(net_type) || !is_token(addr_type) {
        return None;
    }
    if !valid_unicast(addr_type, address) {
        return None;
    }
    Some(Origin {
        username,
        session_id: session_id.to_owned(),
        session_version,
        net_type: net_type.to_owned(),
        addr_type: addr_type.to_owned(),
        address: address.to_owned(),
    })
}

/// An IP literal of the stated type (no brackets, RFC 5118 §4.6), or a host name.
fn valid_unicast(addr_type: &str, address: &str) -> bool {
    match addr_type {
        "IP4" => address.parse::<Ipv4Addr>().is_ok() || is_fqdn(address),
        "IP6" => address.parse::<Ipv6Addr>().is_ok() || is_fqdn(address),
        // Other address types (RFC 4566 §5.7 leaves room) are kept as tokens.
        _ => is_token(address),
    }
}

fn is_fqdn(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes().any(|b| b.is_ascii_alphabetic())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn parse_connection(v: &str) -> Option<Connection> {
    let mut f = fields(v);
    let net_type = f.next()?;
    let addr_type = f.next()?;
    let address = f.next()?;
    if f.next().is_some() || !is_token(net_type) || !is_token(addr_type) {
        return None;
    }
    // Multicast suffixes: IP4 `/ttl[/count]`, IP6 `/count` (RFC 4566 §5.7).
    let mut parts = address.split('/');
    let host = parts.next()?;
    let suffixes: Vec<&str> = parts.collect();
    let max_suffixes = if addr_type == "IP4" { 2 } else { 1 };
    if suffixes.len() > max_suffixes
        || suffixes
            .iter()
            .any(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 9)
        || !valid_unicast(addr_type, host)
    {
        return None;
    }
    Some(Connection {
        net_type: net_type.to_owned(),
        addr_type: addr_type.to_owned(),
        address: address.to_owned(),
    })
}

fn parse_bandwidth(v: &str) -> Option<Bandwidth> {
    let (t, bw) = v.split_once(':')?;
    if !is_token(t) {
        return None;
    }
    Some(Bandwidth {
        bw_type: t.to_owned(),
        bandwidth: bw.parse().ok()?,
    })
}

fn parse_two_u64(v: &str) -> Option<(u64, u64)> {
    let mut f = fields(v);
    let a = f.next()?.parse().ok()?;
    let b = f.next()?.parse().ok()?;
    f.next().is_none().then_some((a, b))
}

fn parse_attribute(v: &str) -> Option<Attribute> {
    let (name, value) = match v.split_once(':') {
        Some((n, val)) => (n, Some(val.to_owned())),
        None => (v, None),
    };
    is_token(name).then(|| Attribute {
        name: name.to_owned(),
        value,
    })
}

fn parse_media(v: &str) -> Option<MediaDescription> {
    let mut f = fields(v);
    let media = f.next()?;
    let port_field = f.next()?;
    let protocol = f.next()?;
    let formats: Vec<String> = f.map(str::to_owned).collect();
    if !is_token(media) || protocol.is_empty() || !protocol.split('/').all(is_token) {
        return None;
    }
    let (port, port_count) = match port_field.split_once('/') {
        Some((p, c)) => (p.parse().ok()?, Some(c.parse().ok()?)),
        None => (port_field.parse().ok()?, None),
    };
    // RFC 4566 §5.14 wants at least one format; a rejected stream (port 0) without one is
    // common enough in the field to accept.
    if (formats.is_empty() && port != 0) || !formats.iter().all(|s| is_token(s)) {
        return None;
    }
    Some(MediaDescription {
        media: media.to_owned(),
        port,
        port_count,
        protocol: protocol.to_owned(),
        formats,
        information: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASIC: &str = "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

    fn kind(body: &str) -> (usize, SdpErrorKind) {
        let e = SessionDescription::parse(body.as_bytes()).expect_err("must fail");
        (e.line, e.kind)
    }

    #[test]
    fn basic_and_lf_only() {
        let a = SessionDescription::parse(BASIC.as_bytes()).expect("parses");
        let b = SessionDescription::parse(BASIC.replace("\r\n", "\n").as_bytes()).expect("parses");
        assert_eq!(a, b);
        assert_eq!(a.to_string(), BASIC);
    }

    #[test]
    fn order_errors_name_the_line() {
        assert_eq!(
            kind("v=0\r\ns=-\r\no=- 1 2 IN IP4 192.0.2.1\r\nt=0 0\r\n"),
            (3, SdpErrorKind::OutOfOrder('o'))
        );
        assert_eq!(
            kind("v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nc=IN IP4 192.0.2.1\r\n"),
            (5, SdpErrorKind::OutOfOrder('c'))
        );
        assert_eq!(
            kind("v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\ns=x\r\nt=0 0\r\n"),
            (4, SdpErrorKind::Repeated('s'))
        );
        assert_eq!(
            kind(&format!("{BASIC}a=x\r\nc=IN IP4 192.0.2.2\r\n")),
            (8, SdpErrorKind::OutOfOrder('c'))
        );
        assert_eq!(
            kind(&format!("{BASIC}x=1\r\n")),
            (7, SdpErrorKind::UnknownType('x'))
        );
        assert_eq!(
            kind(&format!("{BASIC}t=0 0\r\n")),
            (7, SdpErrorKind::OutOfOrder('t'))
        );
        assert_eq!(
            kind("v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n"),
            (4, SdpErrorKind::Missing('t'))
        );
        assert_eq!(
            kind("o=- 1 2 IN IP4 192.0.2.1\r\n"),
            (1, SdpErrorKind::OutOfOrder('o'))
        );
        assert_eq!(kind(""), (1, SdpErrorKind::Missing('v')));
    }

    #[test]
    fn time_and_repeat_lines() {
        let body = "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=1 2\r\nr=7d 1h 0 25h\r\nt=3 4\r\nz=2882844526 -1h\r\n";
        let sd = SessionDescription::parse(body.as_bytes()).expect("parses");
        assert_eq!(sd.times.len(), 2);
        assert_eq!(sd.times[0].repeats, vec!["7d 1h 0 25h"]);
        assert_eq!(sd.to_string(), body);
        assert_eq!(
            kind("v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nr=1\r\n"),
            (4, SdpErrorKind::OutOfOrder('r'))
        );
    }

    #[test]
    fn bad_values() {
        for (body, what) in [
            (BASIC.replace("v=0", "v=1"), SdpErrorKind::Version),
            (
                BASIC.replace("IN IP4 192.0.2.1\r\ns", "IN IP4 [::1]\r\ns"),
                SdpErrorKind::Invalid("o="),
            ),
            (
                BASIC.replace("c=IN IP4 192.0.2.1", "c=IN IP6 [2001:db8::1]"),
                SdpErrorKind::Invalid("c="),
            ),
            (
                BASIC.replace("c=IN IP4 192.0.2.1", "c=IN IP4 2001:db8::1"),
                SdpErrorKind::Invalid("c="),
            ),
            (
                BASIC.replace("4000 RTP/AVP 0", "70000 RTP/AVP 0"),
                SdpErrorKind::Invalid("m="),
            ),
            (
                BASIC.replace("4000 RTP/AVP 0", "4000 RTP/AVP"),
                SdpErrorKind::Invalid("m="),
            ),
            (BASIC.replace("t=0 0", "t=0"), SdpErrorKind::Invalid("t=")),
            (
                BASIC.replace("c=IN IP4 192.0.2.1\r\n", ""),
                SdpErrorKind::NoConnection,
            ),
            (BASIC.replace("s=-", "s=a\u{0}b"), SdpErrorKind::BadLine),
            (BASIC.replace("s=-", "s =-"), SdpErrorKind::BadLine),
            (
                BASIC.replace("s=-\r\n", "s=-\r\n\r\n"),
                SdpErrorKind::EmptyLine,
            ),
        ] {
            assert_eq!(
                SessionDescription::parse(body.as_bytes()).map_err(|e| e.kind),
                Err(what.clone()),
                "{body:?}"
            );
        }
    }

    #[test]
    fn multicast_and_rejected_without_formats() {
        let body = BASIC
            .replace("c=IN IP4 192.0.2.1", "c=IN IP4 224.2.1.1/127/3")
            .replace("m=audio 4000 RTP/AVP 0", "m=audio 0 RTP/AVP");
        let sd = SessionDescription::parse(body.as_bytes()).expect("parses");
        assert_eq!(sd.connection.as_ref().map(|c| c.ip()), Some(None));
        assert!(sd.media[0].formats.is_empty());
    }

    #[test]
    fn limits() {
        let big = format!("{BASIC}{}", "a=x\r\n".repeat(MAX_SDP_LEN / 5));
        assert_eq!(kind(&big).1, SdpErrorKind::TooLarge);
        let many = format!("{BASIC}{}", "m=audio 1 RTP/AVP 0\r\n".repeat(MAX_MEDIA));
        assert_eq!(kind(&many).1, SdpErrorKind::TooLarge);
    }
}
