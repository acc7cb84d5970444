//! The tokio driver that owns sockets and timers and runs the sans-IO core. Being written.
