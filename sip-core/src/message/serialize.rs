//! Writing messages and every typed value back to the wire (RFC 3261 §7, §25).
//!
//! Canonical long header names, one header line per `Header` entry (several values joined
//! with ", "), IPv6 hosts in brackets, verbatim values written as received, and a
//! Content-Length always computed from the body (any stale one is replaced in place, or
//! one is appended). `parse(serialize(m)) == m` for every message the parser produced,
//! except that a message without Content-Length gains one.

use super::header::{Header, Headers};
use super::name_addr::{Contact, NameAddr};
use super::params::Params;
use super::uri::{Host, OtherUri, SipUri, TelUri, Uri};
use super::via::Via;
use super::{CSeq, Message, Request, Response};
use bytes::{BufMut, Bytes, BytesMut};
use std::fmt::{self, Write as _};

/// Something that writes itself in wire form.
pub trait WriteWire {
    fn write_wire(&self, out: &mut Vec<u8>);

    /// The wire form as a `String` (every SIP value is UTF-8).
    fn to_wire_string(&self) -> String {
        // Most URIs and header values fit: one allocation instead of a growth series.
        let mut v = Vec::with_capacity(64);
        self.write_wire(&mut v);
        match String::from_utf8(v) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }
}

#[inline]
fn put(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

/// Writes `n` in decimal without allocating.
fn put_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

impl WriteWire for Host {
    fn write_wire(&self, out: &mut Vec<u8>) {
        match self {
            Host::Domain(d) => put(out, d),
            Host::Ipv4(a) => {
                let o = a.octets();
                for (i, b) in o.iter().enumerate() {
                    if i > 0 {
                        out.push(b'.');
                    }
                    put_u64(out, u64::from(*b));
                }
            }
            // RFC 5118 §4.1: IPv6 references are always bracketed in URIs and Via.
            Host::Ipv6(a) => {
                out.push(b'[');
                let _ = write!(VecWriter(out), "{a}");
                out.push(b']');
            }
        }
    }
}

/// `fmt::Write` adapter over a byte vector.
struct VecWriter<'a>(&'a mut Vec<u8>);

impl fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

impl WriteWire for Params {
    fn write_wire(&self, out: &mut Vec<u8>) {
        for p in self.iter() {
            out.push(b';');
            put(out, &p.name);
            if let Some(v) = &p.value {
                out.push(b'=');
                put(out, v);
            }
        }
    }
}

impl WriteWire for SipUri {
    fn write_wire(&self, out: &mut Vec<u8>) {
        put(out, if self.secure { "sips:" } else { "sip:" });
        if let Some(u) = &self.user {
            put(out, u);
            if let Some(p) = &self.password {
                out.push(b':');
                put(out, p);
            }
            out.push(b'@');
        }
        self.host.write_wire(out);
        if let Some(p) = self.port {
            out.push(b':');
            put_u64(out, u64::from(p));
        }
        self.params.write_wire(out);
        if let Some(h) = &self.headers {
            out.push(b'?');
            put(out, h);
        }
    }
}

impl WriteWire for TelUri {
    fn write_wire(&self, out: &mut Vec<u8>) {
        put(out, "tel:");
        put(out, &self.number);
        self.params.write_wire(out);
    }
}

impl WriteWire for OtherUri {
    fn write_wire(&self, out: &mut Vec<u8>) {
        put(out, &self.scheme);
        out.push(b':');
        put(out, &self.opaque);
    }
}

impl WriteWire for Uri {
    fn write_wire(&self, out: &mut Vec<u8>) {
        match self {
            Uri::Sip(u) => u.write_wire(out),
            Uri::Tel(u) => u.write_wire(out),
            Uri::Other(u) => u.write_wire(out),
        }
    }
}

impl WriteWire for NameAddr {
    /// Always the `name-addr` form with `<>`, which is unambiguous for any URI
    /// (RFC 3261 §20.10).
    fn write_wire(&self, out: &mut Vec<u8>) {
        if let Some(d) = &self.display_name {
            put(out, d);
            out.push(b' ');
        }
        out.push(b'<');
        self.uri.write_wire(out);
        out.push(b'>');
        self.params.write_wire(out);
    }
}

impl WriteWire for Contact {
    fn write_wire(&self, out: &mut Vec<u8>) {
        match self {
            Contact::Star => out.push(b'*'),
            Contact::Addr(a) => a.write_wire(out),
        }
    }
}

impl WriteWire for Via {
    fn write_wire(&self, out: &mut Vec<u8>) {
        put(out, &self.protocol);
        out.push(b'/');
        put(out, &self.version);
        out.push(b'/');
        put(out, &self.transport);
        out.push(b' ');
        self.host.write_wire(out);
        if let Some(p) = self.port {
            out.push(b':');
            put_u64(out, u64::from(p));
        }
        self.params.write_wire(out);
    }
}

impl WriteWire for CSeq {
    fn write_wire(&self, out: &mut Vec<u8>) {
        put_u64(out, u64::from(self.seq));
        out.push(b' ');
        put(out, self.method.as_str());
    }
}

