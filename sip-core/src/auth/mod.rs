//! Digest authentication (RFC 7616/8760), server and client side. Being written.
