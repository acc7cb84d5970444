//! On-demand typed parsers for the verbatim headers a PBX reads: option-tag lists
//! (Require, Supported, Unsupported, Proxy-Require), Allow, Accept and Content-Type
//! (RFC 3261 §20), Event and Subscription-State (RFC 6665), Refer-To and Referred-By
//! (RFC 3515, RFC 3892), Replaces (RFC 3891, also embedded in a Refer-To URI),
//! P-Asserted-Identity (RFC 3325), Diversion (RFC 5806), User-Agent/Server and Date.
//!
//! These headers stay `Header::Other` in the message (so they re-serialise exactly as
//! received); the accessors on `Headers` here parse them when asked. Digest credentials
//! and challenges belong to `crate::auth`, not here.

use super::grammar::{
    Src, for_each_element, is_call_id, is_token, parse_header_params, parse_name_addr, parse_u32,
    trim_start_ws, trim_ws,
};
use super::header::{HeaderName, Headers};
use super::method::Method;
use super::name_addr::NameAddr;
use super::params::Params;
use super::text::SipStr;
use super::uri::Uri;

/// A verbatim header whose value did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed {0} header")]
pub struct HeaderError(pub HeaderName);

/// A media type or range (`type "/" subtype *(";" m-parameter)`, RFC 3261 §20.1, §20.15).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MediaType {
    /// `application`, `multipart`, or `*` in an Accept range; as written.
    pub kind: SipStr,
    /// `sdp`, `mixed`, or `*` in an Accept range; as written.
    pub subtype: SipStr,
    pub params: Params,
}

impl MediaType {
    /// A media type with no parameters.
    pub fn new(kind: &str, subtype: &str) -> Self {
        MediaType {
            kind: SipStr::from(kind),
            subtype: SipStr::from(subtype),
            params: Params::new(),
        }
    }

    /// True when this is exactly `kind/subtype` (case-insensitive, parameters ignored).
    pub fn is(&self, kind: &str, subtype: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// True when this media range (possibly `*/*` or `type/*`) covers `kind/subtype`.
    pub fn covers(&self, kind: &str, subtype: &str) -> bool {
        (self.kind.as_str() == "*" || self.kind.eq_ignore_ascii_case(kind))
            && (self.subtype.as_str() == "*" || self.subtype.eq_ignore_ascii_case(subtype))
    }

    /// `type/subtype;params` as written on the wire.
    pub fn to_wire(&self) -> String {
        let mut s = format!("{}/{}", self.kind, self.subtype);
        for p in self.params.iter() {
            s.push(';');
            s.push_str(&p.name);
            if let Some(v) = &p.value {
                s.push('=');
                s.push_str(v);
            }
        }
        s
    }
}

/// Event header (RFC 6665 §8.2.1): package name and parameters (`id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub package: SipStr,
    pub params: Params,
}

impl Event {
    pub fn id(&self) -> Option<&str> {
        self.params.value("id")
    }
}

/// Subscription-State header (RFC 6665 §8.2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionState {
    /// `active`, `pending`, `terminated` or an extension value, as written.
    pub state: SipStr,
    pub params: Params,
}

impl SubscriptionState {
    pub fn is_active(&self) -> bool {
        self.state.eq_ignore_ascii_case("active")
    }
    pub fn is_pending(&self) -> bool {
        self.state.eq_ignore_ascii_case("pending")
    }
    pub fn is_terminated(&self) -> bool {
        self.state.eq_ignore_ascii_case("terminated")
    }
    pub fn expires(&self) -> Option<u32> {
        self.params.value("expires").and_then(parse_u32)
    }
    pub fn reason(&self) -> Option<&str> {
        self.params.value("reason")
    }
    pub fn retry_after(&self) -> Option<u32> {
        self.params.value("retry-after").and_then(parse_u32)
    }
}

/// Replaces header (RFC 3891 §6.1): the dialog to replace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replaces {
    pub call_id: SipStr,
    pub to_tag: SipStr,
    pub from_tag: SipStr,
    /// `early-only` flag: only replace an early dialog.
    pub early_only: bool,
    /// Every parameter as received (including the three above).
    pub params: Params,
}

/// One element of a User-Agent or Server header (RFC 3261 §20.35, §20.41).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProductItem {
    Product {
        name: SipStr,
        version: Option<SipStr>,
    },
    /// A comment with its parentheses, verbatim.
    Comment(SipStr),
}

