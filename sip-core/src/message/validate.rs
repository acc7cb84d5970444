//! Stateless checks of a parsed message before any transaction sees it (RFC 3261 §8.2 for
//! a UAS, §16.3 for what a proxy checks, RFC 4475 §3.1.2–§3.3): the answer is either
//! "go on" or a ready response to send statelessly.
//!
//! What Sentral supports (methods, option tags, body types, which hosts are "us") comes
//! from a `Policy`; this module never decides routing or knows about extensions.
//! Order follows RFC 3261 §8.2: syntax (400) → method (501) → Request-URI (416) →
//! Max-Forwards (483, §16.3 step 3) → Require (420) → content (415, 406).

use super::header::{Header, HeaderName};
use super::method::Method;
use super::parse::RawRouting;
use super::text::SipStr;
use super::typed::{DateError, MediaType};
use super::uri::{Host, Uri};
use super::{Request, Response};

/// What Sentral plays and supports, as far as stateless checks need to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Methods implemented (listed in Allow; others get 501, RFC 3261 §8.2.1).
    pub methods: Vec<Method>,
    /// Option tags supported (others in Require get 420, §8.2.2.3).
    pub option_tags: Vec<SipStr>,
    /// Body types accepted (others get 415 with Accept, §8.2.3).
    pub accept: Vec<MediaType>,
    /// Whether a `tel:` Request-URI is accepted (otherwise 416, §8.2.2.1).
    pub accept_tel_uri: bool,
    /// Also refuse unknown Proxy-Require tags (Sentral sits where a proxy would,
    /// §16.3 step 6, RFC 4475 §3.3.5).
    pub check_proxy_require: bool,
    /// Hosts that mean "this server" in a Request-URI (case-insensitive); empty means every
    /// Request-URI is for us.
    pub local_domains: Vec<SipStr>,
    /// Methods answered here, never passed on, when addressed to us: with Max-Forwards 0
    /// they still get through (OPTIONS, RFC 3261 §16.3 step 3, RFC 4475 §3.3.11;
    /// REGISTER to the registrar). Anything else with Max-Forwards 0 gets 483.
    pub local_methods: Vec<Method>,
}

impl Default for Policy {
    /// Sentral as a PBX: a registrar and B2BUA.
    fn default() -> Self {
        use Method::*;
        Policy {
            methods: vec![
                Invite, Ack, Bye, Cancel, Options, Register, Info, Update, Refer, Notify,
                Subscribe, Message, Prack,
            ],
            option_tags: ["100rel", "replaces", "timer", "path", "norefersub"]
                .into_iter()
                .map(SipStr::from_static)
                .collect(),
            accept: [
                ("application", "sdp"),
                ("application", "dtmf-relay"),
                ("application", "dtmf"),
                ("message", "sipfrag"),
                ("text", "plain"),
            ]
            .into_iter()
            .map(|(k, s)| MediaType::new(k, s))
            .collect(),
            accept_tel_uri: false,
            check_proxy_require: true,
            local_domains: Vec::new(),
            local_methods: vec![Options, Register],
        }
    }
}

impl Policy {
    /// True when the Request-URI names this server (its host is a local domain).
    pub fn is_for_us(&self, uri: &Uri) -> bool {
        if self.local_domains.is_empty() {
            return true;
        }
        let host = match uri {
            Uri::Sip(u) => match &u.host {
                Host::Domain(d) => d.to_string(),
                h => super::serialize::WriteWire::to_wire_string(h),
            },
            _ => return false,
        };
        self.local_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&host))
    }

    fn implements(&self, m: &Method) -> bool {
        self.methods.contains(m)
    }
}

/// A request that must not go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Send this response (statelessly).
    Respond(Box<Response>),
    /// Drop silently: it was an ACK, which is never answered (RFC 3261 §17.1.1.3);
    /// the text says why, for logs and counters.
    Drop(String),
}

