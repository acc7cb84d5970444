//! Generic `;name=value` parameter lists (URI parameters, header parameters).
//! Names compare case-insensitively (RFC 3261 §7.3.1); values are kept exactly as received
//! (a quoted-string keeps its quotes and escapes: nothing is un-escaped here).

use super::text::SipStr;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Param {
    pub name: SipStr,
    /// `None` for a flag parameter such as `;lr` or `;rport`.
    pub value: Option<SipStr>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Params(pub Vec<Param>);

impl Params {
    pub fn new() -> Self {
        Params(Vec::new())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Param> {
        self.0.iter()
    }

    /// The parameter named `name`: `Some(None)` for a flag, `Some(Some(v))` with a value.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_deref())
    }

    /// The value of `name`, if present with a value.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).flatten()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` (replacing an existing one in place, else appending).
    pub fn set(&mut self, name: impl Into<SipStr>, value: Option<SipStr>) {
        let name = name.into();
        if let Some(p) = self
            .0
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(&name))
        {
            p.value = value;
        } else {
            self.0.push(Param { name, value });
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|p| !p.name.eq_ignore_ascii_case(name));
    }
}
