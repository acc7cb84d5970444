//! Header names (with compact forms, RFC 3261 §7.3.3) and the ordered header list of a
//! message. The headers the stack itself needs are parsed once into typed values when the
//! message is parsed (so a malformed one gets its 400 at the door); every other header is
//! kept verbatim and parsed on demand.

use super::CSeq;
use super::name_addr::{Contact, NameAddr};
use super::text::SipStr;
use super::via::Via;

/// A header name. Known names compare by variant; unknown ones keep their spelling and
/// compare case-insensitively.
#[derive(Clone, Debug, Eq)]
pub enum HeaderName {
    Accept,
    AcceptEncoding,
    AcceptLanguage,
    AlertInfo,
    Allow,
    AllowEvents,
    Authorization,
    CallId,
    CallInfo,
    Contact,
    ContentDisposition,
    ContentEncoding,
    ContentLength,
    ContentType,
    CSeq,
    Date,
    Diversion,
    Event,
    Expires,
    From,
    MaxForwards,
    MinExpires,
    PAssertedIdentity,
    PPreferredIdentity,
    Privacy,
    ProxyAuthenticate,
    ProxyAuthorization,
    ProxyRequire,
    Reason,
    RecordRoute,
    ReferTo,
    ReferredBy,
    Replaces,
    Require,
    RetryAfter,
    Route,
    Server,
    SessionExpires,
    Subject,
    SubscriptionState,
    Supported,
    Timestamp,
    To,
    Unsupported,
    UserAgent,
    Via,
    Warning,
    WwwAuthenticate,
    /// Any other header, name as received.
    Other(SipStr),
}

impl HeaderName {
    /// Canonical long form, as Sentral writes it.
    pub fn as_str(&self) -> &str {
        use HeaderName::*;
        match self {
            Accept => "Accept",
            AcceptEncoding => "Accept-Encoding",
            AcceptLanguage => "Accept-Language",
            AlertInfo => "Alert-Info",
            Allow => "Allow",
            AllowEvents => "Allow-Events",
            Authorization => "Authorization",
            CallId => "Call-ID",
            CallInfo => "Call-Info",
            Contact => "Contact",
            ContentDisposition => "Content-Disposition",
            ContentEncoding => "Content-Encoding",
            ContentLength => "Content-Length",
            ContentType => "Content-Type",
            CSeq => "CSeq",
            Date => "Date",
            Diversion => "Diversion",
            Event => "Event",
            Expires => "Expires",
            From => "From",
            MaxForwards => "Max-Forwards",
            MinExpires => "Min-Expires",
            PAssertedIdentity => "P-Asserted-Identity",
            PPreferredIdentity => "P-Preferred-Identity",
            Privacy => "Privacy",
            ProxyAuthenticate => "Proxy-Authenticate",
            ProxyAuthorization => "Proxy-Authorization",
            ProxyRequire => "Proxy-Require",
            Reason => "Reason",
            RecordRoute => "Record-Route",
            ReferTo => "Refer-To",
            ReferredBy => "Referred-By",
            Replaces => "Replaces",
            Require => "Require",
            RetryAfter => "Retry-After",
            Route => "Route",
            Server => "Server",
            SessionExpires => "Session-Expires",
            Subject => "Subject",
            SubscriptionState => "Subscription-State",
            Supported => "Supported",
            Timestamp => "Timestamp",
            To => "To",
            Unsupported => "Unsupported",
            UserAgent => "User-Agent",
            Via => "Via",
            Warning => "Warning",
            WwwAuthenticate => "WWW-Authenticate",
            Other(s) => s.as_str(),
        }
    }

    /// Looks a received name up, long or compact form, case-insensitively
    /// (`i` Call-ID, `m` Contact, `e` Content-Encoding, `l` Content-Length, `c` Content-Type,
    /// `f` From, `s` Subject, `k` Supported, `t` To, `v` Via, `o` Event, `r` Refer-To,
    /// `b` Referred-By, `u` Allow-Events, `x` Session-Expires).
    pub fn from_wire(name: &SipStr) -> HeaderName {
        HeaderName::lookup(name.as_str()).unwrap_or_else(|| HeaderName::Other(name.clone()))
    }

