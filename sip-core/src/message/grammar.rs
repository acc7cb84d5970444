//! The RFC 3261 §25 grammar pieces the parser and the on-demand typed header parsers share:
//! character classes, hosts, URIs, parameters, name-addr, Via and CSeq values.
//!
//! Every function works on `&str` slices of one UTF-8 buffer (`Src`) and turns the pieces it
//! keeps into `SipStr` slices of that buffer, so nothing is copied. A function returns `None`
//! when its input is malformed; the caller names the header in the error. Nothing here can
//! panic: every index comes from scanning the same string for an ASCII delimiter.

use super::CSeq;
use super::method::Method;
use super::name_addr::{Contact, NameAddr};
use super::params::{Param, Params};
use super::text::SipStr;
use super::uri::{Host, OtherUri, SipUri, TelUri, Uri};
use super::via::Via;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The buffer the `&str` slices being parsed come from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Src<'a> {
    pub base: &'a SipStr,
}

impl<'a> Src<'a> {
    pub fn new(base: &'a SipStr) -> Self {
        Src { base }
    }

    /// `sub` as a `SipStr` sharing the buffer (copied if it does not point into it).
    #[inline]
    pub fn s(&self, sub: &str) -> SipStr {
        self.base.slice_ref(sub)
    }
}

// Character classes as bit tables, one lookup per byte.
const TOKEN: u8 = 1; // RFC 3261 token
const UNRESERVED: u8 = 2; // alphanum / mark
const USER_EXTRA: u8 = 4; // user-unreserved "&=+$,;?/"
const PARAM_EXTRA: u8 = 8; // param-unreserved "[]/:&+$"
const HNV_EXTRA: u8 = 16; // hnv-unreserved "[]/?:+$" plus '=' and '&' separators
const WORD: u8 = 32; // Call-ID word
const HOST: u8 = 64; // hostname characters (alphanum, '-', '.', '_')

const fn build_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let alnum = b.is_ascii_alphanumeric();
        let mut v = 0u8;
        if alnum
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            )
        {
            v |= TOKEN;
        }
        if alnum
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            )
        {
            v |= UNRESERVED;
        }
        if matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/') {
            v |= USER_EXTRA;
        }
        if matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
            v |= PARAM_EXTRA;
        }
        if matches!(
            b,
            b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$' | b'=' | b'&'
        ) {
            v |= HNV_EXTRA;
        }
        if alnum
            || matches!(
                b,
                b'-' | b'.'
                    | b'!'
                    | b'%'
                    | b'*'
                    | b'_'
                    | b'+'
                    | b'`'
                    | b'\''
                    | b'~'
                    | b'('
                    | b')'
                    | b'<'
                    | b'>'
                    | b':'
                    | b'\\'
                    | b'"'
                    | b'/'
                    | b'['
                    | b']'
                    | b'?'
                    | b'{'
                    | b'}'
            )
        {
            v |= WORD;
        }
        if alnum || matches!(b, b'-' | b'.' | b'_') {
            v |= HOST;
        }
        t[c] = v;
        c += 1;
    }
    t
}

static CLASS: [u8; 256] = build_table();

#[inline]
fn has(b: u8, class: u8) -> bool {
    CLASS[b as usize] & class != 0
}

/// Position of `b` in `s`: a plain loop, cheaper than memchr's set-up on the short
/// strings of a header value.
#[inline]
pub(crate) fn find_byte(s: &str, b: u8) -> Option<usize> {
    s.bytes().position(|c| c == b)
}

#[inline]
pub(crate) fn is_token_char(b: u8) -> bool {
    has(b, TOKEN)
}

/// RFC 3261 `token`: non-empty, token characters only.
#[inline]
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

#[inline]
pub(crate) fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

#[inline]
pub(crate) fn trim_ws(s: &str) -> &str {
    trim_end_ws(trim_start_ws(s))
}

#[inline]
pub(crate) fn trim_start_ws(s: &str) -> &str {
    let n = s.bytes().take_while(|&c| is_ws(c)).count();
    // SP and HT are ASCII, so `n` is a char boundary.
    s.get(n..).unwrap_or_default()
}

#[inline]
pub(crate) fn trim_end_ws(s: &str) -> &str {
    let n = s.bytes().rev().take_while(|&c| is_ws(c)).count();
    s.get(..s.len() - n).unwrap_or_default()
}