impl Rejection {
    pub fn response(&self) -> Option<&Response> {
        match self {
            Rejection::Respond(r) => Some(r),
            Rejection::Drop(_) => None,
        }
    }

    /// The status that was (or would have been) sent.
    pub fn status(&self) -> Option<u16> {
        self.response().map(|r| r.status.0)
    }
}

/// A stateless response to `req` (RFC 3261 §8.2.6): Via, From, To, Call-ID, CSeq copied,
/// a To tag added when there is none (the same for every retransmission of the request),
/// and `reason` as the reason phrase when given.
pub fn stateless_response(req: &Request, status: u16, reason: Option<String>) -> Response {
    let mut resp = Response::to_request(req, status);
    if let Some(r) = reason {
        resp.reason = SipStr::from(r);
    }
    if status != 100
        && let Some(to) = resp.headers.to_mut()
        && to.tag().is_none()
    {
        let raw = RawRouting {
            via: req
                .headers
                .top_via()
                .map(|v| SipStr::from(v.to_string()))
                .into_iter()
                .collect(),
            from: req.headers.from().map(|f| SipStr::from(f.to_string())),
            to: None,
            call_id: req.headers.call_id().cloned(),
            cseq: req.headers.cseq().map(|c| SipStr::from(c.to_string())),
        };
        to.set_tag(super::parse::stateless_tag(&raw));
    }
    resp
}

fn bad_request(req: &Request, what: &str) -> Rejection {
    reject(req, 400, Some(format!("Bad Request: {what}")), Vec::new())
}

fn reject(req: &Request, status: u16, reason: Option<String>, extra: Vec<Header>) -> Rejection {
    if req.method == Method::Ack {
        let why = reason.unwrap_or_else(|| super::StatusCode(status).default_reason().to_string());
        return Rejection::Drop(format!("ACK not answered: {why}"));
    }
    let mut resp = stateless_response(req, status, reason);
    for h in extra {
        resp.headers.push(h);
    }
    Rejection::Respond(Box::new(resp))
}

fn join<T: AsRef<str>>(items: impl IntoIterator<Item = T>) -> String {
    let mut s = String::new();
    for (i, it) in items.into_iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(it.as_ref());
    }
    s
}