    /// The known header called `n` (long or compact form, any case), or `None` for a
    /// header Sentral does not name. Buckets by length so a lookup is a few compares.
    pub fn lookup(n: &str) -> Option<HeaderName> {
        use HeaderName::*;
        let b = n.as_bytes();
        if b.len() == 1 {
            return Some(match b[0].to_ascii_lowercase() {
                b'i' => CallId,
                b'm' => Contact,
                b'e' => ContentEncoding,
                b'l' => ContentLength,
                b'c' => ContentType,
                b'f' => From,
                b's' => Subject,
                b'k' => Supported,
                b't' => To,
                b'v' => Via,
                b'o' => Event,
                b'r' => ReferTo,
                b'b' => ReferredBy,
                b'u' => AllowEvents,
                b'x' => SessionExpires,
                _ => return None,
            });
        }
        // Lower-case into a small buffer once, then one slice match (a length switch and a
        // few compares), instead of a case-insensitive compare per candidate.
        let mut buf = [0u8; 20];
        let lower = buf.get_mut(..b.len())?;
        for (d, s) in lower.iter_mut().zip(b) {
            *d = s.to_ascii_lowercase();
        }
        Some(match &*lower {
            b"to" => To,
            b"via" => Via,
            b"from" => From,
            b"cseq" => CSeq,
            b"date" => Date,
            b"route" => Route,
            b"allow" => Allow,
            b"event" => Event,
            b"accept" => Accept,
            b"reason" => Reason,
            b"server" => Server,
            b"call-id" => CallId,
            b"contact" => Contact,
            b"expires" => Expires,
            b"require" => Require,
            b"subject" => Subject,
            b"privacy" => Privacy,
            b"warning" => Warning,
            b"refer-to" => ReferTo,
            b"replaces" => Replaces,
            b"supported" => Supported,
            b"call-info" => CallInfo,
            b"diversion" => Diversion,
            b"timestamp" => Timestamp,
            b"user-agent" => UserAgent,
            b"alert-info" => AlertInfo,
            b"min-expires" => MinExpires,
            b"unsupported" => Unsupported,
            b"referred-by" => ReferredBy,
            b"retry-after" => RetryAfter,
            b"max-forwards" => MaxForwards,
            b"content-type" => ContentType,
            b"record-route" => RecordRoute,
            b"allow-events" => AllowEvents,
            b"authorization" => Authorization,
            b"proxy-require" => ProxyRequire,
            b"content-length" => ContentLength,
            b"accept-encoding" => AcceptEncoding,
            b"accept-language" => AcceptLanguage,
            b"session-expires" => SessionExpires,
            b"www-authenticate" => WwwAuthenticate,
            b"content-encoding" => ContentEncoding,
            b"proxy-authenticate" => ProxyAuthenticate,
            b"subscription-state" => SubscriptionState,
            b"proxy-authorization" => ProxyAuthorization,
            b"p-asserted-identity" => PAssertedIdentity,
            b"content-disposition" => ContentDisposition,
            b"p-preferred-identity" => PPreferredIdentity,
            _ => return None,
        })
    }
}

impl std::fmt::Display for HeaderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl std::hash::Hash for HeaderName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            HeaderName::Other(s) => {
                for b in s.as_bytes().iter() {
                    state.write_u8(b.to_ascii_lowercase());
                }
            }
            other => std::mem::discriminant(other).hash(state),
        }
    }
}

/// One header line of a message. Each line is one entry, even when it carries several
/// comma-separated values (a `Via: a, b` line is one `Via` entry with two values), so a
/// message re-serialises with its lines in the order received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Header {
    Via(Vec<Via>),
    From(NameAddr),
    To(NameAddr),
    CallId(SipStr),
    CSeq(CSeq),
    Contact(Vec<Contact>),
    Route(Vec<NameAddr>),
    RecordRoute(Vec<NameAddr>),
    MaxForwards(u32),
    ContentLength(u32),
    Expires(u32),
    MinExpires(u32),
    /// Every other header, value verbatim (folding already replaced by one SP, surrounding
    /// whitespace trimmed). Parse it on demand with the typed helpers.
    Other(HeaderName, SipStr),
}

impl Header {
    pub fn name(&self) -> HeaderName {
        match self {
            Header::Via(_) => HeaderName::Via,
            Header::From(_) => HeaderName::From,
            Header::To(_) => HeaderName::To,
            Header::CallId(_) => HeaderName::CallId,
            Header::CSeq(_) => HeaderName::CSeq,
            Header::Contact(_) => HeaderName::Contact,
            Header::Route(_) => HeaderName::Route,
            Header::RecordRoute(_) => HeaderName::RecordRoute,
            Header::MaxForwards(_) => HeaderName::MaxForwards,
            Header::ContentLength(_) => HeaderName::ContentLength,
            Header::Expires(_) => HeaderName::Expires,
            Header::MinExpires(_) => HeaderName::MinExpires,
            Header::Other(n, _) => n.clone(),
        }
    }

    fn is(&self, name: &HeaderName) -> bool {
        match self {
            Header::Other(n, _) => n == name,
            h => &h.name() == name,
        }
    }
}

