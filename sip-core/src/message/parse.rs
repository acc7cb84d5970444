//! The strict SIP message parser (RFC 3261 §7, §20, §25) and stream framing (§18.3).
//!
//! It owns turning bytes into a `Message`: start line, header lines (compact names,
//! folding, several values per line), the typed values the stack needs (Via, From, To,
//! Call-ID, CSeq, Contact, Route, Record-Route, Max-Forwards, Content-Length, Expires,
//! Min-Expires) and the body, byte-exact. Every other header is kept verbatim. It never
//! answers anything itself: a `ParseError` says what the input looked like so the
//! transport can answer (`ParseError::response`), drop, or count it.
//!
//! Line ends: CRLF, and also a bare LF (RFC 3261 §7 requires CRLF; we accept LF as a line
//! end for robustness, as most stacks do, since Sentral re-serialises every message with
//! CRLF and so cannot smuggle a different header split to the next hop). A bare CR
//! anywhere in the header section is an error.
//!
//! Content-Length: on a datagram it frames the body and trailing octets are discarded
//! (RFC 3261 §18.3, RFC 4475 §3.1.1.8); without it the body runs to the end of the
//! datagram (RFC 4475 §3.4.1). On a stream it is mandatory.

mod error;

pub(crate) use error::stateless_tag;
pub use error::{BadRequest, ParseError, Problem, RawRouting};

use super::grammar::{
    self, Src, for_each_element, is_digits, is_token, parse_contact, parse_cseq, parse_name_addr,
    parse_u32, parse_uri, parse_via, trim_end_ws, trim_ws,
};
use super::header::{Header, HeaderName, Headers};
use super::method::Method;
use super::text::SipStr;
use super::uri::Uri;
use super::{Message, Request, Response, StatusCode};
use bytes::Bytes;

/// Largest message accepted (RFC 3261 §18.1.1 talks of 64 KiB as the UDP ceiling).
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024;
/// Most header fields (logical lines) accepted in one message.
pub const MAX_HEADER_LINES: usize = 256;
/// Most Via values accepted in one message.
pub const MAX_VIA_VALUES: usize = 100;

/// Size limits; `Limits::DEFAULT` uses the constants above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_message_size: usize,
    pub max_header_lines: usize,
    pub max_vias: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_message_size: MAX_MESSAGE_SIZE,
        max_header_lines: MAX_HEADER_LINES,
        max_vias: MAX_VIA_VALUES,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// What the front of a stream buffer holds (RFC 3261 §18.3, RFC 5626 §3.5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Not enough bytes yet to know; read more.
    NeedMore,
    /// `n` bytes of keep-alive to consume: 4 is a CRLFCRLF ping (answer it with one CRLF),
    /// 2 a single CRLF (a pong, or a stray CRLF before a start line; never answered),
    /// 1 a bare LF. A ping split across two reads shows up as two single CRLFs.
    KeepAlive(usize),
    /// A complete message of this many bytes is at the front; hand exactly those bytes
    /// to `parse_stream_message`.
    Message(usize),
    /// Framing is lost (no, negative, duplicate or absurd Content-Length; oversized
    /// header section): answer if `ParseError::response` gives a response, then close
    /// the connection.
    Error(ParseError),
}

/// Parses one UDP datagram (RFC 3261 §18.3: trailing octets after Content-Length are
/// discarded; without Content-Length the body runs to the end of the datagram).
pub fn parse_datagram(buf: Bytes) -> Result<Message, ParseError> {
    parse_datagram_with(buf, &Limits::DEFAULT)
}

/// `parse_datagram` with explicit limits.
pub fn parse_datagram_with(buf: Bytes, limits: &Limits) -> Result<Message, ParseError> {
    parse_message(buf, Transport::Datagram, limits)
}

/// Parses exactly one message cut from a stream by `frame_stream` (Content-Length
/// mandatory and equal to the bytes after the header section).
pub fn parse_stream_message(buf: Bytes) -> Result<Message, ParseError> {
    parse_stream_message_with(buf, &Limits::DEFAULT)
}

/// `parse_stream_message` with explicit limits.
pub fn parse_stream_message_with(buf: Bytes, limits: &Limits) -> Result<Message, ParseError> {
    parse_message(buf, Transport::Stream, limits)
}