/// A Date header value (RFC 3261 §20.17: `rfc1123-date`, always GMT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SipDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

/// Why a Date value was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("malformed Date header")]
    Malformed,
    /// Only `GMT` is allowed (RFC 3261 §20.17; RFC 4475 §3.1.2.12: not `EST`, `UT`, `UTC`).
    #[error("Date header not in GMT")]
    TimeZone,
}

impl SipDate {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub fn unix_seconds(&self) -> i64 {
        // Days from civil (H. Hinnant's algorithm), proleptic Gregorian calendar.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn fixed_digits(s: &str, n: usize) -> Option<u32> {
    if s.len() == n { parse_u32(s) } else { None }
}

/// Parses `wkday "," SP 2DIGIT SP month SP 4DIGIT SP 2DIGIT ":" 2DIGIT ":" 2DIGIT SP "GMT"`.
pub fn parse_date(value: &str) -> Result<SipDate, DateError> {
    let v = trim_ws(value);
    let (wk, rest) = v.split_once(", ").ok_or(DateError::Malformed)?;
    if !WKDAYS.contains(&wk) {
        return Err(DateError::Malformed);
    }
    let mut it = rest.split(' ');
    let (Some(d), Some(mon), Some(y), Some(t), Some(zone), None) = (
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
    ) else {
        return Err(DateError::Malformed);
    };
    let day = fixed_digits(d, 2)
        .filter(|d| (1..=31).contains(d))
        .ok_or(DateError::Malformed)?;
    let month = MONTHS
        .iter()
        .position(|m| *m == mon)
        .ok_or(DateError::Malformed)?
        + 1;
    let year = fixed_digits(y, 4).ok_or(DateError::Malformed)?;
    let mut tp = t.split(':');
    let (Some(h), Some(mi), Some(s), None) = (tp.next(), tp.next(), tp.next(), tp.next()) else {
        return Err(DateError::Malformed);
    };
    let hour = fixed_digits(h, 2)
        .filter(|h| *h < 24)
        .ok_or(DateError::Malformed)?;
    let minute = fixed_digits(mi, 2)
        .filter(|m| *m < 60)
        .ok_or(DateError::Malformed)?;
    let second = fixed_digits(s, 2)
        .filter(|s| *s <= 60)
        .ok_or(DateError::Malformed)?;
    if zone != "GMT" {
        return Err(DateError::TimeZone);
    }
    // Values are range-checked above, so the narrowing casts cannot truncate.
    Ok(SipDate {
        year: year as u16,
        month: month as u8,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
    })
}

/// `token *(COMMA token)`; an empty value is an empty list (a bare `Supported:`).
pub fn parse_token_list(value: &SipStr) -> Option<Vec<SipStr>> {
    let src = Src::new(value);
    let v = trim_ws(value);
    let mut out = Vec::new();
    if v.is_empty() {
        return Some(out);
    }
    for_each_element(v, |t| {
        if !is_token(t) {
            return None;
        }
        out.push(src.s(t));
        Some(())
    })?;
    Some(out)
}

/// `type SWS "/" SWS subtype *(SEMI m-parameter)`.
pub fn parse_media_type(value: &SipStr) -> Option<MediaType> {
    media_type(Src::new(value), value)
}

fn media_type(src: Src<'_>, s: &str) -> Option<MediaType> {
    let s = trim_ws(s);
    let slash = s.find('/')?;
    let kind = trim_ws(s.get(..slash)?);
    let rest = trim_start_ws(s.get(slash + 1..)?);
    let n = rest
        .bytes()
        .take_while(|&c| super::grammar::is_token_char(c))
        .count();
    let subtype = rest.get(..n)?;
    if !is_token(kind) || !is_token(subtype) {
        return None;
    }
    let params = parse_header_params(src, rest.get(n..)?)?;
    Some(MediaType {
        kind: src.s(kind),
        subtype: src.s(subtype),
        params,
    })
}

/// Accept: a comma list of media ranges; an empty value accepts nothing (RFC 3261 §20.1).
pub fn parse_accept(value: &SipStr) -> Option<Vec<MediaType>> {
    let src = Src::new(value);
    let v = trim_ws(value);
    let mut out = Vec::new();
    if v.is_empty() {
        return Some(out);
    }
    for_each_element(v, |m| {
        out.push(media_type(src, m)?);
        Some(())
    })?;
    Some(out)
}

/// `token *(SEMI generic-param)`: the shape of Event and Subscription-State.
fn token_with_params(value: &SipStr) -> Option<(SipStr, Params)> {
    let src = Src::new(value);
    let v = trim_ws(value);
    let n = v
        .bytes()
        .take_while(|&c| super::grammar::is_token_char(c))
        .count();
    let tok = v.get(..n)?;
    if tok.is_empty() {
        return None;
    }
    let params = parse_header_params(src, v.get(n..)?)?;
    Some((src.s(tok), params))
}

pub fn parse_event(value: &SipStr) -> Option<Event> {
    token_with_params(value).map(|(package, params)| Event { package, params })
}

pub fn parse_subscription_state(value: &SipStr) -> Option<SubscriptionState> {
    token_with_params(value).map(|(state, params)| SubscriptionState { state, params })
}

/// `callid *(SEMI replaces-param)` with mandatory `to-tag` and `from-tag` (RFC 3891 §6.1).
pub fn parse_replaces(value: &SipStr) -> Option<Replaces> {
    let src = Src::new(value);
    let v = trim_ws(value);
    let end = v.find([';', ' ', '\t']).unwrap_or(v.len());
    let call_id = v.get(..end)?;
    if !is_call_id(call_id) {
        return None;
    }
    let params = parse_header_params(src, v.get(end..)?)?;
    Some(Replaces {
        call_id: src.s(call_id),
        to_tag: SipStr::from(params.value("to-tag")?),
        from_tag: SipStr::from(params.value("from-tag")?),
        early_only: params.contains("early-only"),
        params,
    })
}

/// A comma list of name-addr values (P-Asserted-Identity, Diversion, History-Info…).
pub fn parse_name_addr_list(value: &SipStr) -> Option<Vec<NameAddr>> {
    let src = Src::new(value);
    let mut out = Vec::new();
    for_each_element(value, |p| {
        out.push(parse_name_addr(src, p)?);
        Some(())
    })?;
    Some(out)
}

/// One name-addr (Refer-To, Referred-By).
pub fn parse_single_name_addr(value: &SipStr) -> Option<NameAddr> {
    parse_name_addr(Src::new(value), value)
}

/// `server-val *(LWS server-val)` where a server-val is a product or a comment.
pub fn parse_product_list(value: &SipStr) -> Option<Vec<ProductItem>> {
    let src = Src::new(value);
    let mut s = trim_ws(value);
    let mut out = Vec::new();
    while !s.is_empty() {
        if s.starts_with('(') {
            let len = comment_len(s)?;
            out.push(ProductItem::Comment(src.s(s.get(..len)?)));
            s = trim_start_ws(s.get(len..)?);
            continue;
        }
        let n = s
            .bytes()
            .take_while(|&c| super::grammar::is_token_char(c))
            .count();
        if n == 0 {
            return None;
        }
        let name = s.get(..n)?;
        s = s.get(n..)?;
        let version = if let Some(r) = trim_start_ws(s).strip_prefix('/') {
            let r = trim_start_ws(r);
            let m = r
                .bytes()
                .take_while(|&c| super::grammar::is_token_char(c))
                .count();
            if m == 0 {
                return None;
            }
            s = r.get(m..)?;
            Some(src.s(r.get(..m)?))
        } else {
            None
        };
        out.push(ProductItem::Product {
            name: src.s(name),
            version,
        });
        if !s.is_empty() && !s.starts_with([' ', '\t', '(']) {
            return None;
        }
        s = trim_start_ws(s);
    }
    Some(out)
}

/// Length of a (possibly nested) comment at the start of `s`.
fn comment_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// %-decodes `s` (URI header values, RFC 3261 §19.1.1); `None` on a bad escape or
/// non-UTF-8 result.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The `Replaces` header embedded in a URI (`?Replaces=call%40id%3Bto-tag%3D…`), as a
/// REFER for attended transfer carries it (RFC 3891 §7).
pub fn embedded_replaces(uri: &Uri) -> Option<Result<Replaces, HeaderError>> {
    let headers = uri.as_sip()?.headers.as_ref()?;
    let raw = headers.split('&').find_map(|h| {
        let (n, v) = h.split_once('=')?;
        n.eq_ignore_ascii_case("Replaces").then_some(v)
    })?;
    let bad = || HeaderError(HeaderName::Replaces);
    Some(
        percent_decode(raw)
            .map(SipStr::from)
            .and_then(|v| parse_replaces(&v))
            .ok_or_else(bad),
    )
}

impl Headers {
    /// The joined token lists of every `name` line (RFC 3261 §7.3.1: several lines are
    /// one comma list).
    pub fn token_list(&self, name: &HeaderName) -> Result<Vec<SipStr>, HeaderError> {
        let mut out = Vec::new();
        for v in self.raw(name) {
            out.extend(parse_token_list(v).ok_or_else(|| HeaderError(name.clone()))?);
        }
        Ok(out)
    }