/// The ordered header lines of a message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends a header line.
    pub fn push(&mut self, h: Header) {
        self.0.push(h);
    }

    /// Inserts a header line before all others (a proxy's or B2BUA's own Via).
    pub fn push_front(&mut self, h: Header) {
        self.0.insert(0, h);
    }

    /// Removes every line named `name`.
    pub fn remove(&mut self, name: &HeaderName) {
        self.0.retain(|h| !h.is(name));
    }

    /// Replaces every line named like `h` with `h` (at the place of the first one).
    pub fn set(&mut self, h: Header) {
        let name = h.name();
        match self.0.iter().position(|x| x.is(&name)) {
            Some(i) => {
                self.0[i] = h;
                let mut idx = 0;
                self.0.retain(|x| {
                    let keep = idx <= i || !x.is(&name);
                    idx += 1;
                    keep
                });
            }
            None => self.0.push(h),
        }
    }

    /// Adds or replaces a verbatim header.
    pub fn set_raw(&mut self, name: HeaderName, value: impl Into<SipStr>) {
        self.set(Header::Other(name, value.into()));
    }

    /// Raw values of a verbatim header, one per line, in order.
    /// The iterator does not borrow `name`, so a temporary name is fine.
    pub fn raw<'a>(&'a self, name: &HeaderName) -> impl Iterator<Item = &'a SipStr> + use<'a> {
        let name = name.clone();
        self.0.iter().filter_map(move |h| match h {
            Header::Other(n, v) if *n == name => Some(v),
            _ => None,
        })
    }

    /// First raw value of a verbatim header.
    pub fn raw_first(&self, name: &HeaderName) -> Option<&SipStr> {
        self.raw(name).next()
    }

    pub fn vias(&self) -> impl Iterator<Item = &Via> {
        self.0
            .iter()
            .filter_map(|h| match h {
                Header::Via(v) => Some(v.iter()),
                _ => None,
            })
            .flatten()
    }

    pub fn top_via(&self) -> Option<&Via> {
        self.vias().next()
    }

    /// The topmost Via, mutable (to add `received`/`rport`).
    pub fn top_via_mut(&mut self) -> Option<&mut Via> {
        self.0.iter_mut().find_map(|h| match h {
            Header::Via(v) => v.first_mut(),
            _ => None,
        })
    }

    /// Removes the topmost Via value (a proxy or B2BUA stripping its own on a response).
    pub fn pop_via(&mut self) -> Option<Via> {
        let i = self
            .0
            .iter()
            .position(|h| matches!(h, Header::Via(v) if !v.is_empty()))?;
        let Header::Via(vs) = &mut self.0[i] else {
            return None;
        };
        let first = vs.remove(0);
        if vs.is_empty() {
            self.0.remove(i);
        }
        Some(first)
    }

    pub fn from(&self) -> Option<&NameAddr> {
        self.0.iter().find_map(|h| match h {
            Header::From(v) => Some(v),
            _ => None,
        })
    }

    pub fn to(&self) -> Option<&NameAddr> {
        self.0.iter().find_map(|h| match h {
            Header::To(v) => Some(v),
            _ => None,
        })
    }

    pub fn to_mut(&mut self) -> Option<&mut NameAddr> {
        self.0.iter_mut().find_map(|h| match h {
            Header::To(v) => Some(v),
            _ => None,
        })
    }

    pub fn call_id(&self) -> Option<&SipStr> {
        self.0.iter().find_map(|h| match h {
            Header::CallId(v) => Some(v),
            _ => None,
        })
    }

    pub fn cseq(&self) -> Option<&CSeq> {
        self.0.iter().find_map(|h| match h {
            Header::CSeq(v) => Some(v),
            _ => None,
        })
    }

    pub fn contacts(&self) -> impl Iterator<Item = &Contact> {
        self.0
            .iter()
            .filter_map(|h| match h {
                Header::Contact(v) => Some(v.iter()),
                _ => None,
            })
            .flatten()
    }

    pub fn routes(&self) -> impl Iterator<Item = &NameAddr> {
        self.0
            .iter()
            .filter_map(|h| match h {
                Header::Route(v) => Some(v.iter()),
                _ => None,
            })
            .flatten()
    }

    pub fn record_routes(&self) -> impl Iterator<Item = &NameAddr> {
        self.0
            .iter()
            .filter_map(|h| match h {
                Header::RecordRoute(v) => Some(v.iter()),
                _ => None,
            })
            .flatten()
    }

    pub fn max_forwards(&self) -> Option<u32> {
        self.0.iter().find_map(|h| match h {
            Header::MaxForwards(v) => Some(*v),
            _ => None,
        })
    }

    pub fn content_length(&self) -> Option<u32> {
        self.0.iter().find_map(|h| match h {
            Header::ContentLength(v) => Some(*v),
            _ => None,
        })
    }

    pub fn expires(&self) -> Option<u32> {
        self.0.iter().find_map(|h| match h {
            Header::Expires(v) => Some(*v),
            _ => None,
        })
    }

    pub fn min_expires(&self) -> Option<u32> {
        self.0.iter().find_map(|h| match h {
            Header::MinExpires(v) => Some(*v),
            _ => None,
        })
    }
}