/// Checks that every byte is in `class` or is a valid `%HH` escape (RFC 3261 §25.1
/// `escaped`). Nothing is un-escaped (RFC 4475 §3.1.1.3).
fn is_escaped_run(s: &str, class: u8) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            match (b.get(i + 1), b.get(i + 2)) {
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else if has(c, class) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// `1*DIGIT` into a u32 (leading zeros allowed, RFC 4475 §3.1.1.1); `None` on overflow.
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: u32 = 0;
    for b in s.bytes() {
        v = v.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(v)
}

/// True when `s` is `1*DIGIT` (any length).
pub(crate) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_port(s: &str) -> Option<u16> {
    let v = parse_u32(s)?;
    u16::try_from(v).ok()
}

/// A host as it appears in a SIP URI or Via sent-by: hostname, IPv4 address or IPv6
/// reference in brackets (RFC 3261 §25.1; RFC 5118 §4.2: a bare IPv6 address is invalid).
#[inline]
pub(crate) fn parse_host(src: Src<'_>, s: &str) -> Option<Host> {
    let b = s.as_bytes();
    match b.first()? {
        b'[' => {
            let inner = s.strip_prefix('[')?.strip_suffix(']')?;
            // RFC 5118 §4.10: `2001:db8:::192.0.2.1` is not an IPv6 address (RFC 5954);
            // std's parser rejects it, so such a host is malformed.
            inner.parse::<Ipv6Addr>().ok().map(Host::Ipv6)
        }
        _ => {
            // One pass: hostname characters only, all-numeric, or a ".." / leading '.'.
            let mut numeric = true;
            let mut prev = b'.';
            for &c in b {
                if !has(c, HOST) || (c == b'.' && prev == b'.') {
                    return None;
                }
                numeric &= c.is_ascii_digit() || c == b'.';
                prev = c;
            }
            if numeric {
                // All-numeric: it must be an IPv4 address (a hostname's top label starts
                // with a letter, RFC 3261 §25.1 `toplabel`).
                return s.parse::<Ipv4Addr>().ok().map(Host::Ipv4);
            }
            Some(Host::Domain(src.s(s)))
        }
    }
}

/// `host [":" port]` with nothing else. With `sws`, whitespace around the colon is allowed
/// (Via sent-by uses `COLON = SWS ":" SWS`).
#[inline]
pub(crate) fn parse_hostport(src: Src<'_>, s: &str, sws: bool) -> Option<(Host, Option<u16>)> {
    let (host_str, rest) = if s.starts_with('[') {
        let end = find_byte(s, b']')? + 1;
        (s.get(..end)?, s.get(end..)?)
    } else {
        match find_byte(s, b':') {
            Some(i) => (s.get(..i)?, s.get(i..)?),
            None => (s, ""),
        }
    };
    let (host_str, rest) = if sws {
        (trim_end_ws(host_str), trim_start_ws(rest))
    } else {
        (host_str, rest)
    };
    let host = parse_host(src, host_str)?;
    if rest.is_empty() {
        return Some((host, None));
    }
    let port = rest.strip_prefix(':')?;
    let port = if sws { trim_start_ws(port) } else { port };
    Some((host, Some(parse_port(port)?)))
}

/// URI parameters `;name[=value]…` (no whitespace anywhere, RFC 3261 §19.1.1 `paramchar`).
/// `s` is the text after the first `;`.
#[inline]
fn parse_uri_params(src: Src<'_>, s: &str) -> Option<Params> {
    let mut params = Params(Vec::with_capacity(2));
    // Split at ';' by hand: `str::split` sets up a searcher per call, which costs more
    // than the few bytes of a typical parameter list.
    let mut rest = Some(s);
    while let Some(r) = rest {
        let p = match find_byte(r, b';') {
            Some(i) => {
                rest = r.get(i + 1..);
                r.get(..i)?
            }
            None => {
                rest = None;
                r
            }
        };
        let (name, value) = match find_byte(p, b'=') {
            Some(i) => (p.get(..i)?, Some(p.get(i + 1..)?)),
            None => (p, None),
        };
        if name.is_empty() || !is_escaped_run(name, UNRESERVED | PARAM_EXTRA) {
            return None;
        }
        let value = match value {
            Some(v) => {
                if v.is_empty() || !is_escaped_run(v, UNRESERVED | PARAM_EXTRA) {
                    return None;
                }
                Some(src.s(v))
            }
            None => None,
        };
        params.0.push(Param {
            name: src.s(name),
            value,
        });
    }
    Some(params)
}

/// `sip:`/`sips:` URI body (after the scheme colon), RFC 3261 §19.1.1.
#[inline]
fn parse_sip_uri(src: Src<'_>, s: &str, secure: bool) -> Option<SipUri> {
    // Userinfo ends at the first '@': '@' may not appear unescaped in hostport, params or
    // headers, while the user part may carry ';', '?' and ',' (RFC 4475 §3.1.1.2, §3.1.1.9).
    let (user, password, rest) = match find_byte(s, b'@') {
        Some(at) => {
            let userinfo = s.get(..at)?;
            let rest = s.get(at + 1..)?;
            let (user, pass) = match find_byte(userinfo, b':') {
                Some(c) => (userinfo.get(..c)?, Some(userinfo.get(c + 1..)?)),
                None => (userinfo, None),
            };
            if user.is_empty() || !is_escaped_run(user, UNRESERVED | USER_EXTRA) {
                return None;
            }
            let pass = match pass {
                Some(p) => {
                    // password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
                    if !p
                        .split(['&', '=', '+', '$', ','])
                        .all(|part| is_escaped_run(part, UNRESERVED))
                    {
                        return None;
                    }
                    Some(src.s(p))
                }
                None => None,
            };
            (Some(src.s(user)), pass, rest)
        }
        None => (None, None, s),
    };
    // hostport ends at ';' or '?' (after an IPv6 reference's ']').
    let search_from = if rest.starts_with('[') {
        find_byte(rest, b']')?
    } else {
        0
    };
    let end = rest
        .get(search_from..)?
        .bytes()
        .position(|c| c == b';' || c == b'?')
        .map_or(rest.len(), |i| i + search_from);
    let (host, port) = parse_hostport(src, rest.get(..end)?, false)?;
    let tail = rest.get(end..)?;
    let (params_str, headers_str) = match find_byte(tail, b'?') {
        Some(q) => (tail.get(..q)?, Some(tail.get(q + 1..)?)),
        None => (tail, None),
    };
    let params = match params_str.strip_prefix(';') {
        Some(p) => parse_uri_params(src, p)?,
        None if params_str.is_empty() => Params::new(),
        None => return None,
    };
    let headers = match headers_str {
        Some(h) => {
            if h.is_empty() || !is_escaped_run(h, UNRESERVED | HNV_EXTRA) {
                return None;
            }
            Some(src.s(h))
        }
        None => None,
    };
    Some(SipUri {
        secure,
        user,
        password,
        host,
        port,
        params,
        headers,
    })
}

/// `tel:` URI body (RFC 3966): the number as written, then parameters.
#[inline]
fn parse_tel_uri(src: Src<'_>, s: &str) -> Option<TelUri> {
    let (number, params) = match find_byte(s, b';') {
        Some(i) => (s.get(..i)?, parse_uri_params(src, s.get(i + 1..)?)?),
        None => (s, Params::new()),
    };
    let ok = |c: u8| {
        c.is_ascii_hexdigit() || matches!(c, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#')
    };
    if number.is_empty() || !number.bytes().all(ok) {
        return None;
    }
    Some(TelUri {
        number: src.s(number),
        params,
    })
}

fn is_scheme(s: &str) -> bool {
    let b = s.as_bytes();
    b.first().is_some_and(|c| c.is_ascii_alphabetic())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// Any URI: `sip:`, `sips:`, `tel:` parsed; other schemes kept opaque (RFC 4475 §3.3.2).
/// The whole of `s` must be the URI (no surrounding whitespace).
#[inline]
pub(crate) fn parse_uri(src: Src<'_>, s: &str) -> Option<Uri> {
    let colon = find_byte(s, b':')?;
    let scheme = s.get(..colon)?;
    let rest = s.get(colon + 1..)?;
    if scheme.eq_ignore_ascii_case("sip") {
        parse_sip_uri(src, rest, false).map(Uri::Sip)
    } else if scheme.eq_ignore_ascii_case("sips") {
        parse_sip_uri(src, rest, true).map(Uri::Sip)
    } else if scheme.eq_ignore_ascii_case("tel") {
        parse_tel_uri(src, rest).map(Uri::Tel)
    } else {
        if !is_scheme(scheme)
            || rest.is_empty()
            || rest
                .bytes()
                .any(|c| c <= b' ' || c == 0x7f || matches!(c, b'<' | b'>' | b'"'))
        {
            return None;
        }
        Some(Uri::Other(OtherUri {
            scheme: src.s(scheme),
            opaque: src.s(rest),
        }))
    }
}

/// Length of the quoted-string at the start of `s` (including both quotes), or `None`
/// if it is unterminated or holds a raw control character (RFC 3261 §25.1 `qdtext`,
/// `quoted-pair`). Escapes are only skipped over, never removed.
pub(crate) fn quoted_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'"' => return Some(i + 1),
            b'\\' => {
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                match b.get(i + 1) {
                    Some(&c) if c != b'\r' && c != b'\n' && c < 0x80 => i += 2,
                    _ => return None,
                }
            }
            c if (c < 0x20 && c != b'\t') || c == 0x7f => return None,
            _ => i += 1,
        }
    }
    None
}

