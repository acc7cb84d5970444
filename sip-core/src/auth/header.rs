//! Parsing and serializing `Digest` challenges (WWW-Authenticate, Proxy-Authenticate) and
//! credentials (Authorization, Proxy-Authorization) from and to header *values*.
//!
//! Grammar: RFC 3261 §25.1 (`challenge`, `credentials`, `auth-param`) with the RFC 7616
//! §3.3/§3.4 parameters. It works on the value string the message parser hands over, so it
//! does not depend on the message model. What it decides:
//! - scheme and parameter names are case-insensitive; a scheme other than `Digest` is
//!   [`DigestParseError::NotDigest`] and its data is not looked at (RFC 4475 §3.3.7: the
//!   registrar answers with a fresh Digest challenge, not 400);
//! - values are tokens or quoted-strings; quoted-pairs are unescaped when parsed and
//!   re-escaped when serialized (RFC 7616 §3.4 computes on the unquoted value);
//! - a parameter given twice is an error (RFC 7616 §3.3: "MUST NOT appear more than
//!   once"), unknown parameters are kept but otherwise ignored, empty list elements
//!   (`a=1, ,b=2`) are skipped as RFC 7230 §7 allows;
//! - at most [`MAX_PARAMS`] parameters and [`MAX_VALUE_LEN`] bytes per header value, so a
//!   hostile header costs bounded work.

use super::algorithm::{Algorithm, Qop};
use std::borrow::Cow;
use std::fmt;

/// Most parameters accepted in one header value (RFC 7616 defines 13).
pub const MAX_PARAMS: usize = 32;
/// Longest header value accepted.
pub const MAX_VALUE_LEN: usize = 4096;

/// Why a header value is not a usable Digest challenge or credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestParseError {
    /// A well-formed header in another scheme (`Basic`, `NoOneKnowsThisScheme`, ...).
    #[error("authentication scheme {0:?} is not Digest")]
    NotDigest(String),
    /// Nothing but whitespace.
    #[error("empty authentication header")]
    Empty,
    /// More than [`MAX_VALUE_LEN`] bytes or [`MAX_PARAMS`] parameters.
    #[error("authentication header too large")]
    TooLarge,
    /// The text does not follow the auth-param grammar.
    #[error("malformed authentication header at byte {at}: {what}")]
    Syntax {
        /// Byte offset in the value.
        at: usize,
        /// What was expected.
        what: &'static str,
    },
    /// A parameter appears twice.
    #[error("parameter {0:?} appears more than once")]
    Duplicate(String),
    /// A mandatory parameter is missing.
    #[error("missing parameter {0}")]
    Missing(&'static str),
    /// A parameter's value is not what its grammar allows.
    #[error("invalid value for parameter {0}")]
    InvalidValue(&'static str),
}

/// A parameter the crate does not interpret, kept for logging and re-serialization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherParam {
    /// Name as received.
    pub name: String,
    /// Value, unescaped if it was quoted.
    pub value: String,
    /// Whether it was a quoted-string.
    pub quoted: bool,
}

/// One `Digest` challenge (RFC 7616 §3.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Challenge {
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `domain`, unparsed.
    pub domain: Option<String>,
    /// `opaque`: echoed back by the client.
    pub opaque: Option<String>,
    /// `stale=true`.
    pub stale: bool,
    /// `algorithm` token as received; `None` means MD5.
    pub algorithm: Option<String>,
    /// `qop` options; empty when the parameter is absent (RFC 2069 style).
    pub qop: Vec<String>,
    /// `charset` (only `UTF-8` is defined).
    pub charset: Option<String>,
    /// `userhash=true`.
    pub userhash: bool,
    /// Other parameters.
    pub other: Vec<OtherParam>,
}