    pub fn require(&self) -> Result<Vec<SipStr>, HeaderError> {
        self.token_list(&HeaderName::Require)
    }

    pub fn proxy_require(&self) -> Result<Vec<SipStr>, HeaderError> {
        self.token_list(&HeaderName::ProxyRequire)
    }

    pub fn supported(&self) -> Result<Vec<SipStr>, HeaderError> {
        self.token_list(&HeaderName::Supported)
    }

    pub fn unsupported(&self) -> Result<Vec<SipStr>, HeaderError> {
        self.token_list(&HeaderName::Unsupported)
    }

    /// Allow, as methods (`None` when absent).
    pub fn allow(&self) -> Option<Result<Vec<Method>, HeaderError>> {
        self.raw_first(&HeaderName::Allow)?;
        Some(
            self.token_list(&HeaderName::Allow)
                .map(|v| v.iter().map(Method::from_token).collect()),
        )
    }

    fn typed_first<T>(
        &self,
        name: HeaderName,
        f: impl FnOnce(&SipStr) -> Option<T>,
    ) -> Option<Result<T, HeaderError>> {
        let v = self.raw_first(&name)?;
        Some(f(v).ok_or(HeaderError(name)))
    }

    fn typed_list<T>(
        &self,
        name: HeaderName,
        f: impl Fn(&SipStr) -> Option<Vec<T>>,
    ) -> Result<Vec<T>, HeaderError> {
        let mut out = Vec::new();
        for v in self.raw(&name) {
            out.extend(f(v).ok_or_else(|| HeaderError(name.clone()))?);
        }
        Ok(out)
    }

