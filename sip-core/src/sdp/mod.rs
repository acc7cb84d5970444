//! SDP (RFC 4566) and offer/answer (RFC 3264). Being written.
