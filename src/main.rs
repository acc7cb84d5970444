//! The `sentral` binary: command line, configuration, start-up. See `cli` for the
//! commands; `serve` runs the switchboard.

mod cli;
mod demo;
mod live;
mod serve;
mod settings;
mod sip_thread;

fn main() -> std::process::ExitCode {
    tune_malloc();
    cli::main()
}

/// glibc's malloc returns freed memory at the top of each thread's heap to the kernel
/// as soon as 128 KiB are free, and grows the heap a page range at a time. Under SIP
/// load that churn was 3.6 `mprotect` calls per registration (`strace -c`), about a tenth
/// of its CPU samples in `perf`; with this padding and threshold (tried as
/// `GLIBC_TUNABLES`) a registration took 54–68 µs against 60–77 µs. A server's footprint
/// is steady, so: grow in 16 MiB steps, give memory back only when 128 MiB are free, and
/// keep allocations up to 4 MiB (transaction tables) on the heap rather than in their
/// own mappings.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const MIB: libc::c_int = 1024 * 1024;
        for (param, value) in [
            (libc::M_TOP_PAD, 16 * MIB),
            (libc::M_TRIM_THRESHOLD, 128 * MIB),
            (libc::M_MMAP_THRESHOLD, 4 * MIB),
        ] {
            // SAFETY: mallopt only sets allocator parameters; it is called before any
            // other thread exists and with values glibc documents as valid.
            let ok = unsafe { libc::mallopt(param, value) };
            if ok != 1 {
                eprintln!("warning: mallopt({param}, {value}) was refused");
            }
        }
    }
}