/// Runs every stateless check on `req`.
pub fn validate_request(req: &Request, policy: &Policy) -> Result<(), Rejection> {
    let h = &req.headers;

    // RFC 3261 §8.1.1: To, From, CSeq, Call-ID, Via are mandatory (Max-Forwards too, but an
    // RFC 2543 element omits it and must still be served, RFC 4475 §3.4.1).
    let mut missing = Vec::new();
    if h.top_via().is_none() {
        missing.push("Via");
    }
    if h.from().is_none() {
        missing.push("From");
    }
    if h.to().is_none() {
        missing.push("To");
    }
    if h.call_id().is_none() {
        missing.push("Call-ID");
    }
    if h.cseq().is_none() {
        missing.push("CSeq");
    }
    if !missing.is_empty() {
        let what = if missing.len() == 1 {
            "header"
        } else {
            "headers"
        };
        return Err(bad_request(
            req,
            &format!("missing {} {what}", join(&missing)),
        ));
    }

    // RFC 4475 §3.3.8, §3.3.9: single-value headers appear once.
    let mut counts = [0usize; 6];
    for hd in h.iter() {
        let i = match hd {
            Header::CallId(_) => 0,
            Header::CSeq(_) => 1,
            Header::From(_) => 2,
            Header::To(_) => 3,
            Header::MaxForwards(_) => 4,
            Header::ContentLength(_) => 5,
            _ => continue,
        };
        counts[i] += 1;
    }
    let names = [
        "Call-ID",
        "CSeq",
        "From",
        "To",
        "Max-Forwards",
        "Content-Length",
    ];
    let dups: Vec<&str> = names
        .iter()
        .zip(counts)
        .filter(|(_, c)| *c > 1)
        .map(|(n, _)| *n)
        .collect();
    if !dups.is_empty() {
        let what = if dups.len() == 1 { "header" } else { "headers" };
        return Err(bad_request(
            req,
            &format!("multiple {} {what}", join(&dups)),
        ));
    }

    // RFC 3261 §8.2.1: an unknown method gets 501, even when its CSeq method disagrees
    // (RFC 4475 §3.1.2.18 prefers 501 there).
    if !policy.implements(&req.method) {
        let allow = join(policy.methods.iter().map(|m| m.as_str()));
        return Err(reject(
            req,
            501,
            None,
            vec![Header::Other(HeaderName::Allow, SipStr::from(allow))],
        ));
    }

    // RFC 3261 §8.1.1.5, RFC 4475 §3.1.2.17.
    if h.cseq().is_some_and(|c| c.method != req.method) {
        return Err(bad_request(
            req,
            "CSeq method does not match the request method",
        ));
    }

    // RFC 3261 §20.17: only GMT (RFC 4475 §3.1.2.12).
    match h.date() {
        Some(Err(DateError::TimeZone)) => return Err(bad_request(req, "Date header not in GMT")),
        Some(Err(DateError::Malformed)) => return Err(bad_request(req, "malformed Date header")),
        _ => {}
    }

    // RFC 3261 §8.2.2.1: 416 for a scheme we do not serve (RFC 4475 §3.3.2, §3.3.3).
    match &req.uri {
        Uri::Sip(_) => {}
        Uri::Tel(_) if policy.accept_tel_uri => {}
        _ => return Err(reject(req, 416, None, Vec::new())),
    }

    // RFC 3261 §16.3 step 3: Max-Forwards 0 stops anything we would pass on.
    if h.max_forwards() == Some(0)
        && !(policy.local_methods.contains(&req.method) && policy.is_for_us(&req.uri))
    {
        return Err(reject(req, 483, None, Vec::new()));
    }

    // RFC 3261 §8.2.2.3: 420 listing unknown Require (and Proxy-Require) tags; ignored on
    // ACK and CANCEL.
    if !matches!(req.method, Method::Ack | Method::Cancel) {
        let mut tags = h.require().map_err(|e| bad_request(req, &e.to_string()))?;
        if policy.check_proxy_require {
            tags.extend(
                h.proxy_require()
                    .map_err(|e| bad_request(req, &e.to_string()))?,
            );
        }
        let mut unknown: Vec<SipStr> = Vec::new();
        for t in tags {
            if !policy
                .option_tags
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&t))
                && !unknown.contains(&t)
            {
                unknown.push(t);
            }
        }
        if !unknown.is_empty() {
            let list = join(unknown.iter().map(|t| t.as_str()));
            return Err(reject(
                req,
                420,
                None,
                vec![Header::Other(HeaderName::Unsupported, SipStr::from(list))],
            ));
        }
    }

    // RFC 3261 §8.2.3: 415 for a body type (or encoding) we do not understand.
    if !req.body.is_empty() {
        let ct = match h.content_type() {
            None => return Err(bad_request(req, "missing Content-Type header")),
            Some(Err(e)) => return Err(bad_request(req, &e.to_string())),
            Some(Ok(ct)) => ct,
        };
        let accept_header = || {
            let list = join(policy.accept.iter().map(|m| m.to_wire()));
            Header::Other(HeaderName::Accept, SipStr::from(list))
        };
        if !policy
            .accept
            .iter()
            .any(|a| a.covers(&ct.kind, &ct.subtype))
        {
            return Err(reject(req, 415, None, vec![accept_header()]));
        }
        let encodings = h
            .token_list(&HeaderName::ContentEncoding)
            .map_err(|e| bad_request(req, &e.to_string()))?;
        if encodings
            .iter()
            .any(|e| !e.eq_ignore_ascii_case("identity"))
        {
            return Err(reject(
                req,
                415,
                None,
                vec![
                    accept_header(),
                    Header::Other(HeaderName::AcceptEncoding, SipStr::from_static("identity")),
                ],
            ));
        }
    }

    // RFC 3261 §21.4.7, RFC 4475 §3.3.15: an INVITE whose Accept excludes SDP cannot get
    // the SDP answer (or offer) its 200 must carry.
    if req.method == Method::Invite
        && let Some(accept) = h.accept()
    {
        let accept = accept.map_err(|e| bad_request(req, &e.to_string()))?;
        if !accept.iter().any(|m| m.covers("application", "sdp")) {
            return Err(reject(req, 406, None, Vec::new()));
        }
    }
    Ok(())
}

