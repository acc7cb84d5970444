//! What went wrong with an input, and what the transport may do about it: answer a request
//! statelessly (even a 400 must be routable, so the raw Via/From/To/Call-ID/CSeq lines are
//! kept), drop a malformed response, or drop and count bytes that are not SIP at all.

use crate::message::grammar::{Src, for_each_element, parse_cseq, parse_name_addr, parse_via};
use crate::message::header::{Header, HeaderName};
use crate::message::{Response, SipStr, StatusCode};

/// The specific problem, worded for a reason phrase ("malformed Via header").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    #[error("empty message")]
    Empty,
    #[error("message too large")]
    TooLarge,
    #[error("too many header lines")]
    TooManyHeaders,
    #[error("too many Via values")]
    TooManyVias,
    #[error("header section not terminated by an empty line")]
    Unterminated,
    #[error("header section is not UTF-8")]
    NotUtf8,
    #[error("malformed start line")]
    StartLine,
    #[error("malformed Request-Line")]
    RequestLine,
    #[error("malformed Request-URI")]
    RequestUri,
    #[error("escaped headers in Request-URI")]
    RequestUriHeaders,
    #[error("unsupported SIP version {0}")]
    Version(SipStr),
    #[error("malformed Status-Line")]
    StatusLine,
    #[error("malformed status code")]
    StatusCode,
    #[error("malformed header line")]
    HeaderLine,
    #[error("malformed {0} header")]
    Header(HeaderName),
    #[error("negative Content-Length")]
    NegativeContentLength,
    #[error("multiple Content-Length headers")]
    DuplicateContentLength,
    #[error("Content-Length larger than the message")]
    ContentLengthTooLarge,
    #[error("missing Content-Length on a stream transport")]
    MissingContentLength,
    #[error("octets after the body on a stream transport")]
    TrailingOctets,
}

/// The header lines a stateless responder copies into its answer (RFC 3261 §8.2.6.2),
/// raw (folding replaced by one SP), salvaged even when the message did not parse.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawRouting {
    /// Every Via line, in order.
    pub via: Vec<SipStr>,
    pub from: Option<SipStr>,
    pub to: Option<SipStr>,
    pub call_id: Option<SipStr>,
    pub cseq: Option<SipStr>,
}

/// A request that could not be parsed, with what is needed to answer it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRequest {
    /// 400, 505 (version) or 513 (too large).
    pub status: StatusCode,
    pub problem: Problem,
    /// The method token of the Request-Line, when there was one.
    pub method: Option<SipStr>,
    pub raw: RawRouting,
}

impl BadRequest {
    /// The reason phrase to send: names the problem ("Bad Request: malformed Via header").
    pub fn reason_phrase(&self) -> String {
        match self.status.0 {
            505 => format!("Version Not Supported: {}", self.problem),
            513 => format!("Message Too Large: {}", self.problem),
            _ => format!("{}: {}", self.status.default_reason(), self.problem),
        }
    }

    /// A stateless response to send back (RFC 3261 §8.2.6), or `None` when none may be
    /// sent: the request was an ACK (never answered, §17.1.1.3) or no Via was found
    /// (nowhere to route it).
    pub fn response(&self) -> Option<Response> {
        if self.method.as_deref() == Some("ACK") || self.raw.via.is_empty() {
            return None;
        }
        let mut resp = Response::new(self.status.0);
        resp.reason = SipStr::from(self.reason_phrase());
        let raw = &self.raw;
        for v in &raw.via {
            let src = Src::new(v);
            let mut vias = Vec::new();
            let typed = for_each_element(v, |p| {
                vias.push(parse_via(src, p)?);
                Some(())
            });
            resp.headers.push(match typed {
                Some(()) => Header::Via(vias),
                None => Header::Other(HeaderName::Via, v.clone()),
            });
        }
        if let Some(f) = &raw.from {
            resp.headers.push(match parse_name_addr(Src::new(f), f) {
                Some(na) => Header::From(na),
                None => Header::Other(HeaderName::From, f.clone()),
            });
        }
        if let Some(t) = &raw.to {
            resp.headers.push(match parse_name_addr(Src::new(t), t) {
                Some(mut na) => {
                    if na.tag().is_none() {
                        na.set_tag(stateless_tag(raw));
                    }
                    Header::To(na)
                }
                None => Header::Other(HeaderName::To, t.clone()),
            });
        }
        if let Some(c) = &raw.call_id {
            resp.headers
                .push(Header::Other(HeaderName::CallId, c.clone()));
        }
        if let Some(c) = &raw.cseq {
            resp.headers.push(match parse_cseq(Src::new(c), c) {
                Some(cs) => Header::CSeq(cs),
                None => Header::Other(HeaderName::CSeq, c.clone()),
            });
        }
        Some(resp)
    }
}

/// A To tag for a stateless response: the same request (and its retransmissions) always
/// gets the same tag (RFC 3261 §8.2.6.2, §16.11), with no RNG or state.
pub(crate) fn stateless_tag(raw: &RawRouting) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |s: &str| {
        for b in s.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(raw.call_id.as_deref().unwrap_or(""));
    feed(raw.cseq.as_deref().unwrap_or(""));
    feed(raw.from.as_deref().unwrap_or(""));
    feed(raw.via.first().map_or("", |v| v.as_str()));
    format!("sl{h:016x}")
}

impl std::fmt::Display for BadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.0, self.reason_phrase())
    }
}

/// Why an input was not turned into a `Message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// It looked like a request: answer it statelessly with `BadRequest::response()`
    /// (over a stream transport, then close the connection: framing is lost).
    #[error("bad request: {0}")]
    Request(Box<BadRequest>),
    /// It looked like a response: drop it silently (RFC 3261 §18.1.2, RFC 4475 §3.1.2.19).
    #[error("malformed response dropped: {0}")]
    Response(Problem),
    /// Not SIP at all: drop and count it.
    #[error("not SIP: {0}")]
    NotSip(Problem),
}

impl ParseError {
    pub fn problem(&self) -> &Problem {
        match self {
            ParseError::Request(b) => &b.problem,
            ParseError::Response(p) | ParseError::NotSip(p) => p,
        }
    }

    /// The stateless answer to send, if any (only for requests).
    pub fn response(&self) -> Option<Response> {
        match self {
            ParseError::Request(b) => b.response(),
            _ => None,
        }
    }

    /// True for an input of only CR/LF bytes: a keep-alive (RFC 5626 §3.5.1), not garbage.
    pub fn is_keep_alive(&self) -> bool {
        matches!(self, ParseError::NotSip(Problem::Empty))
    }
}