/// Header parameters `*( SEMI generic-param )` with `SEMI = SWS ";" SWS` and
/// `EQUAL = SWS "=" SWS`; a value is a token, a host (IPv6 with or without brackets,
/// RFC 5118 §4.5) or a quoted-string kept with its quotes. `s` must start with `;` or be
/// all whitespace.
#[inline]
pub(crate) fn parse_header_params(src: Src<'_>, s: &str) -> Option<Params> {
    let mut params = Params::new();
    let mut rest = trim_start_ws(s);
    while !rest.is_empty() {
        rest = trim_start_ws(rest.strip_prefix(';')?);
        let name_len = rest.bytes().take_while(|&c| is_token_char(c)).count();
        if name_len == 0 {
            return None;
        }
        let name = rest.get(..name_len)?;
        rest = trim_start_ws(rest.get(name_len..)?);
        let value = if let Some(after_eq) = rest.strip_prefix('=') {
            let v = trim_start_ws(after_eq);
            let len = if v.starts_with('"') {
                quoted_len(v)?
            } else {
                v.bytes()
                    .take_while(|&c| is_token_char(c) || matches!(c, b':' | b'[' | b']'))
                    .count()
            };
            if len == 0 {
                return None;
            }
            let value = v.get(..len)?;
            rest = trim_start_ws(v.get(len..)?);
            Some(src.s(value))
        } else {
            None
        };
        params.0.push(Param {
            name: src.s(name),
            value,
        });
    }
    Some(params)
}

