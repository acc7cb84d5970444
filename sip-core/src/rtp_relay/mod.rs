//! The RTP relay: port pool, per-leg sockets, symmetric latching, counters. Being written.