/// The registrar's own check (RFC 3261 §10.3 step 3, RFC 4475 §3.3.4): the To header is
/// the address of record and must be a `sip:` or `sips:` URI.
pub fn check_register_to(req: &Request) -> Result<(), Box<Response>> {
    match req.headers.to().map(|t| &t.uri) {
        Some(Uri::Sip(_)) => Ok(()),
        _ => Err(Box::new(stateless_response(
            req,
            400,
            Some("Bad Request: To is not a SIP or SIPS address of record".to_string()),
        ))),
    }
}

/// Why a received response is not worth processing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseDefect {
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("multiple {0} headers")]
    Duplicate(&'static str),
    /// RFC 3261 §8.1.3.3: Sentral is never a proxy, so a response for it carries one Via.
    #[error("more than one Via value")]
    SeveralVias,
    /// RFC 4475 §3.3.10: a Via naming a broadcast, multicast or unspecified address.
    #[error("Via names a broadcast, multicast or unspecified address")]
    BadViaAddress,
}

/// Checks a received response (RFC 3261 §8.1.3.3, §18.1.2; RFC 4475 §3.3.10).
pub fn check_response(resp: &Response) -> Result<(), ResponseDefect> {
    let h = &resp.headers;
    let mut counts = [0usize; 5];
    let mut vias = 0usize;
    for hd in h.iter() {
        let i = match hd {
            Header::Via(v) => {
                vias += v.len();
                continue;
            }
            Header::CallId(_) => 0,
            Header::CSeq(_) => 1,
            Header::From(_) => 2,
            Header::To(_) => 3,
            Header::ContentLength(_) => 4,
            _ => continue,
        };
        counts[i] += 1;
    }
    let names = ["Call-ID", "CSeq", "From", "To", "Content-Length"];
    for (i, n) in names.iter().enumerate().take(4) {
        if counts[i] == 0 {
            return Err(ResponseDefect::Missing(n));
        }
    }
    if vias == 0 {
        return Err(ResponseDefect::Missing("Via"));
    }
    for (i, n) in names.iter().enumerate() {
        if counts[i] > 1 {
            return Err(ResponseDefect::Duplicate(n));
        }
    }
    for v in h.vias() {
        let bad = match &v.host {
            Host::Ipv4(a) => a.is_broadcast() || a.is_multicast() || a.is_unspecified(),
            Host::Ipv6(a) => a.is_multicast() || a.is_unspecified(),
            Host::Domain(_) => false,
        };
        let maddr = v.params.value("maddr").is_some();
        let received_bad = v
            .received()
            .and_then(|r| r.parse::<std::net::Ipv4Addr>().ok())
            .is_some_and(|a| a.is_broadcast() || a.is_unspecified());
        if (bad && !maddr) || received_bad {
            return Err(ResponseDefect::BadViaAddress);
        }
    }
    if vias > 1 {
        return Err(ResponseDefect::SeveralVias);
    }
    Ok(())
}