/// One set of `Digest` credentials (RFC 7616 §3.4).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    /// `username` (a hash when `userhash` is true).
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `uri`: the digest-uri the response covers.
    pub uri: String,
    /// `response`: hex.
    pub response: String,
    /// `algorithm` token; `None` means MD5.
    pub algorithm: Option<String>,
    /// `cnonce`.
    pub cnonce: Option<String>,
    /// `opaque`.
    pub opaque: Option<String>,
    /// `qop` token.
    pub qop: Option<String>,
    /// `nc`: eight hex digits.
    pub nc: Option<String>,
    /// `userhash=true`.
    pub userhash: bool,
    /// Other parameters.
    pub other: Vec<OtherParam>,
}

impl fmt::Debug for Credentials {
    // The response is a password-equivalent for this nonce: keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("uri", &self.uri)
            .field("algorithm", &self.algorithm)
            .field("qop", &self.qop)
            .field("nc", &self.nc)
            .field("response", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The algorithm named in a header is not one this crate computes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported digest algorithm {0:?}")]
pub struct UnsupportedAlgorithm(pub String);

fn algorithm_of(token: Option<&str>) -> Result<Algorithm, UnsupportedAlgorithm> {
    match token {
        // RFC 7616 §3.3: "If this is not present, it is assumed to be MD5".
        None => Ok(Algorithm::Md5),
        Some(t) => Algorithm::parse(t).ok_or_else(|| UnsupportedAlgorithm(t.to_owned())),
    }
}

impl Challenge {
    /// Parses a WWW-Authenticate or Proxy-Authenticate value.
    pub fn parse(value: &str) -> Result<Challenge, DigestParseError> {
        let params = parse_digest(value)?;
        let mut c = Challenge::default();
        let mut realm = None;
        let mut nonce = None;
        for p in params {
            match p.known {
                Some(Known::Realm) => realm = Some(p.value.into_owned()),
                Some(Known::Nonce) => nonce = Some(p.value.into_owned()),
                Some(Known::Domain) => c.domain = Some(p.value.into_owned()),
                Some(Known::Opaque) => c.opaque = Some(p.value.into_owned()),
                Some(Known::Stale) => c.stale = p.value.eq_ignore_ascii_case("true"),
                Some(Known::Algorithm) => c.algorithm = Some(p.value.into_owned()),
                Some(Known::Qop) => {
                    // qop-options is a quoted, comma-separated list (RFC 3261 §25.1).
                    c.qop = p
                        .value
                        .split(',')
                        .map(|s| s.trim_matches([' ', '\t']))
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect();
                    if c.qop.is_empty() {
                        return Err(DigestParseError::InvalidValue("qop"));
                    }
                }
                Some(Known::Charset) => c.charset = Some(p.value.into_owned()),
                Some(Known::Userhash) => c.userhash = p.value.eq_ignore_ascii_case("true"),
                _ => c.other.push(p.into_other()),
            }
        }
        c.realm = realm.ok_or(DigestParseError::Missing("realm"))?;
        c.nonce = nonce.ok_or(DigestParseError::Missing("nonce"))?;
        Ok(c)
    }

    /// The algorithm; MD5 when the parameter is absent.
    pub fn algorithm(&self) -> Result<Algorithm, UnsupportedAlgorithm> {
        algorithm_of(self.algorithm.as_deref())
    }

    /// Whether the challenge offers this qop.
    pub fn offers(&self, qop: Qop) -> bool {
        self.qop.iter().any(|q| Qop::parse(q) == Some(qop))
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w = ParamWriter::new(f)?;
        w.quoted("realm", &self.realm)?;
        if let Some(d) = &self.domain {
            w.quoted("domain", d)?;
        }
        w.quoted("nonce", &self.nonce)?;
        if let Some(o) = &self.opaque {
            w.quoted("opaque", o)?;
        }
        if self.stale {
            w.token("stale", "true")?;
        }
        if let Some(a) = &self.algorithm {
            w.token("algorithm", a)?;
        }
        match self.qop.as_slice() {
            [] => {}
            [one] => w.quoted("qop", one)?,
            many => w.quoted("qop", &many.join(","))?,
        }
        if let Some(c) = &self.charset {
            w.token("charset", c)?;
        }
        if self.userhash {
            w.token("userhash", "true")?;
        }
        w.others(&self.other)
    }
}

impl Credentials {
    /// Parses an Authorization or Proxy-Authorization value.
    pub fn parse(value: &str) -> Result<Credentials, DigestParseError> {
        let params = parse_digest(value)?;
        let mut c = Credentials::default();
        let (mut username, mut realm, mut nonce, mut uri, mut response) =
            (None, None, None, None, None);
        for p in params {
            match p.known {
                Some(Known::Username) => username = Some(p.value.into_owned()),
                Some(Known::Realm) => realm = Some(p.value.into_owned()),
                Some(Known::Nonce) => nonce = Some(p.value.into_owned()),
                Some(Known::Uri) => uri = Some(p.value.into_owned()),
                Some(Known::Response) => response = Some(p.value.into_owned()),
                Some(Known::Algorithm) => c.algorithm = Some(p.value.into_owned()),
                Some(Known::Cnonce) => c.cnonce = Some(p.value.into_owned()),
                Some(Known::Opaque) => c.opaque = Some(p.value.into_owned()),
                Some(Known::Qop) => c.qop = Some(p.value.into_owned()),
                Some(Known::Nc) => c.nc = Some(p.value.into_owned()),
                Some(Known::Userhash) => c.userhash = p.value.eq_ignore_ascii_case("true"),
                _ => c.other.push(p.into_other()),
            }
        }
        c.username = username.ok_or(DigestParseError::Missing("username"))?;
        c.realm = realm.ok_or(DigestParseError::Missing("realm"))?;
        c.nonce = nonce.ok_or(DigestParseError::Missing("nonce"))?;
        c.uri = uri.ok_or(DigestParseError::Missing("uri"))?;
        c.response = response.ok_or(DigestParseError::Missing("response"))?;
        if let Some(nc) = &c.nc {
            // RFC 7616 §3.4: nc-value = 8LHEX.
            if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(DigestParseError::InvalidValue("nc"));
            }
        }
        Ok(c)
    }

    /// The algorithm; MD5 when the parameter is absent.
    pub fn algorithm(&self) -> Result<Algorithm, UnsupportedAlgorithm> {
        algorithm_of(self.algorithm.as_deref())
    }

    /// The nonce count as a number, when present and valid.
    pub fn nonce_count(&self) -> Option<u32> {
        self.nc
            .as_deref()
            .and_then(|nc| u32::from_str_radix(nc, 16).ok())
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w = ParamWriter::new(f)?;
        w.quoted("username", &self.username)?;
        w.quoted("realm", &self.realm)?;
        w.quoted("nonce", &self.nonce)?;
        w.quoted("uri", &self.uri)?;
        w.quoted("response", &self.response)?;
        if let Some(a) = &self.algorithm {
            w.token("algorithm", a)?;
        }
        if let Some(c) = &self.cnonce {
            w.quoted("cnonce", c)?;
        }
        if let Some(o) = &self.opaque {
            w.quoted("opaque", o)?;
        }
        // RFC 3261 §25.1 / RFC 7616 §3.4: message-qop and nonce-count are unquoted.
        if let Some(q) = &self.qop {
            w.token("qop", q)?;
        }
        if let Some(nc) = &self.nc {
            w.token("nc", nc)?;
        }
        if self.userhash {
            w.token("userhash", "true")?;
        }
        w.others(&self.other)
    }
}

/// Appends to `out` the value of a challenge with only `realm`, `nonce`, `stale`,
/// `algorithm` and one `qop`: exactly what [`Challenge`]'s `Display` writes for such a
/// challenge (a test holds the two together), without building one. A registrar sends
/// this for most requests it receives.
pub(crate) fn write_server_challenge(
    out: &mut String,
    realm: &str,
    nonce: &str,
    stale: bool,
    algorithm: &str,
    qop: &str,
) -> fmt::Result {
    let mut w = ParamWriter::new(out)?;
    w.quoted("realm", realm)?;
    w.quoted("nonce", nonce)?;
    if stale {
        w.token("stale", "true")?;
    }
    w.token("algorithm", algorithm)?;
    w.quoted("qop", qop)
}

struct ParamWriter<'a, W: fmt::Write> {
    f: &'a mut W,
    first: bool,
}

