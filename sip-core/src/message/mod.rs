//! SIP messages: the data model, the strict parser, the serializer and stateless
//! validation (RFC 3261 §7, §20, §25; RFC 4475 and RFC 5118 are the yardstick).
//!
//! This module owns the wire format; the rest of the stack sees typed values only.
//!
//! Entry points:
//! - `parse_datagram` (UDP), `frame_stream` + `parse_stream_message` (TCP/TLS framing by
//!   Content-Length, CRLF keep-alives); a `ParseError` says request (answer it with
//!   `ParseError::response`), response (drop) or not SIP (drop and count).
//! - `serialize::{to_bytes, to_vec, write_into}` and `Display` on every value.
//! - `validate_request` with a `Policy` (400/416/420/415/406/483/501 ready to send),
//!   `check_register_to` for the registrar, `should_drop_response`.
//! - `typed`: on-demand parsers for verbatim headers (`Headers::require()`, `accept()`,
//!   `content_type()`, `event()`, `refer_to()`, `replaces()`, `p_asserted_identity()`, …).

pub(crate) mod grammar;
pub mod header;
pub mod method;
pub mod name_addr;
pub mod params;
pub mod parse;
pub mod serialize;
pub mod text;
pub mod typed;
pub mod uri;
pub mod validate;
pub mod via;

pub use header::{Header, HeaderName, Headers};
pub use method::Method;
pub use name_addr::{Contact, NameAddr};
pub use params::{Param, Params};
pub use parse::{
    BadRequest, Framing, Limits, ParseError, Problem, RawRouting, frame_stream, parse_datagram,
    parse_stream_message,
};
pub use text::SipStr;
pub use typed::{
    DateError, Event, HeaderError, MediaType, ProductItem, Replaces, SipDate, SubscriptionState,
};
pub use uri::{Host, OtherUri, SipUri, TelUri, Uri};
pub use validate::{
    Policy, Rejection, ResponseDefect, check_register_to, check_response, should_drop_response,
    stateless_response, validate_request,
};
pub use via::Via;

use bytes::Bytes;

/// CSeq: sequence number (31 bits per RFC 3261 §8.1.1.5 when generated; up to 2^32-1
/// accepted) and method.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

/// A response status code, 100–699.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(pub u16);

impl StatusCode {
    pub fn is_provisional(self) -> bool {
        self.0 < 200
    }
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.0)
    }
    pub fn is_final(self) -> bool {
        self.0 >= 200
    }
    /// The reason phrase Sentral writes for a code it originates.
    pub fn default_reason(self) -> &'static str {
        match self.0 {
            100 => "Trying",
            180 => "Ringing",
            181 => "Call Is Being Forwarded",
            182 => "Queued",
            183 => "Session Progress",
            200 => "OK",
            202 => "Accepted",
            301 => "Moved Permanently",
            302 => "Moved Temporarily",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            406 => "Not Acceptable",
            407 => "Proxy Authentication Required",
            408 => "Request Timeout",
            415 => "Unsupported Media Type",
            416 => "Unsupported URI Scheme",
            420 => "Bad Extension",
            423 => "Interval Too Brief",
            480 => "Temporarily Unavailable",
            481 => "Call/Transaction Does Not Exist",
            482 => "Loop Detected",
            483 => "Too Many Hops",
            484 => "Address Incomplete",
            486 => "Busy Here",
            487 => "Request Terminated",
            488 => "Not Acceptable Here",
            491 => "Request Pending",
            500 => "Server Internal Error",
            501 => "Not Implemented",
            503 => "Service Unavailable",
            504 => "Server Time-out",
            505 => "Version Not Supported",
            513 => "Message Too Large",
            600 => "Busy Everywhere",
            603 => "Decline",
            _ => match self.0 / 100 {
                1 => "Session Progress",
                2 => "OK",
                3 => "Redirection",
                4 => "Request Failure",
                5 => "Server Failure",
                _ => "Global Failure",
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: Headers,
    /// The body, byte-exact (binary bodies are never converted).
    pub body: Bytes,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: StatusCode,
    /// Reason phrase as received (may be empty or UTF-8).
    pub reason: SipStr,
    pub headers: Headers,
    pub body: Bytes,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Message {
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        }
    }

    pub fn body(&self) -> &Bytes {
        match self {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }
}

impl Request {
    pub fn new(method: Method, uri: Uri) -> Self {
        Request {
            method,
            uri,
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }
}

impl Response {
    /// A response with the default reason phrase and no headers.
    pub fn new(status: u16) -> Self {
        let status = StatusCode(status);
        Response {
            status,
            reason: SipStr::from_static(status.default_reason()),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// A response to `req` per RFC 3261 §8.2.6.2: copies Via (all values, in order),
    /// From, To, Call-ID and CSeq; the caller adds a To tag where one is needed.
    pub fn to_request(req: &Request, status: u16) -> Self {
        let copied = |h: &&Header| {
            matches!(
                h,
                Header::Via(_)
                    | Header::From(_)
                    | Header::To(_)
                    | Header::CallId(_)
                    | Header::CSeq(_)
            )
        };
        let mut resp = Response::new(status);
        // Room for what the caller usually adds (a challenge, Contact, Date, Allow…):
        // growing a vector of headers one push at a time was a visible cost per answer.
        let n = req.headers.iter().filter(copied).count();
        resp.headers.0.reserve_exact(n + 6);
        resp.headers
            .0
            .extend(req.headers.iter().filter(copied).cloned());
        resp
    }
}