fn write_list<T: WriteWire>(out: &mut Vec<u8>, items: &[T]) {
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            put(out, ", ");
        }
        it.write_wire(out);
    }
}

impl Header {
    /// Writes the value (no name, no CRLF).
    pub fn write_value(&self, out: &mut Vec<u8>) {
        match self {
            Header::Via(v) => write_list(out, v),
            Header::From(a) | Header::To(a) => a.write_wire(out),
            Header::CallId(c) => put(out, c),
            Header::CSeq(c) => c.write_wire(out),
            Header::Contact(c) => write_list(out, c),
            Header::Route(r) | Header::RecordRoute(r) => write_list(out, r),
            Header::MaxForwards(n)
            | Header::ContentLength(n)
            | Header::Expires(n)
            | Header::MinExpires(n) => put_u64(out, u64::from(*n)),
            Header::Other(_, v) => put(out, v),
        }
    }
}

impl WriteWire for Header {
    /// `Name: value` without the CRLF.
    fn write_wire(&self, out: &mut Vec<u8>) {
        put(out, self.name().as_str());
        put(out, ": ");
        self.write_value(out);
    }
}

/// Writes the header lines, replacing every Content-Length with one computed from
/// `body_len` at the place of the first (or at the end).
fn write_headers(out: &mut Vec<u8>, headers: &Headers, body_len: usize) {
    let mut cl_written = false;
    for h in headers.iter() {
        let is_cl = matches!(h, Header::ContentLength(_))
            || matches!(h, Header::Other(n, _) if *n == super::HeaderName::ContentLength);
        if is_cl {
            if !cl_written {
                put(out, "Content-Length: ");
                put_u64(out, body_len as u64);
                put(out, "\r\n");
                cl_written = true;
            }
            continue;
        }
        h.write_wire(out);
        put(out, "\r\n");
    }
    if !cl_written {
        put(out, "Content-Length: ");
        put_u64(out, body_len as u64);
        put(out, "\r\n");
    }
    put(out, "\r\n");
}

impl WriteWire for Request {
    fn write_wire(&self, out: &mut Vec<u8>) {
        put(out, self.method.as_str());
        out.push(b' ');
        self.uri.write_wire(out);
        put(out, " SIP/2.0\r\n");
        write_headers(out, &self.headers, self.body.len());
        out.extend_from_slice(&self.body);
    }
}

impl WriteWire for Response {
    fn write_wire(&self, out: &mut Vec<u8>) {
        put(out, "SIP/2.0 ");
        put_u64(out, u64::from(self.status.0));
        out.push(b' ');
        put(out, &self.reason);
        put(out, "\r\n");
        write_headers(out, &self.headers, self.body.len());
        out.extend_from_slice(&self.body);
    }
}

impl WriteWire for Message {
    fn write_wire(&self, out: &mut Vec<u8>) {
        match self {
            Message::Request(r) => r.write_wire(out),
            Message::Response(r) => r.write_wire(out),
        }
    }
}

/// A typical header section plus body fits; avoids regrowing for most messages.
fn capacity_hint(m: &Message) -> usize {
    512 + m.headers().len() * 48 + m.body().len()
}

/// Serializes `message` into a new `Vec<u8>`.
pub fn to_vec(message: &Message) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity_hint(message));
    message.write_wire(&mut out);
    out
}

/// Serializes `message` into `Bytes` ready for a socket.
///
/// The bytes are written into a per-thread scratch buffer and copied out at their exact
/// length: one allocation, and no unused capacity kept alive by a completed transaction
/// that holds its response for retransmissions (32 s over UDP).
pub fn to_bytes(message: &Message) -> Bytes {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            buf.reserve(capacity_hint(message));
            message.write_wire(&mut buf);
            let bytes = Bytes::copy_from_slice(&buf);
            // A huge message (a large SDP body) must not pin its buffer for the
            // thread's life.
            if buf.capacity() > 64 * 1024 {
                *buf = Vec::new();
            }
            bytes
        }
        // Re-entered (cannot happen from write_wire, but cheap to allow).
        Err(_) => Bytes::from(to_vec(message)),
    })
}

/// Appends `message` to `buf`.
pub fn write_into(message: &Message, buf: &mut BytesMut) {
    buf.put_slice(&to_vec(message));
}

macro_rules! display_via_wire {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut v = Vec::new();
                self.write_wire(&mut v);
                f.write_str(&String::from_utf8_lossy(&v))
            }
        }
    )*};
}

display_via_wire!(
    Host, Params, SipUri, TelUri, OtherUri, Uri, NameAddr, Contact, Via, CSeq, Header, Request,
    Response, Message
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse::parse_datagram;

    #[test]
    fn content_length_is_recomputed() {
        let raw = "OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1\r\n\
                   l: 0\r\nCall-ID: x\r\n\r\n";
        let Ok(Message::Request(mut r)) = parse_datagram(Bytes::from_static(raw.as_bytes())) else {
            panic!("parses")
        };
        r.body = Bytes::from_static(b"hello");
        let out = Message::Request(r).to_string();
        assert!(out.contains("Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1\r\nContent-Length: 5\r\nCall-ID: x\r\n\r\nhello"));
    }
}