    pub fn content_type(&self) -> Option<Result<MediaType, HeaderError>> {
        self.typed_first(HeaderName::ContentType, parse_media_type)
    }

    /// Accept media ranges from every Accept line; `None` when there is no Accept header
    /// (which for SIP means `application/sdp`, RFC 3261 §20.1).
    pub fn accept(&self) -> Option<Result<Vec<MediaType>, HeaderError>> {
        self.raw_first(&HeaderName::Accept)?;
        Some(self.typed_list(HeaderName::Accept, parse_accept))
    }

    pub fn event(&self) -> Option<Result<Event, HeaderError>> {
        self.typed_first(HeaderName::Event, parse_event)
    }

    pub fn subscription_state(&self) -> Option<Result<SubscriptionState, HeaderError>> {
        self.typed_first(HeaderName::SubscriptionState, parse_subscription_state)
    }

    pub fn refer_to(&self) -> Option<Result<NameAddr, HeaderError>> {
        self.typed_first(HeaderName::ReferTo, parse_single_name_addr)
    }

    pub fn referred_by(&self) -> Option<Result<NameAddr, HeaderError>> {
        self.typed_first(HeaderName::ReferredBy, parse_single_name_addr)
    }

    pub fn replaces(&self) -> Option<Result<Replaces, HeaderError>> {
        self.typed_first(HeaderName::Replaces, parse_replaces)
    }

    pub fn p_asserted_identity(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.typed_list(HeaderName::PAssertedIdentity, parse_name_addr_list)
    }

    pub fn p_preferred_identity(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.typed_list(HeaderName::PPreferredIdentity, parse_name_addr_list)
    }

    /// Diversion entries, most recent first (RFC 5806 §3).
    pub fn diversion(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.typed_list(HeaderName::Diversion, parse_name_addr_list)
    }

    pub fn user_agent(&self) -> Option<Result<Vec<ProductItem>, HeaderError>> {
        self.typed_first(HeaderName::UserAgent, parse_product_list)
    }

    pub fn server(&self) -> Option<Result<Vec<ProductItem>, HeaderError>> {
        self.typed_first(HeaderName::Server, parse_product_list)
    }

