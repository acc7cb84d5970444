//! `SipStr`: an immutable UTF-8 string that can share the buffer a message was received
//! in, so parsing slices the datagram instead of copying every token.

use bytes::Bytes;
use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

/// Immutable UTF-8 text, cheap to clone and slice (reference-counted `Bytes`).
///
/// Invariant: the bytes are always valid UTF-8. Every constructor checks or preserves it.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SipStr(Bytes);

impl SipStr {
    /// An empty string.
    pub const fn new() -> Self {
        SipStr(Bytes::new())
    }

    /// Wraps a static string without copying.
    pub const fn from_static(s: &'static str) -> Self {
        SipStr(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps `bytes` if they are UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(SipStr(bytes))
    }

    /// A sub-slice of `self` sharing its buffer. `range` must lie on char boundaries
    /// (it does whenever it was found by scanning for ASCII delimiters).
    ///
    /// # Panics
    /// If `range` is out of bounds or splits a UTF-8 sequence; callers pass ranges found
    /// by scanning `self`.
    pub fn slice(&self, range: std::ops::Range<usize>) -> SipStr {
        assert!(
            self.as_str().is_char_boundary(range.start)
                && self.as_str().is_char_boundary(range.end)
        );
        SipStr(self.0.slice(range))
    }

    /// The sub-string `sub`, which must be a slice borrowed from `self`, sharing the buffer.
    /// Falls back to a copy if `sub` does not point into `self`.
    pub fn slice_ref(&self, sub: &str) -> SipStr {
        let base = self.0.as_ptr() as usize;
        let p = sub.as_ptr() as usize;
        if p >= base && p + sub.len() <= base + self.0.len() {
            SipStr(self.0.slice_ref(sub.as_bytes()))
        } else {
            SipStr::from(sub)
        }
    }

    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor guarantees the bytes are UTF-8 (see the type's invariant).
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// `v` as 16 lower-case hex digits (a tag), formatted on the stack.
    pub fn hex_u64(v: u64) -> SipStr {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 16];
        for (i, d) in hex.iter_mut().enumerate() {
            *d = DIGITS[((v >> (60 - 4 * i)) & 0xf) as usize];
        }
        SipStr(Bytes::copy_from_slice(&hex))
    }
}

impl Deref for SipStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for SipStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SipStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for SipStr {
    fn from(s: &str) -> Self {
        SipStr(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for SipStr {
    fn from(s: String) -> Self {
        SipStr(Bytes::from(s.into_bytes()))
    }
}

impl PartialEq<str> for SipStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SipStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for SipStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SipStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::SipStr;

    #[test]
    fn hex_u64_is_sixteen_lower_case_digits() {
        for v in [0, 1, 0xdead_beef, u64::MAX, 0x0123_4567_89ab_cdef] {
            assert_eq!(SipStr::hex_u64(v).as_str(), format!("{v:016x}"));
        }
    }
}