/// Splits a header value at commas that are outside quoted strings and `<…>`
/// (RFC 3261 §7.3.1), calling `f` on each trimmed element. An empty element is an error
/// (RFC 4475 §3.1.2.1).
pub(crate) fn for_each_element(s: &str, mut f: impl FnMut(&str) -> Option<()>) -> Option<()> {
    let b = s.as_bytes();
    if memchr::memchr(b',', b).is_none() {
        // The common single value: no comma anywhere, so no splitting (quoting is
        // checked by the value's own parser).
        let part = trim_ws(s);
        if part.is_empty() {
            return None;
        }
        return f(part);
    }
    let mut start = 0;
    let mut i = 0;
    let mut in_angle = false;
    while i < b.len() {
        match b[i] {
            b'"' if !in_angle => {
                i += quoted_len(s.get(i..)?)?;
                continue;
            }
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            b',' if !in_angle => {
                let part = trim_ws(s.get(start..i)?);
                if part.is_empty() {
                    return None;
                }
                f(part)?;
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let part = trim_ws(s.get(start..)?);
    if part.is_empty() {
        return None;
    }
    f(part)
}

/// A display name before `<`: a quoted-string (verbatim) or `*(token LWS)`.
fn check_display_name(d: &str) -> bool {
    if d.starts_with('"') {
        quoted_len(d) == Some(d.len())
    } else {
        d.bytes().all(|c| is_token_char(c) || is_ws(c))
    }
}

/// `name-addr / addr-spec` followed by header parameters (RFC 3261 §20.10, §25.1).
/// Without `<>`, parameters after the URI are header parameters, and a URI containing
/// `?`, `,` or `;` is not allowed (RFC 4475 §3.1.2.13, §3.3.12).
#[inline]
pub(crate) fn parse_name_addr(src: Src<'_>, s: &str) -> Option<NameAddr> {
    let s = trim_ws(s);
    let (display, angle_rest) = if s.starts_with('"') {
        let q = quoted_len(s)?;
        let rest = trim_start_ws(s.get(q..)?);
        if !rest.starts_with('<') {
            return None;
        }
        (Some(s.get(..q)?), Some(rest))
    } else if let Some(lt) = find_byte(s, b'<') {
        let d = trim_end_ws(s.get(..lt)?);
        if !check_display_name(d) {
            return None;
        }
        ((!d.is_empty()).then_some(d), Some(s.get(lt..)?))
    } else {
        (None, None)
    };
    match angle_rest {
        Some(r) => {
            let r = r.strip_prefix('<')?;
            let gt = find_byte(r, b'>')?;
            let uri_str = r.get(..gt)?;
            // RFC 4475 §3.1.2.14: no whitespace inside the brackets.
            if uri_str.bytes().any(is_ws) {
                return None;
            }
            let uri = parse_uri(src, uri_str)?;
            let params = parse_header_params(src, r.get(gt + 1..)?)?;
            Some(NameAddr {
                display_name: display.map(|d| src.s(d)),
                uri,
                params,
            })
        }
        None => {
            let end = s
                .bytes()
                .position(|c| c == b';' || is_ws(c))
                .unwrap_or(s.len());
            let uri_str = s.get(..end)?;
            if uri_str.contains(['?', ',']) {
                return None;
            }
            let uri = parse_uri(src, uri_str)?;
            let params = parse_header_params(src, s.get(end..)?)?;
            Some(NameAddr {
                display_name: None,
                uri,
                params,
            })
        }
    }
}

/// One Contact value: `*` or an address (RFC 3261 §20.10).
#[inline]
pub(crate) fn parse_contact(src: Src<'_>, s: &str) -> Option<Contact> {
    if trim_ws(s) == "*" {
        Some(Contact::Star)
    } else {
        parse_name_addr(src, s).map(Contact::Addr)
    }
}

/// Takes a token from the start of `s`, returning it and the rest.
#[inline]
fn take_token(s: &str) -> Option<(&str, &str)> {
    let n = s.bytes().take_while(|&c| is_token_char(c)).count();
    if n == 0 {
        return None;
    }
    Some((s.get(..n)?, s.get(n..)?))
}

/// One Via value: `sent-protocol LWS sent-by *( SEMI via-params )` (RFC 3261 §20.42),
/// with `SLASH = SWS "/" SWS` (RFC 4475 §3.1.1.1).
#[inline]
pub(crate) fn parse_via(src: Src<'_>, s: &str) -> Option<Via> {
    let s = trim_ws(s);
    let (protocol, r) = take_token(s)?;
    let r = trim_start_ws(trim_start_ws(r).strip_prefix('/')?);
    let (version, r) = take_token(r)?;
    let r = trim_start_ws(trim_start_ws(r).strip_prefix('/')?);
    let (transport, r) = take_token(r)?;
    // LWS between sent-protocol and sent-by is mandatory.
    if !r.starts_with([' ', '\t']) {
        return None;
    }
    let r = trim_start_ws(r);
    let search_from = if r.starts_with('[') {
        find_byte(r, b']')?
    } else {
        0
    };
    let end = r
        .get(search_from..)?
        .bytes()
        .position(|c| c == b';')
        .map_or(r.len(), |i| i + search_from);
    let (host, port) = parse_hostport(src, trim_end_ws(r.get(..end)?), true)?;
    let params = parse_header_params(src, r.get(end..)?)?;
    Some(Via {
        protocol: src.s(protocol),
        version: src.s(version),
        transport: src.s(transport),
        host,
        port,
        params,
    })
}

/// `CSeq = 1*DIGIT LWS Method`, sequence number at most 2^32-1 (RFC 3261 §8.1.1.5,
/// RFC 4475 §3.1.2.4).
#[inline]
pub(crate) fn parse_cseq(src: Src<'_>, s: &str) -> Option<CSeq> {
    let s = trim_ws(s);
    let n = s.bytes().take_while(|c| c.is_ascii_digit()).count();
    let seq = parse_u32(s.get(..n)?)?;
    let rest = s.get(n..)?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let method = trim_start_ws(rest);
    if !is_token(method) {
        return None;
    }
    Some(CSeq {
        seq,
        method: Method::from_token(&src.s(method)),
    })
}

/// `callid = word [ "@" word ]` (RFC 3261 §25.1).
pub(crate) fn is_call_id(s: &str) -> bool {
    // '@' is not a `word` character, so a second '@' fails the check of the second word;
    // one split at the first '@' replaces a `splitn` iterator (hot: every request has one).
    let word = |w: &str| !w.is_empty() && w.bytes().all(|c| has(c, WORD));
    match find_byte(s, b'@') {
        Some(at) => match (s.get(..at), s.get(at + 1..)) {
            (Some(a), Some(b)) => word(a) && word(b),
            _ => false,
        },
        None => word(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(s: &str) -> SipStr {
        SipStr::from(s)
    }

    #[test]
    fn hosts() {
        let b = src("x");
        let s = Src::new(&b);
        assert_eq!(
            parse_host(s, "192.0.2.1"),
            Some(Host::Ipv4(Ipv4Addr::new(192, 0, 2, 1)))
        );
        assert!(matches!(
            parse_host(s, "[2001:db8::10]"),
            Some(Host::Ipv6(_))
        ));
        assert_eq!(parse_host(s, "2001:db8::10"), None);
        assert_eq!(parse_host(s, "[2001:db8:::192.0.2.1]"), None);
        assert_eq!(parse_host(s, "999.1.1.1"), None);
        assert!(matches!(
            parse_host(s, "example.com"),
            Some(Host::Domain(_))
        ));
        assert_eq!(parse_host(s, "a..b"), None);
    }

    #[test]
    fn ipv6_port_ambiguity() {
        let b = src("x");
        let s = Src::new(&b);
        // RFC 5118 §4.3: inside the brackets, :5070 is part of the address.
        let (h, p) = parse_hostport(s, "[2001:db8::10:5070]", false).expect("parses");
        assert_eq!(h, Host::Ipv6("2001:db8::10:5070".parse().expect("v6")));
        assert_eq!(p, None);
        let (_, p) = parse_hostport(s, "[2001:db8::10]:5070", false).expect("parses");
        assert_eq!(p, Some(5070));
    }

    #[test]
    fn sip_uri_with_odd_user() {
        let b = src("sip:user;par=u%40example.net@example.com");
        let s = Src::new(&b);
        let Some(Uri::Sip(u)) = parse_uri(s, b.as_str()) else {
            panic!("not sip")
        };
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert!(u.params.is_empty());
        assert_eq!(u.host, Host::Domain(SipStr::from("example.com")));
    }

    #[test]
    fn name_addr_forms() {
        let b = src(r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ; tag = 98asjd8"#);
        let s = Src::new(&b);
        let na = parse_name_addr(s, b.as_str()).expect("parses");
        assert_eq!(na.display_name.as_deref(), Some(r#""J Rosenberg \\\"""#));
        assert_eq!(na.tag(), Some("98asjd8"));
        assert!(parse_name_addr(s, "\"Mr. J. User <sip:j.user@example.com>").is_none());
        assert!(parse_name_addr(s, "Bell, Alexander <sip:a@b>").is_none());
        assert!(parse_name_addr(s, "< sip:t.watson@example.org >").is_none());
        assert!(parse_name_addr(s, "sip:user@example.com?Route=%3Csip:x%3E").is_none());
        let na = parse_name_addr(s, "sip:+19725552222@gw1.example.net;unknownparam").expect("ok");
        assert!(na.params.contains("unknownparam"));
        assert!(na.uri.as_sip().is_some_and(|u| u.params.is_empty()));
    }

    #[test]
    fn via_with_spaces_and_bad_separators() {
        let b = src("SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw");
        let s = Src::new(&b);
        let v = parse_via(s, b.as_str()).expect("parses");
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(parse_via(s, "SIP/2.0/UDP 192.0.2.15;;").is_none());
        let v = parse_via(
            s,
            "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3",
        )
        .expect("ok");
        assert_eq!(v.received(), Some("2001:db8::9:255"));
        assert_eq!(v.branch(), Some("z9hG4bKas3"));
    }

    #[test]
    fn elements_split_outside_quotes_and_angles() {
        let mut parts = Vec::new();
        for_each_element(r#""a,b" <sip:x@y;p=1,2>, <sip:z@w>"#, |p| {
            parts.push(p.to_string());
            Some(())
        })
        .expect("splits");
        assert_eq!(parts.len(), 2);
        assert!(for_each_element("a,,b", |_| Some(())).is_none());
    }

    #[test]
    fn cseq_and_call_id() {
        let b = src("0009 INVITE");
        let s = Src::new(&b);
        assert_eq!(parse_cseq(s, "0009 INVITE").map(|c| c.seq), Some(9));
        assert!(parse_cseq(s, "36893488147419103232 REGISTER").is_none());
        assert!(parse_cseq(s, "8INVITE").is_none());
        assert!(is_call_id("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"));
        assert!(!is_call_id("a@b@c"));
        assert!(!is_call_id("a b"));
    }
}