impl<'a, W: fmt::Write> ParamWriter<'a, W> {
    fn new(f: &'a mut W) -> Result<Self, fmt::Error> {
        f.write_str("Digest ")?;
        Ok(ParamWriter { f, first: true })
    }

    fn sep(&mut self) -> fmt::Result {
        if !self.first {
            self.f.write_str(", ")?;
        }
        self.first = false;
        Ok(())
    }

    fn token(&mut self, name: &str, value: &str) -> fmt::Result {
        // Parsed values always are tokens; one set by code might not be, and must not
        // break the header, so it goes out quoted.
        if !is_token(value) {
            return self.quoted(name, value);
        }
        self.sep()?;
        self.f.write_str(name)?;
        self.f.write_char('=')?;
        self.f.write_str(value)
    }

    fn quoted(&mut self, name: &str, value: &str) -> fmt::Result {
        self.sep()?;
        self.f.write_str(name)?;
        self.f.write_char('=')?;
        write_quoted(self.f, value)
    }

    fn others(&mut self, others: &[OtherParam]) -> fmt::Result {
        for p in others.iter().filter(|p| is_token(&p.name)) {
            if p.quoted {
                self.quoted(&p.name, &p.value)?;
            } else {
                self.token(&p.name, &p.value)?;
            }
        }
        Ok(())
    }
}