/// Finds the first message (or keep-alive) at the front of a stream buffer.
pub fn frame_stream(buf: &[u8]) -> Framing {
    frame_stream_with(buf, &Limits::DEFAULT)
}

/// `frame_stream` with explicit limits.
pub fn frame_stream_with(buf: &[u8], limits: &Limits) -> Framing {
    match buf {
        [] | [b'\r'] | [b'\r', b'\n', b'\r'] => return Framing::NeedMore,
        [b'\r', b'\n', b'\r', b'\n', ..] => return Framing::KeepAlive(4),
        [b'\r', b'\n', ..] => return Framing::KeepAlive(2),
        [b'\n', ..] => return Framing::KeepAlive(1),
        [b'\r', ..] => return Framing::Error(fail(buf, Problem::StartLine, limits)),
        _ => {}
    }
    let mut p = 0;
    let mut content_length: Option<Result<usize, Problem>> = None;
    let mut first = true;
    let mut lines = 0usize;
    loop {
        let Some((le, next)) = find_line(buf, p) else {
            if buf.len() > limits.max_message_size {
                return Framing::Error(fail(buf, Problem::TooLarge, limits));
            }
            return Framing::NeedMore;
        };
        let Ok(line_end) = le else {
            return Framing::Error(fail(buf, Problem::HeaderLine, limits));
        };
        if next > limits.max_message_size {
            return Framing::Error(fail(buf, Problem::TooLarge, limits));
        }
        if line_end == p && !first {
            // End of the header section.
            let cl = match content_length {
                None => return Framing::Error(fail(buf, Problem::MissingContentLength, limits)),
                Some(Err(problem)) => return Framing::Error(fail(buf, problem, limits)),
                Some(Ok(n)) => n,
            };
            let total = next.saturating_add(cl);
            if total > limits.max_message_size {
                return Framing::Error(fail(buf, Problem::TooLarge, limits));
            }
            if buf.len() < total {
                return Framing::NeedMore;
            }
            return Framing::Message(total);
        }
        if !first {
            lines += 1;
            if lines > limits.max_header_lines.saturating_mul(4) {
                return Framing::Error(fail(buf, Problem::TooManyHeaders, limits));
            }
            let line = buf.get(p..line_end).unwrap_or_default();
            if let Some(value) = content_length_value(line) {
                let parsed = match content_length {
                    Some(_) => Err(Problem::DuplicateContentLength),
                    None => parse_content_length(value).map(|n| n as usize),
                };
                content_length = Some(match (content_length, parsed) {
                    (Some(Err(e)), _) => Err(e),
                    (_, r) => r,
                });
            }
        }
        first = false;
        p = next;
    }
}

/// If `line` is a Content-Length header line (long or compact name), its value. A folded
/// Content-Length value is not supported by the framer and fails in the parser.
fn content_length_value(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = line.get(..colon)?;
    let name_end = name
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    let name = name.get(..name_end)?;
    if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
        line.get(colon + 1..)
    } else {
        None
    }
}

fn parse_content_length(value: &[u8]) -> Result<u32, Problem> {
    let v = std::str::from_utf8(value).map_err(|_| Problem::Header(HeaderName::ContentLength))?;
    let v = trim_ws(v);
    if v.strip_prefix('-').is_some_and(is_digits) {
        return Err(Problem::NegativeContentLength);
    }
    parse_u32(v).ok_or(Problem::Header(HeaderName::ContentLength))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Datagram,
    Stream,
}

/// What a start line looks like, decided before parsing it strictly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Request,
    Response,
    NotSip,
}

fn starts_with_sip_slash(b: &[u8]) -> bool {
    b.len() >= 4 && b[..4].eq_ignore_ascii_case(b"SIP/")
}

fn classify(line: &[u8]) -> Kind {
    if starts_with_sip_slash(line) {
        return Kind::Response;
    }
    let end = line
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t' && b != b'\r')
        .map_or(0, |i| i + 1);
    let line = &line[..end];
    let first_sp = line.iter().position(|&b| b == b' ');
    let last_sp = line.iter().rposition(|&b| b == b' ');
    match (first_sp, last_sp) {
        (Some(f), Some(l)) if f > 0 && l > f && starts_with_sip_slash(&line[l + 1..]) => {
            if line[..f].iter().all(|&b| grammar::is_token_char(b)) {
                Kind::Request
            } else {
                Kind::NotSip
            }
        }
        _ => Kind::NotSip,
    }
}

