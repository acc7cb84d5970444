//! SIP transports (RFC 3261 §18): UDP and TCP; TLS and WebSocket later. Being written.