/// True when a received response must be dropped without processing.
pub fn should_drop_response(resp: &Response) -> bool {
    check_response(resp).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::message::parse::parse_datagram;
    use bytes::Bytes;

    fn req(s: &str) -> Request {
        match parse_datagram(Bytes::copy_from_slice(s.as_bytes())) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    const BASE: &str = "OPTIONS sip:user@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\r\n\
        To: sip:user@example.com\r\n\
        From: sip:caller@example.net;tag=1\r\n\
        Call-ID: abc@host\r\n\
        CSeq: 1 OPTIONS\r\n\
        Max-Forwards: 70\r\n\
        Content-Length: 0\r\n\r\n";

    fn status(s: &str) -> Option<u16> {
        validate_request(&req(s), &Policy::default())
            .err()
            .and_then(|r| r.status())
    }

    #[test]
    fn good_request_passes() {
        assert_eq!(validate_request(&req(BASE), &Policy::default()), Ok(()));
    }

    #[test]
    fn statuses() {
        assert_eq!(
            status(&BASE.replace("Call-ID: abc@host\r\n", "")),
            Some(400)
        );
        assert_eq!(
            status(&BASE.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE")),
            Some(400)
        );
        assert_eq!(
            status(
                &BASE
                    .replace("OPTIONS sip", "FOO sip")
                    .replace("1 OPTIONS", "1 FOO")
            ),
            Some(501)
        );
        assert_eq!(
            status(&BASE.replace("OPTIONS sip:user@example.com", "OPTIONS tel:+4712345678")),
            Some(416)
        );
        assert_eq!(
            status(&BASE.replace("Max-Forwards: 70", "Require: foo, 100rel")),
            Some(420)
        );
        let with_body = BASE.replace(
            "Content-Length: 0",
            "Content-Type: application/x-foo\r\nContent-Length: 2",
        ) + "hi";
        assert_eq!(status(&with_body), Some(415));
    }

    #[test]
    fn responses_carry_what_they_must() {
        let r = validate_request(
            &req(&BASE.replace("Max-Forwards: 70", "Require: foo")),
            &Policy::default(),
        )
        .expect_err("420");
        let resp = r.response().expect("respond");
        assert_eq!(
            resp.headers
                .raw_first(&HeaderName::Unsupported)
                .map(|s| s.as_str()),
            Some("foo")
        );
        assert!(resp.headers.to().and_then(|t| t.tag()).is_some());
        assert_eq!(resp.headers.call_id().map(|c| c.as_str()), Some("abc@host"));
        // The same request always gets the same To tag (retransmissions, RFC 3261 §8.2.6.2).
        let again = validate_request(
            &req(&BASE.replace("Max-Forwards: 70", "Require: foo")),
            &Policy::default(),
        )
        .expect_err("420");
        assert_eq!(
            again
                .response()
                .and_then(|r| r.headers.to())
                .and_then(|t| t.tag()),
            resp.headers.to().and_then(|t| t.tag())
        );
    }

    #[test]
    fn ack_is_never_answered() {
        let ack = BASE
            .replace("OPTIONS sip", "ACK sip")
            .replace("1 OPTIONS", "1 ACK")
            .replace("Call-ID: abc@host\r\n", "");
        assert!(matches!(
            validate_request(&req(&ack), &Policy::default()),
            Err(Rejection::Drop(_))
        ));
    }

    #[test]
    fn max_forwards_zero() {
        let p = Policy {
            local_domains: vec![SipStr::from("example.com")],
            ..Policy::default()
        };
        let zero = BASE.replace("Max-Forwards: 70", "Max-Forwards: 0");
        assert_eq!(validate_request(&req(&zero), &p), Ok(()));
        let elsewhere = zero.replace(
            "OPTIONS sip:user@example.com",
            "OPTIONS sip:user@example.org",
        );
        assert_eq!(
            validate_request(&req(&elsewhere), &p)
                .err()
                .and_then(|r| r.status()),
            Some(483)
        );
    }

    #[test]
    fn register_to_must_be_sip() {
        let r = req(&BASE.replace("To: sip:user@example.com", "To: isbn:2983792873"));
        assert_eq!(check_register_to(&r).err().map(|r| r.status.0), Some(400));
        assert!(check_register_to(&req(BASE)).is_ok());
    }
}
