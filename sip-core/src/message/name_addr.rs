//! `name-addr` / `addr-spec` values with header parameters (From, To, Contact, Route,
//! Record-Route, Refer-To, P-Asserted-Identity, …), RFC 3261 §20.10 and §25.1.

use super::params::Params;
use super::text::SipStr;
use super::uri::Uri;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NameAddr {
    /// Display name exactly as written: a token sequence, or a quoted-string with its
    /// quotes and backslash escapes kept (never un-escaped, RFC 4475 §3.1.1.2).
    pub display_name: Option<SipStr>,
    pub uri: Uri,
    /// Header parameters after the URI (`;tag=…`, `;expires=…`, `;q=…`). For an
    /// addr-spec without `<>`, parameters after the URI belong here, not to the URI
    /// (RFC 3261 §20.10, RFC 4475 §3.3.12).
    pub params: Params,
}

impl NameAddr {
    pub fn new(uri: Uri) -> Self {
        NameAddr {
            display_name: None,
            uri,
            params: Params::new(),
        }
    }

    pub fn tag(&self) -> Option<&str> {
        self.params.value("tag")
    }

    pub fn set_tag(&mut self, tag: impl Into<SipStr>) {
        self.params
            .set(SipStr::from_static("tag"), Some(tag.into()));
    }
}

/// One Contact header value: `*` (only in a REGISTER removing all bindings) or an address.
// `Star` is rare and other crates match on `Addr(NameAddr)` directly, so the address is not
// boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Contact {
    Star,
    Addr(NameAddr),
}