/// Finds the end of the line starting at `p`: `(Ok(line_end) | Err(()), next_line_start)`.
/// `Err` when a bare CR sits inside the line. `None` when no LF follows.
fn find_line(b: &[u8], p: usize) -> Option<(Result<usize, ()>, usize)> {
    let rest = b.get(p..)?;
    let mut bad_cr = false;
    for (i, &c) in rest.iter().enumerate() {
        if c <= b'\r' {
            if c == b'\n' {
                let nl = p + i;
                let end = if i > 0 && rest[i - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                };
                return Some((if bad_cr { Err(()) } else { Ok(end) }, nl + 1));
            }
            if c == b'\r' && rest.get(i + 1) != Some(&b'\n') {
                bad_cr = true;
            }
        }
    }
    None
}

fn first_line(buf: &[u8]) -> &[u8] {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let rest = &buf[start..];
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let line = &rest[..end];
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Builds the error for `buf`, classifying the start line and, for a request, salvaging
/// what a stateless answer needs.
fn fail(buf: &[u8], problem: Problem, limits: &Limits) -> ParseError {
    let line = first_line(buf);
    match classify(line) {
        Kind::Response => ParseError::Response(problem),
        Kind::NotSip => ParseError::NotSip(problem),
        Kind::Request => {
            let status = match &problem {
                Problem::Version(_) => 505,
                Problem::TooLarge => 513,
                _ => 400,
            };
            let method = line
                .iter()
                .position(|&b| b == b' ')
                .and_then(|i| std::str::from_utf8(&line[..i]).ok())
                .filter(|m| is_token(m))
                .map(SipStr::from);
            ParseError::Request(Box::new(BadRequest {
                status: StatusCode(status),
                problem,
                method,
                raw: salvage(buf, limits),
            }))
        }
    }
}

/// Tolerant scan of the header section for the lines a stateless response copies.
fn salvage(buf: &[u8], limits: &Limits) -> RawRouting {
    let buf = &buf[..buf.len().min(limits.max_message_size)];
    let mut raw = RawRouting::default();
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let mut lines = buf[start..]
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let _start_line = lines.next();
    let mut logical: Vec<Vec<u8>> = Vec::new();
    for l in lines {
        if l.is_empty() {
            break;
        }
        if matches!(l.first(), Some(b' ' | b'\t')) {
            if let Some(last) = logical.last_mut() {
                last.push(b' ');
                last.extend_from_slice(l.trim_ascii());
            }
            continue;
        }
        if logical.len() >= limits.max_header_lines {
            break;
        }
        logical.push(l.to_vec());
    }
    for l in logical {
        let Some(colon) = l.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = l[..colon].trim_ascii();
        let value = SipStr::from(String::from_utf8_lossy(l[colon + 1..].trim_ascii()).into_owned());
        let is = |long: &[u8], short: &[u8]| {
            name.eq_ignore_ascii_case(long) || name.eq_ignore_ascii_case(short)
        };
        if is(b"via", b"v") {
            if raw.via.len() < limits.max_vias {
                raw.via.push(value);
            }
        } else if is(b"from", b"f") {
            raw.from.get_or_insert(value);
        } else if is(b"to", b"t") {
            raw.to.get_or_insert(value);
        } else if is(b"call-id", b"i") {
            raw.call_id.get_or_insert(value);
        } else if name.eq_ignore_ascii_case(b"cseq") {
            raw.cseq.get_or_insert(value);
        }
    }
    raw
}

enum StartLine {
    Request(Method, Uri),
    Response(StatusCode, SipStr),
}

/// `SIP/2.0` (the literal is case-insensitive, RFC 3261 §25.1 ABNF); `Err` carries an
/// unsupported but well-formed version for a 505.
fn check_version(v: &str) -> Result<(), Option<&str>> {
    if v.len() < 5 || !v.as_bytes()[..4].eq_ignore_ascii_case(b"SIP/") {
        return Err(None);
    }
    let num = &v[4..];
    match num.split_once('.') {
        Some((a, b)) if is_digits(a) && is_digits(b) => {
            if parse_u32(a) == Some(2) && parse_u32(b) == Some(0) {
                Ok(())
            } else {
                Err(Some(v))
            }
        }
        _ => Err(None),
    }
}

fn parse_start_line(line: &SipStr) -> Result<StartLine, Problem> {
    let src = Src::new(line);
    let s = line.as_str();
    if starts_with_sip_slash(s.as_bytes()) {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let (version, rest) = s.split_once(' ').ok_or(Problem::StatusLine)?;
        match check_version(version) {
            Ok(()) => {}
            Err(Some(v)) => return Err(Problem::Version(src.s(v))),
            Err(None) => return Err(Problem::StatusLine),
        }
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 || !is_digits(code) {
            return Err(Problem::StatusCode);
        }
        let code = parse_u32(code).ok_or(Problem::StatusCode)?;
        if !(100..=699).contains(&code) {
            return Err(Problem::StatusCode);
        }
        if reason
            .bytes()
            .any(|c| (c < 0x20 && c != b'\t') || c == 0x7f)
        {
            return Err(Problem::StatusLine);
        }
        return Ok(StartLine::Response(StatusCode(code as u16), src.s(reason)));
    }
    // Request-Line = Method SP Request-URI SP SIP-Version (single SPs, RFC 4475 §3.1.2.9,
    // §3.1.2.10).
    let sp = grammar::find_byte(s, b' ').ok_or(Problem::StartLine)?;
    let (method, rest) = (
        s.get(..sp).unwrap_or_default(),
        s.get(sp + 1..).unwrap_or_default(),
    );
    let (uri, version) = rest.rsplit_once(' ').ok_or(Problem::RequestLine)?;
    match check_version(version) {
        Ok(()) => {}
        Err(Some(v)) => return Err(Problem::Version(src.s(v))),
        Err(None) => return Err(Problem::RequestLine),
    }
    if !is_token(method) {
        return Err(Problem::RequestLine);
    }
    if uri.is_empty() || uri.starts_with(' ') || uri.ends_with(' ') {
        return Err(Problem::RequestLine);
    }
    if uri.contains(' ') {
        // RFC 4475 §3.1.2.8: LWS inside the Request-URI.
        return Err(Problem::RequestUri);
    }
    let uri = parse_uri(src, uri).ok_or(Problem::RequestUri)?;
    if let Uri::Sip(u) = &uri
        && u.headers.is_some()
    {
        // RFC 3261 §19.1.1 table: headers are not allowed in a Request-URI
        // (RFC 4475 §3.1.2.11).
        return Err(Problem::RequestUriHeaders);
    }
    Ok(StartLine::Request(Method::from_token(&src.s(method)), uri))
}

/// One logical header line `name: value` (already unfolded, a slice of `src`) parsed and
/// appended to `out` (built in place: `Header` is large, so no `Result<Header>` moves).
fn parse_header(
    src: Src<'_>,
    s: &str,
    out: &mut Vec<Header>,
    vias: &mut usize,
    content_length: &mut Option<u32>,
) -> Result<(), Problem> {
    let colon = grammar::find_byte(s, b':').ok_or(Problem::HeaderLine)?;
    let name_str = trim_end_ws(s.get(..colon).ok_or(Problem::HeaderLine)?);
    if !is_token(name_str) {
        return Err(Problem::HeaderLine);
    }
    let value = trim_ws(s.get(colon + 1..).ok_or(Problem::HeaderLine)?);
    let name = match HeaderName::lookup(name_str) {
        Some(n) => n,
        None => {
            out.push(Header::Other(
                HeaderName::Other(src.s(name_str)),
                src.s(value),
            ));
            return Ok(());
        }
    };
    let bad = || Problem::Header(name.clone());
    let h = match name {
        HeaderName::Via => {
            let mut list = Vec::with_capacity(1);
            for_each_element(value, |p| {
                list.push(parse_via(src, p)?);
                Some(())
            })
            .ok_or_else(bad)?;
            *vias += list.len();
            Header::Via(list)
        }
        HeaderName::From => Header::From(parse_name_addr(src, value).ok_or_else(bad)?),
        HeaderName::To => Header::To(parse_name_addr(src, value).ok_or_else(bad)?),
        HeaderName::CallId => {
            if !grammar::is_call_id(value) {
                return Err(bad());
            }
            Header::CallId(src.s(value))
        }
        HeaderName::CSeq => Header::CSeq(parse_cseq(src, value).ok_or_else(bad)?),
        HeaderName::Contact => {
            let mut list = Vec::with_capacity(1);
            for_each_element(value, |p| {
                list.push(parse_contact(src, p)?);
                Some(())
            })
            .ok_or_else(bad)?;
            // `*` stands alone (RFC 3261 §10.2.2).
            if list.len() > 1 && list.iter().any(|c| matches!(c, super::Contact::Star)) {
                return Err(bad());
            }
            Header::Contact(list)
        }
        HeaderName::Route | HeaderName::RecordRoute => {
            let mut list = Vec::with_capacity(1);
            for_each_element(value, |p| {
                list.push(parse_name_addr(src, p)?);
                Some(())
            })
            .ok_or_else(bad)?;
            if matches!(name, HeaderName::Route) {
                Header::Route(list)
            } else {
                Header::RecordRoute(list)
            }
        }
        HeaderName::MaxForwards => {
            // RFC 3261 §20.22: 0-255 (RFC 4475 §3.1.2.4).
            let v = parse_u32(value).filter(|v| *v <= 255).ok_or_else(bad)?;
            Header::MaxForwards(v)
        }
        HeaderName::ContentLength => {
            if content_length.is_some() {
                return Err(Problem::DuplicateContentLength);
            }
            let v = parse_content_length(value.as_bytes())?;
            *content_length = Some(v);
            Header::ContentLength(v)
        }
        HeaderName::Expires | HeaderName::MinExpires => {
            if !is_digits(value) {
                return Err(bad());
            }
            // Over 2^32-1: kept verbatim so `expires()` is None and the default applies
            // (RFC 4475 §3.1.2.4).
            match parse_u32(value) {
                Some(v) if matches!(name, HeaderName::Expires) => Header::Expires(v),
                Some(v) => Header::MinExpires(v),
                None => Header::Other(name, src.s(value)),
            }
        }
        other => Header::Other(other, src.s(value)),
    };
    out.push(h);
    Ok(())
}

/// UTF-8 text of `buf[range]` sharing the buffer.
fn text(buf: &Bytes, start: usize, end: usize) -> Result<SipStr, Problem> {
    SipStr::from_utf8(buf.slice(start..end)).map_err(|_| Problem::NotUtf8)
}

/// Unfolds a header field spanning several physical lines (RFC 3261 §7.3.1: the CRLF and
/// the whitespace around it become one SP).
fn unfold(raw: &str) -> SipStr {
    let mut out = String::with_capacity(raw.len());
    for (i, piece) in raw.split('\n').enumerate() {
        let piece = piece.strip_suffix('\r').unwrap_or(piece);
        if i == 0 {
            out.push_str(trim_end_ws(piece));
        } else {
            let t = trim_ws(piece);
            if !t.is_empty() {
                out.push(' ');
                out.push_str(t);
            }
        }
    }
    SipStr::from(out)
}

fn parse_message(buf: Bytes, transport: Transport, limits: &Limits) -> Result<Message, ParseError> {
    parse_inner(&buf, transport, limits).map_err(|problem| fail(&buf, problem, limits))
}

/// Where the header section ends: `(end of the last header line's text, body start)`.
/// `from` is the start of the first header line (just after the start line).
///
/// `crlfs` counts the LFs visited (at or after `from`) that a CR at or after `from`
/// precedes, so the caller can check for bare CRs with one counting pass instead of a
/// search per CR. When `None` is returned every LF after `from` has been visited.
fn header_section_end(b: &[u8], from: usize, crlfs: &mut usize) -> Option<(usize, usize)> {
    if let Some(rest) = b.get(from..) {
        // No headers at all: the empty line follows the start line directly.
        if rest.starts_with(b"\r\n") {
            return Some((from, from + 2));
        }
        if rest.starts_with(b"\n") {
            return Some((from, from + 1));
        }
    }
    for nl in memchr::memchr_iter(b'\n', b.get(from..)?).map(|i| i + from) {
        if nl > from && b.get(nl - 1) == Some(&b'\r') {
            *crlfs += 1;
        }
        match b.get(nl + 1..) {
            Some([b'\r', b'\n', ..]) => return Some((nl + 1, nl + 3)),
            Some([b'\n', ..]) => return Some((nl + 1, nl + 2)),
            _ => {}
        }
    }
    None
}

fn parse_inner(buf: &Bytes, transport: Transport, limits: &Limits) -> Result<Message, Problem> {
    let b: &[u8] = buf;
    if b.len() > limits.max_message_size {
        return Err(Problem::TooLarge);
    }
    // RFC 3261 §7.5: CRLFs before the start line are ignored.
    let p0 = b
        .iter()
        .position(|&c| c != b'\r' && c != b'\n')
        .ok_or(Problem::Empty)?;
    let (le, next) = find_line(b, p0).ok_or(Problem::Unterminated)?;
    let le = le.map_err(|()| Problem::StartLine)?;
    let start = parse_start_line(&text(buf, p0, le)?)?;

    // Without the empty line, the complete header lines are still parsed so the error
    // names a malformed header first (RFC 4475 §3.1.2.15 baddn.dat also lacks the empty
    // line); the partial last line is not looked at.
    let mut crlfs = 0usize;
    let (section_end, body_start) = match header_section_end(b, next, &mut crlfs) {
        Some((end, body)) => (end, Some(body)),
        None => (
            memchr::memrchr(b'\n', b).map_or(next, |i| (i + 1).max(next)),
            None,
        ),
    };
    let section = b.get(next..section_end).ok_or(Problem::Unterminated)?;
    // A CR must end a line (bare LF is tolerated, bare CR never: it could split a header
    // differently at the next hop). The section ends with its last LF (or is empty), and
    // `header_section_end` counted the CRLFs in it: any CR beyond those is a bare one.
    if memchr::memchr_iter(b'\r', section).count() != crlfs {
        return Err(Problem::HeaderLine);
    }
    if matches!(section.first(), Some(b' ' | b'\t')) {
        // A continuation line with nothing to continue.
        return Err(Problem::HeaderLine);
    }
    // One UTF-8 check and one shared buffer for the whole header section.
    let base = text(buf, next, section_end)?;
    let src = Src::new(&base);
    let sec = base.as_str();
    let sb = sec.as_bytes();

    let mut headers = Vec::with_capacity(16);
    let mut vias = 0usize;
    let mut content_length = None;
    let mut p = 0usize;
    // One memchr iterator over the whole section finds every line end.
    let mut newlines = memchr::memchr_iter(b'\n', sb);
    while p < sb.len() {
        // The logical line runs to the first LF not followed by SP/HT.
        let mut folded = false;
        let end = loop {
            match newlines.next() {
                Some(nl) => {
                    if matches!(sb.get(nl + 1), Some(b' ' | b'\t')) {
                        folded = true;
                        continue;
                    }
                    break nl;
                }
                None => break sb.len(),
            }
        };
        let line_end = if end > p && sb.get(end - 1) == Some(&b'\r') {
            end - 1
        } else {
            end
        };
        if headers.len() >= limits.max_header_lines {
            return Err(Problem::TooManyHeaders);
        }
        let line = sec.get(p..line_end).ok_or(Problem::HeaderLine)?;
        if folded {
            let unfolded = unfold(line);
            parse_header(
                Src::new(&unfolded),
                &unfolded,
                &mut headers,
                &mut vias,
                &mut content_length,
            )?;
        } else {
            parse_header(src, line, &mut headers, &mut vias, &mut content_length)?;
        }
        if vias > limits.max_vias {
            return Err(Problem::TooManyVias);
        }
        p = end + 1;
    }

    let body_start = body_start.ok_or(Problem::Unterminated)?;
    let available = b.len() - body_start;
    let body = match (content_length, transport) {
        (Some(cl), _) => {
            let cl = cl as usize;
            if cl > available {
                return Err(Problem::ContentLengthTooLarge);
            }
            if transport == Transport::Stream && cl < available {
                return Err(Problem::TrailingOctets);
            }
            buf.slice(body_start..body_start + cl)
        }
        (None, Transport::Datagram) => buf.slice(body_start..),
        (None, Transport::Stream) => return Err(Problem::MissingContentLength),
    };
    let headers = Headers(headers);
    Ok(match start {
        StartLine::Request(method, uri) => Message::Request(Request {
            method,
            uri,
            headers,
            body,
        }),
        StartLine::Response(status, reason) => Message::Response(Response {
            status,
            reason,
            headers,
            body,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dg(s: &str) -> Result<Message, ParseError> {
        parse_datagram(Bytes::copy_from_slice(s.as_bytes()))
    }

    const OPTIONS: &str = "OPTIONS sip:user@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\r\n\
        To: sip:user@example.com\r\n\
        From: sip:caller@example.net;tag=1\r\n\
        Call-ID: abc@host\r\n\
        CSeq: 1 OPTIONS\r\n\
        Max-Forwards: 70\r\n\
        Content-Length: 0\r\n\r\n";

    #[test]
    fn parses_a_simple_request() {
        let Ok(Message::Request(r)) = dg(OPTIONS) else {
            panic!("not a request")
        };
        assert_eq!(r.method, Method::Options);
        assert_eq!(r.headers.call_id().map(|c| c.as_str()), Some("abc@host"));
        assert_eq!(
            r.headers.top_via().and_then(|v| v.branch()),
            Some("z9hG4bKkdjuw")
        );
        assert_eq!(r.headers.max_forwards(), Some(70));
        assert!(r.body.is_empty());
    }

    #[test]
    fn bare_lf_is_accepted() {
        let lf = OPTIONS.replace("\r\n", "\n");
        assert!(matches!(dg(&lf), Ok(Message::Request(_))));
    }

    #[test]
    fn bare_cr_is_rejected() {
        let bad = OPTIONS.replace("To: sip:user", "To: sip:\ruser");
        let err = dg(&bad).expect_err("bare CR");
        assert_eq!(err.problem(), &Problem::HeaderLine);
    }

    #[test]
    fn bare_cr_is_rejected_wherever_it_sits() {
        // The check counts CRs against CRLF line ends, so try a CR doubled before a line
        // end, in a folded line, in the last header line and without the empty line.
        for bad in [
            OPTIONS.replace("CSeq: 1 OPTIONS\r\n", "CSeq: 1 OPTIONS\r\r\n"),
            OPTIONS.replace(
                "To: sip:user@example.com\r\n",
                "To:\r\n sip:\ruser@example.com\r\n",
            ),
            OPTIONS.replace("Content-Length: 0\r\n", "Content-Length: 0\r\r\n"),
            OPTIONS.replace(
                "Content-Length: 0\r\n\r\n",
                "Content-Length: 0\r\nX: a\rb\r\n",
            ),
        ] {
            let err = dg(&bad).expect_err("bare CR");
            assert_eq!(err.problem(), &Problem::HeaderLine, "{bad:?}");
        }
        let folded = OPTIONS.replace(
            "To: sip:user@example.com\r\n",
            "To:\r\n sip:user@example.com\r\n",
        );
        assert!(dg(&folded).is_ok());
    }

    #[test]
    fn errors_classify_input() {
        assert!(matches!(
            dg("hello world\r\n\r\n"),
            Err(ParseError::NotSip(_))
        ));
        assert!(matches!(
            dg("SIP/2.0 99 Too small\r\n\r\n"),
            Err(ParseError::Response(Problem::StatusCode))
        ));
        assert!(dg("\r\n\r\n").expect_err("empty").is_keep_alive());
        let bad = OPTIONS.replace(
            "Via: SIP/2.0/UDP host.example.com;",
            "Via: SIP/2.0/UDP host.example.com;;",
        );
        let err = dg(&bad).expect_err("bad via");
        let ParseError::Request(b) = &err else {
            panic!("not a request error")
        };
        assert_eq!(b.status, StatusCode(400));
        assert_eq!(b.reason_phrase(), "Bad Request: malformed Via header");
        assert_eq!(b.raw.call_id.as_deref(), Some("abc@host"));
        let resp = err.response().expect("answerable");
        assert_eq!(resp.status, StatusCode(400));
        assert!(resp.headers.to().and_then(|t| t.tag()).is_some());
    }

    #[test]
    fn version_seven_is_505() {
        let bad = OPTIONS.replace("SIP/2.0\r\n", "SIP/7.0\r\n");
        let ParseError::Request(b) = dg(&bad).expect_err("505") else {
            panic!("kind")
        };
        assert_eq!(b.status, StatusCode(505));
    }

    #[test]
    fn datagram_framing() {
        let with_body = OPTIONS.replace("Content-Length: 0", "Content-Length: 4") + "bodyEXTRA";
        let Ok(m) = dg(&with_body) else {
            panic!("parses")
        };
        assert_eq!(m.body().as_ref(), b"body");
        let too_long = OPTIONS.replace("Content-Length: 0", "Content-Length: 40");
        assert_eq!(
            dg(&too_long).expect_err("short").problem(),
            &Problem::ContentLengthTooLarge
        );
        let no_cl = OPTIONS.replace("Content-Length: 0\r\n", "") + "rest";
        assert_eq!(dg(&no_cl).map(|m| m.body().len()).ok(), Some(4));
    }

    #[test]
    fn stream_framing() {
        let msg = OPTIONS.replace("Content-Length: 0", "Content-Length: 4") + "body";
        let mut stream = b"\r\n\r\n".to_vec();
        stream.extend_from_slice(msg.as_bytes());
        stream.extend_from_slice(b"INVITE");
        assert_eq!(frame_stream(&stream), Framing::KeepAlive(4));
        let rest = &stream[4..];
        assert_eq!(frame_stream(rest), Framing::Message(msg.len()));
        assert_eq!(frame_stream(&rest[..msg.len() - 1]), Framing::NeedMore);
        assert_eq!(frame_stream(&rest[..20]), Framing::NeedMore);
        let m = parse_stream_message(Bytes::copy_from_slice(&rest[..msg.len()])).expect("parses");
        assert_eq!(m.body().as_ref(), b"body");
        let no_cl = OPTIONS.replace("Content-Length: 0\r\n", "");
        assert!(matches!(
            frame_stream(no_cl.as_bytes()),
            Framing::Error(ParseError::Request(b)) if b.problem == Problem::MissingContentLength
        ));
        let neg = OPTIONS.replace("Content-Length: 0", "l: -5");
        assert!(matches!(
            frame_stream(neg.as_bytes()),
            Framing::Error(e) if e.problem() == &Problem::NegativeContentLength
        ));
        let dup = OPTIONS.replace("Content-Length: 0", "Content-Length: 0\r\nl: 0");
        assert!(matches!(
            frame_stream(dup.as_bytes()),
            Framing::Error(e) if e.problem() == &Problem::DuplicateContentLength
        ));
        let huge = OPTIONS.replace("Content-Length: 0", "Content-Length: 4000000000");
        assert!(
            matches!(frame_stream(huge.as_bytes()), Framing::Error(e) if e.problem() == &Problem::TooLarge)
        );
        assert_eq!(frame_stream(b"\r\n"), Framing::KeepAlive(2));
        assert_eq!(frame_stream(b"\r\n\r"), Framing::NeedMore);
    }

    #[test]
    fn limits_apply() {
        let mut many = String::from("OPTIONS sip:a@b SIP/2.0\r\n");
        for i in 0..300 {
            many.push_str(&format!("X-H{i}: v\r\n"));
        }
        many.push_str("\r\n");
        assert_eq!(
            dg(&many).expect_err("limit").problem(),
            &Problem::TooManyHeaders
        );
        let mut vias = String::from("OPTIONS sip:a@b SIP/2.0\r\nVia: ");
        for i in 0..101 {
            if i > 0 {
                vias.push(',');
            }
            vias.push_str("SIP/2.0/UDP h");
        }
        vias.push_str("\r\n\r\n");
        assert_eq!(
            dg(&vias).expect_err("limit").problem(),
            &Problem::TooManyVias
        );
    }
}