/// Writes a quoted-string (RFC 3261 §25.1): `"`, `\` and control characters go out as
/// quoted-pairs, since qdtext cannot hold them raw (a parsed `\x1e` unescapes to a bare
/// control character). CR and LF cannot be quoted at all and are dropped: they can only
/// come from code, never from a parsed header, and would split the header.
fn write_quoted(f: &mut impl fmt::Write, value: &str) -> fmt::Result {
    f.write_char('"')?;
    // Runs of plain characters go out in one write; only the rare special ones are
    // handled one by one (a nonce or realm never has any).
    let special = |b: u8| matches!(b, b'"' | b'\\' | 0..=0x1f | 0x7f);
    let mut rest = value;
    while let Some(i) = rest.bytes().position(special) {
        f.write_str(&rest[..i])?;
        let b = rest.as_bytes()[i];
        if b != b'\r' && b != b'\n' {
            f.write_char('\\')?;
            f.write_char(char::from(b))?;
        }
        rest = &rest[i + 1..];
    }
    f.write_str(rest)?;
    f.write_char('"')
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Splits `Digest a=b, c="d"` into its parameters, checking the scheme first.
fn parse_digest(value: &str) -> Result<Vec<RawParam<'_>>, DigestParseError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(DigestParseError::TooLarge);
    }
    let b = value.as_bytes();
    let mut i = 0;
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    let start = i;
    while i < b.len() && is_token_byte(b[i]) {
        i += 1;
    }
    if start == i {
        return if i == b.len() {
            Err(DigestParseError::Empty)
        } else {
            Err(DigestParseError::Syntax {
                at: i,
                what: "auth-scheme",
            })
        };
    }
    let scheme = &value[start..i];
    if !scheme.eq_ignore_ascii_case("Digest") {
        // Other schemes may carry token68 or anything else (RFC 7235 §2.1): not ours to
        // judge, the caller just challenges with Digest.
        return Err(DigestParseError::NotDigest(scheme.to_owned()));
    }
    if i < b.len() && !is_ws(b[i]) {
        return Err(DigestParseError::Syntax {
            at: i,
            what: "whitespace after scheme",
        });
    }
    let params = parse_params(value, i)?;
    if params.is_empty() {
        return Err(DigestParseError::Syntax {
            at: b.len(),
            what: "auth-param",
        });
    }
    Ok(params)
}