    pub fn date(&self) -> Option<Result<SipDate, DateError>> {
        self.raw_first(&HeaderName::Date).map(|v| parse_date(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::header::Header;

    fn hs(lines: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in lines {
            let name = HeaderName::from_wire(&SipStr::from(*n));
            h.push(Header::Other(name, SipStr::from(*v)));
        }
        h
    }

    #[test]
    fn option_tags_across_lines() {
        let h = hs(&[
            ("Require", "100rel, timer"),
            ("Require", "replaces"),
            ("k", ""),
        ]);
        let r = h.require().expect("parses");
        assert_eq!(
            r,
            vec![
                SipStr::from("100rel"),
                SipStr::from("timer"),
                SipStr::from("replaces")
            ]
        );
        assert_eq!(h.supported().expect("empty ok"), Vec::<SipStr>::new());
        assert!(hs(&[("Require", "a b")]).require().is_err());
    }

    #[test]
    fn media_types() {
        let h = hs(&[
            ("c", "multipart/mixed;boundary=7a9cbec02ceef655"),
            ("Accept", "application/sdp, text/*;q=0.5"),
        ]);
        let ct = h.content_type().expect("present").expect("parses");
        assert!(ct.is("multipart", "MIXED"));
        assert_eq!(ct.params.value("boundary"), Some("7a9cbec02ceef655"));
        let acc = h.accept().expect("present").expect("parses");
        assert!(acc[1].covers("text", "plain"));
        assert!(!acc[0].covers("text", "plain"));
        assert_eq!(
            hs(&[("Accept", "")])
                .accept()
                .expect("present")
                .expect("empty"),
            vec![]
        );
    }

    #[test]
    fn event_state_and_replaces() {
        let h = hs(&[
            ("o", "dialog;id=42"),
            (
                "Subscription-State",
                "terminated;reason=timeout;retry-after=30",
            ),
            (
                "Replaces",
                "12345@192.0.2.1;to-tag=abc;from-tag=def;early-only",
            ),
        ]);
        let e = h.event().expect("present").expect("parses");
        assert_eq!((e.package.as_str(), e.id()), ("dialog", Some("42")));
        let s = h.subscription_state().expect("present").expect("parses");
        assert!(s.is_terminated());
        assert_eq!((s.reason(), s.retry_after()), (Some("timeout"), Some(30)));
        let r = h.replaces().expect("present").expect("parses");
        assert_eq!(
            (
                r.call_id.as_str(),
                r.to_tag.as_str(),
                r.from_tag.as_str(),
                r.early_only
            ),
            ("12345@192.0.2.1", "abc", "def", true)
        );
        assert!(parse_replaces(&SipStr::from("abc;to-tag=x")).is_none());
    }

    #[test]
    fn refer_to_with_embedded_replaces() {
        let h = hs(&[(
            "Refer-To",
            "<sip:bob@example.com?Replaces=12345%40192.0.2.1%3Bto-tag%3D7743%3Bfrom-tag%3D6472>",
        )]);
        let rt = h.refer_to().expect("present").expect("parses");
        let rep = embedded_replaces(&rt.uri)
            .expect("has Replaces")
            .expect("parses");
        assert_eq!(rep.call_id.as_str(), "12345@192.0.2.1");
        assert_eq!(rep.to_tag.as_str(), "7743");
    }

    #[test]
    fn identities_and_products() {
        let h = hs(&[
            (
                "P-Asserted-Identity",
                "\"Cullen\" <sip:fluffy@example.com>, <tel:+14085264000>",
            ),
            (
                "Diversion",
                "<sip:2000@example.com>;reason=unconditional;counter=1",
            ),
            ("User-Agent", "SIPimp.org/0.2.5 (curses) Foo"),
        ]);
        assert_eq!(h.p_asserted_identity().expect("parses").len(), 2);
        assert_eq!(
            h.diversion().expect("parses")[0].params.value("reason"),
            Some("unconditional")
        );
        let ua = h.user_agent().expect("present").expect("parses");
        assert_eq!(ua.len(), 3);
        assert!(matches!(&ua[1], ProductItem::Comment(c) if c.as_str() == "(curses)"));
    }

    #[test]
    fn dates() {
        let d = parse_date("Sat, 15 Oct 2005 04:44:56 GMT").expect("parses");
        assert_eq!(d.unix_seconds(), 1_129_351_496);
        assert_eq!(
            parse_date("Fri, 01 Jan 2010 16:00:00 EST"),
            Err(DateError::TimeZone)
        );
        assert_eq!(
            parse_date("Fri, 01 Jan 2010 16:00:00 UTC"),
            Err(DateError::TimeZone)
        );
        assert_eq!(parse_date("yesterday"), Err(DateError::Malformed));
    }
}
