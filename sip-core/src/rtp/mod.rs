//! RTP/RTCP packets: a safe wrapper over rtp-rs with RTCP demultiplexing (RFC 5761). Being written.