/// The parameters this crate interprets, recognised once by name (case-insensitively)
/// so that neither parser lower-cases or copies a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    Username,
    Realm,
    Nonce,
    Uri,
    Response,
    Algorithm,
    Cnonce,
    Opaque,
    Qop,
    Nc,
    Userhash,
    Domain,
    Stale,
    Charset,
}

impl Known {
    fn of(name: &str) -> Option<Known> {
        const ALL: [(&str, Known); 14] = [
            ("username", Known::Username),
            ("realm", Known::Realm),
            ("nonce", Known::Nonce),
            ("uri", Known::Uri),
            ("response", Known::Response),
            ("algorithm", Known::Algorithm),
            ("cnonce", Known::Cnonce),
            ("opaque", Known::Opaque),
            ("qop", Known::Qop),
            ("nc", Known::Nc),
            ("userhash", Known::Userhash),
            ("domain", Known::Domain),
            ("stale", Known::Stale),
            ("charset", Known::Charset),
        ];
        ALL.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, k)| k)
    }
}

/// One parameter as parsed: borrowed from the header value, copied only when a
/// quoted-string had escapes to undo or when the caller keeps it.
struct RawParam<'v> {
    name: &'v str,
    known: Option<Known>,
    value: Cow<'v, str>,
    quoted: bool,
}

impl RawParam<'_> {
    fn into_other(self) -> OtherParam {
        OtherParam {
            name: self.name.to_owned(),
            value: self.value.into_owned(),
            quoted: self.quoted,
        }
    }
}

fn parse_params(value: &str, mut i: usize) -> Result<Vec<RawParam<'_>>, DigestParseError> {
    let b = value.as_bytes();
    // Credentials carry about ten parameters (RFC 8760 §3.4).
    let mut params: Vec<RawParam<'_>> = Vec::with_capacity(12);
    loop {
        // Skip whitespace and empty list elements.
        while i < b.len() && (is_ws(b[i]) || b[i] == b',') {
            i += 1;
        }
        if i >= b.len() {
            return Ok(params);
        }
        let name_start = i;
        while i < b.len() && is_token_byte(b[i]) {
            i += 1;
        }
        if name_start == i {
            return Err(DigestParseError::Syntax {
                at: i,
                what: "parameter name",
            });
        }
        // Token bytes are ASCII, so the slice lies on char boundaries.
        let name = &value[name_start..i];
        while i < b.len() && is_ws(b[i]) {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            return Err(DigestParseError::Syntax { at: i, what: "'='" });
        }
        i += 1;
        while i < b.len() && is_ws(b[i]) {
            i += 1;
        }
        let (param_value, quoted) = if b.get(i) == Some(&b'"') {
            let (v, next) = parse_quoted(value, i)?;
            i = next;
            (v, true)
        } else {
            let s = i;
            while i < b.len() && is_token_byte(b[i]) {
                i += 1;
            }
            if s == i {
                return Err(DigestParseError::Syntax {
                    at: i,
                    what: "token or quoted-string",
                });
            }
            (Cow::Borrowed(&value[s..i]), false)
        };
        while i < b.len() && is_ws(b[i]) {
            i += 1;
        }
        if i < b.len() && b[i] != b',' {
            return Err(DigestParseError::Syntax { at: i, what: "','" });
        }
        if params.iter().any(|p| p.name.eq_ignore_ascii_case(name)) {
            return Err(DigestParseError::Duplicate(name.to_owned()));
        }
        if params.len() == MAX_PARAMS {
            return Err(DigestParseError::TooLarge);
        }
        params.push(RawParam {
            name,
            known: Known::of(name),
            value: param_value,
            quoted,
        });
    }
}

/// Parses a quoted-string starting at the opening quote; returns the unescaped value and
/// the index after the closing quote.
fn parse_quoted(value: &str, open: usize) -> Result<(Cow<'_, str>, usize), DigestParseError> {
    let b = value.as_bytes();
    // Filled only once a quoted-pair shows up; a nonce, realm or response has none, so
    // the value is normally borrowed as it stands.
    let mut unescaped: Option<Vec<u8>> = None;
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let text = match unescaped {
                    None => Cow::Borrowed(&value[open + 1..i]),
                    // Only ASCII bytes were unescaped and the rest copied whole, so this
                    // holds; checked rather than assumed.
                    Some(out) => Cow::Owned(String::from_utf8(out).map_err(|_| {
                        DigestParseError::Syntax {
                            at: open,
                            what: "UTF-8 in quoted-string",
                        }
                    })?),
                };
                return Ok((text, i + 1));
            }
            b'\\' => {
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                match b.get(i + 1) {
                    Some(&c) if c <= 0x7f && c != b'\r' && c != b'\n' => {
                        unescaped
                            .get_or_insert_with(|| b[open + 1..i].to_vec())
                            .push(c);
                        i += 2;
                    }
                    _ => {
                        return Err(DigestParseError::Syntax {
                            at: i,
                            what: "quoted-pair",
                        });
                    }
                }
            }
            // qdtext excludes controls other than HTAB.
            c if c < 0x20 && c != b'\t' || c == 0x7f => {
                return Err(DigestParseError::Syntax {
                    at: i,
                    what: "qdtext",
                });
            }
            c => {
                if let Some(out) = unescaped.as_mut() {
                    out.push(c);
                }
                i += 1;
            }
        }
    }
    Err(DigestParseError::Syntax {
        at: b.len(),
        what: "closing '\"'",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenge_with_mixed_case_and_escapes() {
        let c = Challenge::parse(
            "digest REALM=\"a\\\"b\\\\c\" ,nonce=abc,  QOP=\"auth, auth-int\", stale=TRUE, \
             algorithm=sha-256, x-ext=\"kept\"",
        )
        .expect("parses");
        assert_eq!(c.realm, "a\"b\\c");
        assert_eq!(c.nonce, "abc");
        assert!(c.stale);
        assert_eq!(c.qop, vec!["auth", "auth-int"]);
        assert!(c.offers(Qop::Auth) && c.offers(Qop::AuthInt));
        assert_eq!(c.algorithm(), Ok(Algorithm::Sha256));
        assert_eq!(c.other.len(), 1);
        let again = Challenge::parse(&c.to_string()).expect("reparses");
        assert_eq!(again, c);
    }

    #[test]
    fn server_challenge_writer_matches_display() {
        // The registrar's fast path must put on the wire exactly what Display writes.
        for (realm, stale) in [("sentral.example.no", false), ("odd \"realm\\", true)] {
            let c = Challenge {
                realm: realm.into(),
                nonce: "0123abcd".into(),
                stale,
                algorithm: Some("SHA-256".into()),
                qop: vec!["auth".into()],
                ..Challenge::default()
            };
            let mut fast = String::new();
            write_server_challenge(&mut fast, realm, "0123abcd", stale, "SHA-256", "auth")
                .expect("writes");
            assert_eq!(fast, c.to_string());
            assert_eq!(Challenge::parse(&fast).expect("parses"), c);
        }
    }

    #[test]
    fn quoted_values_are_borrowed_unless_escaped() {
        let v = r#"x="plain", y="a\"b""#;
        let params = parse_params(v, 0).expect("parses");
        assert!(matches!(params[0].value, Cow::Borrowed("plain")));
        assert!(matches!(&params[1].value, Cow::Owned(s) if s == "a\"b"));
        // Names are matched case-insensitively without copying them.
        assert_eq!(Known::of("UserName"), Some(Known::Username));
        assert_eq!(Known::of("x-other"), None);
    }

    #[test]
    fn unknown_scheme_is_not_digest() {
        // RFC 4475 §3.3.7 (regaut01).
        assert_eq!(
            Credentials::parse("NoOneKnowsThisScheme opaque-data=here"),
            Err(DigestParseError::NotDigest("NoOneKnowsThisScheme".into()))
        );
        assert_eq!(
            Credentials::parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            Err(DigestParseError::NotDigest("Basic".into()))
        );
    }

    #[test]
    fn rejects_duplicates_and_bad_syntax() {
        assert!(matches!(
            Challenge::parse("Digest realm=\"a\", Realm=\"b\", nonce=\"n\""),
            Err(DigestParseError::Duplicate(_))
        ));
        for bad in [
            "",
            "   ",
            "Digest",
            "Digest ",
            "Digestrealm=\"a\"",
            "Digest realm=\"a",
            "Digest realm=a b, nonce=c",
            "Digest realm=, nonce=c",
            "Digest =a",
            "Digest realm=\"a\\",
            "Digest realm=\"a\u{1}\", nonce=n",
            "Digest realm=\"a\" nonce=\"n\"",
        ] {
            assert!(Challenge::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn missing_mandatory_params() {
        assert_eq!(
            Challenge::parse("Digest realm=\"a\""),
            Err(DigestParseError::Missing("nonce"))
        );
        assert_eq!(
            Credentials::parse("Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\""),
            Err(DigestParseError::Missing("response"))
        );
    }

    #[test]
    fn credentials_round_trip_and_nc() {
        let v = "Digest username=\"bob\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", \
                 response=\"0123\", algorithm=MD5, cnonce=\"c\", qop=auth, nc=0000000a";
        let c = Credentials::parse(v).expect("parses");
        assert_eq!(c.nonce_count(), Some(10));
        assert_eq!(c.to_string(), v);
        assert_eq!(
            Credentials::parse(&v.replace("0000000a", "1")),
            Err(DigestParseError::InvalidValue("nc"))
        );
        assert!(!format!("{c:?}").contains("0123"));
    }

    #[test]
    fn control_characters_survive_a_round_trip() {
        // Found by fuzz/fuzz_targets/digest_header.rs: `\<0x1e>` is a valid quoted-pair.
        let c = Challenge::parse(
            "Digest realm=\"a\\\u{1e}b\", nonce=\"abc\", qlgorithm=SHA-256, stale=TR_E, opaque=\"x\"",
        )
        .expect("parses");
        assert_eq!(c.realm, "a\u{1e}b");
        assert_eq!(Challenge::parse(&c.to_string()), Ok(c));
    }

    #[test]
    fn values_set_by_code_cannot_break_the_header() {
        let c = Challenge {
            realm: "evil\r\nVia: x".into(),
            nonce: "n".into(),
            algorithm: Some("not a token".into()),
            other: vec![OtherParam {
                name: "bad name".into(),
                value: "v".into(),
                quoted: false,
            }],
            ..Challenge::default()
        };
        let text = c.to_string();
        assert!(!text.contains('\r') && !text.contains('\n'));
        let back = Challenge::parse(&text).expect("parses");
        assert_eq!(back.realm, "evilVia: x");
        assert_eq!(back.algorithm.as_deref(), Some("not a token"));
        assert!(back.other.is_empty());
    }

    #[test]
    fn empty_list_elements_are_skipped() {
        let c = Challenge::parse("Digest , realm=\"a\",, nonce=\"n\" ,").expect("parses");
        assert_eq!((c.realm.as_str(), c.nonce.as_str()), ("a", "n"));
    }

    #[test]
    fn bounded() {
        let many: String = (0..40).map(|i| format!("p{i}=x,")).collect();
        assert_eq!(
            Challenge::parse(&format!("Digest {many}")),
            Err(DigestParseError::TooLarge)
        );
        let long = "x".repeat(MAX_VALUE_LEN);
        assert_eq!(
            Challenge::parse(&format!("Digest realm=\"{long}\"")),
            Err(DigestParseError::TooLarge)
        );
    }
}
